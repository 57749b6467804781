package clerksync

import (
	"encoding/json"
	"testing"
)

// FuzzAppendString checks the feed's string encoder against encoding/json, whose
// escaping (HTML characters, U+2028 and U+2029, invalid UTF-8 as U+FFFD) it promises.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `a "quoted" \ path`, "<b>&amp;</b>", "tab\tnew\nline\r",
		"\x00\x1f\x7f", "é ü 日本", "\u2028\u2029", "bad \xff\xfe utf-8", "evelyn.davis3862@example.org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}

// TestFeedDataSize checks that an entry's data is built in the buffer sized for it.
func TestFeedDataSize(t *testing.T) {
	tbl := KindUser.Table()
	row := make(Row, len(tbl.Columns))
	for i, c := range tbl.Columns {
		switch c.Type {
		case ColJSON:
			row[i] = json.RawMessage(`{"plan":"pro","seats":3}`)
		case ColText:
			row[i] = c.Name + " value"
		}
	}
	got := feedData(tbl, row)
	if !json.Valid(got) {
		t.Fatalf("feedData is not JSON: %s", got)
	}
	if cap(got) < len(got) || cap(got) > 2*len(got) {
		t.Fatalf("feedData: %d bytes in a buffer of %d", len(got), cap(got))
	}
	if n := testing.AllocsPerRun(100, func() { feedData(tbl, row) }); n != 1 {
		t.Fatalf("feedData allocates %v times, want once", n)
	}
}
