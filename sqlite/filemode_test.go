//go:build unix

package sqlite_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/clerksync/clerksync/sqlite"
)

// TestOpen_FilesOnlyForTheOwner checks that a new database file, and the WAL and
// shared-memory files beside it, hold emails, phone numbers and raw users for the
// owner's eyes only, whatever the umask lets through.
func TestOpen_FilesOnlyForTheOwner(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "clerksync.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Open has migrated the file, so the WAL and the shared memory exist.
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(f), got)
		}
	}
}

// TestOpen_KeepsTheModeOfAnExistingFile checks that a file the operator made
// readable by a group on purpose stays so.
func TestOpen_KeepsTheModeOfAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clerksync.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o640 {
		t.Fatalf("existing file's mode became %o, want 640", got)
	}
}
