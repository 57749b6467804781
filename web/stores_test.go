package web_test

import (
	"testing"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/internal/sqlitetest"
)

// storeOpener opens a fresh store of one kind, closed when tb ends.
type storeOpener func(tb testing.TB) clerksync.Store

// eachStore runs f on SQLite and on PostgreSQL. The PostgreSQL run is skipped when the
// database does not answer, unless CLERKSYNC_REQUIRE_POSTGRES=1 makes that a failure.
func eachStore(t *testing.T, f func(t *testing.T, open storeOpener)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		f(t, func(tb testing.TB) clerksync.Store {
			tb.Helper()
			return sqlitetest.Open(tb)
		})
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		f(t, func(tb testing.TB) clerksync.Store {
			tb.Helper()
			return pgtest.Open(tb, pgtest.SchemaName(tb, "clerksync_web"))
		})
	})
}
