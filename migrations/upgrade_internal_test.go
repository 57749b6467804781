package migrations

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestSQLiteProfilesRebuildKeepsAppRows: 00007 rebuilds profiles to change its JSON
// checks. An application's table that refers to profiles with ON DELETE CASCADE must
// keep its rows (dropping the old table with foreign keys on would delete them), and
// the checks must hold NULL on every SQLite version.
func TestSQLiteProfilesRebuildKeepsAppRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "upgrade.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	p, err := newProvider(ctx, db, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL REFERENCES profiles (user_id) ON DELETE CASCADE, body TEXT)`,
		`INSERT INTO profiles (user_id, created_at, updated_at, synced_at, sync_source, public_metadata) VALUES ('user_1', 1, 2, 3, 'webhook', '{"a":1}')`,
		`INSERT INTO notes (user_id, body) VALUES ('user_1', 'kept')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	var notes, profiles int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&notes); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM profiles WHERE public_metadata = '{"a":1}'`).Scan(&profiles); err != nil {
		t.Fatal(err)
	}
	if notes != 1 || profiles != 1 {
		t.Fatalf("after the upgrade: %d notes, %d profiles; want 1 and 1", notes, profiles)
	}
	var fk int
	if err := db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys after the upgrade = %d, %v; want 1", fk, err)
	}
	// The application's foreign key now refers to the new table.
	if _, err := db.ExecContext(ctx, `DELETE FROM profiles WHERE user_id = 'user_1'`); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&notes); err != nil || notes != 0 {
		t.Fatalf("notes after deleting the profile: %d, %v; want the cascade to remove it", notes, err)
	}
	var ddl string
	if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'profiles'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"public_metadata", "unsafe_metadata", "private_metadata"} {
		if !strings.Contains(ddl, c+" IS NULL OR json_valid("+c+")") {
			t.Errorf("profiles' check of %s does not hold NULL: %s", c, ddl)
		}
	}
}
