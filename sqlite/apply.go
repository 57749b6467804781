package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
)

// Apply applies changes in order in one transaction and returns one Result per change
// once the transaction is durable. A change that is malformed or that the database
// refuses on its own is recorded as a dead letter; the others are applied. Apply
// returns an error, and commits nothing, when the database is in trouble or ctx ends:
// code EUNAVAILABLE.
func (s *Store) Apply(ctx context.Context, changes []clerksync.Change) ([]clerksync.Result, error) {
	results, err := s.ApplyCommitted(ctx, changes)
	if err != nil {
		return nil, err
	}
	if err := s.Sync(); err != nil {
		return nil, err
	}
	return results, nil
}

// ApplyCommitted is Apply without the wait for durability: it returns once the batch
// is committed to the WAL, and Sync makes it durable. The engine uses it to run the
// next batch while this one waits for the disk (clerksync.PipelinedStore).
func (s *Store) ApplyCommitted(ctx context.Context, changes []clerksync.Change) ([]clerksync.Result, error) {
	return s.applyBatch(ctx, changes, false)
}

// Preview returns what Apply would return for changes without changing anything: the
// batch runs as Apply runs it, in a transaction that is rolled back.
func (s *Store) Preview(ctx context.Context, changes []clerksync.Change) ([]clerksync.Result, error) {
	return s.applyBatch(ctx, changes, true)
}

// applyBatch runs changes in one transaction; with dryRun it rolls the transaction
// back. If the database refuses one change's values, the transaction is rolled back and
// the batch runs again with that change as a dead letter: refusals are rare (the
// decoder has already checked the values), so the batch normally runs once.
func (s *Store) applyBatch(ctx context.Context, changes []clerksync.Change, dryRun bool) ([]clerksync.Result, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("apply batch", err)
	}
	b := &batch{Batch: clerksync.NewBatch(changes), lost: make([]bool, len(changes))}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !dryRun {
		s.topUpCheckpoint(ctx)
	}
	for {
		results, refused, err := s.applyTx(ctx, b, dryRun)
		if err == nil {
			return results, nil
		}
		// Whatever went wrong, the next batch reads objects from the database again
		// rather than trust what the writer remembers.
		s.known.reset(nil, 0)
		if refused < 0 {
			return nil, unavailable("apply batch", err)
		}
		if b.Poison[refused] == "" {
			b.Poison[refused] = "the database refused the change: " + err.Error()
		} else {
			// Not even the dead letter could be stored: leave it out, and tell the caller.
			b.lost[refused] = true
		}
	}
}

// batch is what applyBatch knows of its changes across runs.
type batch struct {
	*clerksync.Batch
	lost []bool // a poison change whose dead letter the database refused too
}

// topUpCheckpoint lets a WAL that has grown long start over (see checkpointer): when the
// checkpointer asks, it checkpoints on the writer's own connection, between two
// transactions, so that nothing is written meanwhile and the checkpoint copies every
// frame; the next transaction then writes the WAL from its beginning again, over
// blocks the file already has. The background checkpointer has copied all but the
// last frames, so this costs the writer little. The writer connection's synchronous
// (NORMAL) fsyncs the WAL before copying and the database file after. A failure is only
// logged: the WAL is then merely longer until the next try. Called with s.mu held.
func (s *Store) topUpCheckpoint(ctx context.Context) {
	if s.ckpt == nil || !s.ckpt.restartWanted.Swap(false) {
		return
	}
	if _, _, err := walCheckpoint(ctx, s.w, "PASSIVE"); err != nil {
		s.log.Warn("sqlite checkpoint on the writer failed; it is retried", slog.Any("error", err))
	}
}

// Sync makes every committed batch durable by fsyncing the WAL. If that fails, the
// store is left failed: committed batches may not survive a power cut, so it refuses
// further work with code EUNAVAILABLE rather than acknowledge changes it cannot vouch
// for; restarting clerksync reopens the file.
func (s *Store) Sync() error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	n := s.feed.pending()
	if err := s.wal.sync(); err != nil {
		s.failed.Store(err)
		s.log.Error("sqlite: committed changes could not be made durable; restart clerksync", "error", err)
		return &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "sqlite: the disk did not confirm the write", Err: err,
			Hint: "check the disk, then restart clerksync"}
	}
	s.feed.synced(n)
	return nil
}

// applyTx runs the batch in one transaction: it reads what the batch depends on,
// plans it (clerksync.Plan) and writes the plan. It returns the index of the change
// whose write the database refused (-1 for none) with the error.
func (s *Store) applyTx(ctx context.Context, b *batch, dryRun bool) (_ []clerksync.Result, refused int, err error) {
	// The transaction and its statements run without ctx's cancellation: for every
	// call given a context that can end, the driver starts a goroutine to watch it and
	// installs a progress handler, and database/sql starts another for each result set;
	// together they cost more than the point lookups they guard. ctx is checked between
	// steps instead, and a statement waiting for a lock ends at the busy timeout.
	tx := &txn{ctx: context.WithoutCancel(ctx), store: s, now: s.now()}
	conn, err := s.w.Conn(tx.ctx)
	if err != nil {
		return nil, -1, fmt.Errorf("begin batch: %w", err)
	}
	defer conn.Close()
	var driverConn any // which connection the pool gave: see knownObjects
	_ = conn.Raw(func(dc any) error { driverConn = dc; return nil })
	if tx.tx, err = conn.BeginTx(tx.ctx, nil); err != nil {
		return nil, -1, fmt.Errorf("begin batch: %w", err)
	}
	defer tx.tx.Rollback() //nolint:errcheck // a no-op after Commit
	var dataVersion int64
	if err := tx.queryRow(sqlDataVersion).Scan(&dataVersion); err != nil {
		return nil, -1, fmt.Errorf("read data_version: %w", err)
	}
	if driverConn != s.known.conn || dataVersion != s.known.dataVersion {
		s.known.reset(driverConn, dataVersion)
	}

	snap, learnt, err := tx.read(b.Keys(), &s.known)
	if err != nil {
		return nil, -1, fmt.Errorf("read the batch's objects: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, -1, fmt.Errorf("batch abandoned: %w", err)
	}
	ws := clerksync.Plan(b.Batch, snap, tx.now)
	if refused, err := tx.write(ws, b); err != nil {
		return nil, refused, err
	}
	if err := ctx.Err(); err != nil {
		return nil, -1, fmt.Errorf("batch abandoned: %w", err)
	}
	for i, lost := range b.lost {
		if lost {
			ws.Results[i] = clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: b.Poison[i]}
		}
	}
	if dryRun {
		return ws.Results, -1, nil
	}
	if err := tx.tx.Commit(); err != nil {
		return nil, -1, fmt.Errorf("commit batch: %w", err)
	}
	s.known.merge(learnt, ws, b.Changes)
	s.feed.committed(tx.firstSeq, tx.lastSeq)
	s.noteCommit()
	return ws.Results, -1, nil
}

// txn is one transaction of a batch on the writer connection.
type txn struct {
	ctx   context.Context
	store *Store
	tx    *sql.Tx
	now   time.Time
	stmts map[string]*sql.Stmt // the store's statements bound to tx

	// The seqs of the feed entries the transaction recorded (0 for none).
	firstSeq, lastSeq int64
}

// stmt returns the statement q, prepared once on the writer and bound to the
// transaction.
func (t *txn) stmt(q string) (*sql.Stmt, error) {
	if st, ok := t.stmts[q]; ok {
		return st, nil
	}
	prepared, err := t.store.stmts.get(q)
	if err != nil {
		return nil, err
	}
	if t.stmts == nil {
		t.stmts = make(map[string]*sql.Stmt, 16)
	}
	st := t.tx.StmtContext(t.ctx, prepared)
	t.stmts[q] = st
	return st, nil
}

// exec runs the statement q in the transaction.
func (t *txn) exec(q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(q) //nolint:sqlclosecheck // a statement of the store's cache, closed with the store
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// query runs the query q in the transaction.
func (t *txn) query(q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(q) //nolint:sqlclosecheck // a statement of the store's cache, closed with the store
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

// queryRow runs the query q, which answers one row, in the transaction.
func (t *txn) queryRow(q string, args ...any) *sql.Row {
	st, err := t.stmt(q) //nolint:sqlclosecheck // a statement of the store's cache, closed with the store
	if err != nil {
		// A statement that cannot be prepared fails its Scan: run it unprepared, which
		// fails the same way.
		return t.tx.QueryRowContext(t.ctx, q, args...)
	}
	return st.QueryRowContext(t.ctx, args...)
}

// stmtCache holds the statements prepared on the writer connection, by text, for the
// store's life. They are all prepared when the store opens (see allStatements): the
// writer has one connection, which a batch holds, so none can be prepared on it later.
type stmtCache struct {
	stmts map[string]*sql.Stmt
}

// prepare prepares every statement of allStatements on db.
func (c *stmtCache) prepare(ctx context.Context, db *sql.DB) error {
	c.stmts = make(map[string]*sql.Stmt)
	for _, q := range allStatements() {
		if _, ok := c.stmts[q]; ok {
			continue
		}
		st, err := db.PrepareContext(ctx, q) //nolint:sqlclosecheck // kept for the store's life, closed by close
		if err != nil {
			return fmt.Errorf("prepare %q: %w", firstLine(q), err)
		}
		c.stmts[q] = st
	}
	return nil
}

// get returns the prepared statement q.
func (c *stmtCache) get(q string) (*sql.Stmt, error) {
	if st, ok := c.stmts[q]; ok {
		return st, nil
	}
	return nil, fmt.Errorf("statement %q was not prepared when the store opened", firstLine(q))
}

func (c *stmtCache) close() error {
	var err error
	for _, st := range c.stmts {
		err = errors.Join(err, st.Close())
	}
	c.stmts = nil
	return err
}

// allStatements lists every statement a batch runs.
func allStatements() []string {
	out := []string{sqlDataVersion, sqlSeen, sqlTombstoned, sqlSlotTombstones,
		sqlInsertEvent, sqlReplay, sqlRedeliveries, sqlRedact, sqlInsertTombstone, sqlPlaceholderOrg}
	for _, n := range feedChunks {
		out = append(out, sqlInsertFeed[n])
	}
	for _, t := range clerksync.Tables() {
		r, w := reads[t.Kind], writes[t.Kind]
		out = append(out, r.byID, w.insert, w.hardDelete, w.softDelete)
		if r.bySlot != "" {
			out = append(out, r.bySlot)
		}
		for _, q := range r.byParent {
			if q != "" {
				out = append(out, q)
			}
		}
		out = append(out, w.updates...)
	}
	return out
}

// firstLine returns the first line of q, for errors.
func firstLine(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.IndexByte(q, '\n'); i >= 0 {
		return q[:i] + " …"
	}
	return q
}
