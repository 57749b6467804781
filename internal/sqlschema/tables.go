package sqlschema

import (
	"strings"

	"github.com/clerksync/clerksync"
)

// Columns returns the names of t's Columns, comma-separated, each prefixed with
// prefix (such as "t.").
func Columns(t *clerksync.Table, prefix string) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = prefix + c.Name
	}
	return strings.Join(names, ", ")
}

// UpsertSet is the SET list of an upsert's DO UPDATE that writes every column but the
// key, and raw, from the conflicting row, and revives a soft-deleted row.
func UpsertSet(t *clerksync.Table) string {
	set := make([]string, 0, len(t.Columns)+1)
	for _, c := range t.Columns[1:] {
		set = append(set, c.Name+" = excluded."+c.Name)
	}
	set = append(set, "raw = excluded.raw", "deleted_at = NULL")
	return strings.Join(set, ", ")
}

// SoftDeleteSet is the SET list that soft-deletes a row: deleted_at is the first
// parameter's placeholder ph, the personal columns and raw are cleared.
func SoftDeleteSet(t *clerksync.Table, ph string) string {
	set := []string{"deleted_at = " + ph}
	for _, c := range t.Columns {
		if c.Personal {
			set = append(set, c.Name+" = NULL")
		}
	}
	set = append(set, "raw = NULL")
	return strings.Join(set, ", ")
}

// ParentColumns returns the columns that name the parents of t's rows: the
// organization, and for memberships the user. Children of a deleted parent are found
// by them.
func ParentColumns(t *clerksync.Table, parent clerksync.Kind) []string {
	switch {
	case t.Kind == clerksync.KindMembership && parent == clerksync.KindUser:
		return []string{"user_id"}
	case t.Parent != "" && t.ParentKind == parent:
		return []string{t.Parent}
	}
	return nil
}

// EventInsertColumns are the columns an event log entry is recorded with, in the
// order the stores bind them.
const EventInsertColumns = `svix_id, type, object_kind, object_id, user_id, outcome, action, error, event_time, received_at, body, redacted`
