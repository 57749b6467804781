package sqlite

import (
	"fmt"
	"os"
	"sync"
)

// walSyncer makes commits durable outside the write lock.
//
// The writer connection runs with synchronous=NORMAL: a commit writes its frames to the
// WAL but does not fsync it. Apply then fsyncs the WAL itself, after releasing the
// write lock and before returning, so that the next batch's statements run while this
// batch waits for the disk. Nothing is answered before its fsync, so every
// acknowledged change survives a power cut exactly as with synchronous=FULL; what
// changes is that fsync waits no longer stall the single writer.
//
// An fsync of the WAL file flushes every frame written before it started, whichever
// connection wrote it. The WAL is only ever overwritten from its start after a
// checkpoint has copied every frame into the database file and synced it (the
// checkpointer runs with synchronous=FULL), so frames waiting for this fsync are never
// lost to a restart of the WAL.
type walSyncer struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// openWALSyncer opens the WAL file of the database at path. The WAL exists while a
// connection in WAL mode is open, which the store's writer always is.
func openWALSyncer(path string) (*walSyncer, error) {
	w := &walSyncer{path: path + "-wal"}
	f, err := os.OpenFile(w.path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open the write-ahead log: %w", err)
	}
	w.f = f
	return w, nil
}

// sync fsyncs the WAL. If the file at the WAL's path is no longer the one it holds
// open (every connection closed and SQLite deleted and recreated it), it reopens it and
// syncs the new one, so that a sync never lands on a file SQLite no longer uses.
func (w *walSyncer) sync() error {
	w.mu.Lock()
	f := w.f
	w.mu.Unlock()
	if err := datasync(f); err != nil {
		return fmt.Errorf("fsync the write-ahead log: %w", err)
	}
	held, err1 := f.Stat()
	current, err2 := os.Stat(w.path)
	if err1 == nil && err2 == nil && os.SameFile(held, current) {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != f { // another sync reopened it meanwhile
		return datasync(w.f)
	}
	nf, err := os.OpenFile(w.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("reopen the write-ahead log: %w", err)
	}
	_ = w.f.Close()
	w.f = nf
	if err := datasync(nf); err != nil {
		return fmt.Errorf("fsync the write-ahead log: %w", err)
	}
	return nil
}

func (w *walSyncer) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}
