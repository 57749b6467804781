package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/postgres"
	"github.com/clerksync/clerksync/storetest"
)

// DefaultTestURL is the database the tests use unless TEST_DATABASE_URL names another.
const DefaultTestURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testURL returns the URL of the test database.
func testURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultTestURL
}

var admin struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

// mustAdmin returns a pool on the test database, shared by the package's tests. When
// PostgreSQL does not answer it skips t, saying how to start it, unless
// CLERKSYNC_REQUIRE_POSTGRES=1 asks for a failure instead.
func mustAdmin(t testing.TB) *pgxpool.Pool {
	t.Helper()
	admin.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		admin.pool, admin.err = pgxpool.New(ctx, testURL())
		if admin.err == nil {
			admin.err = admin.pool.Ping(ctx)
		}
	})
	if admin.err != nil {
		msg := "PostgreSQL is not reachable at TEST_DATABASE_URL (default " + DefaultTestURL + "): " + admin.err.Error() +
			"\n\tSTART IT to run these tests: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start" +
			"\n\tor docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16" +
			"\n\t(set CLERKSYNC_REQUIRE_POSTGRES=1 to make this a failure)"
		if os.Getenv("CLERKSYNC_REQUIRE_POSTGRES") == "1" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING POSTGRESQL TESTS: " + msg)
	}
	return admin.pool
}

// newSchema returns the name of a schema of its own for t, dropped with everything in
// it when t ends. The schema itself is left for Open to create.
func newSchema(t testing.TB) string {
	t.Helper()
	pool := mustAdmin(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "clerksync_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// MustOpen opens a store on a fresh schema of its own, closed and dropped when tb ends.
func MustOpen(tb testing.TB, opts ...postgres.Option) *postgres.Store {
	tb.Helper()
	return MustOpenSchema(tb, newSchema(tb), opts...)
}

// MustOpenSchema opens a store on schema, closed when tb ends.
func MustOpenSchema(tb testing.TB, schema string, opts ...postgres.Option) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), testURL(), append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	mustAdmin(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) clerksync.Store {
		return MustOpen(t, postgres.WithNow(now))
	})
}

// TestConvergeAcrossPools is the convergence property with every goroutine on a pool
// of its own, as separate replicas would be: only the database keeps them apart.
func TestConvergeAcrossPools(t *testing.T) {
	t.Parallel()
	mustAdmin(t)
	seed := storetest.Seed(t)
	for i := range 3 {
		t.Run(fmt.Sprintf("Iteration%d", i), func(t *testing.T) {
			t.Parallel()
			schema := newSchema(t)
			var stores []clerksync.Store
			for range 4 {
				stores = append(stores, MustOpenSchema(t, schema))
			}
			storetest.Converge(t, stores, seed+uint64(i))
		})
	}
}
