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
// A variable so that a test can raise it.
var minFreeBytes uint64 = 16 << 20

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
	if free, ok := freeBytes(filepath.Dir(s.path)); ok && free < minFreeBytes {
		return &clerksync.Error{
			Code:    clerksync.EUNAVAILABLE,
			Message: fmt.Sprintf("sqlite: %d KiB free on the file system of %s", free>>10, s.path),
			Hint:    "free disk space: below 16 MiB a write may fail half-way",
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
