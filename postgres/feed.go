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
	err := s.pool.QueryRow(ctx, `SELECT position FROM clerksync_forward_positions WHERE endpoint = $1`, endpoint).Scan(&pos)
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
	_, err := s.pool.Exec(ctx, `INSERT INTO clerksync_forward_positions (endpoint, position, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (endpoint) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`, endpoint, seq, s.now())
	if err != nil {
		return classify("record a forwarding position", err)
	}
	return nil
}

// ForwardPositions returns the position of every endpoint that has one.
func (s *Store) ForwardPositions(ctx context.Context) (map[string]int64, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT endpoint, position FROM clerksync_forward_positions`)
	if err != nil {
		return nil, classify("read forwarding positions", err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var (
			e   string
			pos int64
		)
		if err := rows.Scan(&e, &pos); err != nil {
			return nil, classify("read forwarding positions", err)
		}
		out[e] = pos
	}
	if err := rows.Err(); err != nil {
		return nil, classify("read forwarding positions", err)
	}
	return out, nil
}

// PruneChanges deletes the entries recorded before t whose seq is at most upTo, in
// chunks, and returns how many it deleted (see clerksync.FeedStore). The feed has no
// index on created_at, which every change would write: entries are recorded in seq
// order (give or take a writer's clock), so the first one recorded at t or later
// bounds the range to delete, and finding it reads only the entries about to go. Each
// chunk finds that bound and deletes in one statement, over one snapshot: an entry
// committed meanwhile is not in it to delete.
func (s *Store) PruneChanges(ctx context.Context, before time.Time, upTo int64) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	total := 0
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM clerksync_changes WHERE seq IN (
    SELECT seq FROM clerksync_changes
    WHERE seq <= $1 AND seq < coalesce((SELECT seq FROM clerksync_changes WHERE created_at >= $2 ORDER BY seq LIMIT 1), 9223372036854775807)
    ORDER BY seq LIMIT $3)`, upTo, before, pruneChunk)
		if err != nil {
			return total, classify("prune the changes feed", err)
		}
		n := int(tag.RowsAffected())
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}
