package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/pull"
	"github.com/clerksync/clerksync/storetest"
)

// pullServer is a running serve whose polls and reconciles the test drives: each
// wait of its schedule is handed to the test, and each pass reported.
type pullServer struct {
	*testServer
	clock  *storetest.Clock
	waits  chan pullWait
	passes chan pull.Pass
}

type pullWait struct {
	d  time.Duration
	ch chan time.Time
}

// mustRunPullServe starts serve with env (plus a temporary database unless env
// names one) and args, with the schedule of polls and reconciles in the test's hands.
func mustRunPullServe(tb testing.TB, env map[string]string, args ...string) *pullServer {
	tb.Helper()
	ps := &pullServer{clock: storetest.NewClock(time.Now()), waits: make(chan pullWait, 16), passes: make(chan pull.Pass, 16)}
	ps.testServer = runServe(tb, map[string]string{"LOG_LEVEL": "info"}, env, args, func(c *ServeCommand) {
		c.Now = ps.clock.Now
		c.pull.after = func(d time.Duration) <-chan time.Time {
			ch := make(chan time.Time, 1)
			ps.waits <- pullWait{d, ch}
			return ch
		}
		c.pull.onPass = func(p pull.Pass) { ps.passes <- p }
	})
	return ps
}

// pass returns the next pass of kind, skipping those of the other kind.
func (ps *pullServer) pass(tb testing.TB, kind clerksync.RunKind) pull.Pass {
	tb.Helper()
	for {
		select {
		case p := <-ps.passes:
			if p.Kind == kind {
				return p
			}
		case <-time.After(30 * time.Second):
			tb.Fatalf("no %s pass\n%s", kind, ps.Logs)
		}
	}
}

// fire ends w after moving the clock past it.
func (ps *pullServer) fire(w pullWait) { w.ch <- ps.clock.Advance(w.d) }

// wait returns the next wait the schedule asks for.
func (ps *pullServer) wait(tb testing.TB) pullWait {
	tb.Helper()
	select {
	case w := <-ps.waits:
		return w
	case <-time.After(30 * time.Second):
		tb.Fatalf("the schedule never waited\n%s", ps.Logs)
		return pullWait{}
	}
}

func rename(tb testing.TB, f *fakeClerk, id, first string) *clerkfake.User {
	tb.Helper()
	u, err := f.UpdateUser(id, func(u *clerkfake.User) { u.FirstName = &first })
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestServe_PollWithoutWebhooks runs serve with a secret key and --poll-every but no
// webhook secret: it starts, says the webhook route is off, imports every user, then
// applies the changes of each poll — an application kept in step with no public URL.
func TestServe_PollWithoutWebhooks(t *testing.T) {
	t.Parallel()
	f := startFakeClerk(t)
	if err := f.Seed(30); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "clerksync.db")
	env := f.env(dbPath)
	env["LOG_LEVEL"] = "info"
	s := mustRunPullServe(t, env, "--poll-every", "10s")

	if p := s.pass(t, clerksync.RunPoll); p.Err != nil || !p.Poll.First || p.Poll.Counts.Created != 30 {
		t.Fatalf("first poll = %+v", p)
	}
	if !strings.Contains(s.Logs.String(), "the webhook route is off") || !strings.Contains(s.Logs.String(), "polls cannot see deleted users") {
		t.Fatalf("serve did not say it runs on polls alone:\n%s", s.Logs)
	}
	resp, err := http.Post(s.URL+"/api/webhooks/clerk", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "webhooks are off") {
		t.Fatalf("webhook route without a secret = %d %s, want 404 saying webhooks are off", resp.StatusCode, body)
	}

	w := s.wait(t)
	if w.d != 10*time.Second {
		t.Fatalf("next poll in %v, want 10s", w.d)
	}
	u := rename(t, f, f.Users()[3].ID, "Polled")
	s.fire(w)
	if p := s.pass(t, clerksync.RunPoll); p.Err != nil || p.Poll.Counts.Updated != 1 {
		t.Fatalf("second poll = %+v", p)
	}
	if got := s.profile(t, u.ID); got == nil || got.FirstName != "Polled" {
		t.Fatalf("profile after the poll = %+v", got)
	}

	// The metrics count the API's answers and the changes by kind and source.
	resp, err = http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`clerksync_clerk_api_requests_total{status="200"}`,
		`clerksync_changes_total{action="created",kind="user",source="backfill"} 30`,
		`clerksync_changes_total{action="updated",kind="user",source="backfill"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Fatalf("metrics lack %s:\n%s", want, metrics)
		}
	}
}

// TestServe_PollCheckpointAcrossRestarts restarts serve on the same database: the
// poll goes on from the checkpoint instead of reading every user again.
func TestServe_PollCheckpointAcrossRestarts(t *testing.T) {
	t.Parallel()
	f := startFakeClerk(t)
	if err := f.Seed(20); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "clerksync.db")
	env := f.env(dbPath)
	env["CLERK_WEBHOOK_SECRET"] = testSecret // webhooks and polls together

	first := mustRunPullServe(t, env, "--poll-every", "30s")
	if p := first.pass(t, clerksync.RunPoll); p.Err != nil || !p.Poll.First {
		t.Fatalf("first poll = %+v", p)
	}
	first.wait(t)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	u := rename(t, f, f.Users()[0].ID, "While Down")
	f.ResetCounters()
	second := mustRunPullServe(t, env, "--poll-every", "30s")
	p := second.pass(t, clerksync.RunPoll)
	if p.Err != nil || p.Poll.First || p.Poll.Counts.Updated != 1 {
		t.Fatalf("poll after the restart = %+v, want it to go on from the checkpoint", p)
	}
	if got := f.Requests("GET /v1/users"); got != 1 {
		t.Fatalf("%d list requests after the restart, want 1", got)
	}
	if got := second.profile(t, u.ID); got == nil || got.FirstName != "While Down" {
		t.Fatalf("profile = %+v", got)
	}
}

// TestServe_Reconcile runs serve with --reconcile-every and --reconcile-prune: with
// no reconcile recorded yet, one runs at start; the next, a period later, repairs a
// missed update and deletes a user Clerk no longer has.
func TestServe_Reconcile(t *testing.T) {
	t.Parallel()
	f := startFakeClerk(t)
	if err := f.Seed(40); err != nil {
		t.Fatal(err)
	}
	if err := f.SeedOrganizations(4, 12); err != nil {
		t.Fatal(err)
	}
	env := f.env(filepath.Join(t.TempDir(), "clerksync.db"))
	env["CLERK_WEBHOOK_SECRET"] = testSecret
	env["CLERKSYNC_RECONCILE_EVERY"] = "6h"
	s := mustRunPullServe(t, env, "--reconcile-prune", "--clerk-rate-limit", "-1")

	p := s.pass(t, clerksync.RunReconcile)
	// 40 users, 2 roles, 6 permissions, 4 organizations and 12 memberships.
	if p.Err != nil || p.Reconcile.Run.Counts.Created != 64 || p.Reconcile.Prune == nil ||
		p.Reconcile.Kinds[clerksync.KindMembership].Counts.Created != 12 {
		t.Fatalf("reconcile at start = %+v", p)
	}
	w := s.wait(t)
	if w.d < 6*time.Hour || w.d > 6*time.Hour+time.Minute {
		t.Fatalf("next reconcile in %v, want 6h", w.d)
	}

	// Webhooks missed meanwhile: an update and a deletion.
	changed := rename(t, f, f.Users()[5].ID, "Reconciled")
	gone := f.Users()[36].ID // in no organization
	if err := f.DeleteUser(gone); err != nil {
		t.Fatal(err)
	}
	orgs := f.Organizations()
	if err := f.DeleteOrganization(orgs[0].ID); err != nil {
		t.Fatal(err)
	}
	removed, err := f.RemoveMember(orgs[1].ID, f.Memberships(orgs[1].ID)[1].PublicUserData.UserID)
	if err != nil {
		t.Fatal(err)
	}
	s.fire(w)
	p = s.pass(t, clerksync.RunReconcile)
	if p.Err != nil || p.Reconcile.Run.Counts.Updated != 1 || p.Reconcile.Prune.Counts.Deleted != 3 {
		t.Fatalf("second reconcile = %+v (prune %+v)", p.Reconcile.Run, p.Reconcile.Prune)
	}
	for _, k := range []clerksync.ObjectKey{{Kind: clerksync.KindOrganization, ID: orgs[0].ID}, {Kind: clerksync.KindMembership, ID: removed.ID}} {
		if d, err := s.store.Deleted(context.Background(), k); err != nil || !d {
			t.Fatalf("Deleted(%s) = %v, %v: the reconcile's prune missed it", k, d, err)
		}
	}
	if got := s.profile(t, changed.ID); got == nil || got.FirstName != "Reconciled" {
		t.Fatalf("profile = %+v", got)
	}
	if got := s.profile(t, gone); got != nil {
		t.Fatalf("user %s, gone from Clerk, is still stored", gone)
	}
	runs, err := s.store.(clerksync.SyncStore).Runs(context.Background(), clerksync.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range runs {
		kinds = append(kinds, string(r.Kind)+":"+string(r.Status))
	}
	if got, want := strings.Join(kinds, " "), "prune:succeeded reconcile:succeeded prune:succeeded reconcile:succeeded"; got != want {
		t.Fatalf("runs = %s, want %s", got, want)
	}
}
