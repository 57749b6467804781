package migrations_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
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

	applied, err := migrations.Up(ctx, db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(applied)) != latest || applied[0].Name != status[0].Name || applied[len(applied)-1].Version != latest {
		t.Fatalf("Up on a new database applied %+v, want all %d migrations in order", applied, latest)
	}
	if again, err := migrations.Up(ctx, db, migrations.SQLite); err != nil || len(again) != 0 {
		t.Fatalf("second Up applied %+v (%v), want nothing", again, err)
	}
	current, _, err = migrations.Version(ctx, db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if current != latest {
		t.Fatalf("Version after Up = %d, want %d", current, latest)
	}
	// The tables are usable as the stores use them.
	if _, err := db.ExecContext(ctx, `INSERT INTO clerksync_tombstones (kind, object_id, deleted_at, source) VALUES ('user', 'user_1', 1, 'webhook')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO profiles (user_id, created_at, updated_at, synced_at, sync_source, public_metadata)
		VALUES ('user_1', 1, 1, 1, 'api', '{"plan":')`); err == nil {
		t.Fatal("profiles accepted malformed JSON")
	}
}

func TestUnknownDialect(t *testing.T) {
	t.Parallel()
	if _, err := migrations.Up(context.Background(), openSQLite(t), "oracle"); err == nil {
		t.Fatal("Up with an unknown dialect succeeded")
	}
}

// TestLogApplied checks what an operator reads at start: one line when the tables are
// created, a line per migration when they are upgraded, nothing when up to date.
func TestLogApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)
	applied, err := migrations.Up(ctx, db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	latest := applied[len(applied)-1].Version
	upgrade := []migrations.Migration{{Version: latest - 1, Name: "a.sql"}, {Version: latest, Name: "b.sql"}}
	for _, tc := range []struct {
		name    string
		applied []migrations.Migration
		want    []string
	}{
		{"new database", applied, []string{fmt.Sprintf(`msg="created clerksync's tables" path=x schema_version=%d`, latest)}},
		{"upgrade", upgrade, []string{
			`msg="upgraded clerksync's tables" path=x migration=a.sql`,
			`msg="upgraded clerksync's tables" path=x migration=b.sql`,
		}},
		{"up to date", nil, nil},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
					return slog.Attr{}
				}
				return a
			},
		}))
		migrations.LogApplied(ctx, log, tc.applied, slog.String("path", "x"))
		got := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if buf.Len() == 0 {
			got = nil
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: logged %q, want %q", tc.name, got, tc.want)
		}
	}
}
