package sqlite

import (
	"errors"
	"os"
	"syscall"
)

// datasync flushes f's data to the disk with fdatasync, as SQLite does on Linux: it
// flushes the data and whatever metadata reading it back needs (the size, when the WAL
// grew), but not timestamps, which spares the file system a journal commit while the
// WAL is reused in place.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
