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
// database file. Shorter keeps the WAL small and each checkpoint's fsync of the database
// file short; longer lets pages changed several times be copied once. The fsync is what
// matters: while a long one runs, the writer's WAL fsyncs wait behind it. Under a steady
// stream of deliveries, checkpoints every 50 ms instead of 250 ms took the p99 from
// 29-37 ms to 22-27 ms, for the same throughput. An idle store skips them (see run).
const defaultCheckpointInterval = 50 * time.Millisecond

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

	// committed is set by the writer after each commit and cleared by the checkpointer
	// when it looks; caughtUp says that the last checkpoint copied every frame. Both
	// together let an idle store skip its checkpoints.
	committed, caughtUp atomic.Bool
	runs, skips         atomic.Int64 // ticks that ran a checkpoint, and that did not (for tests)
}

// defaultRestartFrames is the WAL length, in frames, past which the writer is asked to
// let the WAL start over: 32 MiB of 8 KiB pages. The writer's top-up runs between two
// batches and ends with an fsync of the database file, so it should be rare: a backfill
// page of 500 users writes 2-4 MiB, and with a threshold of 2 MiB the writer topped up
// before nearly every page (a 100,000-user backfill took 6.8-6.9 s instead of 6.0-6.3).
const defaultRestartFrames = 4096

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
			// Nothing to copy when the last checkpoint copied everything and nothing
			// was committed since. (Another process's commits are checkpointed by that
			// process, and by this one once it commits again.)
			if !c.committed.Swap(false) && c.caughtUp.Load() {
				c.skips.Add(1)
				continue
			}
			frames, done, err := c.checkpoint(context.Background(), "PASSIVE")
			if err != nil {
				c.caughtUp.Store(false)
				c.log.Warn("sqlite checkpoint failed; it is retried", slog.Any("error", err))
				continue
			}
			c.runs.Add(1)
			c.caughtUp.Store(done == frames)
			if frames > c.restartFrames {
				c.restartWanted.Store(true)
			}
		}
	}
}

// noteCommit tells the checkpointer that the writer connection may have committed, so
// that its next tick checkpoints (and fsyncs the WAL) even if the store was idle.
func (s *Store) noteCommit() {
	if s.ckpt != nil {
		s.ckpt.committed.Store(true)
	}
}

// checkpoint runs PRAGMA wal_checkpoint(mode) on the checkpointer's connection and
// returns the number of frames in the WAL and how many of them are copied.
func (c *checkpointer) checkpoint(ctx context.Context, mode string) (frames, done int, err error) {
	return walCheckpoint(ctx, c.db, mode)
}

// walCheckpoint runs PRAGMA wal_checkpoint(mode) on db and returns the number of frames
// in the WAL and how many of them are copied into the database file.
func walCheckpoint(ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, mode string) (frames, done int, err error) {
	var busy int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &done); err != nil {
		return 0, 0, fmt.Errorf("wal_checkpoint(%s): %w", mode, err)
	}
	return frames, done, nil
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
		if _, _, cerr := c.checkpoint(ctx, "TRUNCATE"); cerr != nil {
			c.log.Debug("sqlite final checkpoint", slog.Any("error", cerr))
		}
		err = c.db.Close()
	})
	return err
}
