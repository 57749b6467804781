package engine_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gatedStore is a real SQLite store whose batches can be held at their start, so a
// test can decide what is queued while a batch is in flight, and can be made to fail.
type gatedStore struct {
	*sqlite.Store

	mu       sync.Mutex
	gate     chan struct{} // when non-nil, a batch waits for it to close
	entered  chan struct{} // receives once per batch, before waiting
	fail     error         // fails every batch
	syncFail error         // fails every Sync
	syncGate chan struct{} // when non-nil, Sync waits for it to close
	syncing  chan struct{} // receives once per Sync, before waiting
	sizes    []int
	syncs    int
}

func (g *gatedStore) hold(n int) error {
	g.mu.Lock()
	gate, fail := g.gate, g.fail
	g.sizes = append(g.sizes, n)
	g.mu.Unlock()
	select {
	case g.entered <- struct{}{}:
	default:
	}
	if gate != nil {
		<-gate
	}
	return fail
}

func (g *gatedStore) Apply(ctx context.Context, changes []clerksync.Change) ([]clerksync.Result, error) {
	if err := g.hold(len(changes)); err != nil {
		return nil, err
	}
	return g.Store.Apply(ctx, changes)
}

func (g *gatedStore) ApplyCommitted(ctx context.Context, changes []clerksync.Change) ([]clerksync.Result, error) {
	if err := g.hold(len(changes)); err != nil {
		return nil, err
	}
	return g.Store.ApplyCommitted(ctx, changes)
}

func (g *gatedStore) Sync() error {
	g.mu.Lock()
	g.syncs++
	fail, gate := g.syncFail, g.syncGate
	g.mu.Unlock()
	select {
	case g.syncing <- struct{}{}:
	default:
	}
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return fail
	}
	return g.Store.Sync()
}

func (g *gatedStore) set(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f()
}

func (g *gatedStore) batchSizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

// plainStore hides the pipelining of the store it wraps: the engine sees a plain
// clerksync.Store and applies each batch with Apply.
type plainStore struct{ clerksync.Store }

// mode is how the engine drives the store: batch by batch with Apply, or pipelined
// with ApplyCommitted and Sync.
type mode struct {
	name      string
	pipelined bool
}

var modes = []mode{{"Apply", false}, {"Pipelined", true}}

// forEachMode runs test once per mode.
func forEachMode(t *testing.T, test func(t *testing.T, m mode)) {
	t.Helper()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			test(t, m)
		})
	}
}

// openGated opens a gated store on a fresh SQLite file, and the store the engine
// should be given for mode m.
func openGated(t *testing.T, m mode) (*gatedStore, clerksync.Store) {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "engine.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	g := &gatedStore{Store: s, entered: make(chan struct{}, 1), syncing: make(chan struct{}, 1)}
	if m.pipelined {
		return g, g
	}
	return g, plainStore{g}
}

func upsert(i int) clerksync.Change {
	return storetest.Upsert(fmt.Sprintf("msg_%d", i), storetest.NewProfile(fmt.Sprintf("user_%03d", i), 1_700_000_000_000+int64(i)))
}

func TestEngine_LoneChangeCommitsAtOnce(t *testing.T) { forEachMode(t, testLoneChangeCommitsAtOnce) }

func testLoneChangeCommitsAtOnce(t *testing.T, m mode) {
	g, s := openGated(t, m)
	e := engine.New(s, engine.Config{})
	defer e.Close()

	res, err := e.Apply(context.Background(), upsert(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res[0], (clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionCreated}); got != want {
		t.Fatalf("result = %+v, want %+v", got, want)
	}
	if got := g.batchSizes(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("batches = %v, want one batch of 1", got)
	}
}

// While one batch is in flight, everything queued behind it goes into the next single
// transaction, and each caller gets its own result.
func TestEngine_GroupsQueuedChanges(t *testing.T) { forEachMode(t, testGroupsQueuedChanges) }

func testGroupsQueuedChanges(t *testing.T, m mode) {
	g, s := openGated(t, m)
	g.gate = make(chan struct{})
	e := engine.New(s, engine.Config{MaxBatch: 64})
	defer e.Close()

	var wg sync.WaitGroup
	results := make([]clerksync.Result, 21)
	errs := make([]error, 21)
	call := func(i int, c clerksync.Change) {
		defer wg.Done()
		res, err := e.Apply(context.Background(), c)
		if err == nil {
			results[i] = res[0]
		}
		errs[i] = err
	}
	wg.Add(1)
	go call(0, upsert(0))
	<-g.entered // the first batch is in Apply, held at the gate

	// 20 more: 10 new users and 10 duplicates of the first delivery of each.
	for i := 1; i <= 10; i++ {
		wg.Add(2)
		go call(i, upsert(i))
		go call(10+i, upsert(i))
	}
	for e.QueueLen() < 20 {
		time.Sleep(time.Millisecond) // wait until all 20 are queued; not a timing assertion
	}
	close(g.gate)
	wg.Wait()

	if got := g.batchSizes(); len(got) != 2 || got[0] != 1 || got[1] != 20 {
		t.Fatalf("batches = %v, want [1 20]", got)
	}
	created, dup := 0, 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		switch results[i].Outcome {
		case clerksync.OutcomeApplied:
			created++
		case clerksync.OutcomeDuplicate:
			dup++
		}
	}
	if created != 11 || dup != 10 {
		t.Fatalf("applied %d and duplicates %d, want 11 and 10 (results %+v)", created, dup, results)
	}
}

func TestEngine_FullQueueIsOverloaded(t *testing.T) { forEachMode(t, testFullQueueIsOverloaded) }

func testFullQueueIsOverloaded(t *testing.T, m mode) {
	g, s := openGated(t, m)
	g.gate = make(chan struct{})
	e := engine.New(s, engine.Config{QueueSize: 2})
	defer e.Close()

	var wg sync.WaitGroup
	apply := func(i int) {
		defer wg.Done()
		if _, err := e.Apply(context.Background(), upsert(i)); err != nil {
			t.Errorf("queued change %d: %v", i, err)
		}
	}
	wg.Add(1)
	go apply(0)
	<-g.entered
	wg.Add(2)
	go apply(1)
	go apply(2)
	for e.QueueLen() < 2 {
		time.Sleep(time.Millisecond)
	}
	_, err := e.Apply(context.Background(), upsert(3))
	if clerksync.ErrorCode(err) != clerksync.EOVERLOADED {
		t.Fatalf("Apply on a full queue = %v, want code %s", err, clerksync.EOVERLOADED)
	}

	// ApplyWait waits for room instead, until its context ends.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.ApplyWait(ctx, upsert(4)); !errors.Is(err, context.Canceled) {
		t.Fatalf("ApplyWait with a cancelled context = %v", err)
	}
	close(g.gate)
	wg.Wait()
}

func TestEngine_StoreFailureFailsTheBatchOnly(t *testing.T) {
	forEachMode(t, testStoreFailureFailsTheBatchOnly)
}

func testStoreFailureFailsTheBatchOnly(t *testing.T, m mode) {
	g, s := openGated(t, m)
	g.fail = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "database down"}
	e := engine.New(s, engine.Config{})
	defer e.Close()

	_, err := e.Apply(context.Background(), upsert(1))
	if clerksync.ErrorCode(err) != clerksync.EUNAVAILABLE {
		t.Fatalf("Apply = %v, want code %s", err, clerksync.EUNAVAILABLE)
	}
	if _, err := g.Store.Profile(context.Background(), "user_001"); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Fatalf("failed batch left a row: %v", err)
	}

	// The database is back: the next delivery applies.
	g.set(func() { g.fail = nil })
	if _, err := e.Apply(context.Background(), upsert(1)); err != nil {
		t.Fatal(err)
	}
}

// A change the store cannot apply is dead-lettered; its batch-mates are applied.
func TestEngine_PoisonChangeDoesNotFailBatchMates(t *testing.T) {
	forEachMode(t, testPoisonChangeDoesNotFailBatchMates)
}

func testPoisonChangeDoesNotFailBatchMates(t *testing.T, m mode) {
	g, s := openGated(t, m)
	g.gate = make(chan struct{})
	e := engine.New(s, engine.Config{})
	defer e.Close()

	poison := upsert(99)
	poison.Object = nil // an upsert without a profile cannot be applied

	var wg sync.WaitGroup
	got := make([]clerksync.Result, 3)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := e.Apply(context.Background(), upsert(0)); err != nil {
			t.Error(err)
		}
	}()
	<-g.entered
	for i, c := range []clerksync.Change{upsert(1), poison, upsert(2)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.Apply(context.Background(), c)
			if err != nil {
				t.Errorf("change %d: %v", i, err)
				return
			}
			got[i] = res[0]
		}()
	}
	for e.QueueLen() < 3 {
		time.Sleep(time.Millisecond)
	}
	close(g.gate)
	wg.Wait()
	if got[0].Outcome != clerksync.OutcomeApplied || got[2].Outcome != clerksync.OutcomeApplied {
		t.Fatalf("batch-mates = %+v, %+v; want applied", got[0], got[2])
	}
	if got[1].Outcome != clerksync.OutcomeDeadLetter || got[1].Error == "" {
		t.Fatalf("poison = %+v, want a dead letter with its error", got[1])
	}
}

func TestEngine_CloseDrainsQueue(t *testing.T) { forEachMode(t, testCloseDrainsQueue) }

func testCloseDrainsQueue(t *testing.T, m mode) {
	g, s := openGated(t, m)
	g.gate = make(chan struct{})
	e := engine.New(s, engine.Config{})

	var wg sync.WaitGroup
	errs := make(chan error, 5)
	apply := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Apply(context.Background(), upsert(i))
			errs <- err
		}()
	}
	apply(0)
	<-g.entered // the first batch is held in Apply; the next four wait in the queue
	for i := 1; i < 5; i++ {
		apply(i)
	}
	for e.QueueLen() < 4 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { e.Close(); close(closed) }()
	close(g.gate)
	<-closed
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("queued change failed on Close: %v", err)
		}
	}
	if _, err := e.Apply(context.Background(), upsert(9)); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Apply after Close = %v, want ErrClosed", err)
	}
	all, err := g.Store.Profiles(context.Background(), "", 100)
	if err != nil || len(all) != 5 {
		t.Fatalf("profiles after Close = %d (%v), want 5", len(all), err)
	}
}

// Concurrent callers through the engine end in the in-order state, as the store's own
// property test demands of direct callers.
func TestEngine_ConcurrentDeliveriesConverge(t *testing.T) {
	forEachMode(t, testConcurrentDeliveriesConverge)
}

func testConcurrentDeliveriesConverge(t *testing.T, m mode) {
	g, s := openGated(t, m)
	e := engine.New(s, engine.Config{MaxBatch: 16})
	defer e.Close()

	const users, versions = 20, 5
	var wg sync.WaitGroup
	for u := range users {
		for v := versions; v >= 1; v-- { // newest first: every older one must lose
			for range 2 { // and each twice
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := storetest.NewProfile(fmt.Sprintf("user_%03d", u), 1_700_000_000_000+int64(v))
					if _, err := e.Apply(context.Background(), storetest.Upsert(fmt.Sprintf("msg_%d_%d", u, v), p)); err != nil {
						t.Error(err)
					}
				}()
			}
		}
	}
	wg.Wait()
	for u := range users {
		p, err := g.Store.Profile(context.Background(), fmt.Sprintf("user_%03d", u))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.UpdatedAt, int64(1_700_000_000_000+versions); got != want {
			t.Fatalf("user %d at version %d, want %d", u, got, want)
		}
	}
}

// A delivery whose caller gave up while it waited (answered 503 on its deadline) is
// not applied: Svix retries it, and the writer's time goes to callers still waiting.
func TestEngine_SkipsAbandonedRequests(t *testing.T) { forEachMode(t, testSkipsAbandonedRequests) }

func testSkipsAbandonedRequests(t *testing.T, m mode) {
	g, s := openGated(t, m)
	g.gate = make(chan struct{})
	e := engine.New(s, engine.Config{})
	defer e.Close()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := e.Apply(context.Background(), upsert(0)); err != nil {
			t.Error(err)
		}
	}()
	<-g.entered
	ctx, cancel := context.WithCancel(context.Background())
	abandoned := make(chan error, 1)
	go func() {
		_, err := e.Apply(ctx, upsert(1))
		abandoned <- err
	}()
	for e.QueueLen() < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-abandoned; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned Apply = %v, want context.Canceled", err)
	}
	close(g.gate)
	wg.Wait()
	// A later change goes through, proving the writer moved past the abandoned one.
	if _, err := e.Apply(context.Background(), upsert(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Store.Profile(context.Background(), "user_001"); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Fatalf("abandoned change was applied (err=%v)", err)
	}
	if got := g.batchSizes(); len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Fatalf("batches = %v, want [1 1]", got)
	}
}

// With a pipelined store the writer commits the next batch while a sync is under way;
// once two batches wait for durability it stops taking work, so what queues meanwhile
// becomes one bigger batch.
func TestEngine_PipelinedOverlapsSyncAndCommit(t *testing.T) {
	t.Parallel()
	g, s := openGated(t, mode{pipelined: true})
	g.syncGate = make(chan struct{})
	e := engine.New(s, engine.Config{})
	defer e.Close()

	var wg sync.WaitGroup
	results := make([]clerksync.Result, 4)
	apply := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.Apply(context.Background(), upsert(i))
			if err != nil {
				t.Errorf("change %d: %v", i, err)
				return
			}
			results[i] = res[0]
		}()
	}
	apply(0)
	<-g.syncing // batch 0 is committed; its sync is held
	apply(1)
	for e.SyncBacklog() < 1 {
		time.Sleep(time.Millisecond) // batch 1 commits while batch 0 waits for its sync
	}
	// The pipeline is full: the writer takes 2 and waits for room, 3 waits in the queue.
	apply(2)
	for !e.WaitingForRoom() {
		time.Sleep(time.Millisecond)
	}
	apply(3)
	for e.QueueLen() < 1 {
		time.Sleep(time.Millisecond)
	}
	close(g.syncGate)
	wg.Wait()
	for i, r := range results {
		if r.Outcome != clerksync.OutcomeApplied {
			t.Fatalf("change %d: %+v, want applied", i, r)
		}
	}
	if got := g.batchSizes(); len(got) != 3 || got[0] != 1 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("batches = %v, want [1 1 2]", got)
	}
}

// A failed sync fails every batch waiting for it: nothing is acknowledged that the disk
// did not confirm.
func TestEngine_PipelinedSyncFailureFailsWaitingBatches(t *testing.T) {
	t.Parallel()
	g, s := openGated(t, mode{pipelined: true})
	g.syncFail = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "disk said no"}
	e := engine.New(s, engine.Config{})
	defer e.Close()
	_, err := e.Apply(context.Background(), upsert(1))
	if clerksync.ErrorCode(err) != clerksync.EUNAVAILABLE {
		t.Fatalf("Apply with a failing sync = %v, want code %s", err, clerksync.EUNAVAILABLE)
	}
}
