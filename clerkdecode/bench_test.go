package clerkdecode_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

// userUpdatedBody returns the user.updated fixture as Clerk sends it: compact JSON,
// about 3 KB, with two email addresses, a phone, an OAuth account and
// private_metadata: null (which is cut out).
func userUpdatedBody(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, readFile(tb, "clerk/user.updated.json")); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// dataFirst returns body with its members in sorted order, which puts data before
// type, as in Clerk's deliveries and the published examples (the fixture has type
// first).
func dataFirst(tb testing.TB, body []byte) []byte {
	tb.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		tb.Fatal(err)
	}
	sorted, err := json.Marshal(members)
	if err != nil {
		tb.Fatal(err)
	}
	if bytes.Index(sorted, []byte(`"data"`)) > bytes.Index(sorted, []byte(`"type"`)) {
		tb.Fatal("data is not first")
	}
	return sorted
}

func BenchmarkChangeFromEvent(b *testing.B) {
	typeFirst := userUpdatedBody(b)
	for _, order := range []string{"TypeFirst", "DataFirst"} {
		body := typeFirst
		if order == "DataFirst" {
			body = dataFirst(b, typeFirst)
		}
		b.Run(order, func(b *testing.B) { benchmarkChangeFromEvent(b, body) })
	}
}

func benchmarkChangeFromEvent(b *testing.B, body []byte) {
	for _, keep := range []bool{false, true} {
		name := "CutPrivateMetadata"
		if keep {
			name = "KeepPrivateMetadata"
		}
		b.Run(name, func(b *testing.B) {
			opt := clerkdecode.Options{KeepPrivateMetadata: keep}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				c := clerkdecode.ChangeFromEvent("msg_2g7np7Hrk0SN6kj5EDMLDaKNL0S", body, opt)
				if c.Op != clerksync.OpUpsert {
					b.Fatalf("Op = %v: %s", c.Op, c.Error)
				}
			}
		})
	}
}

func BenchmarkDecodeUsers(b *testing.B) {
	var env struct{ Data json.RawMessage }
	if err := json.Unmarshal(userUpdatedBody(b), &env); err != nil {
		b.Fatal(err)
	}
	// A full page of GET /v1/users: 500 users.
	page := []byte{'['}
	for i := range 500 {
		if i > 0 {
			page = append(page, ',')
		}
		page = append(page, env.Data...)
	}
	page = append(page, ']')
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := clerkdecode.DecodeUsers(page, clerkdecode.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaseline measures encoding/json on the same body, for comparison on the
// machine at hand: validating it, and decoding it into the few fields a profile needs.
func BenchmarkBaseline(b *testing.B) {
	body := userUpdatedBody(b)
	b.Run("Valid", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("Unmarshal", func(b *testing.B) {
		type entry struct {
			ID           string `json:"id"`
			EmailAddress string `json:"email_address"`
			PhoneNumber  string `json:"phone_number"`
			Verification *struct {
				Status string `json:"status"`
			} `json:"verification"`
		}
		var v struct {
			Type      string `json:"type"`
			Timestamp int64  `json:"timestamp"`
			Data      struct {
				ID                    string          `json:"id"`
				PrimaryEmailAddressID *string         `json:"primary_email_address_id"`
				PrimaryPhoneNumberID  *string         `json:"primary_phone_number_id"`
				Username              *string         `json:"username"`
				FirstName             *string         `json:"first_name"`
				LastName              *string         `json:"last_name"`
				ImageURL              string          `json:"image_url"`
				ProfileImageURL       string          `json:"profile_image_url"`
				ExternalID            *string         `json:"external_id"`
				PublicMetadata        json.RawMessage `json:"public_metadata"`
				UnsafeMetadata        json.RawMessage `json:"unsafe_metadata"`
				EmailAddresses        []entry         `json:"email_addresses"`
				PhoneNumbers          []entry         `json:"phone_numbers"`
				Banned                bool            `json:"banned"`
				Locked                bool            `json:"locked"`
				CreatedAt             int64           `json:"created_at"`
				UpdatedAt             int64           `json:"updated_at"`
				LastSignInAt          *int64          `json:"last_sign_in_at"`
				LastActiveAt          *int64          `json:"last_active_at"`
			} `json:"data"`
		}
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if err := json.Unmarshal(body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChangeFromEventOrganizations decodes the organization, membership,
// invitation, role and permission examples of Clerk's webhook specification, compacted
// as Clerk sends them.
func BenchmarkChangeFromEventOrganizations(b *testing.B) {
	for _, name := range []string{
		"organization.updated", "organizationMembership.created", "organizationInvitation.created",
		"role.created", "permission.created",
	} {
		var buf bytes.Buffer
		if err := json.Compact(&buf, readFile(b, "openapi/"+name+".json")); err != nil {
			b.Fatal(err)
		}
		body := buf.Bytes()
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				c := clerkdecode.ChangeFromEvent("msg_1", body, clerkdecode.Options{})
				if c.Op != clerksync.OpUpsert {
					b.Fatalf("Op = %v: %s", c.Op, c.Error)
				}
			}
		})
	}
}
