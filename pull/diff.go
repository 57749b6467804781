package pull

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/clerksync/clerksync"
)

// FieldChange is one column of a profile that a sync changed.
type FieldChange struct {
	// Column is the column's name in the profiles table, such as first_name.
	Column string
	// Before and After are the values as text: "" for none, true/false, timestamps
	// in RFC 3339 (UTC, milliseconds), JSON compacted.
	Before, After string
}

// Diff returns the columns of the profiles table that differ between before and
// after, in the table's order; nil stands for no row. The bookkeeping columns
// (synced_at, sync_source) and the raw user object are left out: they change with
// every write.
func Diff(before, after *clerksync.Profile) []FieldChange {
	b, a := columns(before), columns(after)
	var out []FieldChange
	for i := range b {
		if b[i].value != a[i].value {
			out = append(out, FieldChange{Column: b[i].name, Before: b[i].value, After: a[i].value})
		}
	}
	return out
}

type column struct{ name, value string }

// columns returns p's Clerk columns as text, all empty for nil.
func columns(p *clerksync.Profile) []column {
	if p == nil {
		p = &clerksync.Profile{}
	}
	return []column{
		{"email", p.Email},
		{"email_verified", boolText(p.UserID != "", p.EmailVerified)},
		{"phone", p.Phone},
		{"username", p.Username},
		{"first_name", p.FirstName},
		{"last_name", p.LastName},
		{"image_url", p.ImageURL},
		{"external_id", p.ExternalID},
		{"public_metadata", jsonText(p.PublicMetadata)},
		{"unsafe_metadata", jsonText(p.UnsafeMetadata)},
		{"private_metadata", jsonText(p.PrivateMetadata)},
		{"banned", boolText(p.UserID != "", p.Banned)},
		{"locked", boolText(p.UserID != "", p.Locked)},
		{"created_at", msText(p.CreatedAt)},
		{"updated_at", msText(p.UpdatedAt)},
		{"last_sign_in_at", msText(p.LastSignInAt)},
		{"last_active_at", msText(p.LastActiveAt)},
	}
}

// boolText returns v as text, or "" when the row does not exist.
func boolText(exists, v bool) string {
	if !exists {
		return ""
	}
	return strconv.FormatBool(v)
}

func msText(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// jsonText returns m compacted, so that the two databases' spellings of one document
// compare equal where they can (PostgreSQL's jsonb also reorders keys).
func jsonText(m json.RawMessage) string {
	if len(m) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, m) != nil {
		return string(m)
	}
	return buf.String()
}
