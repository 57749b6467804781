-- What pulling users from the Clerk Backend API keeps: the record of every backfill,
-- reconcile, poll and prune; checkpoints (the poll's high-water mark in Clerk's
-- updated_at); and leases, so that one process at a time polls or reconciles when
-- several share the database.
--
-- Times are INTEGER milliseconds since the Unix epoch, as in 00001.

-- +goose Up
CREATE TABLE clerksync_sync_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL CHECK (kind IN ('backfill', 'reconcile', 'poll', 'prune')),
    status      TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    started_at  INTEGER NOT NULL,
    -- When the run last recorded progress: a run still 'running' whose updated_at is
    -- old belongs to a process that died.
    updated_at  INTEGER NOT NULL,
    finished_at INTEGER,
    -- Users listed (or, for a prune, checked one by one), and what became of them.
    seen        INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    deleted     INTEGER NOT NULL DEFAULT 0,
    stale       INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    invalid     INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);

CREATE INDEX clerksync_sync_runs_kind_idx ON clerksync_sync_runs (kind, id);

CREATE TABLE clerksync_state (
    key        TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE clerksync_leases (
    name       TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE clerksync_leases;
DROP TABLE clerksync_state;
DROP TABLE clerksync_sync_runs;
