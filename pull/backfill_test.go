package pull_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/pull"
)

func TestBackfill_ThousandsThenAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const n = 2000
	h.seed(t, n)
	ctx := context.Background()

	var progress []pull.Progress
	rep, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{Progress: func(p pull.Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.Total != n {
		t.Fatalf("report = %+v, want complete with total %d", rep, n)
	}
	if diff := cmp.Diff(clerksync.RunCounts{Seen: n, Created: n}, rep.Run.Counts); diff != "" {
		t.Fatalf("counts (-want +got):\n%s", diff)
	}
	h.wantInSync(t)

	// Four full pages and an empty one, each one request, plus the count.
	if got, want := h.Fake.Requests("GET /v1/users"), 5; got != want {
		t.Fatalf("%d list requests, want %d", got, want)
	}
	if got, want := h.Fake.Requests("GET /v1/users/count"), 1; got != want {
		t.Fatalf("%d count requests, want %d", got, want)
	}
	if got, want := len(progress), 5; got != want {
		t.Fatalf("%d progress calls, want %d", got, want)
	}
	if last := progress[len(progress)-1]; !last.Done || last.Counts.Seen != n || last.Total != n {
		t.Fatalf("last progress = %+v", last)
	}

	// The profile is Clerk's user, with source backfill.
	u := h.Fake.Users()[42]
	p := h.profiles(t)[u.ID]
	if p.SyncSource != clerksync.SourceBackfill || p.Email != u.EmailAddresses[0].EmailAddress || p.CreatedAt != u.CreatedAt {
		t.Fatalf("profile %s = %+v, Clerk's user %+v", u.ID, p, u)
	}

	run := h.run(t, rep.Run.ID)
	if run.Kind != clerksync.RunBackfill || run.Status != clerksync.RunSucceeded || run.FinishedAt.IsZero() || run.Counts != rep.Run.Counts {
		t.Fatalf("recorded run = %+v", run)
	}

	// Again: nothing changes.
	rep2, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(clerksync.RunCounts{Seen: n, Unchanged: n}, rep2.Run.Counts); diff != "" {
		t.Fatalf("counts of the second run (-want +got):\n%s", diff)
	}
	if rep2.Run.ID == rep.Run.ID {
		t.Fatal("the second run reused the first one's id")
	}
	h.wantInSync(t)
}

// TestBackfill_UsersCreatedDuringScan creates users while the listing is under way:
// each is listed (it sorts after the cursor) and none is listed twice.
func TestBackfill_UsersCreatedDuringScan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 250)
	pages := 0
	h.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if listing(r) {
			pages++
			for range 3 {
				h.Clock.Advance(time.Second)
				if _, err := h.Fake.CreateUser(clerkfake.UserParams{}); err != nil {
					t.Error(err)
				}
			}
		}
		next.ServeHTTP(w, r)
	})
	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	// Every user created before a page was read is in the listing: 250 + 3 per page.
	if got, want := rep.Run.Counts.Seen, int64(250+3*pages); got != want {
		t.Fatalf("seen %d users in %d pages, want %d", got, pages, want)
	}
	if rep.Run.Counts.Created != rep.Run.Counts.Seen {
		t.Fatalf("counts = %+v: a user was listed twice", rep.Run.Counts)
	}
	h.wantInSync(t)
}

// TestBackfill_UsersDeletedDuringScan deletes users before the cursor while the
// listing is under way: no user after them is skipped.
func TestBackfill_UsersDeletedDuringScan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 300)
	users := h.Fake.Users()
	next := 0
	h.Wrap(func(w http.ResponseWriter, r *http.Request, nextH http.Handler) {
		if listing(r) && r.URL.Query().Get("starting_after") != "" {
			// Delete two users already listed, the cursor's own user first.
			cursor := r.URL.Query().Get("starting_after")
			if err := h.Fake.DeleteUser(cursor); err != nil {
				t.Error(err)
			}
			for ; next < len(users); next++ {
				if users[next].ID != cursor {
					if err := h.Fake.DeleteUser(users[next].ID); err == nil {
						next++
						break
					}
				}
			}
		}
		nextH.ServeHTTP(w, r)
	})
	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Run.Counts.Seen, int64(300); got != want {
		t.Fatalf("seen %d users, want all %d (none skipped)", got, want)
	}
}

// TestBackfill_RacingWebhooks has newer versions of users arrive through the engine,
// as webhooks would, after Clerk answered a page with older versions and before the
// backfill applies it; and a user deleted likewise. The newer versions stay, the
// deleted user stays deleted, and the report says so.
func TestBackfill_RacingWebhooks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 600)
	ctx := context.Background()
	var updated, deleted []string
	page := 0
	h.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !listing(r) {
			next.ServeHTTP(w, r)
			return
		}
		rec := answer(next, r) // the page, with the versions as they are now
		page++
		if page <= 2 {
			users := h.Fake.Users()
			for i := (page - 1) * 250; i < (page-1)*250+20; i += 2 {
				h.Clock.Advance(time.Millisecond)
				u, err := h.Fake.UpdateUser(users[i].ID, func(u *clerkfake.User) {
					name := "Webhook"
					u.FirstName = &name
				})
				if err != nil {
					t.Error(err)
					continue
				}
				updated = append(updated, u.ID)
				h.webhook(t, clerkfake.EventUserUpdated, u)
			}
			victim := users[(page-1)*250+1]
			if err := h.Fake.DeleteUser(victim.ID); err != nil {
				t.Error(err)
			}
			deleted = append(deleted, victim.ID)
			h.webhook(t, clerkfake.EventUserDeleted, victim)
		}
		copyAnswer(w, rec)
	})

	rep, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{PageSize: 250})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Run.Counts
	if got, want := c.Stale, int64(len(updated)); got != want {
		t.Fatalf("stale = %d, want %d (the users webhooks updated after the listing): %+v", got, want, c)
	}
	if got, want := c.Skipped, int64(len(deleted)); got != want {
		t.Fatalf("skipped = %d, want %d (the users deleted after the listing): %+v", got, want, c)
	}
	if got, want := c.Created, int64(600-len(updated)-len(deleted)); got != want {
		t.Fatalf("created = %d, want %d: %+v", got, want, c)
	}
	profiles := h.profiles(t)
	for _, id := range updated {
		if p := profiles[id]; p.FirstName != "Webhook" || p.SyncSource != clerksync.SourceWebhook {
			t.Fatalf("profile %s = %q from %s: the backfill overwrote a newer webhook version", id, p.FirstName, p.SyncSource)
		}
	}
	for _, id := range deleted {
		if _, ok := profiles[id]; ok {
			t.Fatalf("deleted user %s came back", id)
		}
	}
	h.wantInSync(t)
}

// webhook applies what a webhook about u would, through the engine.
func (h *harness) webhook(t *testing.T, eventType string, u *clerkfake.User) {
	t.Helper()
	var ch clerksync.Change
	if eventType == clerkfake.EventUserDeleted {
		ch = clerksync.Delete(clerksync.UserKey(u.ID), clerksync.SourceWebhook)
	} else {
		users, err := decodeUsers(u)
		if err != nil {
			t.Fatal(err)
		}
		ch = clerksync.UpsertUser(users[0], clerksync.SourceWebhook)
	}
	ch.EventID, ch.EventType = "msg_"+eventType+"_"+u.ID, eventType
	res, err := h.Engine.Apply(context.Background(), ch)
	if err != nil || res[0].Outcome != clerksync.OutcomeApplied {
		t.Fatalf("webhook %s %s: %+v, %v", eventType, u.ID, res, err)
	}
}

func TestBackfill_InterruptThenRerun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 500)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	rep, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{PageSize: 50, Progress: func(p pull.Progress) {
		if p.Pages == 3 {
			cancel() // Ctrl-C while the third page is being recorded
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Backfill after cancel = %v, want context.Canceled", err)
	}
	// The pages applied are exactly what the run says: the three reported, and the
	// fourth, which was handed to the database before the third was durable and is
	// finished rather than abandoned.
	if got, want := rep.Run.Counts, (clerksync.RunCounts{Seen: 200, Created: 200}); got != want {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
	if got := len(h.profiles(t)); got != 200 {
		t.Fatalf("%d profiles after the interrupted run, want 200", got)
	}
	run := h.run(t, rep.Run.ID)
	if run.Status != clerksync.RunInterrupted || run.Counts != rep.Run.Counts || run.FinishedAt.IsZero() {
		t.Fatalf("recorded run = %+v", run)
	}

	rep, err = h.Syncer.Backfill(context.Background(), pull.BackfillOptions{PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Run.Counts, (clerksync.RunCounts{Seen: 500, Created: 300, Unchanged: 200}); got != want {
		t.Fatalf("counts of the rerun = %+v, want %+v", got, want)
	}
	h.wantInSync(t)
}

func TestBackfill_ClerkFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 300)
	h.failListingPage(2, http.StatusServiceUnavailable)
	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{PageSize: 100})
	if got, want := clerksync.ErrorCode(err), clerksync.EUNAVAILABLE; got != want {
		t.Fatalf("Backfill error %v (code %q), want code %q", err, got, want)
	}
	if rep.Complete {
		t.Fatal("a failed listing reported complete")
	}
	run := h.run(t, rep.Run.ID)
	if run.Status != clerksync.RunFailed || run.Error == "" || run.Counts.Created != 100 {
		t.Fatalf("recorded run = %+v", run)
	}
}

func TestBackfill_RetriesServerErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withRetries(3))
	h.seed(t, 120)
	h.Fake.FailNext(2, http.StatusBadGateway)
	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Run.Counts.Created != 120 {
		t.Fatalf("counts = %+v", rep.Run.Counts)
	}
	h.wantInSync(t)
}

func TestBackfill_DryRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 20)
	users := h.Fake.Users()
	// Stored: user 0 as Clerk has it, user 1 older, user 2 newer, user 3 deleted.
	for i, delta := range []int64{0, -1000, 1000} {
		p, err := decodeUsers(users[i])
		if err != nil {
			t.Fatal(err)
		}
		p[0].UpdatedAt += delta
		h.upsert(t, p[0])
	}
	h.webhookDelete(t, users[3].ID)

	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := clerksync.RunCounts{Seen: 20, Created: 16, Updated: 1, Unchanged: 1, Stale: 1, Skipped: 1}
	if diff := cmp.Diff(want, rep.Run.Counts); diff != "" {
		t.Fatalf("dry-run counts (-want +got):\n%s", diff)
	}
	if got := len(h.profiles(t)); got != 3 {
		t.Fatalf("%d profiles after a dry run, want the 3 stored before", got)
	}
	if runs, err := h.Store.Runs(context.Background(), clerksync.RunFilter{}); err != nil || len(runs) != 0 {
		t.Fatalf("a dry run was recorded: %+v, %v", runs, err)
	}
}

// TestBackfill_InvalidUser lists a user in a shape that cannot be decoded: it is
// counted and the others are applied.
func TestBackfill_InvalidUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 10)
	bad := h.Fake.Users()[4].ID
	h.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !listing(r) {
			next.ServeHTTP(w, r)
			return
		}
		rec := answer(next, r)
		body := replaceUpdatedAt(rec.Body.Bytes(), bad)
		rec.Body.Reset()
		rec.Body.Write(body)
		rec.Header().Del("Content-Length")
		copyAnswer(w, rec)
	})
	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Run.Counts, (clerksync.RunCounts{Seen: 10, Created: 9, Invalid: 1}); got != want {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
	if _, ok := h.profiles(t)[bad]; ok {
		t.Fatal("the undecodable user was stored")
	}
}

func TestBackfill_NotConfigured(t *testing.T) {
	t.Parallel()
	s := &pull.Syncer{}
	_, err := s.Backfill(context.Background(), pull.BackfillOptions{})
	if got, want := clerksync.ErrorCode(err), clerksync.ECONFIG; got != want {
		t.Fatalf("Backfill without a client: %v, want code %q", err, want)
	}
	h := newHarness(t)
	if _, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{PageSize: 501}); clerksync.ErrorCode(err) != clerksync.EINVALID {
		t.Fatalf("Backfill with a page of 501: %v, want code %q", err, clerksync.EINVALID)
	}
}
