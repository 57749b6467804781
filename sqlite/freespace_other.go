//go:build !linux

package sqlite

// diskSpace reports that the free space is not known outside Linux: readiness then
// rests on the write lock alone.
func diskSpace(string) (free, size uint64, ok bool) { return 0, 0, false }
