package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"unsafe"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

// The statements of a batch, prepared once on the write connection.
var (
	// One statement answers the three questions every change asks: was this svix-id
	// seen, is the user deleted, and which version is stored. One step instead of three
	// matters on the hot path.
	// It also reads the stored values of the indexed columns, so that an update can
	// leave an index alone when its column did not change (see sqlUpdateProfile).
	sqlLookup = `SELECT
    EXISTS (SELECT 1 FROM clerksync_events WHERE svix_id = ?1),
    EXISTS (SELECT 1 FROM clerksync_tombstones WHERE user_id = ?2),
    p.updated_at, p.email, p.username, p.external_id
FROM (SELECT 1) LEFT JOIN profiles p ON p.user_id = ?2`

	// The updated_at guard is repeated in the statement so that the database itself
	// never lets an older version replace a newer one.
	sqlUpsertProfile = `
INSERT INTO profiles (` + profileColumns + `)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET
    ` + sqlschema.ProfileUpsertSet + `
WHERE excluded.updated_at >= profiles.updated_at`

	sqlDeleteProfile = `DELETE FROM profiles WHERE user_id = ?`

	// sqlUpdateProfile updates a stored user. SQLite rewrites an index entry whenever
	// its column is assigned, even to the same value, and every rewritten index page is
	// one more page in the WAL; so the indexed columns (email, username, external_id)
	// are assigned only when they changed: %s is that part of the SET list. A change of
	// a name or metadata then writes one page of profiles instead of four.
	sqlUpdateProfile = `
UPDATE profiles SET %s
    email_verified = ?, phone = ?, first_name = ?, last_name = ?, image_url = ?,
    public_metadata = ?, unsafe_metadata = ?, private_metadata = ?, banned = ?, locked = ?,
    created_at = ?, updated_at = ?, last_sign_in_at = ?, last_active_at = ?,
    synced_at = ?, sync_source = ?, raw = ?
WHERE user_id = ? AND updated_at <= ?`
	sqlInsertTombstone = `INSERT INTO clerksync_tombstones (user_id, deleted_at, source, event_id) VALUES (?, ?, ?, ?)`
	sqlRedactEvents    = `UPDATE clerksync_events SET body = NULL, redacted = 1 WHERE user_id = ? AND body IS NOT NULL`

	// sqlRecordNewEvent records a delivery unless its svix-id is in the log already:
	// no row written means a duplicate (see writeKnown).
	sqlRecordNewEvent = `
INSERT INTO clerksync_events (
    svix_id, type, user_id, outcome, action, error, event_time, received_at, body, redacted
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (svix_id) DO NOTHING`

	// sqlPrefetch reads, for every user id of a JSON array, what sqlLookup reads but the
	// svix-id: the users a batch is about that the writer does not know yet, in one
	// statement instead of one each (see batch.prefetch).
	sqlPrefetch = `SELECT j.value,
    EXISTS (SELECT 1 FROM clerksync_tombstones t WHERE t.user_id = j.value),
    p.updated_at, p.email, p.username, p.external_id
FROM json_each(?) j LEFT JOIN profiles p ON p.user_id = j.value`

	// sqlDataVersion changes when another connection has committed (see knownUsers).
	sqlDataVersion = `PRAGMA data_version`

	// A new svix-id is inserted; a replayed one updates its entry
	// (sqlschema.EventReplaySet).
	sqlRecordEvent = `
INSERT INTO clerksync_events (
    svix_id, type, user_id, outcome, action, error, event_time, received_at, body, redacted
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (svix_id) DO UPDATE SET
    ` + sqlschema.EventReplaySet("clerksync_events")
)

type writeStmts struct {
	lookup                                     *sql.Stmt
	upsertProfile, deleteProfile               *sql.Stmt
	insertTombstone, redactEvents, recordEvent *sql.Stmt
	recordNewEvent, dataVersion, prefetch      *sql.Stmt
	// updates[mask] is sqlUpdateProfile assigning the indexed columns whose bit is
	// set in mask: 1 email, 2 username, 4 external_id.
	updates [8]*sql.Stmt
}

// Bits of an update mask: which indexed columns an update assigns.
const (
	setEmail = 1 << iota
	setUsername
	setExternalID
)

// updateSQL returns sqlUpdateProfile assigning the indexed columns in mask.
func updateSQL(mask int) string {
	set := ""
	if mask&setEmail != 0 {
		set += "email = ?, "
	}
	if mask&setUsername != 0 {
		set += "username = ?, "
	}
	if mask&setExternalID != 0 {
		set += "external_id = ?, "
	}
	return fmt.Sprintf(sqlUpdateProfile, set)
}

func (w *writeStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&w.lookup, sqlLookup},
		{&w.upsertProfile, sqlUpsertProfile},
		{&w.deleteProfile, sqlDeleteProfile},
		{&w.insertTombstone, sqlInsertTombstone},
		{&w.redactEvents, sqlRedactEvents},
		{&w.recordEvent, sqlRecordEvent},
		{&w.recordNewEvent, sqlRecordNewEvent},
		{&w.dataVersion, sqlDataVersion},
		{&w.prefetch, sqlPrefetch},
	} {
		stmt, err := db.PrepareContext(ctx, p.sql) //nolint:sqlclosecheck // kept for the store's life, closed by Close
		if err != nil {
			return err
		}
		*p.stmt = stmt
	}
	for mask := range w.updates {
		stmt, err := db.PrepareContext(ctx, updateSQL(mask)) //nolint:sqlclosecheck // closed by Close
		if err != nil {
			return err
		}
		w.updates[mask] = stmt
	}
	return nil
}

func (w *writeStmts) close() error {
	var err error
	for _, s := range append([]*sql.Stmt{
		w.lookup, w.upsertProfile,
		w.deleteProfile, w.insertTombstone, w.redactEvents, w.recordEvent,
		w.recordNewEvent, w.dataVersion, w.prefetch,
	}, w.updates[:]...) {
		if s != nil {
			err = errors.Join(err, s.Close())
		}
	}
	return err
}

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
//
// The batch first runs without savepoints, which halves the statements per change. If
// the database refuses one of its changes, that transaction is rolled back and the
// batch runs again with a savepoint around each change, so that the refused change
// alone becomes a dead letter. Refusals are rare (the decoder has already checked the
// values), so the second run is the exception.
func (s *Store) ApplyCommitted(ctx context.Context, changes []clerksync.Change) ([]clerksync.Result, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("apply batch", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.topUpCheckpoint(ctx)
	results, err := s.applyTx(ctx, changes, false)
	if err != nil && refusedChange(err) {
		results, err = s.applyTx(ctx, changes, true)
	}
	if err != nil {
		// Whatever went wrong, the next batch reads users from the database again
		// rather than trust what the writer remembers.
		s.known.reset(nil, 0)
		return nil, unavailable("apply batch", err)
	}
	return results, nil
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
	if err := s.wal.sync(); err != nil {
		s.failed.Store(err)
		s.log.Error("sqlite: committed changes could not be made durable; restart clerksync", "error", err)
		return &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "sqlite: the disk did not confirm the write", Err: err,
			Hint: "check the disk, then restart clerksync"}
	}
	return nil
}

// applyTx runs changes in one transaction and commits it. Without careful, a change the
// database refuses fails the whole transaction with that refusal; with careful, each
// change runs in a savepoint and a refused one is recorded as a dead letter.
func (s *Store) applyTx(ctx context.Context, changes []clerksync.Change, careful bool) ([]clerksync.Result, error) {
	// The transaction and its statements run without ctx's cancellation: for every
	// call given a context that can end, the driver starts a goroutine to watch it and
	// installs a progress handler, and database/sql starts another for each result set;
	// together they cost more than the point lookup they guard. ctx is checked between
	// changes instead, and a statement waiting for a lock ends at the busy timeout.
	b := &batch{ctx: context.WithoutCancel(ctx), now: s.now().UnixMilli()}
	conn, err := s.w.Conn(b.ctx)
	if err != nil {
		return nil, fmt.Errorf("begin batch: %w", err)
	}
	defer conn.Close()
	var driverConn any // which connection the pool gave: see knownUsers
	_ = conn.Raw(func(dc any) error { driverConn = dc; return nil })
	tx, err := conn.BeginTx(b.ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin batch: %w", err)
	}
	defer tx.Rollback()
	b.tx = tx
	b.stmts = txStmts(b.ctx, tx, &s.stmts)
	b.store = &s.stmts
	var dataVersion int64
	if err := b.stmts.dataVersion.QueryRowContext(b.ctx).Scan(&dataVersion); err != nil {
		return nil, fmt.Errorf("read data_version: %w", err)
	}
	if driverConn != s.known.conn || dataVersion != s.known.dataVersion {
		s.known.reset(driverConn, dataVersion)
	}
	b.cache = &s.known
	if err := b.prefetch(changes); err != nil {
		return nil, fmt.Errorf("read the batch's users: %w", err)
	}

	results := make([]clerksync.Result, len(changes))
	for i := range changes {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("batch abandoned after %d of %d changes: %w", i, len(changes), err)
		}
		c := &changes[i]
		poison := ""
		if err := c.Validate(); err != nil {
			poison = clerksync.ErrorMessage(err)
		}
		var r clerksync.Result
		if careful {
			r, err = b.apply(c, poison)
		} else {
			r, err = b.write(c, poison)
		}
		if err != nil {
			return nil, err
		}
		results[i] = r
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit batch: %w", err)
	}
	s.known.merge(b.learnt)
	s.noteCommit()
	return results, nil
}

// batch is one transaction of Apply.
type batch struct {
	ctx     context.Context
	tx      *sql.Tx
	stmts   writeStmts  // bound to tx, but for updates
	store   *writeStmts // the store's statements; updates are bound to tx when first used
	updates [8]*sql.Stmt
	now     int64 // ms, stamps every row the batch writes
	cache   *knownUsers
	learnt  map[string]knownUser // what this batch wrote or read, merged into cache on commit
}

// update returns the update statement for mask, bound to the batch's transaction.
func (b *batch) update(mask int) *sql.Stmt {
	if b.updates[mask] == nil {
		b.updates[mask] = b.tx.StmtContext(b.ctx, b.store.updates[mask])
	}
	return b.updates[mask]
}

func txStmts(ctx context.Context, tx *sql.Tx, w *writeStmts) writeStmts {
	return writeStmts{
		lookup:          tx.StmtContext(ctx, w.lookup),
		upsertProfile:   tx.StmtContext(ctx, w.upsertProfile),
		deleteProfile:   tx.StmtContext(ctx, w.deleteProfile),
		insertTombstone: tx.StmtContext(ctx, w.insertTombstone),
		redactEvents:    tx.StmtContext(ctx, w.redactEvents),
		recordEvent:     tx.StmtContext(ctx, w.recordEvent),
		recordNewEvent:  tx.StmtContext(ctx, w.recordNewEvent),
		dataVersion:     tx.StmtContext(ctx, w.dataVersion),
		prefetch:        tx.StmtContext(ctx, w.prefetch),
	}
}

// apply applies one change inside its own savepoint, recording it as a dead letter if
// the database refuses it. It returns an error only when the batch must fail.
func (b *batch) apply(c *clerksync.Change, poison string) (clerksync.Result, error) {
	r, err := b.inSavepoint(c, poison)
	if err == nil || !refusedChange(err) {
		return r, err
	}
	// The database refused the change's values: keep the delivery as a dead letter.
	poison = "the database refused the change: " + err.Error()
	r, err = b.inSavepoint(c, poison)
	if err != nil && refusedChange(err) {
		// Not even the dead letter can be stored; report it to the caller.
		return clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: poison}, nil
	}
	return r, err
}

// inSavepoint runs write in a savepoint that is rolled back if write fails.
func (b *batch) inSavepoint(c *clerksync.Change, poison string) (clerksync.Result, error) {
	if _, err := b.tx.ExecContext(b.ctx, "SAVEPOINT change"); err != nil {
		return clerksync.Result{}, err
	}
	r, err := b.write(c, poison)
	if err != nil {
		if _, rerr := b.tx.ExecContext(b.ctx, "ROLLBACK TO change"); rerr != nil {
			return clerksync.Result{}, errors.Join(err, rerr)
		}
	}
	if _, rerr := b.tx.ExecContext(b.ctx, "RELEASE change"); rerr != nil {
		return clerksync.Result{}, errors.Join(err, rerr)
	}
	return r, err
}

// write applies c, or records it as a dead letter when poison says why it cannot be
// applied.
func (b *batch) write(c *clerksync.Change, poison string) (clerksync.Result, error) {
	if !c.Replay {
		if k, ok := b.known(c.UserID); ok {
			return b.writeKnown(c, poison, k)
		}
	}
	seen, deleted, stored, err := b.lookup(c)
	if err != nil {
		return clerksync.Result{}, err
	}
	before := knownUser{deleted: deleted, row: stored}
	if seen && !c.Replay {
		b.learn(c, clerksync.Result{Outcome: clerksync.OutcomeDuplicate}, before)
		return clerksync.Result{Outcome: clerksync.OutcomeDuplicate}, nil
	}
	r, deletedAfter := outcome(c, poison, before)
	if err := b.perform(c, r, &before.row); err != nil {
		return clerksync.Result{}, err
	}
	if c.EventID != "" {
		if err := b.record(c, r, deletedAfter); err != nil {
			return clerksync.Result{}, err
		}
	}
	b.learn(c, r, before)
	return r, nil
}

// writeKnown is write for a change (not a replay) about a user whose stored state is
// known (see knownUsers), without the lookup. The outcome follows from that state, so
// a delivery is recorded first; the event log refusing the svix-id, which it has
// already, is what tells a duplicate, and then nothing else is written. A change read
// from the Backend API has no svix-id and is not recorded.
func (b *batch) writeKnown(c *clerksync.Change, poison string, k knownUser) (clerksync.Result, error) {
	r, deletedAfter := outcome(c, poison, k)
	if c.EventID != "" {
		recorded, err := b.recordNew(c, r, deletedAfter)
		if err != nil {
			return clerksync.Result{}, err
		}
		if !recorded {
			return clerksync.Result{Outcome: clerksync.OutcomeDuplicate}, nil
		}
	}
	if err := b.perform(c, r, &k.row); err != nil {
		return clerksync.Result{}, err
	}
	b.learn(c, r, k)
	return r, nil
}

// outcome is what c comes to over what the database holds of its user (k), poison
// saying why c cannot be applied, if it cannot; and whether the user is deleted after
// it (the event log keeps no body for a deleted user).
func outcome(c *clerksync.Change, poison string, k knownUser) (clerksync.Result, bool) {
	switch {
	case poison != "":
		return clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: poison}, k.deleted
	case k.deleted && (c.Op == clerksync.OpUpsertUser || c.Op == clerksync.OpDeleteUser):
		return clerksync.Result{Outcome: clerksync.OutcomeStale}, true
	case c.Op == clerksync.OpUpsertUser:
		return upsertOutcome(c.Profile, &k.row), false
	case c.Op == clerksync.OpDeleteUser:
		return clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionDeleted}, true
	case c.Op == clerksync.OpIgnore:
		return clerksync.Result{Outcome: clerksync.OutcomeIgnored}, k.deleted
	default: // OpDeadLetter
		return clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: c.Error}, k.deleted
	}
}

// perform writes the profile or the deletion that the outcome r of c calls for (none
// unless r is applied), over stored. The database must come to the same outcome.
func (b *batch) perform(c *clerksync.Change, r clerksync.Result, stored *storedRow) error {
	if r.Outcome != clerksync.OutcomeApplied {
		return nil
	}
	var (
		done clerksync.Result
		err  error
	)
	if c.Op == clerksync.OpUpsertUser {
		done, err = b.upsert(c.Profile, c.Source, stored)
	} else {
		done, err = b.delete(c)
	}
	if err != nil {
		return err
	}
	if done != r {
		return fmt.Errorf("write of %s: %v, expected %v", c.UserID, done, r)
	}
	return nil
}

// storedRow is what lookup reads of a stored profile.
type storedRow struct {
	version                     sql.NullInt64 // updated_at; not Valid when there is no row
	email, username, externalID sql.NullString
}

// lookup reports whether c's svix-id was seen, whether its user is deleted and what is
// stored of the user.
func (b *batch) lookup(c *clerksync.Change) (seen, deleted bool, row storedRow, err error) {
	err = b.stmts.lookup.QueryRowContext(b.ctx, c.EventID, c.UserID).Scan(
		&seen, &deleted, &row.version, &row.email, &row.username, &row.externalID)
	return seen, deleted, row, err
}

// changed reports whether a stored nullable column differs from v ("" is NULL).
func changed(stored sql.NullString, v string) bool {
	return stored.Valid != (v != "") || stored.String != v
}

// upsert writes p unless the stored version is newer: an insert for a new user, an
// update that assigns only the indexed columns that changed otherwise.
func (b *batch) upsert(p *clerksync.Profile, source clerksync.Source, stored *storedRow) (clerksync.Result, error) {
	r := upsertOutcome(p, stored)
	switch {
	case r.Outcome == clerksync.OutcomeStale:
		return r, nil
	case r.Action == clerksync.ActionCreated:
		_, err := b.stmts.upsertProfile.ExecContext(b.ctx,
			p.UserID, sqlschema.Text(p.Email), p.EmailVerified, sqlschema.Text(p.Phone), sqlschema.Text(p.Username),
			sqlschema.Text(p.FirstName), sqlschema.Text(p.LastName), sqlschema.Text(p.ImageURL), sqlschema.Text(p.ExternalID),
			jsonText(p.PublicMetadata), jsonText(p.UnsafeMetadata), jsonText(p.PrivateMetadata),
			p.Banned, p.Locked, p.CreatedAt, p.UpdatedAt, sqlschema.Millis(p.LastSignInAt), sqlschema.Millis(p.LastActiveAt),
			b.now, string(source), jsonText(p.Raw),
		)
		if err != nil {
			return clerksync.Result{}, err
		}
		return r, nil
	}

	mask := 0
	args := make([]any, 0, 22)
	if changed(stored.email, p.Email) {
		mask |= setEmail
		args = append(args, sqlschema.Text(p.Email))
	}
	if changed(stored.username, p.Username) {
		mask |= setUsername
		args = append(args, sqlschema.Text(p.Username))
	}
	if changed(stored.externalID, p.ExternalID) {
		mask |= setExternalID
		args = append(args, sqlschema.Text(p.ExternalID))
	}
	args = append(args,
		p.EmailVerified, sqlschema.Text(p.Phone), sqlschema.Text(p.FirstName), sqlschema.Text(p.LastName), sqlschema.Text(p.ImageURL),
		jsonText(p.PublicMetadata), jsonText(p.UnsafeMetadata), jsonText(p.PrivateMetadata),
		p.Banned, p.Locked, p.CreatedAt, p.UpdatedAt, sqlschema.Millis(p.LastSignInAt), sqlschema.Millis(p.LastActiveAt),
		b.now, string(source), jsonText(p.Raw),
		p.UserID, p.UpdatedAt,
	)
	res, err := b.update(mask).ExecContext(b.ctx, args...) //nolint:sqlclosecheck // bound to the batch's transaction, closed with it
	if err != nil {
		return clerksync.Result{}, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return clerksync.Result{}, err
	}
	if n != 1 {
		return clerksync.Result{}, fmt.Errorf("update of %s wrote %d rows, want 1", p.UserID, n)
	}
	return r, nil
}

// upsertOutcome is what writing p over stored comes to: created when nothing is
// stored, stale when a newer version is, unchanged for the same version, updated
// otherwise.
func upsertOutcome(p *clerksync.Profile, stored *storedRow) clerksync.Result {
	switch v := stored.version.Int64; {
	case !stored.version.Valid:
		return clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionCreated}
	case v > p.UpdatedAt:
		return clerksync.Result{Outcome: clerksync.OutcomeStale}
	case v == p.UpdatedAt:
		return clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionUnchanged}
	default:
		return clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionUpdated}
	}
}

func (b *batch) delete(c *clerksync.Change) (clerksync.Result, error) {
	if _, err := b.stmts.deleteProfile.ExecContext(b.ctx, c.UserID); err != nil {
		return clerksync.Result{}, err
	}
	if _, err := b.stmts.insertTombstone.ExecContext(b.ctx, c.UserID, b.now, string(c.Source), sqlschema.Text(c.EventID)); err != nil {
		return clerksync.Result{}, err
	}
	if _, err := b.stmts.redactEvents.ExecContext(b.ctx, c.UserID); err != nil {
		return clerksync.Result{}, err
	}
	return clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionDeleted}, nil
}

// record writes c's entry in the event log; the body is left out when the user is
// deleted.
func (b *batch) record(c *clerksync.Change, r clerksync.Result, deleted bool) error {
	_, err := b.stmts.recordEvent.ExecContext(b.ctx, b.eventArgs(c, r, deleted)...)
	return err
}

// recordNew writes c's entry in the event log unless its svix-id has one already, and
// reports whether it did.
func (b *batch) recordNew(c *clerksync.Change, r clerksync.Result, deleted bool) (bool, error) {
	res, err := b.stmts.recordNewEvent.ExecContext(b.ctx, b.eventArgs(c, r, deleted)...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// eventArgs returns the values of c's event log entry, in the column order of
// sqlRecordEvent and sqlRecordNewEvent; the body is left out when the user is deleted.
func (b *batch) eventArgs(c *clerksync.Change, r clerksync.Result, deleted bool) []any {
	var body any
	if !deleted && len(c.Body) > 0 {
		body = c.Body
	}
	return []any{
		c.EventID, c.EventType, sqlschema.Text(c.UserID), r.Outcome.String(), r.Action.String(), sqlschema.Text(r.Error),
		sqlschema.Millis(c.EventTime), b.now, body, deleted,
	}
}

// jsonText returns a JSON document as TEXT, or NULL when there is none. The string
// shares m's bytes instead of copying ~4 KB per write: the driver copies them into
// SQLite when it binds the statement, and m is not modified while Apply runs.
func jsonText(m []byte) any {
	if len(m) == 0 {
		return nil
	}
	return unsafe.String(&m[0], len(m))
}
