package lazyfs

import (
	"os"
	"syscall"
	"testing"
)

// RequireEnv is the environment variable that, set to 1, makes MountOrSkip fail a test
// instead of skipping it when FUSE is not available (CI sets it).
const RequireEnv = "CLERKSYNC_REQUIRE_FUSE"

// MountOrSkip mounts a lazy view of backing on mountpoint for the test and unmounts it
// when the test ends. When FUSE cannot be mounted it skips the test, saying why, or
// fails it when RequireEnv is set to 1.
func MountOrSkip(tb testing.TB, mountpoint, backing string) *FS {
	tb.Helper()
	lfs, err := Mount(mountpoint, backing)
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%v (%s=1 requires FUSE: run as root on a machine with /dev/fuse)", err, RequireEnv)
		}
		tb.Skipf("SKIPPED, FUSE is not available: %v (needs /dev/fuse and root or fusermount3; set %s=1 to fail instead)", err, RequireEnv)
	}
	tb.Cleanup(func() {
		if err := lfs.Unmount(); err != nil {
			// A process the test started still holds a file: detach the mount so
			// that the temporary directory can be removed.
			_ = syscall.Unmount(mountpoint, syscall.MNT_DETACH)
			tb.Errorf("unmount %s: %v", mountpoint, err)
		}
	})
	return lfs
}
