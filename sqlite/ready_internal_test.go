package sqlite

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clerksync/clerksync"
)

// TestReady_DiskFull checks that the store is not ready when its file system has
// less room than minFreeBytes (raised here past any disk's free space).
func TestReady_DiskFull(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "clerksync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(context.Background()); err != nil {
		t.Fatalf("Ready = %v on a disk with room", err)
	}
	if _, ok := freeBytes(t.TempDir()); !ok {
		t.Skip("free space is not known on this system")
	}
	old := minFreeBytes
	minFreeBytes = math.MaxUint64
	defer func() { minFreeBytes = old }()
	err = s.Ready(context.Background())
	if clerksync.ErrorCode(err) != clerksync.EUNAVAILABLE || !strings.Contains(err.Error(), "free on the file system") {
		t.Fatalf("Ready = %v on a full disk, want unavailable for want of space", err)
	}
}
