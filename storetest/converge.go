package storetest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
)

var seedFlag = flag.Uint64("storetest.seed", 0, "seed of storetest's property test (0: random; also STORETEST_SEED)")

// Seed returns the seed for a randomized test: the -storetest.seed flag, else the
// STORETEST_SEED environment variable, else a random one. It logs the seed so that a
// failure can be reproduced with -storetest.seed=N.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		if s := os.Getenv("STORETEST_SEED"); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("STORETEST_SEED=%q: %v", s, err)
			}
			seed = n
		}
	}
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -storetest.seed=%d or STORETEST_SEED=%d)", seed, seed, seed)
	return seed
}

// History is a random history of Clerk users: the changes Clerk made, in Clerk's
// order, and the state that applying them in that order leaves.
type History struct {
	// Changes are every change, each with its own svix-id, in Clerk's order.
	Changes []clerksync.Change
	// Live holds the last version of every user that was not deleted.
	Live map[string]*clerksync.Profile
	// Deleted holds the users whose last change was a delete.
	Deleted map[string]bool
}

// NewHistory returns a random history of users users: each is created, updated a few
// times with increasing updated_at, and sometimes deleted. Profiles vary in every
// column, including empty strings, zero timestamps and absent JSON.
func NewHistory(rng *rand.Rand, users int) *History {
	h := &History{Live: make(map[string]*clerksync.Profile), Deleted: make(map[string]bool)}
	for u := range users {
		id := fmt.Sprintf("user_%03d", u)
		created := start + rng.Int64N(1_000_000)
		at := created
		versions := 1 + rng.IntN(12)
		var last *clerksync.Profile
		for v := range versions {
			p := randomProfile(rng, id, created, at)
			c := Upsert(fmt.Sprintf("msg_%s_%02d", id, v), p)
			if v > 0 {
				c.EventType = "user.updated"
			}
			h.Changes = append(h.Changes, c)
			last = p
			at += 1 + rng.Int64N(60_000)
		}
		if rng.IntN(4) == 0 {
			h.Changes = append(h.Changes, Delete(fmt.Sprintf("msg_%s_del", id), id, at))
			h.Deleted[id] = true
		} else {
			h.Live[id] = last
		}
	}
	return h
}

// randomProfile returns a version of user id with random column values.
func randomProfile(rng *rand.Rand, id string, created, updated int64) *clerksync.Profile {
	p := NewProfile(id, updated)
	p.CreatedAt = created
	pick := func(s string) string {
		if rng.IntN(5) == 0 {
			return ""
		}
		return s
	}
	p.Email = pick(p.Email)
	p.Phone = pick(p.Phone)
	p.Username = pick(p.Username)
	p.FirstName = pick(fmt.Sprintf("First%d", rng.IntN(1000)))
	p.LastName = pick(p.LastName)
	p.ImageURL = pick(p.ImageURL)
	p.ExternalID = pick(p.ExternalID)
	p.EmailVerified = rng.IntN(2) == 0
	p.Banned = rng.IntN(10) == 0
	p.Locked = rng.IntN(10) == 0
	if rng.IntN(5) == 0 {
		p.LastSignInAt = 0
	}
	if rng.IntN(5) == 0 {
		p.LastActiveAt = 0
	}
	if rng.IntN(5) == 0 {
		p.PublicMetadata = nil
	} else {
		p.PublicMetadata = json.RawMessage(fmt.Sprintf(`{"n":%d,"v":%d}`, rng.IntN(1000), updated))
	}
	if rng.IntN(3) == 0 {
		p.PrivateMetadata = json.RawMessage(fmt.Sprintf(`{"secret":"s%d"}`, rng.IntN(1000)))
	}
	p.Raw = RawUser(p)
	return p
}

// deliverShuffled delivers changes as Svix may: out of order, one time in five a
// second time (a redelivery of the same svix-id), in random batches of at most
// maxBatch, by 4 goroutines applying at once, each through stores[i%len(stores)]. It
// returns the deliveries, how many batches they went in, and for each svix-id how many
// of its deliveries were applied or stale (not duplicates); it fails t when Apply
// fails or gives another outcome.
func deliverShuffled(t *testing.T, rng *rand.Rand, stores []clerksync.Store, changes []clerksync.Change, maxBatch int) ([]clerksync.Change, int, map[string]int) {
	t.Helper()
	ctx := context.Background()
	deliveries := make([]clerksync.Change, 0, len(changes)*5/4)
	deliveries = append(deliveries, changes...)
	for _, c := range changes {
		if rng.IntN(5) == 0 { // a redelivery of the same svix-id
			deliveries = append(deliveries, c)
		}
	}
	rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
	var batches [][]clerksync.Change
	for rest := deliveries; len(rest) > 0; {
		n := 1 + rng.IntN(min(len(rest), 1+rng.IntN(maxBatch)))
		batches = append(batches, rest[:n])
		rest = rest[n:]
	}

	const workers = 4
	work := make(chan []clerksync.Change)
	var (
		mu       sync.Mutex
		firsts   = make(map[string]int) // svix-id → deliveries that were not duplicates
		failures []string
		wg       sync.WaitGroup
	)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for batch := range work {
				res, err := s.Apply(ctx, batch)
				mu.Lock()
				if err != nil {
					failures = append(failures, fmt.Sprintf("Apply: %v", err))
				} else if len(res) != len(batch) {
					failures = append(failures, fmt.Sprintf("Apply returned %d results for %d changes", len(res), len(batch)))
				} else {
					for i, r := range res {
						switch r.Outcome {
						case clerksync.OutcomeApplied, clerksync.OutcomeStale:
							firsts[batch[i].EventID]++
						case clerksync.OutcomeDuplicate:
						default:
							failures = append(failures, fmt.Sprintf("%s (%s %s): unexpected result %+v", batch[i].EventID, batch[i].EventType, batch[i].ID, r))
						}
					}
				}
				mu.Unlock()
			}
		})
	}
	for _, b := range batches {
		work <- b
	}
	close(work)
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		t.FailNow()
	}
	return deliveries, len(batches), firsts
}

// Converge is the property test of the design's convergence rule: a random history
// delivered out of order, with redeliveries, in random batches, by several goroutines
// applying at once (each through stores[i%len(stores)], which all share one database),
// ends in the state of applying the history in order. It checks the profiles' Clerk
// columns, the tombstones, the redaction of deleted users' payloads, and that the
// event log holds exactly one entry per svix-id and every svix-id had exactly one
// delivery that was not a duplicate.
func Converge(t *testing.T, stores []clerksync.Store, seed uint64) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	h := NewHistory(rng, 50)

	deliveries, batches, firsts := deliverShuffled(t, rng, stores, h.Changes, 40)
	delivered := make(map[string]int, len(h.Changes))
	for _, c := range deliveries {
		delivered[c.EventID]++
	}
	t.Logf("%d changes, %d deliveries in %d batches, %d users (%d deleted)",
		len(h.Changes), len(deliveries), batches, len(h.Live)+len(h.Deleted), len(h.Deleted))

	s := stores[0]
	for _, c := range h.Changes {
		if got := firsts[c.EventID]; got != 1 {
			t.Errorf("%s: %d deliveries were not duplicates, want exactly 1", c.EventID, got)
		}
	}
	for id, want := range h.Live {
		got, err := s.Profile(ctx, id)
		if err != nil {
			t.Errorf("Profile(%s): %v", id, err)
			continue
		}
		if diff := ProfileDiff(want, got); diff != "" {
			t.Errorf("profile %s differs from in-order application (-want +got):\n%s", id, diff)
		}
		if d, err := s.Deleted(ctx, clerksync.UserKey(id)); err != nil || d {
			t.Errorf("Deleted(%s) = %v, %v; want false", id, d, err)
		}
	}
	for id := range h.Deleted {
		if p, err := s.Profile(ctx, id); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
			t.Errorf("deleted user %s: Profile = %+v, %v; want not found", id, p, err)
		}
		if d, err := s.Deleted(ctx, clerksync.UserKey(id)); err != nil || !d {
			t.Errorf("Deleted(%s) = %v, %v; want true", id, d, err)
		}
	}

	// The profiles table holds exactly the live users.
	var listed int
	for after := ""; ; {
		page, err := s.Profiles(ctx, after, 17)
		if err != nil {
			t.Fatalf("Profiles: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, p := range page {
			if h.Live[p.UserID] == nil {
				t.Errorf("profiles holds %s, which is not a live user", p.UserID)
			}
		}
		listed += len(page)
		after = page[len(page)-1].UserID
	}
	if got, want := listed, len(h.Live); got != want {
		t.Errorf("profiles holds %d rows, want %d", got, want)
	}

	// One event log entry per svix-id, redacted exactly for deleted users.
	seen := make(map[string]bool)
	for f := (clerksync.EventFilter{Limit: 100}); ; {
		page, err := s.Events(ctx, f)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if seen[e.ID] {
				t.Errorf("event %s listed twice", e.ID)
			}
			seen[e.ID] = true
			if e.Redacted != h.Deleted[e.UserID] {
				t.Errorf("event %s of %s: Redacted = %v, want %v", e.ID, e.UserID, e.Redacted, h.Deleted[e.UserID])
			}
			if e.Attempts != delivered[e.ID] {
				t.Errorf("event %s: Attempts = %d, want %d (its deliveries)", e.ID, e.Attempts, delivered[e.ID])
			}
		}
		f.Before = page[len(page)-1].ID
	}
	if got, want := len(seen), len(h.Changes); got != want {
		t.Errorf("event log holds %d entries, want %d", got, want)
	}
}

// testConverge runs Converge on fresh stores with several seeds.
func testConverge(t *testing.T, open Opener) {
	eachSeed(t, 4, func(t *testing.T, now func() time.Time, seed uint64) {
		Converge(t, []clerksync.Store{open(t, now)}, seed)
	})
}

// eachSeed runs f in n parallel subtests (one with -short), each with a seed of its
// own, from Seed on, and a clock of its own that moves a millisecond at each reading.
func eachSeed(t *testing.T, n int, f func(t *testing.T, now func() time.Time, seed uint64)) {
	seed := Seed(t)
	if testing.Short() {
		n = 1
	}
	for i := range n {
		t.Run(fmt.Sprintf("Iteration%d", i), func(t *testing.T) {
			t.Parallel()
			clock := NewClock(Epoch)
			f(t, func() time.Time { return clock.Advance(time.Millisecond) }, seed+uint64(i))
		})
	}
}
