package pull_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/pull"
	"github.com/clerksync/clerksync/storetest"
)

func checkpoint(t *testing.T, h *harness) int64 {
	t.Helper()
	v, err := h.Store.Checkpoint(context.Background(), pull.CheckpointKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func rename(t *testing.T, h *harness, id, name string) *clerkfake.User {
	t.Helper()
	u, err := h.Fake.UpdateUser(id, func(u *clerkfake.User) { u.FirstName = &name })
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newestUpdatedAt(h *harness) int64 {
	var newest int64
	for _, u := range h.Fake.Users() {
		newest = max(newest, u.UpdatedAt)
	}
	return newest
}

func TestPoll_FirstReadsEverythingThenOnlyChanges(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 120)

	rep := h.poll(t)
	if !rep.First || rep.Counts.Created != 120 {
		t.Fatalf("first poll = %+v", rep)
	}
	if got, want := checkpoint(t, h), newestUpdatedAt(h); got != want {
		t.Fatalf("checkpoint after the first poll = %d, want the newest updated_at %d", got, want)
	}
	if run := h.run(t, rep.Run.ID); run.Kind != clerksync.RunPoll || run.Status != clerksync.RunSucceeded {
		t.Fatalf("first poll's run = %+v", run)
	}
	h.wantInSync(t)

	// Nothing changed: one small request, nothing written, nothing recorded.
	h.Fake.ResetCounters()
	h.Clock.Advance(time.Minute)
	rep = h.poll(t)
	if rep.First || rep.Run != nil || rep.Counts.Changed() != 0 || rep.Pages != 1 {
		t.Fatalf("idle poll = %+v", rep)
	}
	if got := h.Fake.Requests("GET /v1/users"); got != 1 {
		t.Fatalf("idle poll sent %d list requests, want 1", got)
	}

	// Three users change, one is created: the poll applies exactly them.
	users := h.Fake.Users()
	var changed []string
	for _, i := range []int{3, 50, 99} {
		h.Clock.Advance(time.Second)
		changed = append(changed, rename(t, h, users[i].ID, "Polled").ID)
	}
	h.Clock.Advance(time.Second)
	created, err := h.Fake.CreateUser(clerkfake.UserParams{FirstName: "New"})
	if err != nil {
		t.Fatal(err)
	}
	rep = h.poll(t)
	// Users in the overlap before the checkpoint are read again and counted
	// unchanged, not written.
	if c := rep.Counts; c.Created != 1 || c.Updated != 3 || c.Seen != 4+c.Unchanged {
		t.Fatalf("poll counts = %+v, want 1 created, 3 updated", c)
	}
	if got, want := checkpoint(t, h), created.UpdatedAt; got != want {
		t.Fatalf("checkpoint = %d, want %d", got, want)
	}
	for _, id := range changed {
		if p := storetest.MustProfile(t, h.Store, id); p.FirstName != "Polled" || p.SyncSource != clerksync.SourceBackfill {
			t.Fatalf("profile %s = %q from %s", id, p.FirstName, p.SyncSource)
		}
	}
	if run := h.run(t, rep.Run.ID); run.Kind != clerksync.RunPoll || run.Counts != rep.Counts {
		t.Fatalf("recorded poll = %+v", run)
	}
	h.wantInSync(t)
}

// TestPoll_CheckpointSurvivesRestart polls with a new Syncer (a restarted process)
// over the same database: it goes on from the stored checkpoint.
func TestPoll_CheckpointSurvivesRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 40)
	ctx := context.Background()
	h.poll(t)
	h.Clock.Advance(time.Minute)
	u := rename(t, h, h.Fake.Users()[7].ID, "After Restart")

	restarted := *h.Syncer
	h.Fake.ResetCounters()
	rep, err := restarted.Poll(ctx, pull.PollOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.First || rep.Counts.Updated != 1 || rep.Checkpoint == 0 {
		t.Fatalf("poll after restart = %+v, want it to go on from the checkpoint", rep)
	}
	if got := h.Fake.Requests("GET /v1/users"); got != 1 {
		t.Fatalf("%d list requests after restart, want 1 (no full pass)", got)
	}
	if got := storetest.MustProfile(t, h.Store, u.ID).FirstName; got != "After Restart" {
		t.Fatalf("first name = %q", got)
	}
}

// TestPoll_EqualTimestamps: a user whose updated_at equals the checkpoint but who
// became visible after the poll that set it is applied by the next poll.
func TestPoll_EqualTimestamps(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 10)
	h.poll(t)
	users := h.Fake.Users()
	h.Clock.Advance(time.Minute)
	first := rename(t, h, users[1].ID, "First")
	h.poll(t)
	if got := checkpoint(t, h); got != first.UpdatedAt {
		t.Fatalf("checkpoint = %d, want %d", got, first.UpdatedAt)
	}
	// The same millisecond, committed by Clerk after the poll read.
	late, err := h.Fake.UpdateUser(users[2].ID, func(u *clerkfake.User) {
		name := "Same Millisecond"
		u.FirstName = &name
		u.UpdatedAt = first.UpdatedAt
	})
	if err != nil {
		t.Fatal(err)
	}
	if late.UpdatedAt != first.UpdatedAt {
		t.Fatalf("late user at %d, want %d", late.UpdatedAt, first.UpdatedAt)
	}
	rep := h.poll(t)
	if got := storetest.MustProfile(t, h.Store, late.ID).FirstName; got != "Same Millisecond" {
		t.Fatalf("the user with the checkpoint's timestamp was missed: first name %q (poll %+v)", got, rep.Counts)
	}
	// The user already applied at that version is not written again.
	if rep.Counts.Updated != 1 || rep.Counts.Unchanged != 1 {
		t.Fatalf("poll counts = %+v, want 1 updated and 1 unchanged (not rewritten)", rep.Counts)
	}
	h.wantInSync(t)
}

// TestPoll_OverlapNotRewritten: users inside the overlap that are stored already
// are not written again, so idle polls write nothing.
func TestPoll_OverlapNotRewritten(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 5)
	h.poll(t)
	h.Clock.Advance(time.Minute)
	u := rename(t, h, h.Fake.Users()[0].ID, "Once")
	h.poll(t)
	synced := storetest.MustProfile(t, h.Store, u.ID).SyncedAt
	h.Clock.Advance(time.Second) // still inside the overlap
	rep := h.poll(t)
	if rep.Counts.Unchanged != 1 || rep.Run != nil {
		t.Fatalf("poll = %+v, want the overlapping user counted unchanged and no run", rep)
	}
	if got := storetest.MustProfile(t, h.Store, u.ID).SyncedAt; !got.Equal(synced) {
		t.Fatalf("synced_at moved from %v to %v: the user was written again", synced, got)
	}
}

// TestPoll_ManyPagesWithDeletionsBetween deletes users already read while a poll
// pages through a long list: the listing shifts up under the offsets, and the poll
// must still apply every user.
func TestPoll_ManyPagesWithDeletionsBetween(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 5)
	ctx := context.Background()
	h.poll(t)
	// 60 users change after the checkpoint, a second apart.
	var ids []string
	for range 60 {
		h.Clock.Advance(time.Second)
		u, err := h.Fake.CreateUser(clerkfake.UserParams{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	// Before each page after the first, delete the newest eight users still there
	// (already read): offsets shift by eight, more than the pages overlap.
	deleted := map[string]bool{}
	h.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if listing(r) && r.URL.Query().Get("offset") != "" && r.URL.Query().Get("offset") != "0" {
			n := 0
			for i := len(ids) - 1; i >= 0 && n < 8; i-- {
				if !deleted[ids[i]] {
					if err := h.Fake.DeleteUser(ids[i]); err != nil {
						t.Error(err)
					}
					deleted[ids[i]] = true
					n++
				}
			}
		}
		next.ServeHTTP(w, r)
	})
	rep, err := h.Syncer.Poll(ctx, pull.PollOptions{FirstPage: 10, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Every user Clerk still has was applied. (The deleted ones were read or not
	// depending on when they went; poll cannot see deletions.)
	if len(deleted) < 16 {
		t.Fatalf("only %d users deleted during the poll: the test did not shift the listing", len(deleted))
	}
	for _, u := range h.Fake.Users() {
		p, err := h.Store.Profile(ctx, u.ID)
		if err != nil {
			t.Fatalf("user %s was skipped by the poll (%d pages): %v", u.ID, rep.Pages, err)
		}
		if p.UpdatedAt != u.UpdatedAt {
			t.Fatalf("user %s at %d, Clerk has %d", u.ID, p.UpdatedAt, u.UpdatedAt)
		}
	}
}

func TestPoll_FailureKeepsCheckpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 30)
	ctx := context.Background()
	h.poll(t)
	before := checkpoint(t, h)
	for _, u := range h.Fake.Users()[:15] {
		h.Clock.Advance(time.Second)
		rename(t, h, u.ID, "Changed")
	}
	h.failListingPage(2, http.StatusBadGateway)
	rep, err := h.Syncer.Poll(ctx, pull.PollOptions{FirstPage: 10, PageSize: 10})
	if err == nil {
		t.Fatal("poll succeeded with a failed page")
	}
	if got := checkpoint(t, h); got != before {
		t.Fatalf("checkpoint moved to %d after a failed poll, want %d", got, before)
	}
	if run := h.run(t, rep.Run.ID); run.Status != clerksync.RunFailed {
		t.Fatalf("failed poll's run = %+v", run)
	}
	// The next poll goes over it again and gets everything.
	if _, err := h.Syncer.Poll(ctx, pull.PollOptions{FirstPage: 10, PageSize: 10}); err != nil {
		t.Fatal(err)
	}
	h.wantInSync(t)
}

func TestPoll_EmptyInstance(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rep := h.poll(t)
	if !rep.First || rep.Counts.Seen != 0 || checkpoint(t, h) != 0 {
		t.Fatalf("first poll of an empty instance = %+v", rep)
	}
	h.Clock.Advance(time.Second)
	if _, err := h.Fake.CreateUser(clerkfake.UserParams{}); err != nil {
		t.Fatal(err)
	}
	if rep = h.poll(t); rep.First || rep.Counts.Created != 1 {
		t.Fatalf("second poll = %+v", rep)
	}
	h.wantInSync(t)
}
