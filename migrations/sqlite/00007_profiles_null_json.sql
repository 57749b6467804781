-- profiles' metadata columns were checked with CHECK (json_valid(x)). SQLite before
-- 3.45 (Debian 12's sqlite3 is 3.40) answers json_valid(NULL) with 0, not NULL, so
-- there PRAGMA integrity_check flags every row whose private_metadata is NULL (every
-- row, unless private metadata is kept), and a backup made with `sqlite3 db .dump`
-- restores none of them. CHECK (x IS NULL OR json_valid(x)) means the same on every
-- version. SQLite cannot change a CHECK in place: the table is rebuilt, following
-- SQLite's own procedure (https://sqlite.org/lang_altertable.html#otheralter): with
-- foreign keys off, so that dropping the old table does not delete the rows of an
-- application's tables that refer to profiles with ON DELETE CASCADE, and in one
-- transaction. PRAGMA foreign_keys cannot change inside a transaction, so this
-- migration runs outside goose's, as one statement on one connection.

-- +goose NO TRANSACTION
-- +goose Up
-- +goose StatementBegin
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE profiles_new (
    user_id          TEXT    NOT NULL PRIMARY KEY,
    email            TEXT,
    email_verified   INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    phone            TEXT,
    username         TEXT,
    first_name       TEXT,
    last_name        TEXT,
    image_url        TEXT,
    external_id      TEXT,
    public_metadata  TEXT CHECK (public_metadata IS NULL OR json_valid(public_metadata)),
    unsafe_metadata  TEXT CHECK (unsafe_metadata IS NULL OR json_valid(unsafe_metadata)),
    -- NULL unless the operator opted in to keeping private metadata.
    private_metadata TEXT CHECK (private_metadata IS NULL OR json_valid(private_metadata)),
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
    -- Not checked with json_valid: the decoder that produces it has validated it.
    raw              TEXT,
    -- Set instead of removing the row under the soft-delete policy.
    deleted_at       INTEGER
);
INSERT INTO profiles_new SELECT
    user_id, email, email_verified, phone, username, first_name, last_name, image_url,
    external_id, public_metadata, unsafe_metadata, private_metadata, banned, locked,
    created_at, updated_at, last_sign_in_at, last_active_at, synced_at, sync_source, raw, deleted_at
FROM profiles;
DROP TABLE profiles;
ALTER TABLE profiles_new RENAME TO profiles;
CREATE INDEX profiles_email_idx ON profiles (email);
CREATE INDEX profiles_username_idx ON profiles (username);
CREATE INDEX profiles_external_id_idx ON profiles (external_id);
COMMIT;
PRAGMA foreign_keys = ON;
-- +goose StatementEnd

-- +goose Down
SELECT 1;
