-- What pulling users from the Clerk Backend API keeps: the record of every backfill,
-- reconcile, poll and prune; checkpoints (the poll's high-water mark in Clerk's
-- updated_at); and leases, so that one replica at a time polls or reconciles.

-- +goose Up
CREATE TABLE clerksync_sync_runs (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('backfill', 'reconcile', 'poll', 'prune')),
    status      text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    started_at  timestamptz NOT NULL,
    -- When the run last recorded progress: a run still 'running' whose updated_at is
    -- old belongs to a process that died.
    updated_at  timestamptz NOT NULL,
    finished_at timestamptz,
    -- Users listed (or, for a prune, checked one by one), and what became of them.
    seen        bigint      NOT NULL DEFAULT 0,
    created     bigint      NOT NULL DEFAULT 0,
    updated     bigint      NOT NULL DEFAULT 0,
    unchanged   bigint      NOT NULL DEFAULT 0,
    deleted     bigint      NOT NULL DEFAULT 0,
    stale       bigint      NOT NULL DEFAULT 0,
    skipped     bigint      NOT NULL DEFAULT 0,
    invalid     bigint      NOT NULL DEFAULT 0,
    error       text
);

CREATE INDEX clerksync_sync_runs_kind_idx ON clerksync_sync_runs (kind, id);

CREATE TABLE clerksync_state (
    key        text        NOT NULL PRIMARY KEY,
    value      text        NOT NULL,
    updated_at timestamptz NOT NULL
);

-- A lease row is taken with one INSERT … ON CONFLICT DO UPDATE … WHERE (expired or
-- ours), which PostgreSQL runs atomically against a concurrent taker.
CREATE TABLE clerksync_leases (
    name       text        NOT NULL PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE clerksync_leases;
DROP TABLE clerksync_state;
DROP TABLE clerksync_sync_runs;
