package postgres

import (
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// roundTrip encodes a with pgx's binary encoding for the array type oid and decodes
// it back into a []D.
func roundTrip[D any](t *testing.T, m *pgtype.Map, oid uint32, a any) []D {
	t.Helper()
	buf, err := m.Encode(oid, pgtype.BinaryFormatCode, a, nil)
	if err != nil {
		t.Fatalf("encode %T: %v", a, err)
	}
	var got []D
	if err := m.Scan(oid, pgtype.BinaryFormatCode, buf, &got); err != nil {
		t.Fatalf("decode %T: %v", a, err)
	}
	return got
}

// TestArraysEncode round-trips each kind of array through pgx's binary encoding, NULLs
// and empty strings included, and checks that encoding allocates per array, not per
// element.
func TestArraysEncode(t *testing.T) {
	m := pgtype.NewMap()
	texts := textArray{{String: "a", Valid: true}, {}, {String: "", Valid: true}, {String: "ünïcode", Valid: true}}
	if got := roundTrip[pgtype.Text](t, m, pgtype.TextArrayOID, texts); !slices.Equal(got, texts) {
		t.Fatalf("text[]: decoded %v, want %v", got, texts)
	}
	strs := stringArray{"user_2abc", "", "ü"}
	if got := roundTrip[string](t, m, pgtype.TextArrayOID, strs); !slices.Equal(got, strs) {
		t.Fatalf("text[]: decoded %q, want %q", got, strs)
	}
	ints := int8Array{{Int64: 1700000000000, Valid: true}, {}, {Int64: 0, Valid: true}, {Int64: -5, Valid: true}}
	if got := roundTrip[pgtype.Int8](t, m, pgtype.Int8ArrayOID, ints); !slices.Equal(got, ints) {
		t.Fatalf("bigint[]: decoded %v, want %v", got, ints)
	}
	nums := int64Array{1700000000000, 0, -1}
	if got := roundTrip[int64](t, m, pgtype.Int8ArrayOID, nums); !slices.Equal(got, nums) {
		t.Fatalf("bigint[]: decoded %v, want %v", got, nums)
	}

	big := make(textArray, 64)
	ids := make(stringArray, 64)
	for i := range big {
		big[i] = pgtype.Text{String: "user_2abc", Valid: i%3 != 0}
		ids[i] = "user_2abc"
	}
	out := make([]byte, 0, 4096)
	for _, a := range []any{big, ids, []pgtype.Text(big)} {
		n := testing.AllocsPerRun(50, func() {
			if _, err := m.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, a, out[:0]); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("64 elements as %T: %v allocations", a, n)
		if _, plain := a.([]pgtype.Text); !plain && n > 8 {
			t.Fatalf("encoding 64 elements as %T allocates %v times; want a few per array, not one per element", a, n)
		}
	}
}
