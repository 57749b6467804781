package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/clerksync/clerksync"
)

// The statements of a batch, prepared once on the write connection.
const (
	// One statement answers the three questions every change asks: was this svix-id
	// seen, is the user deleted, and which version is stored. One step instead of three
	// matters on the hot path.
	sqlLookup = `SELECT
    EXISTS (SELECT 1 FROM clerksync_events WHERE svix_id = ?1),
    EXISTS (SELECT 1 FROM clerksync_tombstones WHERE user_id = ?2),
    (SELECT updated_at FROM profiles WHERE user_id = ?2)`

	// The updated_at guard is repeated in the statement so that the database itself
	// never lets an older version replace a newer one.
	sqlUpsertProfile = `
INSERT INTO profiles (
    user_id, email, email_verified, phone, username, first_name, last_name, image_url,
    external_id, public_metadata, unsafe_metadata, private_metadata, banned, locked,
    created_at, updated_at, last_sign_in_at, last_active_at, synced_at, sync_source, raw
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET
    email = excluded.email,
    email_verified = excluded.email_verified,
    phone = excluded.phone,
    username = excluded.username,
    first_name = excluded.first_name,
    last_name = excluded.last_name,
    image_url = excluded.image_url,
    external_id = excluded.external_id,
    public_metadata = excluded.public_metadata,
    unsafe_metadata = excluded.unsafe_metadata,
    private_metadata = excluded.private_metadata,
    banned = excluded.banned,
    locked = excluded.locked,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at,
    last_sign_in_at = excluded.last_sign_in_at,
    last_active_at = excluded.last_active_at,
    synced_at = excluded.synced_at,
    sync_source = excluded.sync_source,
    raw = excluded.raw
WHERE excluded.updated_at >= profiles.updated_at`

	sqlDeleteProfile   = `DELETE FROM profiles WHERE user_id = ?`
	sqlInsertTombstone = `INSERT INTO clerksync_tombstones (user_id, deleted_at, source, event_id) VALUES (?, ?, ?, ?)`
	sqlRedactEvents    = `UPDATE clerksync_events SET body = NULL, redacted = 1 WHERE user_id = ? AND redacted = 0`

	// A new svix-id is inserted; a replayed one updates its entry and counts the
	// attempt. The replay may know more than the first attempt did (the user of a body
	// that could not be decoded before), so the descriptive columns are refreshed too.
	sqlRecordEvent = `
INSERT INTO clerksync_events (
    svix_id, type, user_id, outcome, action, error, event_time, received_at, body, redacted
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (svix_id) DO UPDATE SET
    type = excluded.type,
    user_id = coalesce(excluded.user_id, clerksync_events.user_id),
    outcome = excluded.outcome,
    action = excluded.action,
    error = excluded.error,
    event_time = coalesce(excluded.event_time, clerksync_events.event_time),
    body = excluded.body,
    redacted = excluded.redacted,
    attempts = clerksync_events.attempts + 1`
)

type writeStmts struct {
	lookup                                     *sql.Stmt
	upsertProfile, deleteProfile               *sql.Stmt
	insertTombstone, redactEvents, recordEvent *sql.Stmt
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
	} {
		stmt, err := db.PrepareContext(ctx, p.sql) //nolint:sqlclosecheck // kept for the store's life, closed by Close
		if err != nil {
			return err
		}
		*p.stmt = stmt
	}
	return nil
}

func (w *writeStmts) close() error {
	var err error
	for _, s := range []*sql.Stmt{
		w.lookup, w.upsertProfile,
		w.deleteProfile, w.insertTombstone, w.redactEvents, w.recordEvent,
	} {
		if s != nil {
			err = errors.Join(err, s.Close())
		}
	}
	return err
}

// Apply applies changes in order in one transaction (one fsync for the batch) and
// returns one Result per change. A change that is malformed or that the database
// refuses on its own is recorded as a dead letter; the others are applied. Apply
// returns an error, and commits nothing, when the database is in trouble or ctx ends:
// code EUNAVAILABLE.
//
// The batch first runs without savepoints, which halves the statements per change. If
// the database refuses one of its changes, that transaction is rolled back and the
// batch runs again with a savepoint around each change, so that the refused change
// alone becomes a dead letter. Refusals are rare (the decoder has already checked the
// values), so the second run is the exception.
func (s *Store) Apply(ctx context.Context, changes []clerksync.Change) ([]clerksync.Result, error) {
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

	results, err := s.applyTx(ctx, changes, false)
	if err != nil && refusedChange(err) {
		results, err = s.applyTx(ctx, changes, true)
	}
	if err != nil {
		return nil, unavailable("apply batch", err)
	}
	return results, nil
}

// applyTx runs changes in one transaction and commits it. Without careful, a change the
// database refuses fails the whole transaction with that refusal; with careful, each
// change runs in a savepoint and a refused one is recorded as a dead letter.
func (s *Store) applyTx(ctx context.Context, changes []clerksync.Change, careful bool) ([]clerksync.Result, error) {
	b := &batch{ctx: ctx, now: s.now().UnixMilli()}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin batch: %w", err)
	}
	defer tx.Rollback()
	b.tx = tx
	b.stmts = txStmts(ctx, tx, &s.stmts)

	results := make([]clerksync.Result, len(changes))
	for i := range changes {
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
	return results, nil
}

// batch is one transaction of Apply.
type batch struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts writeStmts // bound to tx
	now   int64      // ms, stamps every row the batch writes
}

func txStmts(ctx context.Context, tx *sql.Tx, w *writeStmts) writeStmts {
	return writeStmts{
		lookup:          tx.StmtContext(ctx, w.lookup),
		upsertProfile:   tx.StmtContext(ctx, w.upsertProfile),
		deleteProfile:   tx.StmtContext(ctx, w.deleteProfile),
		insertTombstone: tx.StmtContext(ctx, w.insertTombstone),
		redactEvents:    tx.StmtContext(ctx, w.redactEvents),
		recordEvent:     tx.StmtContext(ctx, w.recordEvent),
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
	seen, deleted, stored, err := b.lookup(c)
	if err != nil {
		return clerksync.Result{}, err
	}
	if seen && !c.Replay {
		return clerksync.Result{Outcome: clerksync.OutcomeDuplicate}, nil
	}

	var r clerksync.Result
	switch {
	case poison != "":
		r = clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: poison}
	case c.Op == clerksync.OpUpsertUser && deleted, c.Op == clerksync.OpDeleteUser && deleted:
		r = clerksync.Result{Outcome: clerksync.OutcomeStale}
	case c.Op == clerksync.OpUpsertUser:
		r, err = b.upsert(c.Profile, c.Source, stored)
	case c.Op == clerksync.OpDeleteUser:
		r, err = b.delete(c)
		deleted = true
	case c.Op == clerksync.OpIgnore:
		r = clerksync.Result{Outcome: clerksync.OutcomeIgnored}
	default: // OpDeadLetter
		r = clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: c.Error}
	}
	if err != nil {
		return clerksync.Result{}, err
	}
	if c.EventID != "" {
		if err := b.record(c, r, deleted); err != nil {
			return clerksync.Result{}, err
		}
	}
	return r, nil
}

// lookup reports whether c's svix-id was seen, whether its user is deleted and which
// version of the user is stored (-1 for none).
func (b *batch) lookup(c *clerksync.Change) (seen, deleted bool, stored int64, err error) {
	var version sql.NullInt64
	if err := b.stmts.lookup.QueryRowContext(b.ctx, c.EventID, c.UserID).Scan(&seen, &deleted, &version); err != nil {
		return false, false, 0, err
	}
	if !version.Valid {
		return seen, deleted, -1, nil
	}
	return seen, deleted, version.Int64, nil
}

// upsert writes p unless the stored version (-1 for none) is newer.
func (b *batch) upsert(p *clerksync.Profile, source clerksync.Source, stored int64) (clerksync.Result, error) {
	action := clerksync.ActionUpdated
	switch {
	case stored < 0:
		action = clerksync.ActionCreated
	case stored > p.UpdatedAt:
		return clerksync.Result{Outcome: clerksync.OutcomeStale}, nil
	case stored == p.UpdatedAt:
		action = clerksync.ActionUnchanged
	}
	res, err := b.stmts.upsertProfile.ExecContext(b.ctx,
		p.UserID, text(p.Email), p.EmailVerified, text(p.Phone), text(p.Username),
		text(p.FirstName), text(p.LastName), text(p.ImageURL), text(p.ExternalID),
		jsonText(p.PublicMetadata), jsonText(p.UnsafeMetadata), jsonText(p.PrivateMetadata),
		p.Banned, p.Locked, p.CreatedAt, p.UpdatedAt, millis(p.LastSignInAt), millis(p.LastActiveAt),
		b.now, string(source), jsonText(p.Raw),
	)
	if err != nil {
		return clerksync.Result{}, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return clerksync.Result{}, err
	}
	if n != 1 {
		return clerksync.Result{}, fmt.Errorf("upsert of %s wrote %d rows, want 1", p.UserID, n)
	}
	return clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: action}, nil
}

func (b *batch) delete(c *clerksync.Change) (clerksync.Result, error) {
	if _, err := b.stmts.deleteProfile.ExecContext(b.ctx, c.UserID); err != nil {
		return clerksync.Result{}, err
	}
	if _, err := b.stmts.insertTombstone.ExecContext(b.ctx, c.UserID, b.now, string(c.Source), text(c.EventID)); err != nil {
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
	var body any
	if !deleted && len(c.Body) > 0 {
		body = c.Body
	}
	_, err := b.stmts.recordEvent.ExecContext(b.ctx,
		c.EventID, c.EventType, text(c.UserID), r.Outcome.String(), r.Action.String(), text(r.Error),
		millis(c.EventTime), b.now, body, deleted,
	)
	return err
}

// text returns s, or NULL for "".
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// millis returns ms, or NULL for 0.
func millis(ms int64) any {
	if ms == 0 {
		return nil
	}
	return ms
}

// jsonText returns a JSON document as TEXT, or NULL when there is none.
func jsonText(m []byte) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}
