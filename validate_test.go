package clerksync_test

import (
	"encoding/json"
	"testing"

	"github.com/clerksync/clerksync"
)

func TestChangeValidate(t *testing.T) {
	t.Parallel()
	profile := func(id string, created, updated int64) *clerksync.Profile {
		return &clerksync.Profile{UserID: id, CreatedAt: created, UpdatedAt: updated}
	}
	upsert := clerksync.UpsertUser(profile("user_1", 1, 2), clerksync.SourceWebhook)
	upsert.EventID = "msg_1"
	with := func(f func(c *clerksync.Change)) clerksync.Change {
		c := upsert
		c.Object = profile("user_1", 1, 2)
		f(&c)
		return c
	}
	org := &clerksync.Organization{OrgID: "org_1", CreatedAt: 1, UpdatedAt: 2}
	member := func(f func(m *clerksync.Membership)) clerksync.Change {
		m := &clerksync.Membership{MembershipID: "orgmem_1", OrgID: "org_1", UserID: "user_1", CreatedAt: 1, UpdatedAt: 2, Organization: org}
		if f != nil {
			f(m)
		}
		return clerksync.Upsert(m, clerksync.SourceWebhook)
	}
	tests := []struct {
		name   string
		change clerksync.Change
		valid  bool
	}{
		{"Upsert", upsert, true},
		{"UpsertFromAPI", with(func(c *clerksync.Change) { c.EventID, c.Source = "", clerksync.SourceAPI }), true},
		{"UpsertNoUser", with(func(c *clerksync.Change) { c.UserID, c.ID = "", ""; c.Object = profile("", 1, 2) }), false},
		{"UpsertNoProfile", with(func(c *clerksync.Change) { c.Object = nil }), false},
		{"UpsertOtherUser", with(func(c *clerksync.Change) { c.Object = profile("user_2", 1, 2) }), false},
		{"UpsertUserIDMismatch", with(func(c *clerksync.Change) { c.UserID = "user_2" }), false},
		{"UpsertNoUpdatedAt", with(func(c *clerksync.Change) { c.Object = profile("user_1", 1, 0) }), false},
		{"UpsertNoCreatedAt", with(func(c *clerksync.Change) { c.Object = profile("user_1", 0, 2) }), false},
		{"UpsertFarFuture", with(func(c *clerksync.Change) { c.Object = profile("user_1", 1, 9223372036854775807) }), false},
		{"UpsertLastSignInFarFuture", with(func(c *clerksync.Change) {
			p := profile("user_1", 1, 2)
			p.LastSignInAt = clerksync.MaxTimestamp
			c.Object = p
		}), false},
		{"UpsertLastSignInBeforeEpoch", with(func(c *clerksync.Change) {
			p := profile("user_1", 1, 2)
			p.LastSignInAt = -60_000
			c.Object = p
		}), true},
		{"UpsertRawNotObject", with(func(c *clerksync.Change) {
			p := profile("user_1", 1, 2)
			p.Raw = json.RawMessage(`[1]`)
			c.Object = p
		}), false},
		{"UpsertNoSource", with(func(c *clerksync.Change) { c.Source = "" }), false},
		{"UpsertUnknownKind", with(func(c *clerksync.Change) { c.Kind = 42 }), false},
		{"Membership", member(nil), true},
		{"MembershipNoUser", member(func(m *clerksync.Membership) { m.UserID = "" }), false},
		{"MembershipOtherOrganization", member(func(m *clerksync.Membership) {
			m.Organization = &clerksync.Organization{OrgID: "org_2", CreatedAt: 1, UpdatedAt: 2}
		}), false},
		{"MembershipOrganizationNoVersion", member(func(m *clerksync.Membership) {
			m.Organization = &clerksync.Organization{OrgID: "org_1", CreatedAt: 1}
		}), false},
		{"RoleNoKey", clerksync.Upsert(&clerksync.Role{RoleID: "role_1", CreatedAt: 1, UpdatedAt: 2}, clerksync.SourceAPI), false},
		{"Delete", clerksync.Delete(clerksync.UserKey("user_1"), clerksync.SourceBackfill), true},
		{"DeleteNoUser", clerksync.Change{Op: clerksync.OpDelete, Kind: clerksync.KindUser, Source: clerksync.SourceWebhook, EventID: "msg_1"}, false},
		{"DeleteOtherObject", func() clerksync.Change {
			c := clerksync.Delete(clerksync.ObjectKey{Kind: clerksync.KindMembership, ID: "orgmem_2"}, clerksync.SourceWebhook)
			c.Object = member(nil).Object
			return c
		}(), false},
		{"Ignore", clerksync.Change{Op: clerksync.OpIgnore, EventID: "msg_1", EventType: "session.created"}, true},
		{"IgnoreNoEvent", clerksync.Change{Op: clerksync.OpIgnore, EventType: "session.created"}, false},
		{"DeadLetter", clerksync.Change{Op: clerksync.OpDeadLetter, EventID: "msg_1", Error: "bad"}, true},
		{"DeadLetterNoEvent", clerksync.Change{Op: clerksync.OpDeadLetter, Error: "bad"}, false},
		{"ReplayNoEvent", with(func(c *clerksync.Change) { c.EventID, c.Replay = "", true }), false},
		{"UnknownOp", clerksync.Change{EventID: "msg_1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.change.Validate()
			if got := err == nil; got != tt.valid {
				t.Fatalf("Validate() = %v, want valid %v", err, tt.valid)
			}
			if err != nil && clerksync.ErrorCode(err) != clerksync.EINVALID {
				t.Fatalf("Validate() code %q, want %q", clerksync.ErrorCode(err), clerksync.EINVALID)
			}
		})
	}
}
