//go:build !linux

package sqlite

import "os"

// datasync flushes f to the disk. Outside Linux it is a plain fsync.
func datasync(f *os.File) error { return f.Sync() }
