package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

// pruneChunk is how many rows PruneEvents and PruneChanges delete per statement.
const pruneChunk = 5000

// Profile returns the profile of userID, or an error with code ENOTFOUND.
func (s *Store) Profile(ctx context.Context, userID string) (*clerksync.Profile, error) {
	return clerksync.ReadProfile(ctx, s, userID)
}

// Profiles returns up to limit profiles (clerksync.DefaultProfilesPage when limit is 0, at most
// MaxPage) with user_id > after, ordered by user_id.
func (s *Store) Profiles(ctx context.Context, after string, limit int) ([]clerksync.Profile, error) {
	return clerksync.ReadProfiles(ctx, s, after, limit)
}

// Object returns the live object key, or an error with code ENOTFOUND.
func (s *Store) Object(ctx context.Context, key clerksync.ObjectKey) (clerksync.Object, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	t := key.Kind.Table()
	if t == nil {
		return nil, clerksync.Errorf(clerksync.EINVALID, "unknown kind %d", key.Kind)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqlschema.Columns(t, "")+`, raw FROM `+t.Name+
		` WHERE `+t.Key()+` = ? AND deleted_at IS NULL`, key.ID)
	if err != nil {
		return nil, unavailable("read "+key.Kind.String(), err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, unavailable("read "+key.Kind.String(), err)
		}
		return nil, clerksync.Errorf(clerksync.ENOTFOUND, "no %s %s", key.Kind.FeedName(), key.ID)
	}
	o, err := scanObject(rows, t)
	if err != nil {
		return nil, unavailable("read "+key.Kind.String(), err)
	}
	return o, rows.Err()
}

// Objects lists the live objects of kind that f selects, ordered by id.
func (s *Store) Objects(ctx context.Context, kind clerksync.Kind, f clerksync.ObjectFilter) ([]clerksync.Object, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	t := kind.Table()
	if t == nil {
		return nil, clerksync.Errorf(clerksync.EINVALID, "unknown kind %d", kind)
	}
	where := []string{"deleted_at IS NULL", t.Key() + " > ?"}
	args := []any{f.After}
	if f.OrgID != "" && t.Col("org_id") > 0 {
		where = append(where, "org_id = ?")
		args = append(args, f.OrgID)
	}
	if f.UserID != "" && t.Col("user_id") > 0 {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.CreatedBefore != 0 {
		where = append(where, "created_at < ?")
		args = append(args, f.CreatedBefore)
	}
	args = append(args, clerksync.PageSize(f.Limit, clerksync.DefaultProfilesPage))
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqlschema.Columns(t, "")+`, raw FROM `+t.Name+
		` WHERE `+strings.Join(where, " AND ")+` ORDER BY `+t.Key()+` LIMIT ?`, args...)
	if err != nil {
		return nil, unavailable("list "+t.Name, err)
	}
	defer rows.Close()
	var out []clerksync.Object
	for rows.Next() {
		o, err := scanObject(rows, t)
		if err != nil {
			return nil, unavailable("list "+t.Name, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list "+t.Name, err)
	}
	return out, nil
}

// scanObject scans the columns of t and raw into an object.
func scanObject(rows *sql.Rows, t *clerksync.Table) (clerksync.Object, error) {
	var raw []byte
	row, err := scanRowThen(rows, t, &raw)
	if err != nil {
		return nil, err
	}
	return clerksync.ObjectFromRow(t.Kind, row, raw), nil
}

// Deleted reports whether the object key has a tombstone.
func (s *Store) Deleted(ctx context.Context, key clerksync.ObjectKey) (bool, error) {
	if err := s.checkOpen(); err != nil {
		return false, err
	}
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM clerksync_tombstones WHERE kind = ? AND object_id = ?`,
		key.Kind.String(), key.ID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, unavailable("read tombstone", err)
	}
	return true, nil
}

const eventColumns = sqlschema.EventColumns

// Events lists the event log newest first (by received_at, then svix-id), without
// bodies. f.Before names the entry to list after, as returned last by the previous
// page; an unknown one is an error with code ENOTFOUND.
func (s *Store) Events(ctx context.Context, f clerksync.EventFilter) ([]clerksync.Event, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if f.Before != "" {
		var at int64
		err := s.r.QueryRowContext(ctx, `SELECT received_at FROM clerksync_events WHERE svix_id = ?`, f.Before).Scan(&at)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, clerksync.Errorf(clerksync.ENOTFOUND, "no event %s to list from", f.Before)
		}
		if err != nil {
			return nil, unavailable("list events", err)
		}
		where = append(where, "(received_at, svix_id) < (?, ?)")
		args = append(args, at, f.Before)
	}
	if f.Outcome != 0 {
		where = append(where, "outcome = ?")
		args = append(args, f.Outcome.String())
	}
	if f.Type != "" {
		where = append(where, "type = ?")
		args = append(args, f.Type)
	}
	if f.UserID != "" {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.Kind.Valid() {
		where = append(where, "object_kind = ?")
		args = append(args, f.Kind.String())
	}
	if f.ObjectID != "" {
		where = append(where, "object_id = ?")
		args = append(args, f.ObjectID)
	}
	q := `SELECT ` + eventColumns + ` FROM clerksync_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY received_at DESC, svix_id DESC LIMIT ?`
	args = append(args, clerksync.PageSize(f.Limit, clerksync.DefaultEventsPage))

	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, unavailable("list events", err)
	}
	defer rows.Close()
	var out []clerksync.Event
	for rows.Next() {
		e, err := scanEvent(rows, false)
		if err != nil {
			return nil, unavailable("list events", err)
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list events", err)
	}
	return out, nil
}

// Event returns the event log entry id with its body (nil when redacted), or an error
// with code ENOTFOUND.
func (s *Store) Event(ctx context.Context, id string) (*clerksync.Event, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	row := s.r.QueryRowContext(ctx, `SELECT `+eventColumns+`, body FROM clerksync_events WHERE svix_id = ?`, id)
	e, err := scanEvent(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, clerksync.Errorf(clerksync.ENOTFOUND, "no event %s", id)
	}
	if err != nil {
		return nil, unavailable("read event", err)
	}
	return e, nil
}

// PruneEvents deletes the event log entries received before t, keeping dead letters
// unless includeDeadLetters is set, and returns how many it deleted. It deletes in
// chunks so that webhook batches are not held up behind one long write.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, includeDeadLetters bool) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	q := `DELETE FROM clerksync_events WHERE rowid IN (
    SELECT rowid FROM clerksync_events WHERE received_at < ?`
	if !includeDeadLetters {
		q += ` AND outcome <> 'dead_letter'`
	}
	q += ` LIMIT ?)`
	return s.deleteChunks(ctx, "prune events", q, before.UnixMilli(), pruneChunk)
}

// deleteChunks runs q, a DELETE of up to pruneChunk rows, under the write lock until
// it deletes fewer (see sqlschema.DeleteInChunks); what names the work in errors.
func (s *Store) deleteChunks(ctx context.Context, what, q string, args ...any) (int, error) {
	return sqlschema.DeleteInChunks(pruneChunk, func() (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		res, err := s.w.ExecContext(ctx, q, args...)
		s.noteCommit()
		if err != nil {
			return 0, unavailable(what, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, unavailable(what, err)
		}
		return int(n), nil
	})
}

type scanner interface{ Scan(dest ...any) error }

// scanEvent scans eventColumns, followed by body when withBody is set.
func scanEvent(row scanner, withBody bool) (*clerksync.Event, error) {
	var (
		e                               clerksync.Event
		kind, objectID, userID, errText sql.NullString
		outcome, action                 string
		eventTime                       sql.NullInt64
		receivedAt                      int64
	)
	dest := []any{&e.ID, &e.Type, &kind, &objectID, &userID, &outcome, &action, &errText, &eventTime, &receivedAt, &e.Redacted, &e.Attempts}
	if withBody {
		dest = append(dest, &e.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	e.UserID, e.Error, e.EventTime = userID.String, errText.String, eventTime.Int64
	e.Kind, _ = clerksync.ParseKind(kind.String)
	e.ObjectID = objectID.String
	e.Outcome, _ = clerksync.ParseOutcome(outcome)
	e.Action, _ = clerksync.ParseAction(action)
	e.ReceivedAt = time.UnixMilli(receivedAt).UTC()
	return &e, nil
}
