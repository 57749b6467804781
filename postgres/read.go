package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	rows, err := s.pool.Query(ctx, `SELECT `+selectColumns(t, "")+`, raw::text FROM `+t.Name+
		` WHERE `+t.Key()+` = $1 AND deleted_at IS NULL`, key.ID)
	if err != nil {
		return nil, classify("read "+key.Kind.String(), err)
	}
	objs, err := scanObjects(rows, t)
	if err != nil {
		return nil, classify("read "+key.Kind.String(), err)
	}
	if len(objs) == 0 {
		return nil, clerksync.Errorf(clerksync.ENOTFOUND, "no %s %s", key.Kind.FeedName(), key.ID)
	}
	return objs[0], nil
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
	where, args := objectFilter(t, f)
	args = append(args, clerksync.PageSize(f.Limit, clerksync.DefaultProfilesPage))
	rows, err := s.pool.Query(ctx, `SELECT `+selectColumns(t, "")+`, raw::text FROM `+t.Name+
		` WHERE `+where+` ORDER BY `+t.Key()+` LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, classify("list "+t.Name, err)
	}
	objs, err := scanObjects(rows, t)
	if err != nil {
		return nil, classify("list "+t.Name, err)
	}
	return objs, nil
}

// objectFilter returns the condition that selects the live rows of t that f selects
// (but its limit), and its arguments.
func objectFilter(t *clerksync.Table, f clerksync.ObjectFilter) (string, []any) {
	where := []string{"deleted_at IS NULL", t.Key() + " > $1"}
	args := []any{f.After}
	if f.OrgID != "" && t.Col("org_id") > 0 {
		args = append(args, f.OrgID)
		where = append(where, "org_id = $"+strconv.Itoa(len(args)))
	}
	if f.UserID != "" && t.Col("user_id") > 0 {
		args = append(args, f.UserID)
		where = append(where, "user_id = $"+strconv.Itoa(len(args)))
	}
	if f.CreatedBefore != 0 {
		args = append(args, time.UnixMilli(f.CreatedBefore))
		where = append(where, "created_at < $"+strconv.Itoa(len(args)))
	}
	return strings.Join(where, " AND "), args
}

// scanObjects reads every row of rows, the columns of t and raw, as objects.
func scanObjects(rows pgx.Rows, t *clerksync.Table) ([]clerksync.Object, error) {
	defer rows.Close()
	var out []clerksync.Object
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		row, err := clerksync.RowFromValues(t, vals)
		if err != nil {
			return nil, err
		}
		var raw json.RawMessage
		if r, ok := vals[len(t.Columns)].(string); ok {
			raw = json.RawMessage(r)
		}
		out = append(out, clerksync.ObjectFromRow(t.Kind, row, raw))
	}
	return out, rows.Err()
}

// Deleted reports whether the object key has a tombstone.
func (s *Store) Deleted(ctx context.Context, key clerksync.ObjectKey) (bool, error) {
	if err := s.checkOpen(); err != nil {
		return false, err
	}
	var deleted bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM clerksync_tombstones WHERE kind = $1 AND object_id = $2)`,
		key.Kind.String(), key.ID).Scan(&deleted)
	if err != nil {
		return false, classify("read tombstone", err)
	}
	return deleted, nil
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Before != "" {
		var at time.Time
		err := s.pool.QueryRow(ctx, `SELECT received_at FROM clerksync_events WHERE svix_id = $1`, f.Before).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, clerksync.Errorf(clerksync.ENOTFOUND, "no event %s to list from", f.Before)
		}
		if err != nil {
			return nil, classify("list events", err)
		}
		where = append(where, "(received_at, svix_id) < ("+arg(at)+", "+arg(f.Before)+")")
	}
	if f.Outcome != 0 {
		where = append(where, "outcome = "+arg(f.Outcome.String()))
	}
	if f.Type != "" {
		where = append(where, "type = "+arg(f.Type))
	}
	if f.UserID != "" {
		where = append(where, "user_id = "+arg(f.UserID))
	}
	if f.Kind.Valid() {
		where = append(where, "object_kind = "+arg(f.Kind.String()))
	}
	if f.ObjectID != "" {
		where = append(where, "object_id = "+arg(f.ObjectID))
	}
	q := `SELECT ` + eventColumns + ` FROM clerksync_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY received_at DESC, svix_id DESC LIMIT ` + arg(clerksync.PageSize(f.Limit, clerksync.DefaultEventsPage))

	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, classify("list events", err)
	}
	defer rows.Close()
	var out []clerksync.Event
	for rows.Next() {
		e, err := scanEvent(rows, false)
		if err != nil {
			return nil, classify("list events", err)
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("list events", err)
	}
	return out, nil
}

// Event returns the event log entry id with its body (nil when redacted), or an error
// with code ENOTFOUND.
func (s *Store) Event(ctx context.Context, id string) (*clerksync.Event, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+`, body FROM clerksync_events WHERE svix_id = $1`, id), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, clerksync.Errorf(clerksync.ENOTFOUND, "no event %s", id)
	}
	if err != nil {
		return nil, classify("read event", err)
	}
	return e, nil
}

// PruneEvents deletes the event log entries received before t, keeping dead letters
// unless includeDeadLetters is set, and returns how many it deleted. It deletes in
// chunks, each its own transaction, so that no long transaction holds up the webhooks.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, includeDeadLetters bool) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	q := `DELETE FROM clerksync_events WHERE svix_id IN (
    SELECT svix_id FROM clerksync_events WHERE received_at < $1`
	if !includeDeadLetters {
		q += ` AND outcome <> 'dead_letter'`
	}
	q += ` LIMIT $2)`
	return s.deleteChunks(ctx, "prune events", q, before, pruneChunk)
}

// deleteChunks runs q, a DELETE of up to pruneChunk rows, until it deletes fewer (see
// sqlschema.DeleteInChunks); what names the work in errors.
func (s *Store) deleteChunks(ctx context.Context, what, q string, args ...any) (int, error) {
	return sqlschema.DeleteInChunks(pruneChunk, func() (int, error) {
		tag, err := s.pool.Exec(ctx, q, args...)
		if err != nil {
			return 0, classify(what, err)
		}
		return int(tag.RowsAffected()), nil
	})
}

// scanEvent scans eventColumns, followed by body when withBody is set.
func scanEvent(row pgx.Row, withBody bool) (*clerksync.Event, error) {
	var (
		e                               clerksync.Event
		kind, objectID, userID, errText *string
		outcome, action                 string
		eventTime                       *int64
	)
	dest := []any{&e.ID, &e.Type, &kind, &objectID, &userID, &outcome, &action, &errText, &eventTime, &e.ReceivedAt, &e.Redacted, &e.Attempts}
	if withBody {
		dest = append(dest, &e.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	e.UserID, e.Error, e.ObjectID = deref(userID), deref(errText), deref(objectID)
	e.Kind, _ = clerksync.ParseKind(deref(kind))
	if eventTime != nil {
		e.EventTime = *eventTime
	}
	e.Outcome, _ = clerksync.ParseOutcome(outcome)
	e.Action, _ = clerksync.ParseAction(action)
	e.ReceivedAt = e.ReceivedAt.UTC()
	return &e, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
