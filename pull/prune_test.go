package pull_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/pull"
	"github.com/clerksync/clerksync/storetest"
)

// pruneSetup stores the 30 users of a fake Clerk locally, then deletes gone of them
// from Clerk without telling clerksync, as missed webhooks would. It returns the
// deleted ids.
func pruneSetup(t *testing.T, h *harness, gone int) []string {
	t.Helper()
	h.seed(t, 30)
	if _, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range h.Fake.Users()[:gone] {
		if err := h.Fake.DeleteUser(u.ID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	h.Fake.ResetCounters()
	return ids
}

func TestPrune_DeletesWhatClerkNoLongerHas(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gone := pruneSetup(t, h, 2)
	ctx := context.Background()
	// A webhook delivery of the first user is in the event log: prune redacts it.
	storetest.MustApply(t, h.Store, clerksync.Change{
		Op: clerksync.OpIgnore, Source: clerksync.SourceWebhook, EventID: "msg_session", EventType: "session.created",
		UserID: gone[0], Body: []byte(`{"type":"session.created","data":{"user_id":"` + gone[0] + `"}}`),
	})

	rep, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Prune == nil {
		t.Fatal("no prune run")
	}
	if diff := cmp.Diff(gone, rep.Gone); diff != "" {
		t.Fatalf("gone (-want +got):\n%s", diff)
	}
	if got, want := rep.Prune.Counts, (clerksync.RunCounts{Seen: 2, Deleted: 2}); got != want {
		t.Fatalf("prune counts = %+v, want %+v", got, want)
	}
	// Each deletion was confirmed by Clerk, one GET per candidate.
	if got, want := h.Fake.Requests("GET /v1/users/{user_id}"), 2; got != want {
		t.Fatalf("%d user lookups, want %d", got, want)
	}
	for _, id := range gone {
		deleted, err := h.Store.Deleted(ctx, clerksync.UserKey(id))
		if err != nil || !deleted {
			t.Fatalf("Deleted(%s) = %v, %v; want a tombstone", id, deleted, err)
		}
	}
	if e := storetest.MustEvent(t, h.Store, "msg_session"); !e.Redacted || e.Body != nil {
		t.Fatalf("event of a pruned user not redacted: %+v", e)
	}
	h.wantInSync(t)
	run := h.run(t, rep.Prune.ID)
	if run.Kind != clerksync.RunPrune || run.Status != clerksync.RunSucceeded || run.Counts.Deleted != 2 {
		t.Fatalf("recorded prune run = %+v", run)
	}

	// Pruning again finds nothing to check.
	h.Fake.ResetCounters()
	rep, err = h.Syncer.Backfill(ctx, pull.BackfillOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.PruneCandidates != 0 || h.Fake.Requests("GET /v1/users/{user_id}") != 0 {
		t.Fatalf("second prune checked %d candidates", rep.PruneCandidates)
	}
}

// TestPrune_NeverAfterAPartialListing: a listing that fails part-way prunes nothing.
func TestPrune_NeverAfterAPartialListing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gone := pruneSetup(t, h, 3)
	h.failListingPage(2, http.StatusInternalServerError)
	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{PageSize: 10, Prune: true})
	if err == nil {
		t.Fatal("Backfill succeeded with a failed page")
	}
	if rep.Prune != nil || len(rep.Gone) != 0 {
		t.Fatalf("a partial listing pruned: %+v", rep)
	}
	wantStored(t, h, gone...)
	if got := h.Fake.Requests("GET /v1/users/{user_id}"); got != 0 {
		t.Fatalf("%d user lookups after a partial listing, want none", got)
	}
}

// TestPrune_NeverAfterAnInterruptedListing: Ctrl-C during the listing prunes nothing.
func TestPrune_NeverAfterAnInterruptedListing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gone := pruneSetup(t, h, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{PageSize: 10, Prune: true, Progress: func(p pull.Progress) {
		if p.Phase == pull.PhaseList && p.Pages == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Backfill = %v, want context.Canceled", err)
	}
	if rep.Prune != nil {
		t.Fatalf("an interrupted listing pruned: %+v", rep.Prune)
	}
	wantStored(t, h, gone...)
}

// TestPrune_NeverUsersCreatedAfterTheScanBegan: a local user whose Clerk created_at
// is after the scan began is no candidate, even though the listing did not have it
// (it may have been created behind the cursor).
func TestPrune_NeverUsersCreatedAfterTheScanBegan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pruneSetup(t, h, 0)
	scanStart := h.Clock.Now().UnixMilli()
	// Neither user is in Clerk; one was created before the scan, one after.
	before, after := storetest.NewProfile("user_2before", scanStart-1), storetest.NewProfile("user_2after", scanStart+1)
	h.upsert(t, before)
	h.upsert(t, after)

	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{before.UserID}, rep.Gone); diff != "" {
		t.Fatalf("gone (-want +got):\n%s", diff)
	}
	if got := h.Fake.Requests("GET /v1/users/{user_id}"); got != 1 {
		t.Fatalf("%d user lookups, want 1 (the user created after the scan began is not checked)", got)
	}
	wantStored(t, h, after.UserID)
}

// TestPrune_NeverWithoutResourceNotFound: only Clerk's 404 resource_not_found for
// the user deletes it; an outage or a 404 of another kind stops the prune.
func TestPrune_NeverWithoutResourceNotFound(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		status   int
		body     string
		wantCode string
	}{
		{"ServerError", http.StatusServiceUnavailable, `{"errors":[{"code":"internal_clerk_error","message":"oops"}]}`, clerksync.EUNAVAILABLE},
		{"OtherNotFound", http.StatusNotFound, `{"errors":[{"code":"resource_not_found_elsewhere","message":"no such route"}]}`, clerksync.ECONFIG},
		{"NotFoundWithoutBody", http.StatusNotFound, `<html>not found</html>`, clerksync.ECONFIG},
		{"Unauthorized", http.StatusUnauthorized, `{"errors":[{"code":"authentication_invalid","message":"no"}]}`, clerksync.ECONFIG},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			gone := pruneSetup(t, h, 2)
			h.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/users/user_") {
					w.WriteHeader(tt.status)
					_, _ = w.Write([]byte(tt.body))
					return
				}
				next.ServeHTTP(w, r)
			})
			rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{Prune: true})
			if got := clerksync.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("Backfill = %v (code %q), want code %q", err, got, tt.wantCode)
			}
			if len(rep.Gone) != 0 {
				t.Fatalf("deleted %v without Clerk's resource_not_found", rep.Gone)
			}
			if rep.Prune.Status != clerksync.RunFailed || rep.Run.Status != clerksync.RunSucceeded {
				t.Fatalf("runs: listing %s, prune %s", rep.Run.Status, rep.Prune.Status)
			}
			wantStored(t, h, gone...)
		})
	}
}

// TestPrune_NeverUsersClerkStillHas: a user missing from the listing whom Clerk
// still answers for is applied, not deleted.
func TestPrune_NeverUsersClerkStillHas(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pruneSetup(t, h, 0)
	hidden := h.Fake.Users()[5]
	// Clerk changed the user meanwhile, and its listing leaves the user out.
	h.Clock.Advance(time.Second)
	if _, err := h.Fake.UpdateUser(hidden.ID, func(u *clerkfake.User) {
		name := "Still Here"
		u.FirstName = &name
	}); err != nil {
		t.Fatal(err)
	}
	h.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !listing(r) {
			next.ServeHTTP(w, r)
			return
		}
		rec := answer(next, r)
		body := dropUser(rec.Body.Bytes(), hidden.ID)
		rec.Body.Reset()
		rec.Body.Write(body)
		rec.Header().Del("Content-Length")
		copyAnswer(w, rec)
	})
	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Gone) != 0 {
		t.Fatalf("deleted %v, which Clerk still has", rep.Gone)
	}
	if got, want := rep.Prune.Counts, (clerksync.RunCounts{Seen: 1, Updated: 1}); got != want {
		t.Fatalf("prune counts = %+v, want %+v", got, want)
	}
	p := storetest.MustProfile(t, h.Store, hidden.ID)
	if p.FirstName != "Still Here" || p.SyncSource != clerksync.SourceAPI {
		t.Fatalf("profile = %q from %s, want Clerk's new version from the API", p.FirstName, p.SyncSource)
	}
}

// TestPrune_RefusesMassDeletion: a prune that would delete more than allowed — the
// sign of a secret key of another instance — deletes nothing and asks Clerk nothing.
func TestPrune_RefusesMassDeletion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gone := pruneSetup(t, h, 12) // of 30: more than DefaultPruneFloor, more than 10%
	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{Prune: true})
	if !errors.Is(err, pull.ErrPruneRefused) || clerksync.ErrorCode(err) != clerksync.ECONFIG {
		t.Fatalf("Backfill = %v, want ErrPruneRefused with code %q", err, clerksync.ECONFIG)
	}
	if rep.PruneCandidates != 12 || h.Fake.Requests("GET /v1/users/{user_id}") != 0 {
		t.Fatalf("candidates %d, lookups %d; want 12 and none", rep.PruneCandidates, h.Fake.Requests("GET /v1/users/{user_id}"))
	}
	wantStored(t, h, gone...)

	// Allowed explicitly, it goes ahead.
	rep, err = h.Syncer.Backfill(context.Background(), pull.BackfillOptions{Prune: true, PruneMax: 12})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rep.Gone); got != 12 {
		t.Fatalf("pruned %d, want 12", got)
	}
	h.wantInSync(t)
}

func TestPrune_DryRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gone := pruneSetup(t, h, 2)
	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{Prune: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(gone, rep.Gone); diff != "" {
		t.Fatalf("would delete (-want +got):\n%s", diff)
	}
	if got, want := rep.Prune.Counts, (clerksync.RunCounts{Seen: 2, Deleted: 2}); got != want {
		t.Fatalf("dry-run prune counts = %+v, want %+v", got, want)
	}
	wantStored(t, h, gone...)
}

// wantStored fails t unless every user of ids has a profile.
func wantStored(t *testing.T, h *harness, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := h.Store.Profile(context.Background(), id); err != nil {
			t.Fatalf("profile %s: %v; want it kept", id, err)
		}
	}
}
