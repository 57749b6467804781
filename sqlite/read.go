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

// pruneChunk is how many rows PruneEvents deletes per statement.
const pruneChunk = 5000

var profileColumns = strings.Join(sqlschema.ProfileColumns, ", ")

// Profile returns the profile of userID, or an error with code ENOTFOUND.
func (s *Store) Profile(ctx context.Context, userID string) (*clerksync.Profile, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	row := s.r.QueryRowContext(ctx, `SELECT `+profileColumns+` FROM profiles WHERE user_id = ?`, userID)
	p, err := scanProfile(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, clerksync.Errorf(clerksync.ENOTFOUND, "no profile for user %s", userID)
	}
	if err != nil {
		return nil, unavailable("read profile", err)
	}
	return p, nil
}

// Profiles returns up to limit profiles (clerksync.DefaultProfilesPage when limit is 0, at most
// MaxPage) with user_id > after, ordered by user_id.
func (s *Store) Profiles(ctx context.Context, after string, limit int) ([]clerksync.Profile, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+profileColumns+` FROM profiles WHERE user_id > ? ORDER BY user_id LIMIT ?`,
		after, clerksync.PageSize(limit, clerksync.DefaultProfilesPage))
	if err != nil {
		return nil, unavailable("list profiles", err)
	}
	defer rows.Close()
	var out []clerksync.Profile
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, unavailable("list profiles", err)
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list profiles", err)
	}
	return out, nil
}

// Deleted reports whether userID has a tombstone.
func (s *Store) Deleted(ctx context.Context, userID string) (bool, error) {
	if err := s.checkOpen(); err != nil {
		return false, err
	}
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM clerksync_tombstones WHERE user_id = ?`, userID).Scan(&one)
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
	var total int
	for {
		n, err := s.pruneChunk(ctx, q, before.UnixMilli())
		if err != nil {
			return total, err
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

func (s *Store) pruneChunk(ctx context.Context, q string, before int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.w.ExecContext(ctx, q, before, pruneChunk)
	s.noteCommit()
	if err != nil {
		return 0, unavailable("prune events", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable("prune events", err)
	}
	return int(n), nil
}

type scanner interface{ Scan(dest ...any) error }

func scanProfile(row scanner) (*clerksync.Profile, error) {
	var (
		p                                                                 clerksync.Profile
		email, phone, username, firstName, lastName, imageURL, externalID sql.NullString
		lastSignIn, lastActive                                            sql.NullInt64
		syncedAt                                                          int64
		source                                                            string
		publicMeta, unsafeMeta, privateMeta, raw                          []byte
	)
	err := row.Scan(&p.UserID, &email, &p.EmailVerified, &phone, &username, &firstName, &lastName,
		&imageURL, &externalID, &publicMeta, &unsafeMeta, &privateMeta, &p.Banned, &p.Locked,
		&p.CreatedAt, &p.UpdatedAt, &lastSignIn, &lastActive, &syncedAt, &source, &raw)
	if err != nil {
		return nil, err
	}
	p.Email, p.Phone, p.Username = email.String, phone.String, username.String
	p.FirstName, p.LastName, p.ImageURL, p.ExternalID = firstName.String, lastName.String, imageURL.String, externalID.String
	p.PublicMetadata, p.UnsafeMetadata, p.PrivateMetadata, p.Raw = publicMeta, unsafeMeta, privateMeta, raw
	p.LastSignInAt, p.LastActiveAt = lastSignIn.Int64, lastActive.Int64
	p.SyncedAt = time.UnixMilli(syncedAt).UTC()
	p.SyncSource = clerksync.Source(source)
	return &p, nil
}

// scanEvent scans eventColumns, followed by body when withBody is set.
func scanEvent(row scanner, withBody bool) (*clerksync.Event, error) {
	var (
		e               clerksync.Event
		userID, errText sql.NullString
		outcome, action string
		eventTime       sql.NullInt64
		receivedAt      int64
	)
	dest := []any{&e.ID, &e.Type, &userID, &outcome, &action, &errText, &eventTime, &receivedAt, &e.Redacted, &e.Attempts}
	if withBody {
		dest = append(dest, &e.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	e.UserID, e.Error, e.EventTime = userID.String, errText.String, eventTime.Int64
	e.Outcome, _ = clerksync.ParseOutcome(outcome)
	e.Action, _ = clerksync.ParseAction(action)
	e.ReceivedAt = time.UnixMilli(receivedAt).UTC()
	return &e, nil
}
