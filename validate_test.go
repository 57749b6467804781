package clerksync_test

import (
	"testing"

	"github.com/clerksync/clerksync"
)

func TestChangeValidate(t *testing.T) {
	t.Parallel()
	profile := func(id string, created, updated int64) *clerksync.Profile {
		return &clerksync.Profile{UserID: id, CreatedAt: created, UpdatedAt: updated}
	}
	upsert := clerksync.Change{Op: clerksync.OpUpsertUser, Source: clerksync.SourceWebhook, EventID: "msg_1", UserID: "user_1", Profile: profile("user_1", 1, 2)}
	with := func(f func(c *clerksync.Change)) clerksync.Change {
		c := upsert
		f(&c)
		return c
	}
	tests := []struct {
		name   string
		change clerksync.Change
		valid  bool
	}{
		{"Upsert", upsert, true},
		{"UpsertFromAPI", with(func(c *clerksync.Change) { c.EventID, c.Source = "", clerksync.SourceAPI }), true},
		{"UpsertNoUser", with(func(c *clerksync.Change) { c.UserID = ""; c.Profile = profile("", 1, 2) }), false},
		{"UpsertNoProfile", with(func(c *clerksync.Change) { c.Profile = nil }), false},
		{"UpsertOtherUser", with(func(c *clerksync.Change) { c.Profile = profile("user_2", 1, 2) }), false},
		{"UpsertNoUpdatedAt", with(func(c *clerksync.Change) { c.Profile = profile("user_1", 1, 0) }), false},
		{"UpsertNoCreatedAt", with(func(c *clerksync.Change) { c.Profile = profile("user_1", 0, 2) }), false},
		{"UpsertNoSource", with(func(c *clerksync.Change) { c.Source = "" }), false},
		{"Delete", clerksync.Change{Op: clerksync.OpDeleteUser, Source: clerksync.SourceBackfill, UserID: "user_1"}, true},
		{"DeleteNoUser", clerksync.Change{Op: clerksync.OpDeleteUser, Source: clerksync.SourceWebhook, EventID: "msg_1"}, false},
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
