package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/postgres"
)

// TestReady_ReadOnly checks that a store connected to a database it cannot write to
// (here a role whose transactions are read-only, as on a standby) is not ready, while
// Ping, a read, still succeeds.
func TestReady_ReadOnly(t *testing.T) {
	t.Parallel()
	admin := pgtest.Admin(t)
	ctx := context.Background()
	rw := MustOpen(t)
	if err := rw.Ready(ctx); err != nil {
		t.Fatalf("Ready = %v on a writable database", err)
	}

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role := "clerksync_ro_" + hex.EncodeToString(b)
	ident := pgx.Identifier{role}.Sanitize()
	for _, q := range []string{
		"CREATE ROLE " + ident + " LOGIN",
		"ALTER ROLE " + ident + " SET default_transaction_read_only = on",
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+ident) })
	schema := newSchema(t)
	_ = pgtest.Open(t, schema) // created and migrated by a writer
	for _, q := range []string{
		"GRANT USAGE ON SCHEMA " + pgx.Identifier{schema}.Sanitize() + " TO " + ident,
		"GRANT SELECT ON ALL TABLES IN SCHEMA " + pgx.Identifier{schema}.Sanitize() + " TO " + ident,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	u, err := url.Parse(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	ro, err := postgres.Open(ctx, u.String(), postgres.WithSchema(schema))
	if err != nil {
		t.Skipf("cannot open the store as a read-only role: %v", err)
	}
	defer ro.Close()
	if err := ro.Ping(ctx); err != nil {
		t.Fatalf("Ping = %v as a read-only role, want nil", err)
	}
	if err := ro.Ready(ctx); clerksync.ErrorCode(err) != clerksync.EUNAVAILABLE {
		t.Fatalf("Ready = %v on a read-only database, want unavailable", err)
	}
}
