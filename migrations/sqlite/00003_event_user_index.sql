-- The event log is found by user only to redact the bodies of a deleted user's
-- deliveries. Only deliveries that keep a body need finding: by default that is dead
-- letters alone (serve --event-bodies), so a partial index stays small and an ordinary
-- delivery does not write to it.

-- +goose Up
DROP INDEX clerksync_events_user_id_idx;
CREATE INDEX clerksync_events_user_body_idx ON clerksync_events (user_id) WHERE body IS NOT NULL;

-- +goose Down
DROP INDEX clerksync_events_user_body_idx;
CREATE INDEX clerksync_events_user_id_idx ON clerksync_events (user_id);
