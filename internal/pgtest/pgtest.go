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
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// URL returns the URL of the test database.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Schema creates a new schema named prefix_<random>, drops it when tb ends, and
// returns its name. It skips tb when PostgreSQL does not answer (fails it with
// CLERKSYNC_REQUIRE_POSTGRES=1).
func Schema(tb testing.TB, prefix string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, URL())
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
	schema := prefix + "_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		admin.Close()
		tb.Fatalf("create schema %s: %v", schema, err)
	}
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
