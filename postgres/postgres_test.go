package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/postgres"
	"github.com/clerksync/clerksync/storetest"
)

// newSchema returns the name of a schema of its own for t, dropped with everything in
// it when t ends. The schema itself is left for Open to create.
func newSchema(t testing.TB) string {
	t.Helper()
	return pgtest.SchemaName(t, "clerksync_test")
}

// MustOpen opens a store on a fresh schema of its own, closed and dropped when tb ends.
func MustOpen(tb testing.TB, opts ...postgres.Option) *postgres.Store {
	tb.Helper()
	return pgtest.Open(tb, newSchema(tb), opts...)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pgtest.Admin(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) clerksync.Store {
		return MustOpen(t, postgres.WithNow(now))
	})
}

// TestConvergeAcrossPools is the convergence property with every goroutine on a pool
// of its own, as separate replicas would be: only the database keeps them apart.
func TestConvergeAcrossPools(t *testing.T) {
	t.Parallel()
	pgtest.Admin(t)
	seed := storetest.Seed(t)
	for i := range 3 {
		t.Run(fmt.Sprintf("Iteration%d", i), func(t *testing.T) {
			t.Parallel()
			schema := newSchema(t)
			var stores []clerksync.Store
			for range 4 {
				stores = append(stores, pgtest.Open(t, schema))
			}
			storetest.Converge(t, stores, seed+uint64(i))
		})
	}
}
