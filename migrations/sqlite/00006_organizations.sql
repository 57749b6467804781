-- Organizations, their memberships, invitations, roles and permissions; tombstones and
-- the event log for every kind of object; the changes feed.
--
-- The organization tables follow profiles: Clerk's timestamps are INTEGER ms, JSON is
-- TEXT checked with json_valid, raw is the object as Clerk sent it. Every synced table
-- gains deleted_at, set instead of removing the row under the soft-delete policy
-- (serve --on-delete soft). A membership or invitation goes with its organization
-- (ON DELETE CASCADE); clerksync removes them itself too, so that the changes feed
-- tells of each, and so that the soft-delete policy, which removes nothing, holds them
-- the same.

-- +goose Up
ALTER TABLE profiles ADD COLUMN deleted_at INTEGER;

CREATE TABLE organizations (
    org_id                  TEXT    NOT NULL PRIMARY KEY,
    name                    TEXT,
    slug                    TEXT,
    image_url               TEXT,
    created_by              TEXT,
    max_allowed_memberships INTEGER,
    public_metadata         TEXT CHECK (public_metadata IS NULL OR json_valid(public_metadata)),
    -- NULL unless the operator opted in to keeping private metadata.
    private_metadata        TEXT CHECK (private_metadata IS NULL OR json_valid(private_metadata)),
    -- NULL for a placeholder: an organization known only by its id, because an
    -- invitation named it before its organization.created arrived.
    created_at              INTEGER,
    updated_at              INTEGER,
    synced_at               INTEGER NOT NULL,
    sync_source             TEXT    NOT NULL,
    raw                     TEXT,
    deleted_at              INTEGER
);
CREATE INDEX organizations_slug_idx ON organizations (slug);

CREATE TABLE organization_memberships (
    membership_id    TEXT    NOT NULL PRIMARY KEY,
    org_id           TEXT    NOT NULL REFERENCES organizations (org_id) ON DELETE CASCADE,
    -- No foreign key to profiles: a membership can arrive before its user.
    user_id          TEXT    NOT NULL,
    -- The role's key, such as org:admin, and its name.
    role             TEXT,
    role_name        TEXT,
    -- The keys of the permissions the role grants, a JSON array.
    permissions      TEXT CHECK (permissions IS NULL OR json_valid(permissions)),
    public_metadata  TEXT CHECK (public_metadata IS NULL OR json_valid(public_metadata)),
    private_metadata TEXT CHECK (private_metadata IS NULL OR json_valid(private_metadata)),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    synced_at        INTEGER NOT NULL,
    sync_source      TEXT    NOT NULL,
    raw              TEXT,
    deleted_at       INTEGER
);
-- One live membership per organization and user.
CREATE UNIQUE INDEX organization_memberships_org_user_idx
    ON organization_memberships (org_id, user_id) WHERE deleted_at IS NULL;
CREATE INDEX organization_memberships_user_idx ON organization_memberships (user_id);

CREATE TABLE organization_invitations (
    invitation_id    TEXT    NOT NULL PRIMARY KEY,
    org_id           TEXT    NOT NULL REFERENCES organizations (org_id) ON DELETE CASCADE,
    email            TEXT,
    role             TEXT,
    role_name        TEXT,
    -- pending, accepted, revoked or expired.
    status           TEXT,
    -- The user who accepted the invitation.
    user_id          TEXT,
    public_metadata  TEXT CHECK (public_metadata IS NULL OR json_valid(public_metadata)),
    private_metadata TEXT CHECK (private_metadata IS NULL OR json_valid(private_metadata)),
    expires_at       INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    synced_at        INTEGER NOT NULL,
    sync_source      TEXT    NOT NULL,
    raw              TEXT,
    deleted_at       INTEGER
);
CREATE INDEX organization_invitations_org_idx ON organization_invitations (org_id);
CREATE INDEX organization_invitations_email_idx ON organization_invitations (email);
CREATE INDEX organization_invitations_user_idx ON organization_invitations (user_id);

CREATE TABLE organization_roles (
    role_id     TEXT    NOT NULL PRIMARY KEY,
    key         TEXT    NOT NULL,
    name        TEXT,
    description TEXT,
    -- The keys of the role's permissions, a JSON array.
    permissions TEXT CHECK (permissions IS NULL OR json_valid(permissions)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    synced_at   INTEGER NOT NULL,
    sync_source TEXT    NOT NULL,
    raw         TEXT,
    deleted_at  INTEGER
);
CREATE UNIQUE INDEX organization_roles_key_idx ON organization_roles (key) WHERE deleted_at IS NULL;

CREATE TABLE organization_permissions (
    permission_id TEXT    NOT NULL PRIMARY KEY,
    key           TEXT    NOT NULL,
    name          TEXT,
    description   TEXT,
    -- system or user.
    type          TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    synced_at     INTEGER NOT NULL,
    sync_source   TEXT    NOT NULL,
    raw           TEXT,
    deleted_at    INTEGER
);
CREATE UNIQUE INDEX organization_permissions_key_idx ON organization_permissions (key) WHERE deleted_at IS NULL;

-- Tombstones of every kind of object, for ever. slot and created_at are what a
-- tombstone of a membership remembers of it (its organization and user, and Clerk's
-- created_at): an older membership of the same organization and user never comes back.
CREATE TABLE clerksync_tombstones_new (
    kind       TEXT    NOT NULL,
    object_id  TEXT    NOT NULL,
    deleted_at INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    -- The svix-id of the delivery that deleted it; NULL when the deletion was found
    -- through the Backend API.
    event_id   TEXT,
    slot       TEXT,
    created_at INTEGER,
    PRIMARY KEY (kind, object_id)
) WITHOUT ROWID;
INSERT INTO clerksync_tombstones_new (kind, object_id, deleted_at, source, event_id)
    SELECT 'user', user_id, deleted_at, source, event_id FROM clerksync_tombstones;
DROP TABLE clerksync_tombstones;
ALTER TABLE clerksync_tombstones_new RENAME TO clerksync_tombstones;
CREATE INDEX clerksync_tombstones_slot_idx ON clerksync_tombstones (kind, slot) WHERE slot IS NOT NULL;

-- The event log records the kind and id of the object each event is about. Like user_id,
-- object_id has no index: an index written by every delivery would cost each one a
-- page write, for the sake of an occasional listing (clerksync events list --object).
ALTER TABLE clerksync_events ADD COLUMN object_kind TEXT;
ALTER TABLE clerksync_events ADD COLUMN object_id TEXT;
UPDATE clerksync_events SET object_kind = 'user', object_id = user_id
    WHERE user_id IS NOT NULL AND type LIKE 'user.%';

-- The changes feed: one entry per real change to a synced table, recorded in the
-- transaction of the change. seq orders it: SQLite has one writer at a time, so
-- entries commit in seq order and a reader following seq never misses one. A new
-- entry's seq is one more than the largest, and pruning never deletes the newest
-- entry, so a seq is never given twice (AUTOINCREMENT would promise the same, for an
-- update of sqlite_sequence with every insert).
CREATE TABLE clerksync_changes (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    object_id   TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    event_id    TEXT,
    occurred_at INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    data        TEXT    NOT NULL,
    previous    TEXT
);

-- Where each forwarding endpoint is in the feed: every entry up to position has been
-- acknowledged.
CREATE TABLE clerksync_forward_positions (
    endpoint   TEXT    NOT NULL PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE clerksync_forward_positions;
DROP TABLE clerksync_changes;
ALTER TABLE clerksync_events DROP COLUMN object_id;
ALTER TABLE clerksync_events DROP COLUMN object_kind;
CREATE TABLE clerksync_tombstones_old (
    user_id    TEXT    NOT NULL PRIMARY KEY,
    deleted_at INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    event_id   TEXT
);
INSERT INTO clerksync_tombstones_old (user_id, deleted_at, source, event_id)
    SELECT object_id, deleted_at, source, event_id FROM clerksync_tombstones WHERE kind = 'user';
DROP TABLE clerksync_tombstones;
ALTER TABLE clerksync_tombstones_old RENAME TO clerksync_tombstones;
DROP TABLE organization_permissions;
DROP TABLE organization_roles;
DROP TABLE organization_invitations;
DROP TABLE organization_memberships;
DROP TABLE organizations;
ALTER TABLE profiles DROP COLUMN deleted_at;
