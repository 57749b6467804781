package web_test

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/clerksync/clerksync/sqlite"
)

// TestReadyz_DatabaseLocked holds SQLite's write lock from another connection, as a
// command or a backup run beside the server would: /readyz turns 503 while the server
// cannot write, and 200 again once it can.
func TestReadyz_DatabaseLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clerksync.db")
	store, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := MustRunWebhookServerOn(t, store, nil)
	ready := func() int {
		resp, err := http.Get(e.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("/readyz = %d before the lock, want 200", got)
	}

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d while another process holds the write lock, want 503", got)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("/readyz = %d after the lock is given back, want 200", got)
	}
}
