package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestArraysEncode round-trips textArray and int8Array through pgx's binary encoding,
// NULLs and empty strings included, and checks that encoding allocates per array, not
// per element.
func TestArraysEncode(t *testing.T) {
	m := pgtype.NewMap()
	texts := textArray{{String: "a", Valid: true}, {}, {String: "", Valid: true}, {String: "ünïcode", Valid: true}}
	buf, err := m.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, texts, nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotTexts []pgtype.Text
	if err := m.Scan(pgtype.TextArrayOID, pgtype.BinaryFormatCode, buf, &gotTexts); err != nil {
		t.Fatal(err)
	}
	if len(gotTexts) != len(texts) {
		t.Fatalf("decoded %v, want %v", gotTexts, texts)
	}
	for i := range texts {
		if gotTexts[i] != texts[i] {
			t.Fatalf("element %d: decoded %+v, want %+v", i, gotTexts[i], texts[i])
		}
	}

	ints := int8Array{{Int64: 1700000000000, Valid: true}, {}, {Int64: 0, Valid: true}, {Int64: -5, Valid: true}}
	buf, err = m.Encode(pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, ints, nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotInts []pgtype.Int8
	if err := m.Scan(pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, buf, &gotInts); err != nil {
		t.Fatal(err)
	}
	if len(gotInts) != len(ints) {
		t.Fatalf("decoded %v, want %v", gotInts, ints)
	}
	for i := range ints {
		if gotInts[i] != ints[i] {
			t.Fatalf("element %d: decoded %+v, want %+v", i, gotInts[i], ints[i])
		}
	}

	strs := stringArray{"user_2abc", "", "ü"}
	buf, err = m.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, strs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotStrs []string
	if err := m.Scan(pgtype.TextArrayOID, pgtype.BinaryFormatCode, buf, &gotStrs); err != nil {
		t.Fatal(err)
	}
	if len(gotStrs) != 3 || gotStrs[0] != strs[0] || gotStrs[1] != "" || gotStrs[2] != strs[2] {
		t.Fatalf("decoded %q, want %q", gotStrs, strs)
	}
	nums := int64Array{1700000000000, 0, -1}
	buf, err = m.Encode(pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, nums, nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotNums []int64
	if err := m.Scan(pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, buf, &gotNums); err != nil {
		t.Fatal(err)
	}
	if len(gotNums) != 3 || gotNums[0] != nums[0] || gotNums[1] != 0 || gotNums[2] != -1 {
		t.Fatalf("decoded %v, want %v", gotNums, nums)
	}

	big := make(textArray, 64)
	for i := range big {
		big[i] = pgtype.Text{String: "user_2abc", Valid: i%3 != 0}
	}
	out := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := m.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, big, out[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 8 {
		t.Fatalf("encoding 64 elements allocates %v times; want a few per array, not one per element", allocs)
	}
	plain := []pgtype.Text(big)
	boxed := testing.AllocsPerRun(50, func() {
		if _, err := m.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, plain, out[:0]); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("64 elements: textArray %v allocations, []pgtype.Text %v", allocs, boxed)
	ids := make(stringArray, 64)
	for i := range ids {
		ids[i] = "user_2abc"
	}
	if n := testing.AllocsPerRun(50, func() {
		if _, err := m.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, ids, out[:0]); err != nil {
			t.Fatal(err)
		}
	}); n > 8 {
		t.Fatalf("encoding 64 strings allocates %v times; want a few per array, not one per element", n)
	}
}
