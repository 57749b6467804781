-- clerksync's tables on SQLite: the profiles an application reads, the tombstones of
-- deleted users and the event log of webhook deliveries.
--
-- profiles keeps the plain name the application joins against; the tables only
-- clerksync reads are prefixed clerksync_ because they live in the application's own
-- database. Clerk's timestamps, synced_at, deleted_at and received_at are INTEGER
-- milliseconds since the Unix epoch; booleans are INTEGER 0/1; JSON is TEXT, the small
-- metadata documents checked with json_valid so that a malformed one is refused by the
-- database itself.
--
-- Later migrations add sync runs, the poll checkpoint, organizations and memberships.

-- +goose Up
CREATE TABLE profiles (
    user_id          TEXT    NOT NULL PRIMARY KEY,
    email            TEXT,
    email_verified   INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    phone            TEXT,
    username         TEXT,
    first_name       TEXT,
    last_name        TEXT,
    image_url        TEXT,
    external_id      TEXT,
    public_metadata  TEXT CHECK (json_valid(public_metadata)),
    unsafe_metadata  TEXT CHECK (json_valid(unsafe_metadata)),
    -- NULL unless the operator opted in to keeping private metadata.
    private_metadata TEXT CHECK (json_valid(private_metadata)),
    banned           INTEGER NOT NULL DEFAULT 0 CHECK (banned IN (0, 1)),
    locked           INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    created_at       INTEGER NOT NULL,
    -- The version of the row in Clerk's clock: an upsert applies only when its
    -- updated_at is at least this one.
    updated_at       INTEGER NOT NULL,
    last_sign_in_at  INTEGER,
    last_active_at   INTEGER,
    synced_at        INTEGER NOT NULL,
    sync_source      TEXT    NOT NULL,
    -- Not checked with json_valid like the metadata: parsing ~4 KB on every write
    -- would cost more than the rest of the write, and the decoder that produces it
    -- has validated it already.
    raw              TEXT
);

CREATE INDEX profiles_email_idx ON profiles (email);
CREATE INDEX profiles_username_idx ON profiles (username);
CREATE INDEX profiles_external_id_idx ON profiles (external_id);

-- A deleted user, for ever: Clerk never reuses ids, so no upsert may bring one back.
CREATE TABLE clerksync_tombstones (
    user_id    TEXT    NOT NULL PRIMARY KEY,
    deleted_at INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    -- The svix-id of the user.deleted delivery; NULL when the deletion was found
    -- through the Backend API.
    event_id   TEXT
);

-- The event log: one row per svix-id, recorded in the same transaction as the change,
-- so that a redelivery is recognised and changes nothing.
CREATE TABLE clerksync_events (
    svix_id     TEXT    NOT NULL PRIMARY KEY,
    type        TEXT    NOT NULL,
    user_id     TEXT,
    -- applied, stale, duplicate, ignored or dead_letter.
    outcome     TEXT    NOT NULL,
    -- What an applied change did: created, updated, unchanged, deleted (none otherwise).
    action      TEXT    NOT NULL DEFAULT 'none',
    error       TEXT,
    event_time  INTEGER,
    received_at INTEGER NOT NULL,
    -- The delivery as kept; NULL once the user is deleted (redacted = 1).
    body        BLOB,
    redacted    INTEGER NOT NULL DEFAULT 0 CHECK (redacted IN (0, 1)),
    attempts    INTEGER NOT NULL DEFAULT 1
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
