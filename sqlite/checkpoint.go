package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// checkpointInterval is how often the checkpointer copies committed WAL frames into the
// database file. Shorter keeps the WAL small; longer lets pages changed several times
// be copied once.
const checkpointInterval = 250 * time.Millisecond

// checkpointer moves committed pages from the WAL into the database file in the
// background, on a connection of its own, so that the writer's commits never pay for
// it (SQLite's automatic checkpoint runs inside the commit that crosses the threshold,
// stalling every delivery in that batch). Checkpoints do not affect durability: a
// commit is durable once its WAL frames are fsynced.
//
// PASSIVE checkpoints never wait for the writer or readers; once one has copied every
// frame, the writer's next transaction starts the WAL over from its beginning.
type checkpointer struct {
	db     *sql.DB
	log    *slog.Logger
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
}

func startCheckpointer(path, busy string, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", path+"?"+busy+"&_pragma=synchronous(FULL)&_pragma=cache_size(-2000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, log: log, stop: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer c.wg.Done()
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if err := c.checkpoint(context.Background(), "PASSIVE"); err != nil {
				c.log.Warn("sqlite checkpoint failed; it is retried", slog.Any("error", err))
			}
		}
	}
}

// checkpoint runs PRAGMA wal_checkpoint(mode).
func (c *checkpointer) checkpoint(ctx context.Context, mode string) error {
	var busy, logFrames, done int
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("wal_checkpoint(%s): %w", mode, err)
	}
	return nil
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
		if cerr := c.checkpoint(ctx, "TRUNCATE"); cerr != nil {
			c.log.Debug("sqlite final checkpoint", slog.Any("error", cerr))
		}
		err = c.db.Close()
	})
	return err
}
