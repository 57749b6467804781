package web_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/postgres"
	"github.com/clerksync/clerksync/sqlite"
)

// postgresURL is the test database: TEST_DATABASE_URL, as for the postgres package.
func postgresURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// storeOpener opens a fresh store of one kind, closed when tb ends.
type storeOpener func(tb testing.TB) clerksync.Store

// eachStore runs f on SQLite and on PostgreSQL. The PostgreSQL run is skipped when the
// database does not answer, unless CLERKSYNC_REQUIRE_POSTGRES=1 makes that a failure.
func eachStore(t *testing.T, f func(t *testing.T, open storeOpener)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		f(t, func(tb testing.TB) clerksync.Store {
			tb.Helper()
			s, err := sqlite.Open(filepath.Join(tb.TempDir(), "clerksync.db"))
			if err != nil {
				tb.Fatalf("open sqlite: %v", err)
			}
			tb.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		f(t, func(tb testing.TB) clerksync.Store {
			tb.Helper()
			schema := mustPostgresSchema(tb)
			s, err := postgres.Open(context.Background(), postgresURL(), postgres.WithSchema(schema))
			if err != nil {
				tb.Fatalf("open postgres: %v", err)
			}
			tb.Cleanup(func() { s.Close() })
			return s
		})
	})
}

// mustPostgresSchema returns the name of a new schema, dropped when tb ends, or skips.
func mustPostgresSchema(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, postgresURL())
	if err == nil {
		err = admin.Ping(ctx)
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		msg := "PostgreSQL is not reachable at TEST_DATABASE_URL: " + err.Error()
		if os.Getenv("CLERKSYNC_REQUIRE_POSTGRES") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip("SKIPPING POSTGRESQL TEST: " + msg)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "clerksync_web_" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return schema
}
