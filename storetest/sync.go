package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clerksync/clerksync"
)

// mustSyncStore returns s as a clerksync.SyncStore, failing t when it is not one.
func mustSyncStore(t *testing.T, s clerksync.Store) clerksync.SyncStore {
	t.Helper()
	ss, ok := s.(clerksync.SyncStore)
	if !ok {
		t.Fatalf("%T does not implement clerksync.SyncStore", s)
	}
	return ss
}

func testSyncRuns(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(Epoch)
	s := mustSyncStore(t, open(t, clock.Now))

	if _, err := s.StartRun(ctx, "sideways"); clerksync.ErrorCode(err) != clerksync.EINVALID {
		t.Fatalf("StartRun(unknown kind) error = %v, want code %q", err, clerksync.EINVALID)
	}

	first, err := s.StartRun(ctx, clerksync.RunBackfill)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID == 0 || first.Status != clerksync.RunRunning || !first.StartedAt.Equal(Epoch) || !first.FinishedAt.IsZero() {
		t.Fatalf("StartRun = %+v", first)
	}

	clock.Advance(time.Second)
	first.Counts = clerksync.RunCounts{Seen: 500, Created: 400, Updated: 50, Unchanged: 45, Stale: 3, Skipped: 1, Invalid: 1}
	if err := s.UpdateRun(ctx, first); err != nil {
		t.Fatal(err)
	}
	got, err := s.Run(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != clerksync.RunRunning || !got.UpdatedAt.Equal(Epoch.Add(time.Second)) || !got.FinishedAt.IsZero() {
		t.Fatalf("run after UpdateRun = %+v", got)
	}
	if diff := cmp.Diff(first.Counts, got.Counts); diff != "" {
		t.Fatalf("counts after UpdateRun (-want +got):\n%s", diff)
	}

	// A running run cannot finish as running.
	if err := s.FinishRun(ctx, first); clerksync.ErrorCode(err) != clerksync.EINVALID {
		t.Fatalf("FinishRun(running) error = %v, want code %q", err, clerksync.EINVALID)
	}

	clock.Advance(time.Second)
	first.Status, first.Error = clerksync.RunFailed, "list users: Clerk API is unavailable (503)"
	first.Counts.Seen = 1000
	if err := s.FinishRun(ctx, first); err != nil {
		t.Fatal(err)
	}
	if want := Epoch.Add(2 * time.Second); !first.FinishedAt.Equal(want) {
		t.Fatalf("FinishRun set FinishedAt %v, want %v", first.FinishedAt, want)
	}
	got, err = s.Run(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Fatalf("finished run (-want +got):\n%s", diff)
	}

	second, err := s.StartRun(ctx, clerksync.RunPrune)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID <= first.ID {
		t.Fatalf("second run id %d is not after the first's %d", second.ID, first.ID)
	}
	second.Status = clerksync.RunSucceeded
	if err := s.FinishRun(ctx, second); err != nil {
		t.Fatal(err)
	}
	third, err := s.StartRun(ctx, clerksync.RunBackfill)
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		f    clerksync.RunFilter
		want []int64
	}{
		{"All", clerksync.RunFilter{}, []int64{third.ID, second.ID, first.ID}},
		{"Kind", clerksync.RunFilter{Kind: clerksync.RunBackfill}, []int64{third.ID, first.ID}},
		{"Status", clerksync.RunFilter{Status: clerksync.RunSucceeded}, []int64{second.ID}},
		{"KindAndStatus", clerksync.RunFilter{Kind: clerksync.RunBackfill, Status: clerksync.RunFailed}, []int64{first.ID}},
		{"Limit", clerksync.RunFilter{Limit: 1}, []int64{third.ID}},
		{"None", clerksync.RunFilter{Kind: clerksync.RunPoll}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := s.Runs(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, r := range runs {
				ids = append(ids, r.ID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Fatalf("Runs(%+v) ids (-want +got):\n%s", tt.f, diff)
			}
		})
	}

	if _, err := s.Run(ctx, third.ID+100); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Fatalf("Run(unknown) error = %v, want code %q", err, clerksync.ENOTFOUND)
	}
	missing := &clerksync.SyncRun{ID: third.ID + 100, Status: clerksync.RunSucceeded}
	if err := s.FinishRun(ctx, missing); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Fatalf("FinishRun(unknown) error = %v, want code %q", err, clerksync.ENOTFOUND)
	}
}

func testCheckpoint(t *testing.T, open Opener) {
	ctx := context.Background()
	s := mustSyncStore(t, open(t, NewClock(Epoch).Now))

	if _, err := s.Checkpoint(ctx, "poll.users"); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Fatalf("Checkpoint before any = %v, want code %q", err, clerksync.ENOTFOUND)
	}
	for _, v := range []string{"1748779200000", "1748779201000"} {
		if err := s.SetCheckpoint(ctx, "poll.users", v); err != nil {
			t.Fatal(err)
		}
		got, err := s.Checkpoint(ctx, "poll.users")
		if err != nil {
			t.Fatal(err)
		}
		if got != v {
			t.Fatalf("Checkpoint = %q, want %q", got, v)
		}
	}
	if _, err := s.Checkpoint(ctx, "poll.other"); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Fatalf("Checkpoint of another key = %v, want code %q", err, clerksync.ENOTFOUND)
	}
}

func testLease(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(Epoch)
	s := mustSyncStore(t, open(t, clock.Now))
	acquire := func(holder string, want bool) {
		t.Helper()
		got, err := s.AcquireLease(ctx, "poll", holder, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("AcquireLease(%s) at %v = %v, want %v", holder, clock.Now(), got, want)
		}
	}

	acquire("a", true)
	acquire("b", false)
	clock.Advance(50 * time.Second)
	acquire("a", true) // renewed until 50 s + 1 min
	clock.Advance(50 * time.Second)
	acquire("b", false)
	clock.Advance(10 * time.Second) // a's lease has expired
	acquire("b", true)
	acquire("a", false)

	// Only the holder can release; then anyone can take it.
	if err := s.ReleaseLease(ctx, "poll", "a"); err != nil {
		t.Fatal(err)
	}
	acquire("a", false)
	if err := s.ReleaseLease(ctx, "poll", "b"); err != nil {
		t.Fatal(err)
	}
	acquire("a", true)

	// Leases of other names are independent.
	if got, err := s.AcquireLease(ctx, "reconcile", "b", time.Minute); err != nil || !got {
		t.Fatalf("AcquireLease(reconcile, b) = %v, %v; want true", got, err)
	}
}

// testLeaseRace has many takers race for one lease: exactly one wins.
func testLeaseRace(t *testing.T, open Opener) {
	ctx := context.Background()
	s := mustSyncStore(t, open(t, NewClock(Epoch).Now))
	const takers = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  []string
		errs []error
	)
	for i := range takers {
		wg.Go(func() {
			holder := fmt.Sprintf("replica-%d", i)
			ok, err := s.AcquireLease(ctx, "reconcile", holder, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				won = append(won, holder)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("AcquireLease errors: %v", errs)
	}
	if len(won) != 1 {
		t.Fatalf("%d takers won the lease (%v), want exactly 1", len(won), won)
	}
}

func testProfileIDs(t *testing.T, open Opener) {
	ctx := context.Background()
	store := open(t, NewClock(Epoch).Now)
	s := mustSyncStore(t, store)
	base := Epoch.UnixMilli()
	var changes []clerksync.Change
	for i, id := range []string{"user_c", "user_a", "user_e", "user_b", "user_d"} {
		p := NewProfile(id, base+int64(i)*1000) // created at base, base+1 s, ...
		changes = append(changes, clerksync.UpsertUser(p, clerksync.SourceBackfill))
	}
	changes = append(changes, clerksync.Delete(clerksync.UserKey("user_b"), clerksync.SourceAPI))
	MustApply(t, store, changes...)

	for _, tt := range []struct {
		name   string
		after  string
		before int64
		limit  int
		want   []string
	}{
		{"All", "", base + 10_000, 0, []string{"user_a", "user_c", "user_d", "user_e"}},
		{"CreatedBefore", "", base + 2000, 0, []string{"user_a", "user_c"}}, // user_e was created at base+2 s: not before
		{"After", "user_c", base + 10_000, 0, []string{"user_d", "user_e"}},
		{"Limit", "", base + 10_000, 2, []string{"user_a", "user_c"}},
		{"Nothing", "", base, 0, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ProfileIDs(ctx, tt.after, tt.before, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("ProfileIDs (-want +got):\n%s", diff)
			}
		})
	}
}

func testPruneRuns(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(Epoch)
	s := mustSyncStore(t, open(t, clock.Now))

	finish := func(kind clerksync.RunKind, status clerksync.RunStatus) *clerksync.SyncRun {
		t.Helper()
		r, err := s.StartRun(ctx, kind)
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		r.Status = status
		if err := s.FinishRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	oldReconcile := finish(clerksync.RunReconcile, clerksync.RunSucceeded)
	lastReconcile := finish(clerksync.RunReconcile, clerksync.RunSucceeded)
	failedPoll := finish(clerksync.RunPoll, clerksync.RunFailed)
	lastPoll := finish(clerksync.RunPoll, clerksync.RunSucceeded)
	running, err := s.StartRun(ctx, clerksync.RunBackfill)
	if err != nil {
		t.Fatal(err)
	}
	cutoff := clock.Advance(time.Hour)
	recent := finish(clerksync.RunPoll, clerksync.RunSucceeded)

	n, err := s.PruneRuns(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("PruneRuns deleted %d runs, want 3 (the older reconcile and the two older polls)", n)
	}
	for _, r := range []*clerksync.SyncRun{oldReconcile, failedPoll, lastPoll} {
		if _, err := s.Run(ctx, r.ID); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
			t.Errorf("run %d (%s, %s) was kept: %v", r.ID, r.Kind, r.Status, err)
		}
	}
	// Kept: the latest successful reconcile however old (the schedule counts from
	// it), a running run, and what finished after the cutoff.
	for _, r := range []*clerksync.SyncRun{lastReconcile, running, recent} {
		if _, err := s.Run(ctx, r.ID); err != nil {
			t.Errorf("run %d (%s) was pruned: %v", r.ID, r.Kind, err)
		}
	}
}
