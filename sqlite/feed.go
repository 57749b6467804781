package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

var _ clerksync.FeedStore = (*Store)(nil)

// feedHorizon keeps readers of the changes feed in this process from seeing an entry
// before it is durable. The writer commits a batch to the WAL and the syncer makes it
// durable later (see walSyncer); until then a power cut could take the entry back,
// after a forwarder had sent it. So Changes returns no entry of a batch this process
// committed but has not synced. Entries other processes commit are read as they are.
type feedHorizon struct {
	mu      sync.Mutex
	batches []seqRange // committed, not yet synced, oldest first
}

type seqRange struct{ first, last int64 }

// committed records a committed batch's entries (none when first is 0).
func (h *feedHorizon) committed(first, last int64) {
	if first == 0 {
		return
	}
	h.mu.Lock()
	h.batches = append(h.batches, seqRange{first, last})
	h.mu.Unlock()
}

// pending returns the last seq a sync that starts now makes durable (0 for none).
func (h *feedHorizon) pending() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.batches) == 0 {
		return 0
	}
	return h.batches[len(h.batches)-1].last
}

// synced records that every batch up to seq upTo is durable.
func (h *feedHorizon) synced(upTo int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := 0
	for i < len(h.batches) && h.batches[i].last <= upTo {
		i++
	}
	h.batches = append(h.batches[:0], h.batches[i:]...)
}

// limit returns the highest seq a reader may see.
func (h *feedHorizon) limit() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.batches) == 0 {
		return math.MaxInt64
	}
	return h.batches[0].first - 1
}

const feedColumns = `seq, id, type, object_id, source, event_id, occurred_at, created_at, data, previous`

// Changes returns the entries of the changes feed f selects, in seq order.
func (s *Store) Changes(ctx context.Context, f clerksync.FeedFilter) ([]clerksync.FeedEntry, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	where := []string{"seq > ?", "seq <= ?"}
	args := []any{f.After, s.feed.limit()}
	if f.ObjectID != "" {
		where = append(where, "object_id = ?")
		args = append(args, f.ObjectID)
	}
	if w, a := typeFilter(f.Types); w != "" {
		where = append(where, w)
		args = append(args, a...)
	}
	args = append(args, clerksync.PageSize(f.Limit, clerksync.DefaultFeedPage))
	rows, err := s.r.QueryContext(ctx, `SELECT `+feedColumns+` FROM clerksync_changes WHERE `+
		strings.Join(where, " AND ")+` ORDER BY seq LIMIT ?`, args...)
	if err != nil {
		return nil, unavailable("read the changes feed", err)
	}
	defer rows.Close()
	var out []clerksync.FeedEntry
	for rows.Next() {
		var (
			e              clerksync.FeedEntry
			eventID        sql.NullString
			source         string
			created        int64
			data, previous []byte
		)
		if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.ObjectID, &source, &eventID, &e.OccurredAt, &created, &data, &previous); err != nil {
			return nil, unavailable("read the changes feed", err)
		}
		e.Kind, _ = clerksync.ParseKind(e.Type[:strings.IndexByte(e.Type+".", '.')])
		e.Source, e.EventID = clerksync.Source(source), eventID.String
		e.CreatedAt = time.UnixMilli(created).UTC()
		e.Data, e.Previous = data, previous
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read the changes feed", err)
	}
	return out, nil
}

// typeFilter returns the condition that selects the feed entries of the type patterns
// (see clerksync.MatchFeedType), and its arguments; "" for every entry.
func typeFilter(patterns []string) (string, []any) {
	var ors []string
	var args []any
	for _, p := range patterns {
		switch {
		case p == "*":
			return "", nil
		case strings.HasSuffix(p, ".*"):
			ors = append(ors, "type LIKE ? ESCAPE '\\'")
			args = append(args, likeEscape(strings.TrimSuffix(p, "*"))+"%")
		default:
			ors = append(ors, "type = ?")
			args = append(args, p)
		}
	}
	if len(ors) == 0 {
		return "", nil
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// LastSeq returns the seq of the newest entry Changes may return, 0 when none.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	var seq sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT max(seq) FROM clerksync_changes WHERE seq <= ?`, s.feed.limit()).Scan(&seq)
	if err != nil {
		return 0, unavailable("read the changes feed", err)
	}
	return seq.Int64, nil
}

// ForwardPosition returns endpoint's position in the feed, and false when it has none.
func (s *Store) ForwardPosition(ctx context.Context, endpoint string) (int64, bool, error) {
	if err := s.checkOpen(); err != nil {
		return 0, false, err
	}
	var pos int64
	err := s.r.QueryRowContext(ctx, sqlschema.PositionSQL, endpoint).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, unavailable("read a forwarding position", err)
	}
	return pos, true, nil
}

// SetForwardPosition records endpoint's position in the feed.
func (s *Store) SetForwardPosition(ctx context.Context, endpoint string, seq int64) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.w.ExecContext(ctx, sqlschema.SetPositionSQL, endpoint, seq, s.now().UnixMilli())
	s.noteCommit()
	if err != nil {
		return unavailable("record a forwarding position", err)
	}
	return nil
}

// ForwardPositions returns the position of every endpoint that has one.
func (s *Store) ForwardPositions(ctx context.Context) (map[string]int64, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, sqlschema.PositionsSQL) //nolint:rowserrcheck // sqlschema.ScanPositions checks rows.Err
	if err != nil {
		return nil, unavailable("read forwarding positions", err)
	}
	defer rows.Close()
	out, err := sqlschema.ScanPositions(rows)
	if err != nil {
		return nil, unavailable("read forwarding positions", err)
	}
	return out, nil
}

// PruneChanges deletes the entries recorded before t whose seq is at most upTo, in
// chunks under the write lock, and returns how many it deleted (see
// clerksync.FeedStore and sqlschema.PruneChangesSQL).
func (s *Store) PruneChanges(ctx context.Context, before time.Time, upTo int64) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	return s.deleteChunks(ctx, "prune the changes feed", sqlschema.PruneChangesSQL, upTo, before.UnixMilli(), pruneChunk)
}
