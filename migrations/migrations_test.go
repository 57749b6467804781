package migrations_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/clerksync/clerksync/migrations"
)

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLiteUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)

	current, latest, err := migrations.Version(ctx, db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if current != 0 || latest < 1 {
		t.Fatalf("Version of a new database = %d, %d; want 0, >= 1", current, latest)
	}
	status, err := migrations.Status(ctx, db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := int64(len(status)), latest; got != want {
		t.Fatalf("Status lists %d migrations, want %d", got, want)
	}
	for _, m := range status {
		if m.Applied {
			t.Fatalf("migration %s applied on a new database", m.Name)
		}
	}

	for range 2 { // the second Up finds nothing to do
		if err := migrations.Up(ctx, db, migrations.SQLite); err != nil {
			t.Fatal(err)
		}
	}
	current, _, err = migrations.Version(ctx, db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if current != latest {
		t.Fatalf("Version after Up = %d, want %d", current, latest)
	}
	// The tables are usable as the stores use them.
	if _, err := db.ExecContext(ctx, `INSERT INTO clerksync_tombstones (user_id, deleted_at, source) VALUES ('user_1', 1, 'webhook')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO profiles (user_id, created_at, updated_at, synced_at, sync_source, public_metadata)
		VALUES ('user_1', 1, 1, 1, 'api', '{"plan":')`); err == nil {
		t.Fatal("profiles accepted malformed JSON")
	}
}

func TestUnknownDialect(t *testing.T) {
	t.Parallel()
	if err := migrations.Up(context.Background(), openSQLite(t), "oracle"); err == nil {
		t.Fatal("Up with an unknown dialect succeeded")
	}
}
