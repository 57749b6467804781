package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

// pruneChunk is how many rows PruneEvents deletes per statement.
const pruneChunk = 5000

const profileColumns = `user_id, email, email_verified, phone, username, first_name, last_name,
    image_url, external_id, public_metadata::text, unsafe_metadata::text, private_metadata::text,
    banned, locked, created_at, updated_at, last_sign_in_at, last_active_at, synced_at,
    sync_source, raw::text`

// Profile returns the profile of userID, or an error with code ENOTFOUND.
func (s *Store) Profile(ctx context.Context, userID string) (*clerksync.Profile, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	p, err := scanProfile(s.pool.QueryRow(ctx, `SELECT `+profileColumns+` FROM profiles WHERE user_id = $1`, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, clerksync.Errorf(clerksync.ENOTFOUND, "no profile for user %s", userID)
	}
	if err != nil {
		return nil, classify("read profile", err)
	}
	return p, nil
}

// Profiles returns up to limit profiles (clerksync.DefaultProfilesPage when limit is 0, at most
// MaxPage) with user_id > after, ordered by user_id.
func (s *Store) Profiles(ctx context.Context, after string, limit int) ([]clerksync.Profile, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx,
		`SELECT `+profileColumns+` FROM profiles WHERE user_id > $1 ORDER BY user_id LIMIT $2`,
		after, clerksync.PageSize(limit, clerksync.DefaultProfilesPage))
	if err != nil {
		return nil, classify("list profiles", err)
	}
	defer rows.Close()
	var out []clerksync.Profile
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, classify("list profiles", err)
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("list profiles", err)
	}
	return out, nil
}

// Deleted reports whether userID has a tombstone.
func (s *Store) Deleted(ctx context.Context, userID string) (bool, error) {
	if err := s.checkOpen(); err != nil {
		return false, err
	}
	var deleted bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM clerksync_tombstones WHERE user_id = $1)`, userID).Scan(&deleted)
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
	var total int
	for {
		tag, err := s.pool.Exec(ctx, q, before, pruneChunk)
		if err != nil {
			return total, classify("prune events", err)
		}
		n := int(tag.RowsAffected())
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

func scanProfile(row pgx.Row) (*clerksync.Profile, error) {
	var (
		p                                                                 clerksync.Profile
		email, phone, username, firstName, lastName, imageURL, externalID *string
		publicMeta, unsafeMeta, privateMeta, raw                          *string
		createdAt, updatedAt                                              time.Time
		lastSignIn, lastActive                                            *time.Time
		source                                                            string
	)
	err := row.Scan(&p.UserID, &email, &p.EmailVerified, &phone, &username, &firstName, &lastName,
		&imageURL, &externalID, &publicMeta, &unsafeMeta, &privateMeta, &p.Banned, &p.Locked,
		&createdAt, &updatedAt, &lastSignIn, &lastActive, &p.SyncedAt, &source, &raw)
	if err != nil {
		return nil, err
	}
	p.Email, p.Phone, p.Username = deref(email), deref(phone), deref(username)
	p.FirstName, p.LastName, p.ImageURL, p.ExternalID = deref(firstName), deref(lastName), deref(imageURL), deref(externalID)
	p.PublicMetadata, p.UnsafeMetadata = jsonBytes(publicMeta), jsonBytes(unsafeMeta)
	p.PrivateMetadata, p.Raw = jsonBytes(privateMeta), jsonBytes(raw)
	p.CreatedAt, p.UpdatedAt = createdAt.UnixMilli(), updatedAt.UnixMilli()
	p.LastSignInAt, p.LastActiveAt = unixMilli(lastSignIn), unixMilli(lastActive)
	p.SyncedAt = p.SyncedAt.UTC()
	p.SyncSource = clerksync.Source(source)
	return &p, nil
}

// scanEvent scans eventColumns, followed by body when withBody is set.
func scanEvent(row pgx.Row, withBody bool) (*clerksync.Event, error) {
	var (
		e               clerksync.Event
		userID, errText *string
		outcome, action string
		eventTime       *int64
	)
	dest := []any{&e.ID, &e.Type, &userID, &outcome, &action, &errText, &eventTime, &e.ReceivedAt, &e.Redacted, &e.Attempts}
	if withBody {
		dest = append(dest, &e.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	e.UserID, e.Error = deref(userID), deref(errText)
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

func jsonBytes(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

func unixMilli(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMilli()
}
