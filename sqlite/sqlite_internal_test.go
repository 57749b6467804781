package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestPragmas checks the settings durability rests on, on the connections the store
// really uses.
func TestPragmas(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "clerksync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for _, tt := range []struct {
		name string
		db   *sql.DB
		want string
	}{
		{"journal_mode", s.w, "wal"},
		{"synchronous", s.w, "2"}, // FULL
		{"foreign_keys", s.w, "1"},
		{"busy_timeout", s.w, "5000"},
		{"journal_mode", s.r, "wal"},
		{"busy_timeout", s.r, "5000"},
		{"query_only", s.r, "1"},
	} {
		if got := pragma(tt.db, tt.name); got != tt.want {
			t.Errorf("PRAGMA %s = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got, want := s.w.Stats().MaxOpenConnections, 1; got != want {
		t.Errorf("writer pool allows %d connections, want %d", got, want)
	}
}
