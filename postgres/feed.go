package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

var _ clerksync.FeedStore = (*Store)(nil)

const feedColumns = `seq, id, type, object_id, source, event_id, occurred_at, created_at, data::text, previous::text`

// Changes returns the entries of the changes feed f selects, in seq order. Every
// committed entry can be returned: transactions that record entries take their seqs
// and commit one after the other (see migration 00006), so an entry is never visible
// before one with an earlier seq.
func (s *Store) Changes(ctx context.Context, f clerksync.FeedFilter) ([]clerksync.FeedEntry, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	args := []any{f.After}
	where := []string{"seq > $1"}
	if f.ObjectID != "" {
		args = append(args, f.ObjectID)
		where = append(where, "object_id = $"+strconv.Itoa(len(args)))
	}
	var ors []string
	for _, p := range f.Types {
		switch {
		case p == "*":
		case strings.HasSuffix(p, ".*"):
			args = append(args, strings.TrimSuffix(p, "*"))
			ors = append(ors, "starts_with(type, $"+strconv.Itoa(len(args))+")")
		default:
			args = append(args, p)
			ors = append(ors, "type = $"+strconv.Itoa(len(args)))
		}
	}
	if len(ors) > 0 && !slices.Contains(f.Types, "*") {
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	args = append(args, clerksync.PageSize(f.Limit, clerksync.DefaultFeedPage))
	rows, err := s.pool.Query(ctx, `SELECT `+feedColumns+` FROM clerksync_changes WHERE `+
		strings.Join(where, " AND ")+` ORDER BY seq LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, classify("read the changes feed", err)
	}
	defer rows.Close()
	var out []clerksync.FeedEntry
	for rows.Next() {
		var (
			e                 clerksync.FeedEntry
			source            string
			eventID, previous *string
			data              string
		)
		if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.ObjectID, &source, &eventID, &e.OccurredAt, &e.CreatedAt, &data, &previous); err != nil {
			return nil, classify("read the changes feed", err)
		}
		e.Kind, _ = clerksync.ParseKind(e.Type[:strings.IndexByte(e.Type+".", '.')])
		e.Source, e.EventID = clerksync.Source(source), deref(eventID)
		e.CreatedAt = e.CreatedAt.UTC()
		e.Data = json.RawMessage(data)
		if previous != nil {
			e.Previous = json.RawMessage(*previous)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("read the changes feed", err)
	}
	return out, nil
}

// LastSeq returns the seq of the newest entry of the changes feed, 0 when none.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	var seq *int64
	if err := s.pool.QueryRow(ctx, `SELECT max(seq) FROM clerksync_changes`).Scan(&seq); err != nil {
		return 0, classify("read the changes feed", err)
	}
	if seq == nil {
		return 0, nil
	}
	return *seq, nil
}

// ForwardPosition returns endpoint's position in the feed, and false when it has none.
func (s *Store) ForwardPosition(ctx context.Context, endpoint string) (int64, bool, error) {
	if err := s.checkOpen(); err != nil {
		return 0, false, err
	}
	var pos int64
	err := s.pool.QueryRow(ctx, sqlschema.PositionSQL, endpoint).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, classify("read a forwarding position", err)
	}
	return pos, true, nil
}

// SetForwardPosition records endpoint's position in the feed.
func (s *Store) SetForwardPosition(ctx context.Context, endpoint string, seq int64) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, sqlschema.SetPositionSQL, endpoint, seq, s.now()); err != nil {
		return classify("record a forwarding position", err)
	}
	return nil
}

// ForwardPositions returns the position of every endpoint that has one.
func (s *Store) ForwardPositions(ctx context.Context) (map[string]int64, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sqlschema.PositionsSQL)
	if err != nil {
		return nil, classify("read forwarding positions", err)
	}
	defer rows.Close()
	out, err := sqlschema.ScanPositions(rows)
	if err != nil {
		return nil, classify("read forwarding positions", err)
	}
	return out, nil
}

// PruneChanges deletes the entries recorded before t whose seq is at most upTo, in
// chunks, and returns how many it deleted (see clerksync.FeedStore and
// sqlschema.PruneChangesSQL).
func (s *Store) PruneChanges(ctx context.Context, before time.Time, upTo int64) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	return s.deleteChunks(ctx, "prune the changes feed", sqlschema.PruneChangesSQL, upTo, before, pruneChunk)
}
