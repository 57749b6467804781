package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
)

func TestSoftDelete(t *testing.T) {
	t.Parallel()
	storetest.RunSoftDelete(t, func(t *testing.T, now func() time.Time) clerksync.Store {
		return MustOpen(t, sqlite.WithNow(now), sqlite.WithDeletePolicy(clerksync.DeleteSoft))
	}, rawRow)
}

// rawRow reads key's row as another process would, deleted or not: whether there is
// one, and its columns by name.
func rawRow(t *testing.T, s clerksync.Store, key clerksync.ObjectKey) (bool, map[string]any) {
	t.Helper()
	tbl := key.Kind.Table()
	rows, err := mustRawDB(t, s.(*sqlite.Store).Path()).QueryContext(context.Background(),
		`SELECT * FROM `+tbl.Name+` WHERE `+tbl.Key()+` = ?`, key.ID)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		return false, nil
	}
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	cols := make(map[string]any, len(names))
	for i, n := range names {
		if b, ok := vals[i].([]byte); ok {
			vals[i] = string(b)
		}
		cols[n] = vals[i]
	}
	return true, cols
}
