package sqlite

import "syscall"

// diskSpace returns the space an unprivileged process may still use on the file
// system of dir and the file system's size, and whether they could be read.
func diskSpace(dir string) (free, size uint64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), true
}
