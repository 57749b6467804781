package clerkfake_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync/clerkfake"
)

var (
	userIDPattern = regexp.MustCompile(`^user_[0-9A-Za-z]{27}$`)
	idnPattern    = regexp.MustCompile(`^idn_[0-9A-Za-z]{27}$`)
)

// readFixture returns testdata/clerk/name decoded into a map.
func readFixture(tb testing.TB, name string) map[string]any {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "clerk", name))
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("decode %s: %v", name, err)
	}
	return m
}

// toMap marshals v and decodes it into a map, as a consumer of the JSON sees it.
func toMap(tb testing.TB, v any) map[string]any {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// missingKeys returns the keys of want that got lacks, sorted.
func missingKeys(got, want map[string]any) []string {
	var missing []string
	for k := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	return missing
}

func TestNewUserHasClerkShape(t *testing.T) {
	t.Parallel()

	fixture := readFixture(t, "user.updated.json")["data"].(map[string]any)
	got := toMap(t, clerkfake.NewUser(clerkfake.UserParams{Seed: 1, Rich: true}))

	if missing := missingKeys(got, fixture); len(missing) > 0 {
		t.Fatalf("user lacks fields Clerk sends: %v", missing)
	}
	// The fields the Backend API specification marks as required, beyond those in
	// the fixture, and the deprecated image field Clerk still sends.
	for _, k := range []string{"profile_image_url", "passkeys", "enterprise_accounts", "lockout_expires_in_seconds"} {
		if _, ok := got[k]; !ok {
			t.Fatalf("user lacks %q", k)
		}
	}
	for _, list := range []string{"email_addresses", "phone_numbers", "external_accounts"} {
		gotItem := got[list].([]any)[0].(map[string]any)
		wantItem := fixture[list].([]any)[0].(map[string]any)
		if missing := missingKeys(gotItem, wantItem); len(missing) > 0 {
			t.Fatalf("%s entries lack fields Clerk sends: %v", list, missing)
		}
	}
	if got, want := got["object"], "user"; got != want {
		t.Fatalf("object = %v, want %v", got, want)
	}
	for _, k := range []string{"created_at", "updated_at", "last_sign_in_at", "last_active_at"} {
		// Milliseconds since the epoch are 13 digits until the year 2286.
		if ms := got[k].(float64); ms < 1e12 || ms >= 1e13 {
			t.Fatalf("%s = %v, want milliseconds", k, ms)
		}
	}
}

func TestNewUserDecodesWithClerkSDK(t *testing.T) {
	t.Parallel()

	u := clerkfake.NewUser(clerkfake.UserParams{Seed: 2, Rich: true, PublicMetadata: json.RawMessage(`{"plan":"pro"}`)})
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	var sdk clerk.User
	if err := json.Unmarshal(b, &sdk); err != nil {
		t.Fatalf("decode with clerk-sdk-go: %v", err)
	}
	if got, want := sdk.ID, u.ID; got != want {
		t.Fatalf("ID = %q, want %q", got, want)
	}
	if got, want := *sdk.PrimaryEmailAddressID, *u.PrimaryEmailAddressID; got != want {
		t.Fatalf("PrimaryEmailAddressID = %q, want %q", got, want)
	}
	if got, want := len(sdk.EmailAddresses), 2; got != want {
		t.Fatalf("len(EmailAddresses) = %d, want %d", got, want)
	}
	if got, want := string(sdk.PublicMetadata), `{"plan":"pro"}`; got != want {
		t.Fatalf("PublicMetadata = %s, want %s", got, want)
	}
	if got, want := sdk.UpdatedAt, u.UpdatedAt; got != want {
		t.Fatalf("UpdatedAt = %d, want %d", got, want)
	}
}

func TestNewUserUsesParams(t *testing.T) {
	t.Parallel()

	created := time.Date(2025, 3, 4, 5, 6, 7, 8_000_000, time.UTC)
	updated := created.Add(time.Hour)
	p := clerkfake.UserParams{
		ID:             "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		FirstName:      "Ada",
		LastName:       "Lovelace",
		Username:       "ada",
		Email:          "ada@example.com",
		Phone:          "+12125550142",
		ExternalID:     "ext-42",
		Locale:         "en-GB",
		ExtraEmails:    []string{"old.ada@example.org"},
		PublicMetadata: json.RawMessage(`{"role":"admin"}`),
		UnsafeMetadata: json.RawMessage(`{"theme":"dark"}`),
		Banned:         true,
		CreatedAt:      created,
		UpdatedAt:      updated,
	}
	u := clerkfake.NewUser(p)

	primary := primaryEmail(t, u)
	got := map[string]any{
		"id": u.ID, "first_name": *u.FirstName, "last_name": *u.LastName, "username": *u.Username,
		"email": primary.EmailAddress, "email_status": primary.Verification.Status,
		"phone": u.PhoneNumbers[0].PhoneNumber, "primary_phone": *u.PrimaryPhoneNumberID == u.PhoneNumbers[0].ID,
		"external_id": *u.ExternalID, "locale": *u.Locale, "emails": len(u.EmailAddresses),
		"public": string(u.PublicMetadata), "private": string(u.PrivateMetadata), "unsafe": string(u.UnsafeMetadata),
		"banned": u.Banned, "created_at": u.CreatedAt, "updated_at": u.UpdatedAt,
	}
	want := map[string]any{
		"id": p.ID, "first_name": "Ada", "last_name": "Lovelace", "username": "ada",
		"email": "ada@example.com", "email_status": "verified",
		"phone": "+12125550142", "primary_phone": true,
		"external_id": "ext-42", "locale": "en-GB", "emails": 2,
		"public": `{"role":"admin"}`, "private": `{}`, "unsafe": `{"theme":"dark"}`,
		"banned": true, "created_at": created.UnixMilli(), "updated_at": updated.UnixMilli(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("user (-want +got):\n%s", diff)
	}
}

func TestNewUserGeneratesMissingParts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		Name   string
		Params clerkfake.UserParams
		Emails int
		Phones int
		OAuth  int
	}{
		{Name: "Plain", Params: clerkfake.UserParams{}, Emails: 1},
		{Name: "Rich", Params: clerkfake.UserParams{Rich: true}, Emails: 2, Phones: 1, OAuth: 1},
		{Name: "OAuth", Params: clerkfake.UserParams{OAuthProvider: "github"}, Emails: 1, OAuth: 1},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			u := clerkfake.NewUser(tt.Params)
			if !userIDPattern.MatchString(u.ID) {
				t.Fatalf("id %q is not of Clerk's form", u.ID)
			}
			if u.FirstName == nil || *u.FirstName == "" || u.LastName == nil || *u.LastName == "" {
				t.Fatalf("names not generated: %v %v", u.FirstName, u.LastName)
			}
			if got, want := len(u.EmailAddresses), tt.Emails; got != want {
				t.Fatalf("len(EmailAddresses) = %d, want %d", got, want)
			}
			if got, want := len(u.PhoneNumbers), tt.Phones; got != want {
				t.Fatalf("len(PhoneNumbers) = %d, want %d", got, want)
			}
			if got, want := len(u.ExternalAccounts), tt.OAuth; got != want {
				t.Fatalf("len(ExternalAccounts) = %d, want %d", got, want)
			}
			for _, e := range u.EmailAddresses {
				if !idnPattern.MatchString(e.ID) {
					t.Fatalf("email id %q is not of Clerk's form", e.ID)
				}
			}
			primary := primaryEmail(t, u)
			if got, want := primary.Verification.Status, "verified"; got != want {
				t.Fatalf("primary email status = %q, want %q", got, want)
			}
			if tt.OAuth > 0 {
				acct := u.ExternalAccounts[0]
				if got, want := acct.IdentificationID, primary.ID; got != want {
					t.Fatalf("external account identifies %q, want the primary email %q", got, want)
				}
				if got, want := primary.LinkedTo, []clerkfake.IdentificationLink{{Type: acct.Provider, ID: acct.ID}}; !cmp.Equal(got, want) {
					t.Fatalf("primary email linked_to = %v, want %v", got, want)
				}
			}
		})
	}
}

func TestNewUserSeedIsDeterministic(t *testing.T) {
	t.Parallel()

	a, err := json.Marshal(clerkfake.NewUser(clerkfake.UserParams{Seed: 42, Rich: true}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(clerkfake.NewUser(clerkfake.UserParams{Seed: 42, Rich: true}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(a), string(b)); diff != "" {
		t.Fatalf("same seed, different users (-first +second):\n%s", diff)
	}
	c, err := json.Marshal(clerkfake.NewUser(clerkfake.UserParams{Seed: 43, Rich: true}))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) == string(c) {
		t.Fatal("seeds 42 and 43 gave the same user")
	}
}

func TestNewUserIDsFollowCreationTime(t *testing.T) {
	t.Parallel()

	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	older := clerkfake.NewUser(clerkfake.UserParams{CreatedAt: at})
	newer := clerkfake.NewUser(clerkfake.UserParams{CreatedAt: at.Add(2 * time.Second)})
	if older.ID >= newer.ID {
		t.Fatalf("id of the older user %q does not sort before %q", older.ID, newer.ID)
	}
}

func TestNewUserID(t *testing.T) {
	t.Parallel()

	a, b := clerkfake.NewUserID(), clerkfake.NewUserID()
	if !userIDPattern.MatchString(a) {
		t.Fatalf("NewUserID() = %q, not of Clerk's form", a)
	}
	if a == b {
		t.Fatalf("NewUserID() returned %q twice", a)
	}
}

func TestWebhookEvent(t *testing.T) {
	t.Parallel()

	at := time.UnixMilli(1716883500123)
	u := clerkfake.NewUser(clerkfake.UserParams{Seed: 3, Rich: true, ExternalID: "ext-7"})

	t.Run("Updated", func(t *testing.T) {
		t.Parallel()
		body := clerkfake.WebhookEvent(clerkfake.EventUserUpdated, u, at)
		got := toMap(t, json.RawMessage(body))
		if missing := missingKeys(got, readFixture(t, "user.updated.json")); len(missing) > 0 {
			t.Fatalf("envelope lacks %v", missing)
		}
		if got, want := got["type"], "user.updated"; got != want {
			t.Fatalf("type = %v, want %v", got, want)
		}
		if got, want := got["timestamp"], float64(1716883500123); got != want {
			t.Fatalf("timestamp = %v, want %v", got, want)
		}
		if diff := cmp.Diff(toMap(t, u), got["data"]); diff != "" {
			t.Fatalf("data is not the user (-want +got):\n%s", diff)
		}
		// A typical user.updated is about 3 KB: load benchmarks rely on it.
		if n := len(body); n < 2500 || n > 4500 {
			t.Fatalf("a rich user.updated is %d bytes, want about 3 KB", n)
		}
	})
	t.Run("Deleted", func(t *testing.T) {
		t.Parallel()
		got := toMap(t, json.RawMessage(clerkfake.WebhookEvent(clerkfake.EventUserDeleted, u, at)))
		want := map[string]any{"object": "user", "id": u.ID, "deleted": true, "external_id": "ext-7"}
		if diff := cmp.Diff(want, got["data"]); diff != "" {
			t.Fatalf("data (-want +got):\n%s", diff)
		}
		if missing := missingKeys(got["data"].(map[string]any), readFixture(t, "user.deleted.json")["data"].(map[string]any)); len(missing) > 0 {
			t.Fatalf("deleted object lacks %v", missing)
		}
	})
	t.Run("InvalidMetadata", func(t *testing.T) {
		t.Parallel()
		bad := *u
		bad.PublicMetadata = json.RawMessage(`{"unterminated`)
		if _, err := clerkfake.MarshalWebhookEvent(clerkfake.EventUserUpdated, &bad, at); err == nil {
			t.Fatal("MarshalWebhookEvent accepted invalid metadata")
		}
	})
}

// primaryEmail returns the email address of u whose id is primary_email_address_id.
func primaryEmail(tb testing.TB, u *clerkfake.User) clerkfake.EmailAddress {
	tb.Helper()
	for _, e := range u.EmailAddresses {
		if u.PrimaryEmailAddressID != nil && e.ID == *u.PrimaryEmailAddressID {
			return e
		}
	}
	tb.Fatalf("user %s has no primary email address", u.ID)
	return clerkfake.EmailAddress{}
}
