// Package pgtest gives tests a PostgreSQL schema of their own on the test database
// (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test), dropped when
// the test ends, as riverqueue/river's test databases do. A test is skipped, loudly,
// when PostgreSQL does not answer, unless CLERKSYNC_REQUIRE_POSTGRES=1 makes that a
// failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clerksync/clerksync/postgres"
)

// DefaultURL is the test database unless TEST_DATABASE_URL names another.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the URL of the test database.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// admins holds the pool Admin opened for each test still running.
var admins sync.Map // testing.TB → *pgxpool.Pool

// Admin returns a pool on the test database, one for each tb and closed when tb ends.
// When PostgreSQL does not answer it skips tb, saying how to start it, unless
// CLERKSYNC_REQUIRE_POSTGRES=1 asks for a failure instead.
func Admin(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	if pool, ok := admins.Load(tb); ok {
		return pool.(*pgxpool.Pool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, URL())
	if err == nil {
		if err = pool.Ping(ctx); err != nil {
			pool.Close()
		}
	}
	if err != nil {
		msg := "PostgreSQL is not reachable at TEST_DATABASE_URL (default " + DefaultURL + "): " + err.Error() +
			"\n\tSTART IT to run these tests: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start" +
			"\n\tor docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16" +
			"\n\t(set CLERKSYNC_REQUIRE_POSTGRES=1 to make this a failure)"
		if os.Getenv("CLERKSYNC_REQUIRE_POSTGRES") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip("SKIPPING POSTGRESQL TEST: " + msg)
	}
	if other, loaded := admins.LoadOrStore(tb, pool); loaded {
		pool.Close()
		return other.(*pgxpool.Pool)
	}
	tb.Cleanup(func() {
		admins.Delete(tb)
		pool.Close()
	})
	return pool
}

// SchemaName returns a new schema name, prefix_<random>, for the code under test to
// create, and drops that schema with everything in it when tb ends. It skips tb when
// PostgreSQL does not answer (fails it with CLERKSYNC_REQUIRE_POSTGRES=1).
func SchemaName(tb testing.TB, prefix string) string {
	tb.Helper()
	pool := Admin(tb)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := prefix + "_" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// Schema creates a new schema named prefix_<random>, drops it when tb ends, and
// returns its name. It skips tb when PostgreSQL does not answer (fails it with
// CLERKSYNC_REQUIRE_POSTGRES=1).
func Schema(tb testing.TB, prefix string) string {
	tb.Helper()
	schema := SchemaName(tb, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Admin(tb).Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	return schema
}

// Pool returns a pool on the test database whose connections use schema, closed when
// tb ends.
func Pool(tb testing.TB, schema string) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(URL())
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// Open opens a store on schema of the test database with opts, closed when tb ends.
func Open(tb testing.TB, schema string, opts ...postgres.Option) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), URL(), append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	if err != nil {
		tb.Fatalf("open schema %s: %v", schema, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
