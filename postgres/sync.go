package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

var _ clerksync.SyncStore = (*Store)(nil)

const runColumns = sqlschema.RunColumns

// StartRun records a new run of kind with status running.
func (s *Store) StartRun(ctx context.Context, kind clerksync.RunKind) (*clerksync.SyncRun, error) {
	if !kind.Valid() {
		return nil, clerksync.Errorf(clerksync.EINVALID, "unknown run kind %q", kind)
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	var id int64
	err := s.pool.QueryRow(ctx,
		`INSERT INTO clerksync_sync_runs (kind, status, started_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id`,
		string(kind), string(clerksync.RunRunning), now).Scan(&id)
	if err != nil {
		return nil, classify("start run", err)
	}
	return &clerksync.SyncRun{ID: id, Kind: kind, Status: clerksync.RunRunning, StartedAt: now, UpdatedAt: now}, nil
}

// UpdateRun records the counts of a running run.
func (s *Store) UpdateRun(ctx context.Context, run *clerksync.SyncRun) error {
	return s.saveRun(ctx, run, false)
}

// FinishRun records run's final status, counts and error, and its finish time.
func (s *Store) FinishRun(ctx context.Context, run *clerksync.SyncRun) error {
	if run.Status == clerksync.RunRunning || !run.Status.Valid() {
		return clerksync.Errorf(clerksync.EINVALID, "run %d cannot finish with status %q", run.ID, run.Status)
	}
	return s.saveRun(ctx, run, true)
}

func (s *Store) saveRun(ctx context.Context, run *clerksync.SyncRun, finish bool) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	status := clerksync.RunRunning
	var finished *time.Time
	if finish {
		status, finished = run.Status, &now
	}
	var errText *string
	if run.Error != "" {
		errText = &run.Error
	}
	c := run.Counts
	tag, err := s.pool.Exec(ctx, `UPDATE clerksync_sync_runs SET
    status = $1, updated_at = $2, finished_at = $3, error = $4,
    seen = $5, created = $6, updated = $7, unchanged = $8, deleted = $9, stale = $10, skipped = $11, invalid = $12
WHERE id = $13`,
		string(status), now, finished, errText,
		c.Seen, c.Created, c.Updated, c.Unchanged, c.Deleted, c.Stale, c.Skipped, c.Invalid, run.ID)
	if err != nil {
		return classify("save run", err)
	}
	if tag.RowsAffected() == 0 {
		return clerksync.Errorf(clerksync.ENOTFOUND, "no run %d", run.ID)
	}
	run.UpdatedAt = now
	if finish {
		run.FinishedAt = now
	}
	return nil
}

// Run returns the run id, or an error with code ENOTFOUND.
func (s *Store) Run(ctx context.Context, id int64) (*clerksync.SyncRun, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM clerksync_sync_runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, clerksync.Errorf(clerksync.ENOTFOUND, "no run %d", id)
	}
	if err != nil {
		return nil, classify("read run", err)
	}
	return r, nil
}

// Runs lists runs newest first.
func (s *Store) Runs(ctx context.Context, f clerksync.RunFilter) ([]clerksync.SyncRun, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM clerksync_sync_runs
WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR status = $2)
ORDER BY id DESC LIMIT $3`, string(f.Kind), string(f.Status), clerksync.PageSize(f.Limit, clerksync.DefaultRunsPage))
	if err != nil {
		return nil, classify("list runs", err)
	}
	defer rows.Close()
	var out []clerksync.SyncRun
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, classify("list runs", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("list runs", err)
	}
	return out, nil
}

func scanRun(row pgx.Row) (*clerksync.SyncRun, error) {
	var (
		r            clerksync.SyncRun
		kind, status string
		finished     *time.Time
		errText      *string
	)
	c := &r.Counts
	err := row.Scan(&r.ID, &kind, &status, &r.StartedAt, &r.UpdatedAt, &finished,
		&c.Seen, &c.Created, &c.Updated, &c.Unchanged, &c.Deleted, &c.Stale, &c.Skipped, &c.Invalid, &errText)
	if err != nil {
		return nil, err
	}
	r.Kind, r.Status, r.Error = clerksync.RunKind(kind), clerksync.RunStatus(status), deref(errText)
	r.StartedAt, r.UpdatedAt = r.StartedAt.UTC(), r.UpdatedAt.UTC()
	if finished != nil {
		r.FinishedAt = finished.UTC()
	}
	return &r, nil
}

// Checkpoint returns the value stored under key, or an error with code ENOTFOUND.
func (s *Store) Checkpoint(ctx context.Context, key string) (string, error) {
	if err := s.checkOpen(); err != nil {
		return "", err
	}
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM clerksync_state WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", clerksync.Errorf(clerksync.ENOTFOUND, "no checkpoint %q", key)
	}
	if err != nil {
		return "", classify("read checkpoint", err)
	}
	return v, nil
}

// SetCheckpoint stores value under key.
func (s *Store) SetCheckpoint(ctx context.Context, key, value string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO clerksync_state (key, value, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, s.now())
	if err != nil {
		return classify("set checkpoint", err)
	}
	return nil
}

// AcquireLease takes or renews the lease name for holder until ttl from now. The
// statement decides and writes at once: of two replicas racing for an expired lease,
// the second waits on the first's row lock, then sees its lease unexpired and gets
// no row back.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := s.checkOpen(); err != nil {
		return false, err
	}
	now := s.now()
	var got string
	err := s.pool.QueryRow(ctx, `INSERT INTO clerksync_leases AS l (name, holder, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE l.holder = excluded.holder OR l.expires_at <= $4
RETURNING holder`, name, holder, now.Add(ttl), now).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, classify("acquire lease", err)
	}
	return got == holder, nil
}

// ReleaseLease gives up holder's lease name.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM clerksync_leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return classify("release lease", err)
	}
	return nil
}

// ProfileIDs returns up to limit user ids (clerksync.DefaultProfilesPage when 0, at most MaxPage)
// after after whose created_at is before createdBefore (ms), ordered by user_id.
func (s *Store) ProfileIDs(ctx context.Context, after string, createdBefore int64, limit int) ([]string, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx,
		`SELECT user_id FROM profiles WHERE user_id > $1 AND created_at < $2 ORDER BY user_id LIMIT $3`,
		after, time.UnixMilli(createdBefore).UTC(), clerksync.PageSize(limit, clerksync.DefaultProfilesPage))
	if err != nil {
		return nil, classify("list profile ids", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, classify("list profile ids", err)
	}
	return ids, nil
}

// PruneRuns deletes the records of runs finished before t, but the latest successful
// run of each kind.
func (s *Store) PruneRuns(ctx context.Context, before time.Time) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM clerksync_sync_runs
WHERE status <> 'running' AND finished_at < $1
    AND id NOT IN (SELECT max(id) FROM clerksync_sync_runs WHERE status = 'succeeded' GROUP BY kind)`, before)
	if err != nil {
		return 0, classify("prune runs", err)
	}
	return int(tag.RowsAffected()), nil
}
