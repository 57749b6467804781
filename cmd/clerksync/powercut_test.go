package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/lazyfs"
	"github.com/clerksync/clerksync/internal/serveproc"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/svixsig"
)

// powerCutEvent is one webhook of the power-cut test's history.
type powerCutEvent struct {
	id, userID string
	updatedAt  int64 // the user's updated_at in this event, in milliseconds
	body       []byte
}

// TestPowerCut_AcknowledgedDeliveriesSurvive runs `clerksync serve` with its SQLite
// database on a file system that keeps unsynced writes in memory (internal/lazyfs),
// and cuts the power at random points while senders that retry like Svix deliver a
// history of users: every write the server had not fsynced is thrown away, the server
// is killed, and the file system is mounted again over what the disk kept. After
// every cut, every delivery answered 2xx before it must be in the event log, its
// user's profile at that version or later, and the database must pass
// PRAGMA integrity_check. A SIGKILL alone (TestCrash_KillDuringDeliveries) cannot
// show this: the page cache keeps unsynced writes across it.
func TestPowerCut_AcknowledgedDeliveriesSurvive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and mounts a FUSE file system; skipped with -short")
	}
	backing, mnt := t.TempDir(), t.TempDir()
	disk := lazyfs.MountOrSkip(t, mnt, backing)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	// The history: users created, then updated several times; sent in random order.
	const users = 150
	var events []powerCutEvent
	latest := map[string]int64{}
	base := time.UnixMilli(1_750_000_000_000)
	for u := range users {
		id := fmt.Sprintf("user_2power%020d", u)
		for v := 1; v <= 2+rng.IntN(5); v++ {
			typ := "user.updated"
			if v == 1 {
				typ = "user.created"
			}
			updated := base.Add(time.Duration(v) * time.Second)
			usr := clerkfake.NewUser(clerkfake.UserParams{
				Seed: seedOf(id), ID: id, FirstName: fmt.Sprintf("V%d", v), LastName: "Power", Rich: true,
				CreatedAt: base, UpdatedAt: updated,
			})
			events = append(events, powerCutEvent{fmt.Sprintf("msg_%s_v%d", id, v), id, updated.UnixMilli(),
				clerkfake.WebhookEvent(typ, usr, time.Now())})
			latest[id] = updated.UnixMilli()
		}
	}
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })

	var logs syncBuffer
	server, start := restartableServe(t, filepath.Join(mnt, "clerksync.db"), &logs, nil)
	url := server + "/api/webhooks/clerk"

	// power is even while the server runs on a live mount and odd from a cut to the
	// next mount. An answer counts as an acknowledgement only when power did not
	// change between sending the request and reading the answer: the server then
	// answered before the cut, and whatever it had fsynced was on the disk by then.
	// An answer read after a cut may rest on pages the cut threw away (the kernel
	// still serves them to the doomed server); its delivery is sent again.
	var (
		power   atomic.Int64
		ackedMu sync.Mutex
		acked   = map[string]powerCutEvent{}
		nAcked  atomic.Int64
		late    atomic.Int64 // 2xx answers read after a cut, not counted
	)
	client := &http.Client{Timeout: 5 * time.Second}
	key, _ := svixsig.DecodeSecret(testSecret)
	queue := make(chan powerCutEvent)
	// On failure, stop the senders and the server before the mount is unmounted.
	stop := make(chan struct{})
	var srv *serveproc.Proc
	defer func() {
		close(stop)
		if srv != nil && srv.Running() {
			srv.Kill()
		}
	}()
	var senders sync.WaitGroup
	for range 16 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for ev := range queue {
				for attempt := 0; ; attempt++ {
					before := power.Load()
					if postSigned(client, url, key, ev.id, ev.body)/100 == 2 {
						if after := power.Load(); after == before && after%2 == 0 {
							ackedMu.Lock()
							acked[ev.id] = ev
							ackedMu.Unlock()
							nAcked.Add(1)
							break
						}
						late.Add(1)
					}
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(5+min(attempt, 8)*5) * time.Millisecond):
					}
				}
			}
		}()
	}
	go func() {
		defer close(queue)
		for _, ev := range events {
			select {
			case queue <- ev:
			case <-stop:
				return
			}
		}
	}()
	sent := make(chan struct{})
	go func() { senders.Wait(); close(sent) }()

	// check verifies what the disk kept: a copy of the backing files, opened outside
	// the mount, so that checking changes nothing the next server will see (and so
	// that this process, which serves the mount, never maps a file of it: SQLite maps
	// its -shm file, and a page fault on a FUSE mapping waits for the FUSE server).
	check := func(round int) {
		t.Helper()
		ackedMu.Lock()
		want := make([]powerCutEvent, 0, len(acked))
		for _, ev := range acked {
			want = append(want, ev)
		}
		ackedMu.Unlock()
		path := keptCopy(t, backing)
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		var integrity string
		err = db.QueryRow("PRAGMA integrity_check").Scan(&integrity)
		db.Close()
		if err != nil || integrity != "ok" {
			t.Fatalf("round %d: integrity_check after the cut: %q (%v)", round, integrity, err)
		}
		store, err := sqlite.Open(path)
		if err != nil {
			t.Fatalf("round %d: open the database the disk kept: %v", round, err)
		}
		defer store.Close()
		ctx := context.Background()
		var lost []string
		for _, ev := range want {
			e, err := store.Event(ctx, ev.id)
			if err != nil {
				lost = append(lost, fmt.Sprintf("%s (event log: %v)", ev.id, err))
				continue
			}
			if e.Outcome != clerksync.OutcomeApplied && e.Outcome != clerksync.OutcomeStale {
				t.Fatalf("round %d: %s: outcome %s", round, ev.id, e.Outcome)
			}
			p, err := store.Profile(ctx, ev.userID)
			if err != nil {
				lost = append(lost, fmt.Sprintf("%s (profile %s: %v)", ev.id, ev.userID, err))
			} else if p.UpdatedAt < ev.updatedAt {
				lost = append(lost, fmt.Sprintf("%s (profile %s at updated_at %d, acknowledged %d)", ev.id, ev.userID, p.UpdatedAt, ev.updatedAt))
			}
		}
		if len(lost) > 0 {
			t.Fatalf("round %d: %d of %d acknowledged deliveries were lost in the power cut, such as:\n\t%s",
				round, len(lost), len(want), strings.Join(lost[:min(len(lost), 5)], "\n\t"))
		}
		t.Logf("round %d: all %d acknowledged deliveries kept, integrity_check ok", round, len(want))
	}

	// Cut the power after a random number of further acknowledgements (zero: while
	// the server opens the database) and a random moment more; then once more after
	// the last answer.
	const cuts = 10
	step := int64(len(events) / (cuts + 1))
	srv = start()
	var dropped, syncs, dataSyncs int64
	for round := 1; round <= cuts+1; round++ {
		if round <= cuts {
			target := nAcked.Load() + rng.Int64N(step)
			deadline := time.Now().Add(60 * time.Second)
			for nAcked.Load() < target {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: %d deliveries acknowledged in 60 s, waiting for %d\n%s", round, nAcked.Load(), target, logs.String())
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		} else {
			select {
			case <-sent:
			case <-time.After(60 * time.Second):
				t.Fatalf("the history was not acknowledged within 60 s (%d of %d)\n%s", nAcked.Load(), len(events), logs.String())
			}
		}
		power.Add(1)
		disk.Cut()
		srv.Kill()
		if err := disk.Unmount(); err != nil {
			t.Fatal(err)
		}
		st := disk.Stats()
		dropped += st.DroppedPages
		syncs += st.Syncs
		dataSyncs += st.DataSyncs
		t.Logf("round %d: cut after %d acknowledgements; %d pages of unsynced writes dropped, %d fsyncs (%d fdatasync) seen",
			round, nAcked.Load(), st.DroppedPages, st.Syncs, st.DataSyncs)
		check(round)
		disk = lazyfs.MountOrSkip(t, mnt, backing)
		power.Add(1)
		if round <= cuts {
			srv = start()
		}
	}

	if n := nAcked.Load(); n != int64(len(events)) {
		t.Fatalf("%d of %d deliveries acknowledged", n, len(events))
	}
	// The database the disk kept holds every user at its newest version.
	store, err := sqlite.Open(keptCopy(t, backing))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	for id, updated := range latest {
		p, err := store.Profile(ctx, id)
		if err != nil || p.UpdatedAt != updated {
			t.Fatalf("%s: profile %+v (%v), want updated_at %d", id, p, err, updated)
		}
	}
	if all, err := store.Profiles(ctx, "", 10_000); err != nil || len(all) != users {
		t.Fatalf("%d profiles (%v), want %d", len(all), err, users)
	}
	if dropped == 0 {
		t.Fatalf("no cut threw away an unsynced write: the test did not cut the power while anything was pending")
	}
	if dataSyncs == 0 {
		t.Fatalf("the file system saw %d fsyncs and no fdatasync: the store's WAL syncs did not reach it", syncs)
	}
	t.Logf("%d deliveries, %d cuts; %d answers read after a cut were sent again; %d pages dropped in all; %d fsyncs (%d fdatasync)",
		len(events), cuts+1, late.Load(), dropped, syncs, dataSyncs)
}

// keptCopy copies the database files the disk kept (the backing directory of the
// mount) into a directory of their own and returns the copy's path, so that opening
// it changes nothing the next server will see.
func keptCopy(tb testing.TB, backing string) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, name := range []string{"clerksync.db", "clerksync.db-wal"} {
		b, err := os.ReadFile(filepath.Join(backing, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return filepath.Join(dir, "clerksync.db")
}
