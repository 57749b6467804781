-- Organizations, their memberships, invitations, roles and permissions; tombstones and
-- the event log for every kind of object; the changes feed.
--
-- The organization tables follow profiles: Clerk's timestamps are timestamptz, JSON is
-- jsonb, raw is the object as Clerk sent it. Every synced table gains deleted_at, set
-- instead of removing the row under the soft-delete policy (serve --on-delete soft).
-- A membership or invitation goes with its organization (ON DELETE CASCADE);
-- clerksync removes them itself too, so that the changes feed tells of each, and so
-- that the soft-delete policy, which removes nothing, holds them the same.

-- +goose Up
ALTER TABLE profiles ADD COLUMN deleted_at timestamptz;

CREATE TABLE organizations (
    org_id                  text        NOT NULL PRIMARY KEY,
    name                    text,
    slug                    text,
    image_url               text,
    created_by              text,
    max_allowed_memberships bigint,
    public_metadata         jsonb,
    -- NULL unless the operator opted in to keeping private metadata.
    private_metadata        jsonb,
    -- NULL for a placeholder: an organization known only by its id, because an
    -- invitation named it before its organization.created arrived.
    created_at              timestamptz,
    updated_at              timestamptz,
    synced_at               timestamptz NOT NULL,
    sync_source             text        NOT NULL,
    raw                     jsonb,
    deleted_at              timestamptz
);
CREATE INDEX organizations_slug_idx ON organizations (slug);

CREATE TABLE organization_memberships (
    membership_id    text        NOT NULL PRIMARY KEY,
    org_id           text        NOT NULL REFERENCES organizations (org_id) ON DELETE CASCADE,
    -- No foreign key to profiles: a membership can arrive before its user.
    user_id          text        NOT NULL,
    -- The role's key, such as org:admin, and its name.
    role             text,
    role_name        text,
    -- The keys of the permissions the role grants, a JSON array.
    permissions      jsonb,
    public_metadata  jsonb,
    private_metadata jsonb,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    synced_at        timestamptz NOT NULL,
    sync_source      text        NOT NULL,
    raw              jsonb,
    deleted_at       timestamptz
);
-- One live membership per organization and user.
CREATE UNIQUE INDEX organization_memberships_org_user_idx
    ON organization_memberships (org_id, user_id) WHERE deleted_at IS NULL;
CREATE INDEX organization_memberships_user_idx ON organization_memberships (user_id);

CREATE TABLE organization_invitations (
    invitation_id    text        NOT NULL PRIMARY KEY,
    org_id           text        NOT NULL REFERENCES organizations (org_id) ON DELETE CASCADE,
    email            text,
    role             text,
    role_name        text,
    -- pending, accepted, revoked or expired.
    status           text,
    -- The user who accepted the invitation.
    user_id          text,
    public_metadata  jsonb,
    private_metadata jsonb,
    expires_at       timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    synced_at        timestamptz NOT NULL,
    sync_source      text        NOT NULL,
    raw              jsonb,
    deleted_at       timestamptz
);
CREATE INDEX organization_invitations_org_idx ON organization_invitations (org_id);
CREATE INDEX organization_invitations_email_idx ON organization_invitations (email);
CREATE INDEX organization_invitations_user_idx ON organization_invitations (user_id);

CREATE TABLE organization_roles (
    role_id     text        NOT NULL PRIMARY KEY,
    key         text        NOT NULL,
    name        text,
    description text,
    -- The keys of the role's permissions, a JSON array.
    permissions jsonb,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    synced_at   timestamptz NOT NULL,
    sync_source text        NOT NULL,
    raw         jsonb,
    deleted_at  timestamptz
);
CREATE UNIQUE INDEX organization_roles_key_idx ON organization_roles (key) WHERE deleted_at IS NULL;

CREATE TABLE organization_permissions (
    permission_id text        NOT NULL PRIMARY KEY,
    key           text        NOT NULL,
    name          text,
    description   text,
    -- system or user.
    type          text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    synced_at     timestamptz NOT NULL,
    sync_source   text        NOT NULL,
    raw           jsonb,
    deleted_at    timestamptz
);
CREATE UNIQUE INDEX organization_permissions_key_idx ON organization_permissions (key) WHERE deleted_at IS NULL;

-- Tombstones of every kind of object, for ever. slot and created_at are what a
-- tombstone of a membership remembers of it (its organization and user, and Clerk's
-- created_at, ms): an older membership of the same organization and user never comes
-- back.
ALTER TABLE clerksync_tombstones RENAME COLUMN user_id TO object_id;
ALTER TABLE clerksync_tombstones ADD COLUMN kind text NOT NULL DEFAULT 'user';
ALTER TABLE clerksync_tombstones ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE clerksync_tombstones ADD COLUMN slot text;
ALTER TABLE clerksync_tombstones ADD COLUMN created_at bigint;
ALTER TABLE clerksync_tombstones DROP CONSTRAINT clerksync_tombstones_pkey;
ALTER TABLE clerksync_tombstones ADD PRIMARY KEY (kind, object_id);
CREATE INDEX clerksync_tombstones_slot_idx ON clerksync_tombstones (kind, slot) WHERE slot IS NOT NULL;

-- The event log records the kind and id of the object each event is about.
ALTER TABLE clerksync_events ADD COLUMN object_kind text;
ALTER TABLE clerksync_events ADD COLUMN object_id text;
UPDATE clerksync_events SET object_kind = 'user', object_id = user_id
    WHERE user_id IS NOT NULL AND type LIKE 'user.%';
CREATE INDEX clerksync_events_object_idx ON clerksync_events (object_id) WHERE object_id IS NOT NULL;

-- The changes feed: one entry per real change to a synced table, recorded in the
-- transaction of the change.
--
-- seq must never let a reader skip an entry: with several writers, an entry with a
-- later seq must never become visible before one with an earlier seq. So seq does not
-- come from a sequence (whose values commit in any order) but from the one row of
-- clerksync_changes_seq, which each transaction takes last, just before its commit:
-- the row lock is held until the commit, so the transactions that record entries
-- commit one after the other, in seq order. Transactions that record nothing (stale,
-- duplicate and unchanged deliveries) never take it.
CREATE TABLE clerksync_changes_seq (
    one      boolean NOT NULL PRIMARY KEY DEFAULT true CHECK (one),
    last_seq bigint  NOT NULL
);
INSERT INTO clerksync_changes_seq (last_seq) VALUES (0);

CREATE TABLE clerksync_changes (
    seq         bigint      NOT NULL PRIMARY KEY,
    id          text        NOT NULL UNIQUE,
    type        text        NOT NULL,
    object_id   text        NOT NULL,
    source      text        NOT NULL,
    event_id    text,
    -- Clerk's updated_at of the object (a deletion: when it was told of), ms.
    occurred_at bigint      NOT NULL,
    created_at  timestamptz NOT NULL,
    data        jsonb       NOT NULL,
    previous    jsonb
);
CREATE INDEX clerksync_changes_created_at_idx ON clerksync_changes (created_at);

-- Where each forwarding endpoint is in the feed: every entry up to position has been
-- acknowledged.
CREATE TABLE clerksync_forward_positions (
    endpoint   text        NOT NULL PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE clerksync_forward_positions;
DROP TABLE clerksync_changes;
DROP TABLE clerksync_changes_seq;
DROP INDEX clerksync_events_object_idx;
ALTER TABLE clerksync_events DROP COLUMN object_id;
ALTER TABLE clerksync_events DROP COLUMN object_kind;
DELETE FROM clerksync_tombstones WHERE kind <> 'user';
ALTER TABLE clerksync_tombstones DROP CONSTRAINT clerksync_tombstones_pkey;
ALTER TABLE clerksync_tombstones DROP COLUMN created_at;
ALTER TABLE clerksync_tombstones DROP COLUMN slot;
ALTER TABLE clerksync_tombstones DROP COLUMN kind;
ALTER TABLE clerksync_tombstones RENAME COLUMN object_id TO user_id;
ALTER TABLE clerksync_tombstones ADD PRIMARY KEY (user_id);
DROP TABLE organization_permissions;
DROP TABLE organization_roles;
DROP TABLE organization_invitations;
DROP TABLE organization_memberships;
DROP TABLE organizations;
ALTER TABLE profiles DROP COLUMN deleted_at;
