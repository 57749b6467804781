package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

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
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var id int64
	err := s.w.QueryRowContext(ctx,
		`INSERT INTO clerksync_sync_runs (kind, status, started_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id`,
		string(kind), string(clerksync.RunRunning), now.UnixMilli(), now.UnixMilli()).Scan(&id)
	s.noteCommit()
	if err != nil {
		return nil, unavailable("start run", err)
	}
	t := time.UnixMilli(now.UnixMilli()).UTC()
	return &clerksync.SyncRun{ID: id, Kind: kind, Status: clerksync.RunRunning, StartedAt: t, UpdatedAt: t}, nil
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
	now := s.now().UnixMilli()
	status := clerksync.RunRunning
	var finished any
	if finish {
		status, finished = run.Status, now
	}
	c := run.Counts
	s.mu.Lock()
	res, err := s.w.ExecContext(ctx, `UPDATE clerksync_sync_runs SET
    status = ?, updated_at = ?, finished_at = ?, error = ?,
    seen = ?, created = ?, updated = ?, unchanged = ?, deleted = ?, stale = ?, skipped = ?, invalid = ?
WHERE id = ?`,
		string(status), now, finished, sqlschema.Text(run.Error),
		c.Seen, c.Created, c.Updated, c.Unchanged, c.Deleted, c.Stale, c.Skipped, c.Invalid, run.ID)
	s.noteCommit()
	s.mu.Unlock()
	if err != nil {
		return unavailable("save run", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("save run", err)
	} else if n == 0 {
		return clerksync.Errorf(clerksync.ENOTFOUND, "no run %d", run.ID)
	}
	run.UpdatedAt = time.UnixMilli(now).UTC()
	if finish {
		run.FinishedAt = run.UpdatedAt
	}
	return nil
}

// Run returns the run id, or an error with code ENOTFOUND.
func (s *Store) Run(ctx context.Context, id int64) (*clerksync.SyncRun, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	r, err := scanRun(s.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM clerksync_sync_runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, clerksync.Errorf(clerksync.ENOTFOUND, "no run %d", id)
	}
	if err != nil {
		return nil, unavailable("read run", err)
	}
	return r, nil
}

// Runs lists runs newest first.
func (s *Store) Runs(ctx context.Context, f clerksync.RunFilter) ([]clerksync.SyncRun, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+runColumns+` FROM clerksync_sync_runs
WHERE (? = '' OR kind = ?) AND (? = '' OR status = ?)
ORDER BY id DESC LIMIT ?`,
		string(f.Kind), string(f.Kind), string(f.Status), string(f.Status), clerksync.PageSize(f.Limit, clerksync.DefaultRunsPage))
	if err != nil {
		return nil, unavailable("list runs", err)
	}
	defer rows.Close()
	var out []clerksync.SyncRun
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, unavailable("list runs", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list runs", err)
	}
	return out, nil
}

func scanRun(row scanner) (*clerksync.SyncRun, error) {
	var (
		r                clerksync.SyncRun
		kind, status     string
		started, updated int64
		finished         sql.NullInt64
		errText          sql.NullString
	)
	c := &r.Counts
	err := row.Scan(&r.ID, &kind, &status, &started, &updated, &finished,
		&c.Seen, &c.Created, &c.Updated, &c.Unchanged, &c.Deleted, &c.Stale, &c.Skipped, &c.Invalid, &errText)
	if err != nil {
		return nil, err
	}
	r.Kind, r.Status, r.Error = clerksync.RunKind(kind), clerksync.RunStatus(status), errText.String
	r.StartedAt, r.UpdatedAt = time.UnixMilli(started).UTC(), time.UnixMilli(updated).UTC()
	if finished.Valid {
		r.FinishedAt = time.UnixMilli(finished.Int64).UTC()
	}
	return &r, nil
}

// Checkpoint returns the value stored under key, or an error with code ENOTFOUND.
func (s *Store) Checkpoint(ctx context.Context, key string) (string, error) {
	if err := s.checkOpen(); err != nil {
		return "", err
	}
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM clerksync_state WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", clerksync.Errorf(clerksync.ENOTFOUND, "no checkpoint %q", key)
	}
	if err != nil {
		return "", unavailable("read checkpoint", err)
	}
	return v, nil
}

// SetCheckpoint stores value under key.
func (s *Store) SetCheckpoint(ctx context.Context, key, value string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.w.ExecContext(ctx, `INSERT INTO clerksync_state (key, value, updated_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, s.now().UnixMilli())
	s.noteCommit()
	if err != nil {
		return unavailable("set checkpoint", err)
	}
	return nil
}

// AcquireLease takes or renews the lease name for holder until ttl from now. One
// statement decides and writes, and SQLite lets one writer in at a time across
// processes, so two takers cannot both win.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := s.checkOpen(); err != nil {
		return false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var got string
	err := s.w.QueryRowContext(ctx, `INSERT INTO clerksync_leases (name, holder, expires_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE clerksync_leases.holder = excluded.holder OR clerksync_leases.expires_at <= ?
RETURNING holder`, name, holder, now.Add(ttl).UnixMilli(), now.UnixMilli()).Scan(&got)
	s.noteCommit()
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, unavailable("acquire lease", err)
	}
	return got == holder, nil
}

// ReleaseLease gives up holder's lease name.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.w.ExecContext(ctx, `DELETE FROM clerksync_leases WHERE name = ? AND holder = ?`, name, holder)
	s.noteCommit()
	if err != nil {
		return unavailable("release lease", err)
	}
	return nil
}

// ProfileIDs returns up to limit user ids (clerksync.DefaultProfilesPage when 0, at most MaxPage)
// after after whose created_at is before createdBefore (ms), ordered by user_id.
func (s *Store) ProfileIDs(ctx context.Context, after string, createdBefore int64, limit int) ([]string, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx,
		`SELECT user_id FROM profiles WHERE user_id > ? AND created_at < ? ORDER BY user_id LIMIT ?`,
		after, createdBefore, clerksync.PageSize(limit, clerksync.DefaultProfilesPage))
	if err != nil {
		return nil, unavailable("list profile ids", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, unavailable("list profile ids", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list profile ids", err)
	}
	return out, nil
}

// PruneRuns deletes the records of runs finished before t, but the latest successful
// run of each kind.
func (s *Store) PruneRuns(ctx context.Context, before time.Time) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.w.ExecContext(ctx, `DELETE FROM clerksync_sync_runs
WHERE status <> 'running' AND finished_at < ?
    AND id NOT IN (SELECT max(id) FROM clerksync_sync_runs WHERE status = 'succeeded' GROUP BY kind)`,
		before.UnixMilli())
	s.noteCommit()
	if err != nil {
		return 0, unavailable("prune runs", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable("prune runs", err)
	}
	if err := s.wal.sync(); err != nil {
		return 0, unavailable("prune runs", err)
	}
	return int(n), nil
}
