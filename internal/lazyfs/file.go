package lazyfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
)

// pageSize is the unit in which unsynced writes are kept.
const pageSize = 4096

// lazyFile is one backing file and what has been written to it since its last fsync.
//
// The backing file holds what the disk was told to keep; the pages hold what was
// written since, and size is the file's length as programs see it. Reads merge the
// two. A truncation is kept too: durable is how much of the backing file still belongs
// to the file (the shortest it was truncated to since the last fsync), and bytes of the
// backing file past it read as zeros, as they would after the truncation.
//
// Invariants: durable <= size, and the bytes of a page at or past size are zero.
type lazyFile struct {
	mu      sync.Mutex
	f       *os.File // the backing file, open for reading and writing
	size    int64
	durable int64
	pages   map[int64]*[pageSize]byte // by page index
	dirty   bool                      // pages or size differ from the backing file
}

// openLazyFile starts keeping unsynced writes to the backing file f.
func openLazyFile(f *os.File) (*lazyFile, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	return &lazyFile{f: f, size: st.Size(), durable: st.Size(), pages: map[int64]*[pageSize]byte{}}, nil
}

// Size returns the file's length as programs see it.
func (lf *lazyFile) Size() int64 {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return lf.size
}

// ReadAt reads into p from off, up to the end of the file, and returns how many bytes
// it read (io.EOF only when off is at or past the end).
func (lf *lazyFile) ReadAt(p []byte, off int64) (int, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if off >= lf.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), lf.size-off)]
	for done := 0; done < len(p); {
		at := off + int64(done)
		idx, in := at/pageSize, at%pageSize
		n := min(len(p)-done, int(pageSize-in))
		if pg := lf.pages[idx]; pg != nil {
			copy(p[done:done+n], pg[in:])
		} else if err := lf.readBacking(p[done:done+n], at); err != nil {
			return done, err
		}
		done += n
	}
	return len(p), nil
}

// readBacking fills p with the backing file's bytes at off, zeros past durable.
func (lf *lazyFile) readBacking(p []byte, off int64) error {
	clear(p)
	if off >= lf.durable {
		return nil
	}
	want := p[:min(int64(len(p)), lf.durable-off)]
	if _, err := lf.f.ReadAt(want, off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %w", lf.f.Name(), err)
	}
	return nil
}

// WriteAt keeps p as written at off, growing the file when it ends past its end.
func (lf *lazyFile) WriteAt(p []byte, off int64) error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	for done := 0; done < len(p); {
		at := off + int64(done)
		idx, in := at/pageSize, at%pageSize
		pg, err := lf.page(idx)
		if err != nil {
			return err
		}
		done += copy(pg[in:], p[done:])
	}
	lf.size = max(lf.size, off+int64(len(p)))
	lf.dirty = true
	return nil
}

// page returns the pending page idx, reading it from the backing file first when no
// write has touched it since the last fsync.
func (lf *lazyFile) page(idx int64) (*[pageSize]byte, error) {
	if pg := lf.pages[idx]; pg != nil {
		return pg, nil
	}
	pg := new([pageSize]byte)
	start := idx * pageSize
	if start < lf.size {
		if err := lf.readBacking(pg[:min(pageSize, lf.size-start)], start); err != nil {
			return nil, err
		}
	}
	lf.pages[idx] = pg
	return pg, nil
}

// Truncate sets the file's length: bytes past it are forgotten, and a file grown
// reads as zeros up to its new end.
func (lf *lazyFile) Truncate(size int64) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if size < lf.size {
		for idx, pg := range lf.pages {
			switch start := idx * pageSize; {
			case start >= size:
				delete(lf.pages, idx)
			case start+pageSize > size:
				clear(pg[size-start:])
			}
		}
		lf.durable = min(lf.durable, size)
	}
	lf.size = size
	lf.dirty = true
}

// Sync writes the pending pages and length to the backing file and fsyncs it, so that
// they survive a Cut.
func (lf *lazyFile) Sync() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.dirty {
		// Cut off what a truncation forgot before writing the pages back, so that
		// bytes between durable and size that no write touched come back as zeros.
		if err := lf.f.Truncate(lf.durable); err != nil {
			return fmt.Errorf("truncate %s: %w", lf.f.Name(), err)
		}
		for idx, pg := range lf.pages {
			start := idx * pageSize
			if _, err := lf.f.WriteAt(pg[:min(pageSize, lf.size-start)], start); err != nil {
				return fmt.Errorf("write %s: %w", lf.f.Name(), err)
			}
		}
		if err := lf.f.Truncate(lf.size); err != nil {
			return fmt.Errorf("truncate %s: %w", lf.f.Name(), err)
		}
		clear(lf.pages)
		lf.durable = lf.size
		lf.dirty = false
	}
	for {
		err := syscall.Fdatasync(int(lf.f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			if err != nil {
				return fmt.Errorf("fdatasync %s: %w", lf.f.Name(), err)
			}
			return nil
		}
	}
}

// Drop forgets every write since the last Sync and returns how many pages it forgot.
func (lf *lazyFile) Drop() int {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	n := len(lf.pages)
	clear(lf.pages)
	if st, err := lf.f.Stat(); err == nil {
		lf.size, lf.durable = st.Size(), st.Size()
	}
	lf.dirty = false
	return n
}

// Close closes the backing file.
func (lf *lazyFile) Close() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return lf.f.Close()
}
