package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clerksync/clerksync"
)

// TestReady_DiskFull checks that the store is not ready when its file system has
// little room left: less than minFreeBytes, or than a tenth of a small file system.
func TestReady_DiskFull(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "clerksync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(context.Background()); err != nil {
		t.Fatalf("Ready = %v on a disk with room", err)
	}
	defer func(old func(string) (uint64, uint64, bool)) { spaceOf = old }(spaceOf)
	for _, tt := range []struct {
		name       string
		free, size uint64
		ready      bool
	}{
		{"LargeDiskFull", 1 << 20, 100 << 30, false},
		{"LargeDiskRoomy", 1 << 30, 100 << 30, true},
		{"SmallDiskFull", 64 << 10, 8 << 20, false},
		{"SmallDiskRoomy", 2 << 20, 8 << 20, true},
	} {
		spaceOf = func(string) (uint64, uint64, bool) { return tt.free, tt.size, true }
		err := s.Ready(context.Background())
		switch {
		case tt.ready && err != nil:
			t.Errorf("%s: Ready = %v, want ready", tt.name, err)
		case !tt.ready && (clerksync.ErrorCode(err) != clerksync.EUNAVAILABLE || !strings.Contains(err.Error(), "free on the file system")):
			t.Errorf("%s: Ready = %v, want unavailable for want of space", tt.name, err)
		}
	}
}
