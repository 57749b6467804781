package clerksync_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
)

// TestRowFromValues: what either driver scans for a table (SQLite: bytes and 0/1,
// PostgreSQL: strings and bools) becomes the same Row, and a value of the wrong type is
// an error that names the column.
func TestRowFromValues(t *testing.T) {
	t.Parallel()
	tbl := clerksync.KindUser.Table()
	col := func(name string) int { return tbl.Col(name) }
	want := make(clerksync.Row, len(tbl.Columns))
	want[col("user_id")] = "user_1"
	want[col("email_verified")] = true
	want[col("banned")] = false
	want[col("locked")] = false
	want[col("public_metadata")] = json.RawMessage(`{"plan":"pro"}`)
	want[col("updated_at")] = int64(1_700_000_000_000)

	for name, vals := range map[string]map[int]any{
		"sqlite":   {col("user_id"): []byte("user_1"), col("email_verified"): int64(1), col("public_metadata"): []byte(`{"plan":"pro"}`), col("updated_at"): int64(1_700_000_000_000), col("banned"): int64(0)},
		"postgres": {col("user_id"): "user_1", col("email_verified"): true, col("public_metadata"): `{"plan":"pro"}`, col("updated_at"): int64(1_700_000_000_000), col("banned"): false},
	} {
		in := make([]any, len(tbl.Columns)+1) // a value past the table's columns is ignored
		for i, v := range vals {
			in[i] = v
		}
		got, err := clerksync.RowFromValues(tbl, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}

	bad := make([]any, len(tbl.Columns))
	bad[col("updated_at")] = "yesterday"
	if _, err := clerksync.RowFromValues(tbl, bad); err == nil || !strings.Contains(err.Error(), "profiles.updated_at") {
		t.Errorf("a text updated_at: %v, want an error naming profiles.updated_at", err)
	}
	if _, err := clerksync.RowFromValues(tbl, bad[:3]); err == nil {
		t.Error("too few values: no error")
	}
}
