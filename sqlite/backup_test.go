package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clerksync/clerksync/storetest"
)

// TestBackupWithSQLite3 backs the database up the way the sqlite3 shell does it, with
// the shell an operator has (Debian's is 3.40): PRAGMA integrity_check must pass and
// `.dump` must restore every profile. Before SQLite 3.45, json_valid(NULL) is 0, which
// a CHECK (json_valid(x)) on a NULL column fails.
func TestBackupWithSQLite3(t *testing.T) {
	t.Parallel()
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("CLERKSYNC_REQUIRE_SQLITE3") != "" {
			t.Fatal("the sqlite3 shell is not installed (apt-get install sqlite3)")
		}
		t.Skip("SKIPPED: the sqlite3 shell is not installed; set CLERKSYNC_REQUIRE_SQLITE3=1 to fail instead")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "clerksync.db")
	s := MustOpenPath(t, path)
	for i := range 50 {
		storetest.MustApply(t, s, storetest.Upsert(fmt.Sprintf("msg_%d", i), storetest.NewProfile(fmt.Sprintf("user_%02d", i), 1_750_000_000_000)))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(context.Background(), shell, path, "PRAGMA integrity_check").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("integrity_check with %s: %s %v", shell, out, err)
	}
	restored := filepath.Join(dir, "restored.db")
	cmd := exec.CommandContext(context.Background(), "sh", "-c", `"$0" "$1" .dump | "$0" "$2"`, shell, path, restored)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf(".dump | sqlite3: %s %v", out, err)
	}
	out, err = exec.CommandContext(context.Background(), shell, restored, "SELECT count(*) FROM profiles").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "50" {
		t.Fatalf("profiles restored from the dump: %s %v; want 50", out, err)
	}
}
