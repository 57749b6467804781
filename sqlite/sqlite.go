// Package sqlite is clerksync's embedded store: one SQLite file, through the pure-Go
// driver modernc.org/sqlite, for a service that runs as a single process.
//
// The file is durable: write-ahead logging, and Apply returns only after the WAL holding
// its batch is fsynced, so an applied batch survives a power cut. The fsync happens
// after the write lock is released (see walSyncer), so the next batch runs while this
// one waits for the disk. All writes go through one connection (SQLite has one writer)
// with BEGIN IMMEDIATE, so a batch never fails half-way on a lock upgrade; reads use a
// pool of read-only connections of their own, which WAL lets run beside the writer
// without waiting for it. Open creates the file when needed and applies the
// migrations of package migrations (tables profiles, clerksync_tombstones,
// clerksync_events, clerksync_sync_runs, clerksync_state, clerksync_leases,
// clerksync_migrations).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/migrations"
)

var _ clerksync.PipelinedStore = (*Store)(nil)

// DefaultBusyTimeout is how long a statement waits by default for a lock held by
// another process (a clerksync command run beside the server) before it fails as
// unavailable.
const DefaultBusyTimeout = 5 * time.Second

// Option configures a Store.
type Option func(*Store)

// WithNow sets the clock that stamps synced_at, received_at and deleted_at. The default
// is time.Now.
func WithNow(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithBusyTimeout sets how long a statement waits for a lock held by another process
// before it fails with code EUNAVAILABLE. The default is DefaultBusyTimeout.
func WithBusyTimeout(d time.Duration) Option { return func(s *Store) { s.busyTimeout = d } }

// WithLogger sets the logger. The default discards everything.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithDeletePolicy sets what a deletion does to an object's row: clerksync.DeleteHard
// (the default) removes it; clerksync.DeleteSoft keeps it with deleted_at set and its
// personal columns (email, phone, names, image, metadata, raw) cleared. Either way the
// object is tombstoned and never comes back.
func WithDeletePolicy(p clerksync.DeletePolicy) Option {
	return func(s *Store) { s.softDelete = p == clerksync.DeleteSoft }
}

// Store is a clerksync.Store in one SQLite file. It is safe for concurrent use; batches
// are applied one at a time.
type Store struct {
	path        string
	now         func() time.Time
	log         *slog.Logger
	busyTimeout time.Duration

	w *sql.DB // the one write connection
	r *sql.DB // read-only connections

	mu     sync.Mutex // serializes batches on the write connection
	stmts  stmtCache
	known  knownObjects // what the writer knows of recent objects (see knownObjects)
	feed   feedHorizon  // which feed entries readers may see (see feedHorizon)
	ckpt   *checkpointer
	failed atomic.Value // the error that left the store failed (see Sync)
	wal    *walSyncer   // makes each commit durable (see walSyncer)
	closed atomic.Bool

	checkpointInterval time.Duration
	restartFrames      int

	// softDelete keeps a deleted object's row, with deleted_at set and its personal
	// columns cleared, instead of removing it.
	softDelete bool
}

// Open opens the SQLite database at path, creating it when it does not exist, and
// migrates it to the newest schema. path is a plain file path; ":memory:" is refused
// because the writer and the readers would each see a database of their own. Open
// returns an error with code EINVALID for a bad path and EUNAVAILABLE when the file
// cannot be opened or migrated.
func Open(path string, opts ...Option) (*Store, error) {
	switch {
	case path == "", path == ":memory:", strings.HasPrefix(path, "file:"), strings.Contains(path, "?"):
		return nil, &clerksync.Error{
			Code:    clerksync.EINVALID,
			Message: fmt.Sprintf("sqlite: %q is not a database file path", path),
			Hint:    "give the path of a file, such as clerksync.db",
		}
	}
	s := &Store{
		path: path, now: time.Now, log: slog.New(slog.DiscardHandler), busyTimeout: DefaultBusyTimeout,
		checkpointInterval: defaultCheckpointInterval, restartFrames: defaultRestartFrames,
	}
	for _, o := range opts {
		o(s)
	}

	// Every connection sets busy_timeout first, so that nothing fails at once on a lock
	// held by another process. journal_mode=WAL is a property of the file; synchronous
	// is per connection: NORMAL on the writer, whose commits Apply makes durable with an
	// fsync of its own outside the write lock (walSyncer). _txlock=immediate makes
	// BeginTx take the write lock up front.
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", s.busyTimeout.Milliseconds())
	if err := initFile(path, busy); err != nil {
		return nil, unavailable("create "+path, err)
	}
	// wal_autocheckpoint(0): the writer never checkpoints; a background checkpointer
	// does, on a connection of its own, so that commits carry only their WAL append
	// and fsync (see checkpointer). journal_size_limit bounds the WAL file kept after
	// a checkpoint resets it. cache_size(-24000): the writer keeps up to 24 MB of pages,
	// enough for the hot rows of a busy application, within the service's memory budget
	// of 100 MiB under load (a backfill peaks near 95 MiB with it).
	w, err := sql.Open("sqlite", path+"?"+busy+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"+
		"&_pragma=cache_size(-24000)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)"+
		"&_pragma=journal_size_limit(67108864)&_txlock=immediate")
	if err != nil {
		return nil, unavailable("open "+path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s.w = w

	ctx := context.Background()
	applied, err := migrations.Up(ctx, w, migrations.SQLite)
	if err != nil {
		w.Close()
		return nil, unavailable("migrate "+path, err)
	}
	migrations.LogApplied(ctx, s.log, applied, slog.String("path", path))

	r, err := sql.Open("sqlite", path+"?"+busy+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, unavailable("open "+path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r

	if err := s.stmts.prepare(ctx, w); err != nil {
		s.Close()
		return nil, unavailable("prepare statements", err)
	}

	if s.ckpt, err = startCheckpointer(path, busy, s.log, s.checkpointInterval, s.restartFrames); err != nil {
		s.Close()
		return nil, unavailable("open "+path, err)
	}
	if s.wal, err = openWALSyncer(path); err != nil {
		s.Close()
		return nil, unavailable("open "+path, err)
	}
	current, _, err := migrations.Version(ctx, w, migrations.SQLite)
	if err != nil {
		s.Close()
		return nil, unavailable("read schema version", err)
	}
	s.log.Debug("sqlite store open", slog.String("path", path), slog.Int64("schema_version", current))
	return s, nil
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

// Close closes the store's connections. Calls after the first do nothing.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.stmts.close()
	if s.ckpt != nil {
		err = errors.Join(err, s.ckpt.close())
	}
	if s.wal != nil {
		err = errors.Join(err, s.wal.close())
	}
	if s.r != nil {
		err = errors.Join(err, s.r.Close())
	}
	return errors.Join(err, s.w.Close())
}

// Ping reports whether the database answers, with code EUNAVAILABLE when it does not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1 FROM clerksync_migrations LIMIT 1").Scan(&one); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "sqlite: the store is closed"}
	}
	if err, _ := s.failed.Load().(error); err != nil {
		return &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "sqlite: an earlier write could not be made durable", Err: err,
			Hint: "check the disk, then restart clerksync"}
	}
	return nil
}

// unavailable wraps an error of the database with code EUNAVAILABLE when the database
// is in trouble (locked past the busy timeout, I/O error, disk full, context done) and
// with plain context otherwise.
func unavailable(op string, err error) error {
	if troubled(err) {
		return &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "sqlite: " + op, Err: err}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// troubled reports whether err says the database cannot be used now, rather than that
// a statement is wrong.
func troubled(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_ERROR, sqlite3.SQLITE_MISUSE, sqlite3.SQLITE_RANGE:
		return false // a bug in a statement
	}
	return !refusedChange(err)
}

// refusedChange reports whether err is the database refusing one change's values (a
// constraint, a malformed JSON document, a value too big): the change is recorded as a
// dead letter and its batch goes on.
func refusedChange(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG:
		return true
	}
	return false
}

// filePageSize is the page size of the files clerksync creates: 8 KiB pages hold a whole
// ~4 KB user row (its raw JSON) without an overflow page, so a change writes fewer
// pages to the WAL.
const filePageSize = 8192

// newFileMode is the mode of a new database file: it holds emails, phone numbers and
// whole user objects, for the owner's eyes only. SQLite gives the -wal and -shm files
// the mode of the database file.
const newFileMode = 0o600

// initFile creates the database file, readable by its owner only, when it does not
// exist, and gives a new file clerksync's page size and WAL mode. The page size must be
// set before anything materialises the file's first page, which switching to WAL does,
// so it cannot be one of the pool's connection settings (the driver applies those in
// alphabetical order). On an existing file it changes nothing, its mode included.
func initFile(path, busy string) error {
	// When the file cannot be created here (a missing directory, say), SQLite fails
	// below with the error it would have failed with anyway.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, newFileMode); err == nil {
		if err := f.Close(); err != nil {
			return err
		}
	}
	db, err := sql.Open("sqlite", path+"?"+busy)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", filePageSize)); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "PRAGMA journal_mode = WAL")
	return err
}
