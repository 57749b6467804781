package clerkdecode_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

// raw returns s as a json.RawMessage.
func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestChangeFromEvent(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		file string

		op        clerksync.Op
		eventType string
		eventTime int64
		userID    string
		// kind and id are the object the change is about, when it is not a user (or a
		// user whose profile is not compared).
		kind clerksync.Kind
		id   string
		// errPart is part of Change.Error for dead letters.
		errPart string
		// profile is the expected profile without KeepPrivateMetadata.
		profile *clerksync.Profile
		// keptPrivate is the expected PrivateMetadata with KeepPrivateMetadata.
		keptPrivate string
	}{
		{
			name: "ClerkUserCreated", file: "clerk/user.created.json",
			op: clerksync.OpUpsert, eventType: "user.created", eventTime: 1654012591835,
			userID: "user_29w83sxmDNGwOuEthce5gg56FcC",
			profile: &clerksync.Profile{
				UserID: "user_29w83sxmDNGwOuEthce5gg56FcC", Email: "example@example.org", EmailVerified: true,
				FirstName: "Example", LastName: "Example", ImageURL: "https://img.clerk.com/xxxxxx", ExternalID: "567772",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1654012591514, UpdatedAt: 1654012591835, LastSignInAt: 1654012591514,
				SyncSource: clerksync.SourceWebhook,
			},
			keptPrivate: `{}`,
		},
		{
			name: "ClerkUserUpdated", file: "clerk/user.updated.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716883500000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
			profile: &clerksync.Profile{
				UserID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", Email: "john.doe@example.com", EmailVerified: true,
				Phone: "+15555550100", Username: "johndoe", FirstName: "John", LastName: "Doe Updated",
				ImageURL:       "https://img.clerk.com/yyyyy",
				PublicMetadata: raw(`{"department": "engineering"}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716883500000, LastSignInAt: 1716883400000, LastActiveAt: 1716883500000,
				SyncSource: clerksync.SourceWebhook,
			},
			keptPrivate: `{}`,
		},
		{
			name: "ClerkUserDeleted", file: "clerk/user.deleted.json",
			op: clerksync.OpDelete, eventType: "user.deleted", eventTime: 1716883900000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		},
		{
			name: "ClerkOrganizationCreated", file: "clerk/organization.created.json",
			op: clerksync.OpUpsert, eventType: "organization.created", eventTime: 1716883300000,
			kind: clerksync.KindOrganization, id: "org_2g7npMRHTdYxcWl2ke7JkJnd5Ka",
		},
		{
			name: "ClerkOrganizationDeleted", file: "clerk/organization.deleted.json",
			op: clerksync.OpDelete, eventType: "organization.deleted", eventTime: 1716884000000,
			kind: clerksync.KindOrganization, id: "org_2g7npMRHTdYxcWl2ke7JkJnd5Ka",
		},
		{
			name: "ClerkOrganizationMembershipCreated", file: "clerk/organizationMembership.created.json",
			op: clerksync.OpUpsert, eventType: "organizationMembership.created", eventTime: 1716883310000,
			kind: clerksync.KindMembership, id: "orgmem_2g7nqRZt6ouqJt0bWFm7Ytr3YpE", userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		},
		{
			name: "ClerkSessionCreated", file: "clerk/session.created.json",
			op: clerksync.OpIgnore, eventType: "session.created", eventTime: 1716883400000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		},
		{
			name: "ClerkAPIError", file: "clerk/api-error-404.json",
			op: clerksync.OpDeadLetter, errPart: "type: missing",
		},
		{
			name: "SpecUserCreated", file: "openapi/user.created.json",
			op: clerksync.OpUpsert, eventType: "user.created", eventTime: 1716883200000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
			profile: &clerksync.Profile{
				UserID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", FirstName: "John", LastName: "Doe",
				ImageURL:       "https://img.clerk.com/xxxxxx",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716883200000, LastSignInAt: 1716883200000, LastActiveAt: 1716883200000,
				SyncSource: clerksync.SourceWebhook,
			},
			keptPrivate: `{}`,
		},
		{
			name: "SpecUserUpdated", file: "openapi/user.updated.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716883200000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
			profile: &clerksync.Profile{
				UserID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", Username: "johndoe", FirstName: "John", LastName: "Doe Updated",
				ImageURL:       "https://img.clerk.com/yyyyy",
				PublicMetadata: raw(`{"department":"engineering"}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716883500000, LastSignInAt: 1716883400000, LastActiveAt: 1716883500000,
				SyncSource: clerksync.SourceWebhook,
			},
			keptPrivate: `{}`,
		},
		{
			name: "SpecUserDeleted", file: "openapi/user.deleted.json",
			op: clerksync.OpDelete, eventType: "user.deleted", eventTime: 1716883200000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		},
		{
			name: "SpecSessionCreated", file: "openapi/session.created.json",
			op: clerksync.OpUpsert, eventType: "session.created", eventTime: 1716883200000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", kind: clerksync.KindUser, id: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		},
		{
			name: "SpecSessionPending", file: "openapi/session.pending.json",
			op: clerksync.OpUpsert, eventType: "session.pending", eventTime: 1716883200000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", kind: clerksync.KindUser, id: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		},
		{
			name: "SpecSessionEnded", file: "openapi/session.ended.json",
			op: clerksync.OpUpsert, eventType: "session.ended", eventTime: 1716883200000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", kind: clerksync.KindUser, id: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		},
		{
			name: "SpecSessionRemoved", file: "openapi/session.removed.json",
			op: clerksync.OpUpsert, eventType: "session.removed", eventTime: 1716883200000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", kind: clerksync.KindUser, id: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		},
		{
			name: "SpecSessionRevoked", file: "openapi/session.revoked.json",
			op: clerksync.OpUpsert, eventType: "session.revoked", eventTime: 1716883200000,
			userID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", kind: clerksync.KindUser, id: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		},
		{
			name: "SpecEmailCreated", file: "openapi/email.created.json",
			op: clerksync.OpIgnore, eventType: "email.created", eventTime: 1716883200000,
			userID: "user_abcd",
		},
		{
			name: "TimestampMilliseconds", file: "events/user.updated.ms.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716883500123, userID: "user_ms",
			profile: &clerksync.Profile{
				UserID: "user_ms", Email: "ms@example.com", EmailVerified: true, Username: "ms",
				FirstName: "Milli", LastName: "Seconds", ImageURL: "https://img.clerk.com/ms",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716883500123,
				SyncSource: clerksync.SourceWebhook,
			},
			keptPrivate: `{}`,
		},
		{
			name: "TimestampSeconds", file: "events/user.updated.seconds.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716883500000, userID: "user_seconds",
			profile: &clerksync.Profile{
				UserID: "user_seconds", FirstName: "Whole", LastName: "Seconds", ImageURL: "https://img.clerk.com/s",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716883500000,
				SyncSource: clerksync.SourceWebhook,
			},
			keptPrivate: `{}`,
		},
		{
			name: "TimestampMissing", file: "events/user.created.no-timestamp.json",
			op: clerksync.OpUpsert, eventType: "user.created", eventTime: 0, userID: "user_nots",
			profile: &clerksync.Profile{
				UserID: "user_nots", Username: "nots",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716883200000,
				SyncSource: clerksync.SourceWebhook,
			},
		},
		{
			name: "NullMetadataAndArrays", file: "events/user.updated.null-metadata.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716883600000, userID: "user_nullmeta",
			profile: &clerksync.Profile{
				UserID: "user_nullmeta", FirstName: "Null", LastName: "Metadata", ImageURL: "https://img.clerk.com/nullmeta",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				UpdatedAt:  1716883600000,
				SyncSource: clerksync.SourceWebhook,
			},
			keptPrivate: `{}`,
		},
		{
			name: "MissingArrays", file: "events/user.created.missing-arrays.json",
			op: clerksync.OpUpsert, eventType: "user.created", eventTime: 1716883700000, userID: "user_noarrays",
			profile: &clerksync.Profile{
				UserID: "user_noarrays", FirstName: "No", LastName: "Arrays",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883700000, UpdatedAt: 1716883700000,
				SyncSource: clerksync.SourceWebhook,
			},
		},
		{
			name: "VerificationWithoutObject", file: "events/user.updated.verification-no-object.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716883800000, userID: "user_verifnoobj",
			profile: &clerksync.Profile{
				UserID: "user_verifnoobj", Email: "vno@example.com", EmailVerified: true, Phone: "+15555550111",
				FirstName: "Verification", LastName: "Without Object", ImageURL: "https://img.clerk.com/vno",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716883800000,
				SyncSource: clerksync.SourceWebhook,
			},
		},
		{
			name: "VerificationNull", file: "events/user.updated.verification-null.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716883900000, userID: "user_verifnull",
			profile: &clerksync.Profile{
				UserID: "user_verifnull", Email: "vnull@example.com", EmailVerified: false,
				FirstName: "Verification", LastName: "Null", ImageURL: "https://img.clerk.com/vnull",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716883900000,
				SyncSource: clerksync.SourceWebhook,
			},
		},
		{
			name: "PrimaryIDsAfterArrays", file: "events/user.created.primary-ids-last.json",
			op: clerksync.OpUpsert, eventType: "user.created", eventTime: 1716884000000, userID: "user_primarylast",
			profile: &clerksync.Profile{
				UserID: "user_primarylast", Email: "second@example.com", EmailVerified: true, Phone: "+15555550122",
				Username: "sorted", FirstName: "Sorted", LastName: "Keys", ImageURL: "https://img.clerk.com/pil",
				ExternalID: "ext-42", Locked: true,
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716884000000, UpdatedAt: 1716884000000,
				SyncSource: clerksync.SourceWebhook,
			},
			keptPrivate: `{}`,
		},
		{
			name: "NoPrimaryPhone", file: "events/user.updated.no-primary-phone.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716884100000, userID: "user_nophone",
			profile: &clerksync.Profile{
				UserID: "user_nophone", Email: "np@example.com", EmailVerified: true,
				FirstName: "No Primary", LastName: "Phone", ImageURL: "https://img.clerk.com/np",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716884100000,
				SyncSource: clerksync.SourceWebhook,
			},
		},
		{
			name: "UnknownKeys", file: "events/user.updated.unknown-keys.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716884200000, userID: "user_unknownkeys",
			profile: &clerksync.Profile{
				UserID: "user_unknownkeys", Email: "uk@example.com", EmailVerified: true,
				Username: "unknown", FirstName: "Unknown", LastName: "Keys", ImageURL: "https://img.clerk.com/uk",
				ExternalID:     "ext-unknown",
				PublicMetadata: raw(`{"plan":"pro","tags":["a","b"],"limits":{"seats":5}}`),
				UnsafeMetadata: raw(`{"theme":"dark"}`),
				CreatedAt:      1716883200000, UpdatedAt: 1716884200000, LastSignInAt: 1716884100000, LastActiveAt: 1716884150000,
				SyncSource: clerksync.SourceWebhook,
			},
		},
		{
			name: "LegacyKeysOnly", file: "events/user.updated.legacy-only.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1654012591000, userID: "user_legacy",
			profile: &clerksync.Profile{
				UserID: "user_legacy", Email: "legacy@example.org", EmailVerified: true,
				FirstName: "Legacy", LastName: "Keys", ImageURL: "https://www.gravatar.com/avatar?d=mp",
				PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1654012591514, UpdatedAt: 1654012591835, LastSignInAt: 1654012591514,
				SyncSource: clerksync.SourceWebhook,
			},
		},
		{
			name: "UnicodeAndEscapes", file: "events/user.updated.unicode.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716884300000, userID: "user_unicode",
			profile: &clerksync.Profile{
				UserID: "user_unicode", Email: "zoë@exämple.com", EmailVerified: true, Username: "zoë_😀",
				FirstName: "Zoë Ångström", LastName: `O’Brien "Bob" \ 山田`,
				ImageURL:       "https://img.clerk.com/uni?a=1&b=2",
				PublicMetadata: raw(`{"name":"Zoë","emoji":"😀"}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716884300000,
				SyncSource: clerksync.SourceWebhook,
			},
			keptPrivate: `{"secret":"S3cr3t"}`,
		},
		{
			name: "PrivateMetadataFirstAndRepeated", file: "events/user.updated.private-metadata.json",
			op: clerksync.OpUpsert, eventType: "user.updated", eventTime: 1716884400000, userID: "user_private",
			profile: &clerksync.Profile{
				UserID: "user_private", Email: "priv@example.com", EmailVerified: true,
				FirstName: "Private", LastName: "Metadata", ImageURL: "https://img.clerk.com/priv",
				PublicMetadata: raw(`{"role":"admin"}`), UnsafeMetadata: raw(`{}`),
				CreatedAt: 1716883200000, UpdatedAt: 1716884400000,
				SyncSource: clerksync.SourceWebhook,
			},
			keptPrivate: `{"again":"a duplicate key: decoders keep the last one"}`,
		},
		{
			name: "UserDeletedWithExternalID", file: "events/user.deleted.external-id.json",
			op: clerksync.OpDelete, eventType: "user.deleted", eventTime: 1716885100000, userID: "user_gone",
		},
		{
			name: "Malformed", file: "events/malformed.json",
			op: clerksync.OpDeadLetter, eventType: "user.updated", eventTime: 1716884500000,
			errPart: "invalid JSON: unterminated string",
		},
		{
			name: "DataNotObject", file: "events/data-not-object.json",
			op: clerksync.OpDeadLetter, eventType: "user.updated", eventTime: 1716884600000,
			errPart: "data: want an object, got a string",
		},
		{
			name: "DataNull", file: "events/data-null.json",
			op: clerksync.OpDeadLetter, eventType: "user.deleted", eventTime: 1716884600000,
			errPart: "data: want an object, got null",
		},
		{
			name: "MissingType", file: "events/missing-type.json",
			op: clerksync.OpDeadLetter, eventTime: 1716884700000, userID: "user_notype",
			errPart: "type: missing",
		},
		{
			name: "NotAnObject", file: "events/not-object.json",
			op: clerksync.OpDeadLetter, errPart: "want an object, got an array",
		},
		{
			name: "MissingUpdatedAt", file: "events/user.updated.missing-updated-at.json",
			op: clerksync.OpDeadLetter, eventType: "user.updated", eventTime: 1716884800000, userID: "user_noupdatedat",
			errPart: "data.updated_at: missing",
		},
		{
			name: "IDNotString", file: "events/user.updated.id-not-string.json",
			op: clerksync.OpDeadLetter, eventType: "user.updated", eventTime: 1716884900000,
			errPart: "data.id: want a string, got a number",
		},
		{
			name: "WrongType", file: "events/user.updated.wrong-type.json",
			op: clerksync.OpDeadLetter, eventType: "user.updated", eventTime: 1716885000000, userID: "user_wrongtype",
			errPart: "data.first_name: want a string, got an array",
		},
	}
	for _, tt := range tests {
		for _, keep := range []bool{false, true} {
			name := tt.name
			if keep {
				name += "/KeepPrivateMetadata"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				body := readFile(t, tt.file)
				orig := bytes.Clone(body)
				c := clerkdecode.ChangeFromEvent("msg_1", body, clerkdecode.Options{KeepPrivateMetadata: keep})

				if !bytes.Equal(body, orig) {
					t.Fatal("ChangeFromEvent modified the body")
				}
				if got, want := c.Op, tt.op; got != want {
					t.Fatalf("Op = %v, want %v (error %q)", got, want, c.Error)
				}
				if got, want := c.Source, clerksync.SourceWebhook; got != want {
					t.Errorf("Source = %q, want %q", got, want)
				}
				if got, want := c.EventID, "msg_1"; got != want {
					t.Errorf("EventID = %q, want %q", got, want)
				}
				if got, want := c.EventType, tt.eventType; got != want {
					t.Errorf("EventType = %q, want %q", got, want)
				}
				if got, want := c.EventTime, tt.eventTime; got != want {
					t.Errorf("EventTime = %d, want %d", got, want)
				}
				if got, want := c.UserID, tt.userID; got != want {
					t.Errorf("UserID = %q, want %q", got, want)
				}
				if tt.errPart == "" && c.Error != "" {
					t.Errorf("Error = %q, want none", c.Error)
				}
				if !strings.Contains(c.Error, tt.errPart) {
					t.Errorf("Error = %q, want it to contain %q", c.Error, tt.errPart)
				}
				if c.Replay {
					t.Error("Replay = true, want false")
				}

				checkBody(t, c, orig, keep)

				if tt.kind != 0 && (c.Kind != tt.kind || c.ID != tt.id) {
					t.Errorf("object = %v %q, want %v %q", c.Kind, c.ID, tt.kind, tt.id)
				}
				if tt.profile == nil {
					if c.Profile() != nil && tt.kind != clerksync.KindUser {
						t.Fatalf("Profile = %+v, want nil", c.Profile())
					}
					return
				}
				if c.Profile() == nil {
					t.Fatal("Profile = nil")
				}
				want := *tt.profile
				if keep {
					want.PrivateMetadata = raw(`{}`)
					if tt.keptPrivate != "" {
						want.PrivateMetadata = raw(tt.keptPrivate)
					}
				}
				if diff := cmp.Diff(&want, c.Profile(), profileOpts); diff != "" {
					t.Errorf("Profile mismatch (-want +got):\n%s", diff)
				}
				var env struct{ Data json.RawMessage }
				if err := json.Unmarshal(orig, &env); err != nil {
					t.Fatal(err)
				}
				checkProfileRaw(t, c.Profile(), env.Data, c.Body, keep)
			})
		}
	}
}

// checkBody checks what the event log keeps: the body as received, minus
// data.private_metadata and data.user.private_metadata unless keep; the body unchanged
// when it is not valid JSON.
func checkBody(t *testing.T, c clerksync.Change, orig []byte, keep bool) {
	t.Helper()
	var want map[string]any
	if err := json.Unmarshal(orig, &want); err != nil || want == nil {
		if !bytes.Equal(c.Body, orig) {
			t.Fatalf("Body = %s, want the body unchanged", c.Body)
		}
		return
	}
	if keep {
		if !same(c.Body, orig) && !bytes.Equal(c.Body, orig) {
			t.Fatalf("Body = %s, want the body unchanged", c.Body)
		}
		return
	}
	if data, ok := want["data"].(map[string]any); ok {
		delete(data, "private_metadata")
		if user, ok := data["user"].(map[string]any); ok {
			delete(user, "private_metadata")
		}
	}
	got := decodeObject(t, c.Body)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Body mismatch (-want +got):\n%s", diff)
	}
	if !bytes.Contains(orig, []byte("private")) && !bytes.Equal(c.Body, orig) {
		t.Fatalf("Body = %s, want the body unchanged", c.Body)
	}
}

func TestChangeFromEventAliasing(t *testing.T) {
	t.Parallel()

	t.Run("NothingToCut", func(t *testing.T) {
		t.Parallel()
		body := readFile(t, "events/user.updated.verification-null.json")
		c := clerkdecode.ChangeFromEvent("msg_1", body, clerkdecode.Options{})
		if !same(c.Body, body) {
			t.Error("Body is a copy, want the body itself")
		}
		if !within(c.Profile().Raw, body) || !within(c.Profile().PublicMetadata, body) {
			t.Error("Raw or metadata is a copy, want sub-slices of the body")
		}
	})
	t.Run("Cut", func(t *testing.T) {
		t.Parallel()
		body := readFile(t, "clerk/user.updated.json")
		c := clerkdecode.ChangeFromEvent("msg_1", body, clerkdecode.Options{})
		if within(c.Body, body) {
			t.Fatal("Body aliases the body, want a cut copy")
		}
		if !within(c.Profile().Raw, c.Body) || !within(c.Profile().PublicMetadata, c.Body) {
			t.Error("Raw or metadata is a copy, want sub-slices of Body")
		}
		// Appending to Raw must not write over Body.
		before := bytes.Clone(c.Body)
		_ = append(c.Profile().Raw, "garbage"...)
		_ = append(c.Profile().PublicMetadata, "garbage"...)
		if !bytes.Equal(c.Body, before) {
			t.Error("appending to Raw changed Body")
		}
	})
}

func TestChangeFromEventSpecUsers(t *testing.T) {
	t.Parallel()

	// Every user object in Clerk's webhook specification decodes, whether it is the
	// data of a user event or embedded in a session event.
	for _, file := range []string{
		"openapi/user.created.json", "openapi/user.updated.json",
		"openapi/session.created.json", "openapi/session.pending.json", "openapi/session.ended.json",
		"openapi/session.removed.json", "openapi/session.revoked.json",
	} {
		t.Run(strings.TrimSuffix(file[len("openapi/"):], ".json"), func(t *testing.T) {
			t.Parallel()
			var env struct {
				Data struct {
					User json.RawMessage
				}
			}
			body := readFile(t, file)
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatal(err)
			}
			user := env.Data.User
			if user == nil {
				var data struct{ Data json.RawMessage }
				if err := json.Unmarshal(body, &data); err != nil {
					t.Fatal(err)
				}
				user = data.Data
			}
			for _, keep := range []bool{false, true} {
				p, err := clerkdecode.DecodeUser(user, clerkdecode.Options{KeepPrivateMetadata: keep})
				if err != nil {
					t.Fatal(err)
				}
				if got, want := p.UserID, "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"; got != want {
					t.Errorf("UserID = %q, want %q", got, want)
				}
				if got, want := p.FirstName, "John"; got != want {
					t.Errorf("FirstName = %q, want %q", got, want)
				}
				if p.UpdatedAt == 0 || p.CreatedAt == 0 {
					t.Errorf("UpdatedAt = %d, CreatedAt = %d, want both set", p.UpdatedAt, p.CreatedAt)
				}
				var buf []byte // cut: a new buffer
				if keep {
					buf = user
				}
				checkProfileRaw(t, p, user, buf, keep)
			}
		})
	}
}

func TestChangeFromEventRepeatedKeys(t *testing.T) {
	t.Parallel()

	// A repeated key counts with its last value, as with any JSON decoder, whatever
	// the order of type and data.
	tests := []struct {
		name    string
		body    string
		op      clerksync.Op
		userID  string
		errPart string
	}{
		{
			name: "LastDataHasNoID",
			body: `{"type":"user.updated","data":{"id":"user_1","updated_at":1},"type":"session.created","data":{"user_id":"user_2"},"type":"user.updated"}`,
			op:   clerksync.OpDeadLetter, errPart: "data.id: missing",
		},
		{
			name: "UserDataAfterOtherType",
			body: `{"type":"session.created","data":{"id":"sess_1"},"type":"user.updated","data":{"id":"user_2","updated_at":5}}`,
			op:   clerksync.OpUpsert, userID: "user_2",
		},
		{
			name: "TypeChangesAfterData",
			body: `{"type":"user.updated","data":{"object":"user","id":"user_1","updated_at":5},"type":"user.deleted"}`,
			op:   clerksync.OpDelete, userID: "user_1",
		},
		{
			name: "UnusableUserThenValidBody",
			body: `{"type":"user.updated","data":{"id":"user_1","first_name":7,"updated_at":5},"timestamp":1716883500}`,
			op:   clerksync.OpDeadLetter, userID: "user_1", errPart: "data.first_name: want a string, got a number",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := clerkdecode.ChangeFromEvent("msg_1", []byte(tt.body), clerkdecode.Options{})
			if got, want := c.Op, tt.op; got != want {
				t.Fatalf("Op = %v, want %v (error %q)", got, want, c.Error)
			}
			if got, want := c.UserID, tt.userID; got != want {
				t.Errorf("UserID = %q, want %q", got, want)
			}
			if !strings.Contains(c.Error, tt.errPart) {
				t.Errorf("Error = %q, want it to contain %q", c.Error, tt.errPart)
			}
			if tt.op == clerksync.OpDeadLetter && c.EventTime == 0 && strings.Contains(tt.body, "timestamp") {
				t.Error("EventTime = 0, want the envelope's timestamp")
			}
		})
	}
}
