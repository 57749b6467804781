package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/postgres"
	"github.com/clerksync/clerksync/storetest"
)

func TestSoftDelete(t *testing.T) {
	t.Parallel()
	pgtest.Admin(t)
	storetest.RunSoftDelete(t, func(t *testing.T, now func() time.Time) clerksync.Store {
		return MustOpen(t, postgres.WithNow(now), postgres.WithDeletePolicy(clerksync.DeleteSoft))
	}, rawRow)
}

// rawRow reads key's row through a connection of its own, deleted or not: whether
// there is one, and its columns by name.
func rawRow(t *testing.T, s clerksync.Store, key clerksync.ObjectKey) (bool, map[string]any) {
	t.Helper()
	tbl := key.Kind.Table()
	name := pgx.Identifier{s.(*postgres.Store).Schema(), tbl.Name}.Sanitize()
	rows, err := pgtest.Admin(t).Query(context.Background(), `SELECT * FROM `+name+` WHERE `+tbl.Key()+` = $1`, key.ID)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	cols, err := pgx.CollectExactlyOneRow(rows, pgx.RowToMap)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return true, cols
}
