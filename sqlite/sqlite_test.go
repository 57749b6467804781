package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/migrations"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
)

// MustOpen opens a store in a new file of tb's temporary directory and closes it when
// tb ends.
func MustOpen(tb testing.TB, opts ...sqlite.Option) *sqlite.Store {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "clerksync.db"), opts...)
}

// MustOpenPath opens a store on path and closes it when tb ends.
func MustOpenPath(tb testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(path, opts...)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

// mustRawDB opens a plain connection pool on path, as another process would.
func mustRawDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) clerksync.Store {
		return MustOpen(t, sqlite.WithNow(now))
	})
}

func TestOpenRefusesPath(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, path string }{
		{"Empty", ""},
		{"Memory", ":memory:"},
		{"URI", "file:clerksync.db"},
		{"Query", "clerksync.db?mode=ro"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := sqlite.Open(tt.path)
			if got, want := clerksync.ErrorCode(err), clerksync.EINVALID; got != want {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open(%q) error %v, code %q; want code %q", tt.path, err, got, want)
			}
		})
	}
}

func TestOpenUnwritableDirectory(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "missing", "clerksync.db"))
	if got, want := clerksync.ErrorCode(err), clerksync.EUNAVAILABLE; got != want {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open in a missing directory: %v, code %q; want code %q", err, got, want)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clerksync.db")
	p := storetest.NewProfile("user_keep", 1716883500000)
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustApply(t, s, storetest.Upsert("msg_1", p), storetest.Delete("msg_2", "user_gone", 1716883500000))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = MustOpenPath(t, path)
	if diff := storetest.ProfileDiff(p, storetest.MustProfile(t, s, "user_keep")); diff != "" {
		t.Fatalf("profile after reopening (-want +got):\n%s", diff)
	}
	if d, err := s.Deleted(context.Background(), clerksync.UserKey("user_gone")); err != nil || !d {
		t.Fatalf("Deleted after reopening = %v, %v; want true", d, err)
	}
	storetest.MustEvent(t, s, "msg_1")
	// The redelivery after a restart is still recognised.
	res := storetest.MustApply(t, s, storetest.Upsert("msg_1", p))
	if got, want := res[0].Outcome, clerksync.OutcomeDuplicate; got != want {
		t.Fatalf("redelivery after reopening: %v, want %v", got, want)
	}
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clerksync.db")
	MustOpenPath(t, path)
	// A second store on the same file finds the schema up to date.
	MustOpenPath(t, path)

	db := mustRawDB(t, path)
	current, latest, err := migrations.Version(ctx, db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if current < 1 || current != latest {
		t.Fatalf("Version = %d, %d; want current = latest >= 1", current, latest)
	}
	status, err := migrations.Status(ctx, db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := status[0].Name, "00001_init.sql"; got != want {
		t.Errorf("first migration %q, want %q", got, want)
	}
	for _, m := range status {
		if !m.Applied || m.AppliedAt.IsZero() {
			t.Errorf("migration %d %s: Applied %v at %v; want applied", m.Version, m.Name, m.Applied, m.AppliedAt)
		}
	}
	var count int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM clerksync_migrations WHERE version_id = 1`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		t.Fatalf("migration 1 recorded %d times, want once", count)
	}

	var tables []string
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"clerksync_changes", "clerksync_events", "clerksync_forward_positions", "clerksync_leases", "clerksync_migrations", "clerksync_state", "clerksync_sync_runs", "clerksync_tombstones",
		"organization_invitations", "organization_memberships", "organization_permissions", "organization_roles", "organizations", "profiles"}
	if diff := cmp.Diff(want, tables); diff != "" {
		t.Fatalf("tables (-want +got):\n%s", diff)
	}
}

func TestLockedByAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clerksync.db")
	s := MustOpenPath(t, path, sqlite.WithBusyTimeout(20*time.Millisecond))
	p := storetest.NewProfile("user_lock", 1716883500000)
	storetest.MustApply(t, s, storetest.Upsert("msg_0", p))

	// Another process takes the write lock and keeps it.
	other, err := mustRawDB(t, path).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	q := storetest.NewProfile("user_lock2", 1716883500000)
	res, err := s.Apply(ctx, []clerksync.Change{storetest.Upsert("msg_1", q)})
	if got, want := clerksync.ErrorCode(err), clerksync.EUNAVAILABLE; got != want {
		t.Fatalf("Apply while locked = %+v, %v; want code %q", res, err, want)
	}
	// Readers do not wait for the writer.
	storetest.MustProfile(t, s, "user_lock")

	if _, err := other.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Event(ctx, "msg_1"); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Fatalf("event of the failed batch: %v, want not found", err)
	}
	res = storetest.MustApply(t, s, storetest.Upsert("msg_1", q))
	if got, want := res[0].Action, clerksync.ActionCreated; got != want {
		t.Fatalf("Apply after the lock was released: %v, want %v", got, want)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "clerksync.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = s.Apply(ctx, []clerksync.Change{storetest.Upsert("msg_1", storetest.NewProfile("user_1", 1))})
	if got, want := clerksync.ErrorCode(err), clerksync.EUNAVAILABLE; got != want {
		t.Errorf("Apply on a closed store: %v, code %q; want %q", err, got, want)
	}
	if got, want := clerksync.ErrorCode(s.Ping(ctx)), clerksync.EUNAVAILABLE; got != want {
		t.Errorf("Ping on a closed store: code %q, want %q", got, want)
	}
}

// BenchmarkApply runs storetest's Apply benchmark on this store.
func BenchmarkApply(b *testing.B) {
	storetest.BenchmarkApply(b, func(b *testing.B) clerksync.Store { return MustOpen(b) })
}

// TestConvergeAcrossStores is the convergence property with the goroutines spread over
// several stores on one file, as several clerksync processes on one database would be:
// each store's writer must notice what the others committed (see knownUsers).
func TestConvergeAcrossStores(t *testing.T) {
	t.Parallel()
	seed := storetest.Seed(t)
	for i := range 3 {
		t.Run(fmt.Sprintf("Iteration%d", i), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "clerksync.db")
			var stores []clerksync.Store
			for range 3 {
				stores = append(stores, MustOpenPath(t, path))
			}
			storetest.Converge(t, stores, seed+uint64(i))
		})
	}
}

// TestWriterSeesOtherWriters checks that a store's writer, which remembers the users it
// has written, notices a newer version, a deletion and a delivery that another process
// wrote to the same file meanwhile.
func TestWriterSeesOtherWriters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clerksync.db")
	a, b := MustOpenPath(t, path), MustOpenPath(t, path)
	u := storetest.NewProfile("user_a", 1_000)
	w := storetest.NewProfile("user_w", 1_000)
	storetest.MustApply(t, a, storetest.Upsert("msg_1", u), storetest.Upsert("msg_2", w))

	u3 := storetest.NewProfile("user_a", 3_000) // with another email
	storetest.MustApply(t, b, storetest.Upsert("msg_3", u3), storetest.Delete("msg_4", "user_w", 2_000))

	u2 := storetest.NewProfile("user_a", 2_000)
	w2 := storetest.NewProfile("user_w", 3_000)
	got := storetest.MustApply(t, a,
		storetest.Upsert("msg_5", u2), // older than what b wrote
		storetest.Upsert("msg_6", w2), // about a user b deleted
		storetest.Upsert("msg_3", u3), // a delivery b recorded
	)
	want := []clerksync.Result{
		{Outcome: clerksync.OutcomeStale, Reason: clerksync.ReasonOlder},
		{Outcome: clerksync.OutcomeStale, Reason: clerksync.ReasonDeleted},
		{Outcome: clerksync.OutcomeDuplicate},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	if p := storetest.MustProfile(t, a, "user_a"); p.UpdatedAt != 3_000 || p.Email != u3.Email {
		t.Errorf("user_a = version %d, email %q; want b's version 3000 and %s", p.UpdatedAt, p.Email, u3.Email)
	}

	// An application writing the table itself is another connection too.
	raw := mustRawDB(t, path)
	if _, err := raw.ExecContext(context.Background(), `DELETE FROM profiles WHERE user_id = 'user_a'`); err != nil {
		t.Fatal(err)
	}
	u4 := storetest.NewProfile("user_a", 4_000)
	got = storetest.MustApply(t, a, storetest.Upsert("msg_7", u4))
	if want := (clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionCreated}); got[0] != want {
		t.Errorf("after the row was deleted by hand: %+v, want %+v", got[0], want)
	}
}
