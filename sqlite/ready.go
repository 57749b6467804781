package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"time"

	"github.com/clerksync/clerksync"
)

// minFreeBytes is the free space below which the store is not ready: a batch appends
// pages to the WAL and a checkpoint copies them into the database file, and a disk
// that fills up in the middle of either fails deliveries with 503 until it has room.
// On a file system smaller than ten times as much, a tenth of its size is the bound
// instead.
const minFreeBytes = 4 << 20

// spaceOf reads the free space and size of a directory's file system; a test replaces
// it to fill the disk.
var spaceOf = diskSpace

// lowOnSpace reports whether the file system of dir has too little room left, and how
// much it has.
func lowOnSpace(dir string) (free uint64, low bool) {
	free, size, ok := spaceOf(dir)
	if !ok {
		return 0, false
	}
	return free, free < min(minFreeBytes, size/10)
}

// readyLockWait is how long the readiness probe waits for the write lock. The store's
// own batches hold it for milliseconds; another process holding it longer (a command
// run beside the server, a backup) makes the server unable to write.
const readyLockWait = 250 * time.Millisecond

// Ready reports whether the store can take writes now, which Ping, a read, does not
// tell: the database answers, the file system has room for the WAL to grow, and the
// write lock can be taken within a moment. The lock is taken on a connection of the
// probe's own, with BEGIN IMMEDIATE and given back with ROLLBACK: nothing is written.
// It returns an error with code EUNAVAILABLE when the store is not ready.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	if free, low := lowOnSpace(filepath.Dir(s.path)); low {
		return &clerksync.Error{
			Code:    clerksync.EUNAVAILABLE,
			Message: fmt.Sprintf("sqlite: %d KiB free on the file system of %s", free>>10, s.path),
			Hint:    "free disk space: with so little room a write may fail half-way",
		}
	}
	db, err := sql.Open("sqlite", fmt.Sprintf("%s?_pragma=busy_timeout(%d)", s.path, readyLockWait.Milliseconds()))
	if err != nil {
		return unavailable("open a readiness probe", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return unavailable("open a readiness probe", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return unavailable("take the write lock", err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		return unavailable("give back the write lock", err)
	}
	return nil
}
