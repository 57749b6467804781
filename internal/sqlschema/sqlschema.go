// Package sqlschema holds what clerksync's two SQL stores (sqlite, postgres) share
// beyond the domain: the column lists of the tables both create, and the NULL
// conventions of the values they bind. The stores differ in their SQL dialects and
// drivers; keeping the names in one place keeps their tables in step.
package sqlschema

import (
	"strings"

	"github.com/clerksync/clerksync"
)

// ProfileColumns are the columns of profiles, in the order the stores write and scan
// them.
var ProfileColumns = []string{
	"user_id", "email", "email_verified", "phone", "username", "first_name", "last_name",
	"image_url", "external_id", "public_metadata", "unsafe_metadata", "private_metadata",
	"banned", "locked", "created_at", "updated_at", "last_sign_in_at", "last_active_at",
	"synced_at", "sync_source", "raw",
}

// EventColumns are the columns of clerksync_events that listings read (the body is
// read only for one entry).
const EventColumns = `svix_id, type, object_kind, object_id, user_id, outcome, action, error, event_time, received_at, redacted, attempts`

// RunColumns are the columns of clerksync_sync_runs, in the order the stores scan them.
const RunColumns = `id, kind, status, started_at, updated_at, finished_at,
    seen, created, updated, unchanged, deleted, stale, skipped, invalid, error`

// ProfileUpsertSet is the SET list of the profiles upsert's DO UPDATE: every column but
// the key takes the value of the row that conflicted.
var ProfileUpsertSet = func() string {
	set := make([]string, 0, len(ProfileColumns)-1)
	for _, c := range ProfileColumns[1:] {
		set = append(set, c+" = excluded."+c)
	}
	return strings.Join(set, ",\n    ")
}()

// EventReplaySet is the SET list of the event log insert's DO UPDATE, which only a
// replay reaches: the entry takes the replay's outcome and counts the attempt, and the
// replay may know more than the first attempt did (the user of a body that could not be
// decoded before), so the descriptive columns are refreshed too. table is the name (or
// alias) the statement gives clerksync_events.
func EventReplaySet(table string) string {
	return strings.NewReplacer("$t", table).Replace(`type = excluded.type,
    object_kind = coalesce(excluded.object_kind, $t.object_kind),
    object_id = coalesce(excluded.object_id, $t.object_id),
    user_id = coalesce(excluded.user_id, $t.user_id),
    outcome = excluded.outcome,
    action = excluded.action,
    error = excluded.error,
    event_time = coalesce(excluded.event_time, $t.event_time),
    body = excluded.body,
    redacted = excluded.redacted,
    attempts = $t.attempts + 1`)
}

// Text returns s for binding, or nil (NULL) for "": clerksync.Text, the convention of
// the rows of the domain's tables.
func Text(s string) any { return clerksync.Text(s) }

// Millis returns ms for binding, or nil (NULL) for 0, Clerk's "never": clerksync.Millis.
func Millis(ms int64) any { return clerksync.Millis(ms) }
