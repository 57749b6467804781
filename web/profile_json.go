package web

import (
	"bytes"
	"encoding/json"
	"reflect"
	"time"

	"github.com/clerksync/clerksync"
)

// profileJSON is a profile row as the API answers it: what the person may see about
// themselves. Private metadata and the raw user object are never included. Clerk's
// timestamps are milliseconds, as in Clerk's own API; empty values are null, and so is
// an image URL that is not http(s), as on the page: an application that puts it in
// an <img> or a link must not get a javascript: or data: URL from it.
type profileJSON struct {
	UserID         string          `json:"user_id"`
	Name           *string         `json:"name"`
	FirstName      *string         `json:"first_name"`
	LastName       *string         `json:"last_name"`
	Email          *string         `json:"email"`
	EmailVerified  bool            `json:"email_verified"`
	Phone          *string         `json:"phone"`
	Username       *string         `json:"username"`
	ImageURL       *string         `json:"image_url"`
	ExternalID     *string         `json:"external_id"`
	PublicMetadata json.RawMessage `json:"public_metadata"`
	UnsafeMetadata json.RawMessage `json:"unsafe_metadata"`
	Banned         bool            `json:"banned"`
	Locked         bool            `json:"locked"`
	CreatedAt      *int64          `json:"created_at"`
	UpdatedAt      *int64          `json:"updated_at"`
	LastSignInAt   *int64          `json:"last_sign_in_at"`
	SyncedAt       time.Time       `json:"synced_at"`
	SyncSource     string          `json:"sync_source"`
	// Organizations are the user's memberships with their organizations (see
	// profile_orgs.go); set by the handler, which reads them.
	Organizations []organizationJSON `json:"organizations"`
}

func newProfileJSON(p *clerksync.Profile) *profileJSON {
	if p == nil {
		return nil
	}
	return &profileJSON{
		UserID:         p.UserID,
		Name:           nullString(p.Name()),
		FirstName:      nullString(p.FirstName),
		LastName:       nullString(p.LastName),
		Email:          nullString(p.Email),
		EmailVerified:  p.EmailVerified,
		Phone:          nullString(p.Phone),
		Username:       nullString(p.Username),
		ImageURL:       nullString(safeImageURL(p.ImageURL)),
		ExternalID:     nullString(p.ExternalID),
		PublicMetadata: jsonObject(p.PublicMetadata),
		UnsafeMetadata: jsonObject(p.UnsafeMetadata),
		Banned:         p.Banned,
		Locked:         p.Locked,
		CreatedAt:      nullMillis(p.CreatedAt),
		UpdatedAt:      nullMillis(p.UpdatedAt),
		LastSignInAt:   nullMillis(p.LastSignInAt),
		SyncedAt:       p.SyncedAt.UTC(),
		SyncSource:     string(p.SyncSource),
	}
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullMillis(ms int64) *int64 {
	if ms == 0 {
		return nil
	}
	return &ms
}

// jsonObject returns m, or {} when it is empty or not valid JSON.
func jsonObject(m json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(m)) == 0 || !json.Valid(m) {
		return json.RawMessage(`{}`)
	}
	return m
}

// change is one field a sync changed.
type change struct {
	Field  string          `json:"field"`
	Label  string          `json:"label"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// profileField is a field of the profile that a person would notice changing.
type profileField struct {
	key, label string
	get        func(*clerksync.Profile) any
}

// diffFields are compared after a sync, in the order the page shows them.
var diffFields = []profileField{
	{"first_name", "First name", func(p *clerksync.Profile) any { return nullString(p.FirstName) }},
	{"last_name", "Last name", func(p *clerksync.Profile) any { return nullString(p.LastName) }},
	{"email", "Email", func(p *clerksync.Profile) any { return nullString(p.Email) }},
	{"email_verified", "Email verified", func(p *clerksync.Profile) any { return p.EmailVerified }},
	{"username", "Username", func(p *clerksync.Profile) any { return nullString(p.Username) }},
	{"phone", "Phone", func(p *clerksync.Profile) any { return nullString(p.Phone) }},
	{"image_url", "Avatar", func(p *clerksync.Profile) any { return nullString(safeImageURL(p.ImageURL)) }},
	{"external_id", "External ID", func(p *clerksync.Profile) any { return nullString(p.ExternalID) }},
	{"public_metadata", "Public metadata", func(p *clerksync.Profile) any { return jsonObject(p.PublicMetadata) }},
	{"unsafe_metadata", "Unsafe metadata", func(p *clerksync.Profile) any { return jsonObject(p.UnsafeMetadata) }},
	{"banned", "Banned", func(p *clerksync.Profile) any { return p.Banned }},
	{"locked", "Locked", func(p *clerksync.Profile) any { return p.Locked }},
}

// diffProfiles lists the fields that differ between before and after, with both
// values. A first sync (no before) or a removal (no after) lists nothing: the status
// says what happened.
func diffProfiles(before, after *clerksync.Profile) []change {
	changes := []change{}
	if before == nil || after == nil {
		return changes
	}
	for _, f := range diffFields {
		b, err1 := json.Marshal(f.get(before))
		a, err2 := json.Marshal(f.get(after))
		if err1 != nil || err2 != nil || sameJSON(a, b) {
			continue
		}
		changes = append(changes, change{Field: f.key, Label: f.label, Before: b, After: a})
	}
	return changes
}

// sameJSON reports whether a and b are the same JSON value, whatever the key order
// and spacing (PostgreSQL's jsonb reorders keys).
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
