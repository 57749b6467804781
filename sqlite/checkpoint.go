package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// defaultCheckpointInterval is how often the checkpointer copies committed WAL frames into the
// database file. Shorter keeps the WAL small; longer lets pages changed several times
// be copied once.
const defaultCheckpointInterval = 250 * time.Millisecond

// checkpointer moves committed pages from the WAL into the database file in the
// background, on a connection of its own, so that the writer's commits never pay for
// it (SQLite's automatic checkpoint runs inside the commit that crosses the threshold,
// stalling every delivery in that batch). Checkpoints do not affect durability: a
// commit is durable once its WAL frames are fsynced.
//
// PASSIVE checkpoints never wait for the writer or readers. Under a steady stream of
// writes, though, a checkpoint running beside the writer never finds the WAL fully
// copied (frames keep arriving while it copies), and SQLite starts the WAL over from
// its beginning only once every frame has been copied: the WAL would grow without
// bound, and every append would extend the file. So when a checkpoint leaves more than
// restartFrames frames in the WAL, the checkpointer asks the writer (restartWanted) to
// copy the few frames written since, between two of its transactions; the writer's next
// transaction then starts the WAL over.
type checkpointer struct {
	db     *sql.DB
	log    *slog.Logger
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once

	interval      time.Duration // between two checkpoints
	restartFrames int           // WAL length that asks for a restart

	// restartWanted is set when the WAL has grown past restartFrames; the writer
	// clears it and checkpoints (see Store.topUpCheckpoint).
	restartWanted atomic.Bool
}

// defaultRestartFrames is the WAL length, in frames, past which the writer is asked to
// let the WAL start over: 8 MiB of 8 KiB pages.
const defaultRestartFrames = 1024

func startCheckpointer(path, busy string, log *slog.Logger, interval time.Duration, restartFrames int) (*checkpointer, error) {
	db, err := sql.Open("sqlite", path+"?"+busy+"&_pragma=synchronous(FULL)&_pragma=cache_size(-2000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, log: log, stop: make(chan struct{}), interval: interval, restartFrames: restartFrames}
	c.wg.Add(1)
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer c.wg.Done()
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			frames, err := c.checkpoint(context.Background(), "PASSIVE")
			if err != nil {
				c.log.Warn("sqlite checkpoint failed; it is retried", slog.Any("error", err))
				continue
			}
			if frames > c.restartFrames {
				c.restartWanted.Store(true)
			}
		}
	}
}

// checkpoint runs PRAGMA wal_checkpoint(mode) on the checkpointer's connection and
// returns the number of frames in the WAL.
func (c *checkpointer) checkpoint(ctx context.Context, mode string) (int, error) {
	return walCheckpoint(ctx, c.db, mode)
}

// walCheckpoint runs PRAGMA wal_checkpoint(mode) on db and returns the number of frames
// in the WAL.
func walCheckpoint(ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, mode string) (int, error) {
	var busy, logFrames, done int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &done); err != nil {
		return 0, fmt.Errorf("wal_checkpoint(%s): %w", mode, err)
	}
	return logFrames, nil
}

// close stops the checkpointer, copies what is left of the WAL into the database file
// and truncates the WAL, so that a stopped clerksync leaves one self-contained file.
func (c *checkpointer) close() error {
	var err error
	c.closed.Do(func() {
		close(c.stop)
		c.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Best effort: another process reading the file makes TRUNCATE give up, and
		// SQLite checkpoints again when the last connection closes anyway.
		if _, cerr := c.checkpoint(ctx, "TRUNCATE"); cerr != nil {
			c.log.Debug("sqlite final checkpoint", slog.Any("error", cerr))
		}
		err = c.db.Close()
	})
	return err
}
