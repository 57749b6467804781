package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/clocktest"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

// Clock is a manual clock for stores and engines under test: it stands still until
// Advance or Set moves it. It is safe for concurrent use.
type Clock = clocktest.Clock

// Epoch is where NewClock(Epoch) starts the clocks of the suite: a whole millisecond,
// so that every store keeps it exactly.
var Epoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// NewClock returns a clock that reads t until moved.
func NewClock(t time.Time) *Clock { return clocktest.New(t) }

// NewProfile returns a realistic profile of userID at version updatedAt (ms): every
// column set, created at updatedAt (a user's first version; set CreatedAt for later
// ones), with a Raw user object of about 3 KB in Clerk's shape. The values depend only on userID and updatedAt, so two calls with
// the same arguments return equal profiles.
func NewProfile(userID string, updatedAt int64) *clerksync.Profile {
	handle := strings.ToLower(strings.TrimPrefix(userID, "user_"))
	p := &clerksync.Profile{
		UserID:         userID,
		Email:          fmt.Sprintf("%s.v%d@example.com", handle, updatedAt),
		EmailVerified:  true,
		Phone:          "+15555550100",
		Username:       "u" + handle,
		FirstName:      "Test",
		LastName:       fmt.Sprintf("User %d", updatedAt),
		ImageURL:       "https://img.clerk.com/" + handle,
		ExternalID:     "ext-" + handle,
		PublicMetadata: json.RawMessage(fmt.Sprintf(`{"plan":"pro","seats":%d,"tags":["a","b"]}`, updatedAt%97)),
		UnsafeMetadata: json.RawMessage(`{"theme":"dark"}`),
		CreatedAt:      updatedAt,
		UpdatedAt:      updatedAt,
		LastSignInAt:   updatedAt - 60_000,
		LastActiveAt:   updatedAt - 1_000,
		SyncSource:     clerksync.SourceWebhook,
	}
	p.Raw = RawUser(p)
	return p
}

// RawUser returns a Clerk user object for p, in the shape of Clerk's user.updated
// payload (without private_metadata).
func RawUser(p *clerksync.Profile) json.RawMessage {
	emailID := "idn_email_" + p.UserID
	phoneID := "idn_phone_" + p.UserID
	verification := map[string]any{"object": "verification_otp", "status": "verified", "strategy": "email_code", "attempts": 1, "expire_at": nil}
	user := map[string]any{
		"object":                   "user",
		"id":                       p.UserID,
		"external_id":              sqlschema.Text(p.ExternalID),
		"primary_email_address_id": emailID,
		"primary_phone_number_id":  phoneID,
		"primary_web3_wallet_id":   nil,
		"username":                 sqlschema.Text(p.Username),
		"first_name":               sqlschema.Text(p.FirstName),
		"last_name":                sqlschema.Text(p.LastName),
		"locale":                   "en-US",
		"image_url":                p.ImageURL,
		"has_image":                p.ImageURL != "",
		"public_metadata":          orEmptyObject(p.PublicMetadata),
		"unsafe_metadata":          orEmptyObject(p.UnsafeMetadata),
		"email_addresses": []any{
			map[string]any{
				"id": "idn_old_" + p.UserID, "object": "email_address", "email_address": "old." + p.Email,
				"reserved": false, "verification": verification, "linked_to": []any{},
				"created_at": p.CreatedAt, "updated_at": p.CreatedAt,
			},
			map[string]any{
				"id": emailID, "object": "email_address", "email_address": p.Email,
				"reserved": false, "verification": verification,
				"linked_to":  []any{map[string]any{"type": "oauth_google", "id": "idn_google_" + p.UserID}},
				"created_at": p.CreatedAt, "updated_at": p.UpdatedAt,
			},
		},
		"phone_numbers": []any{
			map[string]any{
				"id": phoneID, "object": "phone_number", "phone_number": p.Phone,
				"reserved_for_second_factor": false, "default_second_factor": false, "reserved": false,
				"verification": map[string]any{"status": "verified", "strategy": "phone_code", "attempts": 1, "expire_at": nil},
				"linked_to":    []any{}, "backup_codes": nil, "created_at": p.CreatedAt, "updated_at": p.CreatedAt,
			},
		},
		"web3_wallets": []any{},
		"passkeys":     []any{},
		"external_accounts": []any{
			map[string]any{
				"object": "google_account", "id": "idn_google_" + p.UserID, "provider": "oauth_google",
				"identification_id": emailID, "provider_user_id": "112233445566778899",
				"approved_scopes": "email openid profile", "email_address": p.Email,
				"first_name": p.FirstName, "last_name": p.LastName, "image_url": p.ImageURL,
				"username": nil, "public_metadata": map[string]any{}, "label": nil,
				"created_at": p.CreatedAt, "updated_at": p.UpdatedAt,
				"verification": map[string]any{"status": "verified", "strategy": "oauth_google", "attempts": nil, "expire_at": p.UpdatedAt + 600_000},
			},
		},
		"saml_accounts":                   []any{},
		"enterprise_accounts":             []any{},
		"password_enabled":                true,
		"two_factor_enabled":              false,
		"totp_enabled":                    false,
		"backup_code_enabled":             false,
		"mfa_enabled_at":                  nil,
		"mfa_disabled_at":                 nil,
		"banned":                          p.Banned,
		"locked":                          p.Locked,
		"lockout_expires_in_seconds":      nil,
		"verification_attempts_remaining": 100,
		"delete_self_enabled":             true,
		"create_organization_enabled":     true,
		"last_sign_in_at":                 sqlschema.Millis(p.LastSignInAt),
		"last_active_at":                  sqlschema.Millis(p.LastActiveAt),
		"legal_accepted_at":               nil,
		"created_at":                      p.CreatedAt,
		"updated_at":                      p.UpdatedAt,
	}
	b, err := json.Marshal(user)
	if err != nil {
		panic(fmt.Sprintf("storetest: marshal user: %v", err))
	}
	return b
}

func orEmptyObject(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage(`{}`)
	}
	return m
}

// Upsert returns the webhook change that delivers p as event eventID: a
// user.created when p was created at its updated_at, a user.updated otherwise, with the
// event's body in Svix's envelope.
func Upsert(eventID string, p *clerksync.Profile) clerksync.Change {
	typ := "user.updated"
	if p.CreatedAt == p.UpdatedAt {
		typ = "user.created"
	}
	c := clerksync.Change{
		Op:        clerksync.OpUpsert,
		Source:    clerksync.SourceWebhook,
		EventID:   eventID,
		EventType: typ,
		EventTime: p.UpdatedAt,
		Body:      envelope(typ, p.UpdatedAt, p.Raw),
		Kind:      clerksync.KindUser,
		ID:        p.UserID,
		UserID:    p.UserID,
		Object:    p,
	}
	return c
}

// APIUpsert returns the change that writes p as read from the Backend API with source:
// no event id, no body, nothing recorded in the event log.
func APIUpsert(source clerksync.Source, p *clerksync.Profile) clerksync.Change {
	q := *p
	return clerksync.UpsertUser(&q, source)
}

// Delete returns the user.deleted webhook change for userID delivered as eventID at
// eventTime (ms).
func Delete(eventID, userID string, eventTime int64) clerksync.Change {
	data := fmt.Sprintf(`{"object":"user","id":%q,"deleted":true,"external_id":null}`, userID)
	return clerksync.Change{
		Op:        clerksync.OpDelete,
		Source:    clerksync.SourceWebhook,
		EventID:   eventID,
		EventType: "user.deleted",
		EventTime: eventTime,
		Body:      envelope("user.deleted", eventTime, json.RawMessage(data)),
		Kind:      clerksync.KindUser,
		ID:        userID,
		UserID:    userID,
	}
}

// Ignore returns an event of eventType that clerksync does not sync, delivered as
// eventID, such as a session.created.
func Ignore(eventID, eventType string, eventTime int64) clerksync.Change {
	return clerksync.Change{
		Op:        clerksync.OpIgnore,
		Source:    clerksync.SourceWebhook,
		EventID:   eventID,
		EventType: eventType,
		EventTime: eventTime,
		Body:      envelope(eventType, eventTime, json.RawMessage(`{"object":"session","id":"sess_123","status":"active"}`)),
	}
}

// DeadLetter returns an authentic event that could not be used: its body is kept as
// given and reason says why. userID may be empty when the body names no user.
func DeadLetter(eventID, eventType, userID string, body []byte, reason string) clerksync.Change {
	c := clerksync.Change{
		Op:        clerksync.OpDeadLetter,
		Source:    clerksync.SourceWebhook,
		EventID:   eventID,
		EventType: eventType,
		Body:      body,
		Error:     reason,
		UserID:    userID,
	}
	if userID != "" {
		c.Kind, c.ID = clerksync.KindUser, userID
	}
	return c
}

func envelope(typ string, ts int64, data json.RawMessage) []byte {
	b, err := json.Marshal(map[string]any{
		"object":      "event",
		"type":        typ,
		"instance_id": "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		"timestamp":   ts,
		"data":        data,
	})
	if err != nil {
		panic(fmt.Sprintf("storetest: marshal envelope: %v", err))
	}
	return b
}

// jsonValue compares JSON documents by meaning: key order and spacing do not matter,
// and an absent document equals JSON null.
var jsonValue = cmp.Transformer("JSON", func(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(m, &v); err != nil {
		return fmt.Sprintf("invalid JSON %q", m)
	}
	return v
})

// ProfileDiff returns the differences between two profiles in the columns that come
// from Clerk, "" when they are equal. JSON columns are compared by meaning; SyncedAt and
// SyncSource, which say how the row was written, are not compared.
func ProfileDiff(want, got *clerksync.Profile) string {
	return cmp.Diff(want, got, jsonValue, cmpopts.IgnoreFields(clerksync.Profile{}, "SyncedAt", "SyncSource"))
}

// FullProfileDiff is ProfileDiff including SyncedAt and SyncSource.
func FullProfileDiff(want, got *clerksync.Profile) string {
	return cmp.Diff(want, got, jsonValue)
}
