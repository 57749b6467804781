package pull_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/pull"
	"github.com/clerksync/clerksync/storetest"
)

// timers stands in for time.After: every wait a loop asks for is handed to the test,
// which fires it after moving the clock.
type timers struct {
	clock *storetest.Clock
	waits chan timerWait
}

type timerWait struct {
	d  time.Duration
	ch chan time.Time
}

func newTimers(clock *storetest.Clock) *timers {
	return &timers{clock: clock, waits: make(chan timerWait, 16)}
}

func (ts *timers) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ts.waits <- timerWait{d, ch}
	return ch
}

// next returns the next wait a loop asks for.
func (ts *timers) next(t *testing.T) timerWait {
	t.Helper()
	select {
	case w := <-ts.waits:
		return w
	case <-time.After(30 * time.Second):
		t.Fatal("the loop never waited")
		return timerWait{}
	}
}

// fire moves the clock by the wait's duration and ends the wait.
func (ts *timers) fire(w timerWait) {
	w.ch <- ts.clock.Advance(w.d)
}

// startLoop runs l until the test ends and returns the passes it reports.
func startLoop(t *testing.T, l *pull.Loop) <-chan pull.Pass {
	t.Helper()
	passes := make(chan pull.Pass, 16)
	l.OnPass = func(p pull.Pass) { passes <- p }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Loop.Run: %v", err)
		}
	})
	return passes
}

func nextPass(t *testing.T, passes <-chan pull.Pass) pull.Pass {
	t.Helper()
	select {
	case p := <-passes:
		return p
	case <-time.After(30 * time.Second):
		t.Fatal("no pass")
		return pull.Pass{}
	}
}

func TestLoop_OnePollerAtATime(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 20)
	tsA, tsB := newTimers(h.Clock), newTimers(h.Clock)
	a := startLoop(t, &pull.Loop{Syncer: h.Syncer, PollEvery: 30 * time.Second, Holder: "replica-a", After: tsA.After})
	if p := nextPass(t, a); p.Skipped || p.Err != nil || !p.Poll.First {
		t.Fatalf("first pass of a = %+v", p)
	}
	if w := tsA.next(t); w.d != 30*time.Second {
		t.Fatalf("a waits %v, want 30s", w.d)
	} else {
		defer tsA.fire(w) // let a go on once b has tried
	}

	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	lb := &pull.Loop{Syncer: h.Syncer, PollEvery: 30 * time.Second, Holder: "replica-b", After: tsB.After}
	b := make(chan pull.Pass, 16)
	lb.OnPass = func(p pull.Pass) { b <- p }
	doneB := make(chan error, 1)
	go func() { doneB <- lb.Run(ctxB) }()
	if p := nextPass(t, b); !p.Skipped || p.Poll != nil {
		t.Fatalf("b polled while a holds the lease: %+v", p)
	}
	stopB()
	<-tsB.waits
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
}

func TestLoop_LeaseMovesWhenHolderStops(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 5)
	ts := newTimers(h.Clock)
	ctx, stop := context.WithCancel(context.Background())
	la := &pull.Loop{Syncer: h.Syncer, PollEvery: 30 * time.Second, Holder: "replica-a", After: ts.After}
	done := make(chan error, 1)
	go func() { done <- la.Run(ctx) }()
	ts.next(t) // a polled and waits
	stop()     // a shuts down and gives up its lease
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b := startLoop(t, &pull.Loop{Syncer: h.Syncer, PollEvery: 30 * time.Second, Holder: "replica-b", After: newTimers(h.Clock).After})
	if p := nextPass(t, b); p.Skipped || p.Err != nil || p.Poll == nil {
		t.Fatalf("b after a stopped = %+v, want a poll", p)
	}
}

func TestLoop_PollsChanges(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 10)
	ts := newTimers(h.Clock)
	passes := startLoop(t, &pull.Loop{Syncer: h.Syncer, PollEvery: 10 * time.Second, Holder: "a", After: ts.After})
	nextPass(t, passes)
	w := ts.next(t)
	u := rename(t, h, h.Fake.Users()[3].ID, "Between Polls")
	ts.fire(w)
	p := nextPass(t, passes)
	if p.Err != nil || p.Poll.Counts.Updated != 1 {
		t.Fatalf("second pass = %+v", p)
	}
	if got := storetest.MustProfile(t, h.Store, u.ID).FirstName; got != "Between Polls" {
		t.Fatalf("first name = %q", got)
	}
}

// TestLoop_ReconcileSchedule: the first reconcile comes ReconcileEvery after the last
// successful backfill recorded in the database, not at start; later ones every
// ReconcileEvery; a failed one is retried sooner.
func TestLoop_ReconcileSchedule(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 30)
	ctx := context.Background()
	if _, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(20 * time.Minute)
	// Missed webhooks: one user changed, one deleted.
	changed := rename(t, h, h.Fake.Users()[4].ID, "Reconciled")
	gone := h.Fake.Users()[9].ID
	if err := h.Fake.DeleteUser(gone); err != nil {
		t.Fatal(err)
	}

	ts := newTimers(h.Clock)
	passes := startLoop(t, &pull.Loop{Syncer: h.Syncer, ReconcileEvery: time.Hour, ReconcilePrune: true, Holder: "a", After: ts.After})
	w := ts.next(t)
	if w.d != 40*time.Minute {
		t.Fatalf("first reconcile in %v, want 40m (an hour after the backfill)", w.d)
	}
	ts.fire(w)
	p := nextPass(t, passes)
	if p.Err != nil || p.Reconcile == nil {
		t.Fatalf("reconcile pass = %+v", p)
	}
	if c := p.Reconcile.Run.Counts; c.Updated != 1 || c.Unchanged != 28 {
		t.Fatalf("reconcile counts = %+v", c)
	}
	if p.Reconcile.Prune == nil || p.Reconcile.Prune.Counts.Deleted != 1 {
		t.Fatalf("reconcile prune = %+v", p.Reconcile.Prune)
	}
	if got := storetest.MustProfile(t, h.Store, changed.ID).FirstName; got != "Reconciled" {
		t.Fatalf("first name = %q", got)
	}
	h.wantInSync(t)
	if run := h.run(t, p.Reconcile.Run.ID); run.Kind != clerksync.RunReconcile || run.Status != clerksync.RunSucceeded {
		t.Fatalf("reconcile run = %+v", run)
	}

	if w := ts.next(t); w.d != time.Hour {
		t.Fatalf("next reconcile in %v, want 1h", w.d)
	} else {
		// Clerk is down when it comes: the reconcile fails and is retried in 10 min.
		h.Fake.FailNext(2, http.StatusServiceUnavailable) // the count (which may fail) and the first page
		ts.fire(w)
	}
	if p := nextPass(t, passes); p.Err == nil {
		t.Fatalf("pass with Clerk down = %+v, want an error", p)
	}
	if w := ts.next(t); w.d != 10*time.Minute {
		t.Fatalf("retry in %v, want 10m", w.d)
	} else {
		ts.fire(w)
	}
	if p := nextPass(t, passes); p.Err != nil || p.Reconcile == nil {
		t.Fatalf("retried reconcile = %+v", p)
	}
}

// TestLoop_ReconcileAtStartWithoutHistory: with no backfill or reconcile recorded,
// the first reconcile runs at once.
func TestLoop_ReconcileAtStartWithoutHistory(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 15)
	ts := newTimers(h.Clock)
	passes := startLoop(t, &pull.Loop{Syncer: h.Syncer, ReconcileEvery: 6 * time.Hour, Holder: "a", After: ts.After})
	p := nextPass(t, passes)
	if p.Err != nil || p.Reconcile == nil || p.Reconcile.Run.Counts.Created != 15 {
		t.Fatalf("first pass = %+v", p)
	}
	if w := ts.next(t); w.d != 6*time.Hour {
		t.Fatalf("next reconcile in %v, want 6h", w.d)
	}
	h.wantInSync(t)
}

func TestLoop_RefusesWithoutState(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := *h.Syncer
	s.State = nil
	l := &pull.Loop{Syncer: &s, PollEvery: time.Second, Holder: "a"}
	if err := l.Run(context.Background()); clerksync.ErrorCode(err) != clerksync.ECONFIG {
		t.Fatalf("Run without State = %v, want code %q", err, clerksync.ECONFIG)
	}
	l = &pull.Loop{Syncer: h.Syncer, PollEvery: time.Second}
	if err := l.Run(context.Background()); clerksync.ErrorCode(err) != clerksync.EINVALID {
		t.Fatalf("Run without a holder = %v, want code %q", err, clerksync.EINVALID)
	}
}
