-- clerksync's tables on PostgreSQL: the profiles an application reads, the tombstones
-- of deleted users and the event log of webhook deliveries.
--
-- The tables are created unqualified, in the schema first on the connection's
-- search_path (clerksync sets it to the configured schema, public by default), and the
-- migration version table clerksync_migrations lives beside them. profiles keeps the
-- plain name the application joins against; the tables only clerksync reads are
-- prefixed clerksync_ because they live in the application's own database.
--
-- Later migrations add sync runs, the poll checkpoint, organizations and memberships.

-- +goose Up
CREATE TABLE profiles (
    user_id          text        NOT NULL PRIMARY KEY,
    email            text,
    email_verified   boolean     NOT NULL DEFAULT false,
    phone            text,
    username         text,
    first_name       text,
    last_name        text,
    image_url        text,
    external_id      text,
    public_metadata  jsonb,
    unsafe_metadata  jsonb,
    -- NULL unless the operator opted in to keeping private metadata.
    private_metadata jsonb,
    banned           boolean     NOT NULL DEFAULT false,
    locked           boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    -- The version of the row in Clerk's clock: an upsert applies only when its
    -- updated_at is at least this one.
    updated_at       timestamptz NOT NULL,
    last_sign_in_at  timestamptz,
    last_active_at   timestamptz,
    synced_at        timestamptz NOT NULL,
    sync_source      text        NOT NULL,
    raw              jsonb
);

CREATE INDEX profiles_email_idx ON profiles (email);
CREATE INDEX profiles_username_idx ON profiles (username);
CREATE INDEX profiles_external_id_idx ON profiles (external_id);

-- A deleted user, for ever: Clerk never reuses ids, so no upsert may bring one back.
CREATE TABLE clerksync_tombstones (
    user_id    text        NOT NULL PRIMARY KEY,
    deleted_at timestamptz NOT NULL,
    source     text        NOT NULL,
    -- The svix-id of the user.deleted delivery; NULL when the deletion was found
    -- through the Backend API.
    event_id   text
);

-- The event log: one row per svix-id, recorded in the same transaction as the change,
-- so that a redelivery is recognised and changes nothing.
CREATE TABLE clerksync_events (
    svix_id     text        NOT NULL PRIMARY KEY,
    type        text        NOT NULL,
    user_id     text,
    -- applied, stale, duplicate, ignored or dead_letter.
    outcome     text        NOT NULL,
    -- What an applied change did: created, updated, unchanged, deleted (none otherwise).
    action      text        NOT NULL DEFAULT 'none',
    error       text,
    -- The envelope's timestamp in milliseconds since the Unix epoch.
    event_time  bigint,
    received_at timestamptz NOT NULL,
    -- The delivery as kept; NULL once the user is deleted (redacted = true).
    body        bytea,
    redacted    boolean     NOT NULL DEFAULT false,
    attempts    integer     NOT NULL DEFAULT 1
);

-- Listing newest first, paging by (received_at, svix_id), and pruning by age.
CREATE INDEX clerksync_events_received_at_idx ON clerksync_events (received_at, svix_id);
-- Redaction of a deleted user's payloads.
CREATE INDEX clerksync_events_user_id_idx ON clerksync_events (user_id);
-- Dead letters are few and looked at often (listing, replay).
CREATE INDEX clerksync_events_dead_letter_idx ON clerksync_events (received_at, svix_id)
    WHERE outcome = 'dead_letter';

-- +goose Down
DROP TABLE clerksync_events;
DROP TABLE clerksync_tombstones;
DROP TABLE profiles;
