package pull_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/pull"
	"github.com/clerksync/clerksync/storetest"
)

func TestSyncUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 3)
	ctx := context.Background()
	u := h.Fake.Users()[1]

	got, err := h.Syncer.SyncUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Before != nil || got.After == nil || got.Gone || got.Result.Action != clerksync.ActionCreated {
		t.Fatalf("first sync = %+v", got)
	}
	if got.After.SyncSource != clerksync.SourceAPI {
		t.Fatalf("source = %s, want api", got.After.SyncSource)
	}

	h.Clock.Advance(time.Second)
	rename(t, h, u.ID, "Synced")
	got, err = h.Syncer.SyncUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Result.Action != clerksync.ActionUpdated {
		t.Fatalf("second sync = %+v", got.Result)
	}
	changed := map[string]bool{}
	for _, c := range pull.Diff(got.Before, got.After) {
		changed[c.Column] = true
	}
	if !changed["first_name"] || !changed["updated_at"] || len(changed) != 2 {
		t.Fatalf("changed columns = %v, want first_name and updated_at", changed)
	}
}

func TestSyncUser_GoneDeletesLocally(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 2)
	ctx := context.Background()
	u := h.Fake.Users()[0]
	if _, err := h.Syncer.SyncUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.Fake.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	got, err := h.Syncer.SyncUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Gone || got.After != nil || got.Before == nil || got.Result.Action != clerksync.ActionDeleted {
		t.Fatalf("sync of a deleted user = %+v", got)
	}
	if deleted, err := h.Store.Deleted(ctx, clerksync.UserKey(u.ID)); err != nil || !deleted {
		t.Fatalf("Deleted = %v, %v; want a tombstone", deleted, err)
	}
}

func TestSyncUser_ClerkDownChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 1)
	u := h.Fake.Users()[0]
	p, err := decodeUsers(u)
	if err != nil {
		t.Fatal(err)
	}
	h.upsert(t, p[0])
	h.Fake.FailNext(1, http.StatusServiceUnavailable)
	if _, err := h.Syncer.SyncUser(context.Background(), u.ID); clerksync.ErrorCode(err) != clerksync.EUNAVAILABLE {
		t.Fatalf("SyncUser with Clerk down = %v, want code %q", err, clerksync.EUNAVAILABLE)
	}
	wantStored(t, h, u.ID)
	// A 404 that is not Clerk's resource_not_found deletes nothing either.
	h.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) { http.NotFound(w, r) })
	if _, err := h.Syncer.SyncUser(context.Background(), u.ID); clerksync.ErrorCode(err) != clerksync.ECONFIG {
		t.Fatalf("SyncUser with a wrong API URL = %v, want code %q", err, clerksync.ECONFIG)
	}
	wantStored(t, h, u.ID)
}

func TestDiff(t *testing.T) {
	t.Parallel()
	before := storetest.NewProfile("user_2diff", 1_748_779_200_000)
	after := *before
	after.FirstName = "Ada"
	after.UpdatedAt += 1500
	after.PublicMetadata = json.RawMessage(`{"plan": "team"}`)
	after.Banned = true

	for _, tt := range []struct {
		name          string
		before, after *clerksync.Profile
		want          []pull.FieldChange
	}{
		{"Same", before, before, nil},
		{"Changed", before, &after, []pull.FieldChange{
			{Column: "first_name", Before: "Test", After: "Ada"},
			{Column: "public_metadata", Before: string(before.PublicMetadata), After: `{"plan":"team"}`},
			{Column: "banned", Before: "false", After: "true"},
			{Column: "updated_at", Before: "2025-06-01T12:00:00.000Z", After: "2025-06-01T12:00:01.500Z"},
		}},
		{"Created", nil, &clerksync.Profile{UserID: "user_2new", FirstName: "Bo", CreatedAt: 1_748_779_200_000, UpdatedAt: 1_748_779_200_000}, []pull.FieldChange{
			{Column: "email_verified", After: "false"},
			{Column: "first_name", After: "Bo"},
			{Column: "banned", After: "false"},
			{Column: "locked", After: "false"},
			{Column: "created_at", After: "2025-06-01T12:00:00.000Z"},
			{Column: "updated_at", After: "2025-06-01T12:00:00.000Z"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, pull.Diff(tt.before, tt.after)); diff != "" {
				t.Fatalf("Diff (-want +got):\n%s", diff)
			}
		})
	}
	if got := pull.Diff(before, nil); len(got) == 0 || got[0].Column != "email" || got[0].After != "" {
		t.Fatalf("Diff to a deleted row = %+v", got)
	}
}
