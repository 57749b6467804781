package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/serveproc"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/svixsig"
)

// buildBinary builds clerksync into a temporary directory.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "clerksync")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a TCP port nothing listens on right now, so that a restarted server
// can listen where the senders keep sending.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// launchServe starts bin serve listening on addr with env, its output added to logs,
// and returns at once (serveproc.Launch), so that a test can kill it and start it
// again where its senders keep sending. It fails tb when the process cannot start.
func launchServe(tb testing.TB, bin, addr string, logs io.Writer, env map[string]string) *serveproc.Proc {
	tb.Helper()
	p, err := serveproc.Launch(bin, addr, env, logs)
	if err != nil {
		tb.Fatalf("start server: %v", err)
	}
	return p
}

// restartableServe returns the base URL of a serve on the SQLite file db, with the
// settings env besides, and the function that starts it, again after each kill, on the
// same address; serve logs warnings and errors to logs.
func restartableServe(t *testing.T, db string, logs io.Writer, env map[string]string) (string, func() *serveproc.Proc) {
	t.Helper()
	bin := buildBinary(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	all := map[string]string{"DATABASE_URL": "sqlite:" + db, "LOG_LEVEL": "warn"}
	maps.Copy(all, env)
	return "http://" + addr, func() *serveproc.Proc { return launchServe(t, bin, addr, logs, all) }
}

// postSigned posts body to url, signed as svix-id id with key at this moment as Svix
// signs each attempt, reads the answer and returns its status: 0 when there is none.
func postSigned(client *http.Client, url string, key []byte, id string, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	svixsig.SetHeaders(req.Header, key, id, time.Now(), body)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// crashEvent is one webhook of the crash test's history.
type crashEvent struct {
	id      string
	userID  string
	typ     string
	version int // 1-based version of the user for upserts
	body    []byte
}

// TestCrash_KillDuringDeliveries kills the server with SIGKILL again and again while
// senders that retry like Svix keep delivering, and restarts it each time. Afterwards
// every delivery that was answered 2xx must be in the database, and the profiles must
// be what applying every event in Clerk's order gives.
func TestCrash_KillDuringDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it repeatedly; skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	// The history: users created, updated several times, some deleted.
	const users = 60
	var events []crashEvent
	type final struct {
		deleted bool
		version int
		first   string
	}
	want := map[string]final{}
	base := time.UnixMilli(1_750_000_000_000)
	for u := range users {
		id := fmt.Sprintf("user_2crash%020d", u)
		versions := 2 + rng.IntN(5)
		for v := 1; v <= versions; v++ {
			typ := "user.updated"
			if v == 1 {
				typ = "user.created"
			}
			first := fmt.Sprintf("V%d", v)
			usr := clerkfake.NewUser(clerkfake.UserParams{
				Seed: seedOf(id), ID: id, FirstName: first, LastName: "Crash", Rich: true,
				CreatedAt: base, UpdatedAt: base.Add(time.Duration(v) * time.Second),
			})
			events = append(events, crashEvent{fmt.Sprintf("msg_%s_v%d", id, v), id, typ, v, clerkfake.WebhookEvent(typ, usr, time.Now())})
			want[id] = final{version: v, first: first}
		}
		if rng.IntN(4) == 0 {
			usr := clerkfake.NewUser(clerkfake.UserParams{ID: id})
			events = append(events, crashEvent{"msg_" + id + "_del", id, "user.deleted", 0, clerkfake.WebhookEvent("user.deleted", usr, time.Now())})
			want[id] = final{deleted: true}
		}
	}
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })

	dir := t.TempDir()
	var logs syncBuffer
	server, start := restartableServe(t, filepath.Join(dir, "crash.db"), &logs, nil)
	url := server + "/api/webhooks/clerk"

	// Senders deliver every event until it is answered 2xx, retrying on errors and
	// 5xx as Svix does (re-signed with a fresh timestamp each attempt).
	key, _ := svixsig.DecodeSecret(testSecret)
	var (
		acked   sync.Map // svix-id → answer outcome
		nAcked  atomic.Int64
		retries atomic.Int64
	)
	client := &http.Client{Timeout: 5 * time.Second}
	queue := make(chan crashEvent)
	var senders sync.WaitGroup
	for range 16 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for ev := range queue {
				for attempt := 0; ; attempt++ {
					if postSigned(client, url, key, ev.id, ev.body)/100 == 2 {
						acked.Store(ev.id, true)
						nAcked.Add(1)
						break
					}
					retries.Add(1)
					time.Sleep(time.Duration(5+attempt*5) * time.Millisecond)
				}
			}
		}()
	}

	// The killer: SIGKILL after every sixth of the deliveries has been acknowledged,
	// so that every kill lands while deliveries are in flight.
	srv := start()
	var kills int
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		step := int64(len(events) / 6)
		for k := int64(1); k <= 5; k++ {
			for nAcked.Load() < k*step {
				time.Sleep(time.Millisecond)
			}
			srv.Kill()
			kills++
			srv = start()
		}
	}()
	for _, ev := range events {
		queue <- ev
	}
	close(queue)
	senders.Wait()
	<-killerDone
	if err := srv.Terminate(); err != nil {
		t.Fatalf("server did not stop cleanly on SIGTERM: %v\n%s", err, logs.String())
	}
	t.Logf("%d events, %d kills, %d retried attempts", len(events), kills, retries.Load())
	if kills != 5 {
		t.Fatalf("killed %d times, want 5", kills)
	}

	store, err := sqlite.Open(filepath.Join(dir, "crash.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()

	// Every acknowledged delivery is in the event log.
	for _, ev := range events {
		if _, ok := acked.Load(ev.id); !ok {
			t.Fatalf("event %s was never acknowledged", ev.id)
		}
		got, err := store.Event(ctx, ev.id)
		if err != nil {
			t.Fatalf("acknowledged delivery %s is not in the event log: %v", ev.id, err)
		}
		if got.Outcome != clerksync.OutcomeApplied && got.Outcome != clerksync.OutcomeStale {
			t.Fatalf("event %s outcome = %s", ev.id, got.Outcome)
		}
	}
	// The profiles are the in-order result.
	live := 0
	for id, w := range want {
		p, err := store.Profile(ctx, id)
		deleted, derr := store.Deleted(ctx, clerksync.UserKey(id))
		if derr != nil {
			t.Fatal(derr)
		}
		if w.deleted {
			if clerksync.ErrorCode(err) != clerksync.ENOTFOUND || !deleted {
				t.Fatalf("%s: deleted in Clerk, but profile err=%v tombstone=%v", id, err, deleted)
			}
			continue
		}
		live++
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if p.FirstName != w.first || p.UpdatedAt != base.Add(time.Duration(w.version)*time.Second).UnixMilli() {
			t.Fatalf("%s: first name %q updated_at %d, want %q (version %d)", id, p.FirstName, p.UpdatedAt, w.first, w.version)
		}
	}
	all, err := store.Profiles(ctx, "", 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != live {
		t.Fatalf("%d profiles, want %d", len(all), live)
	}
}

// TestServe_SIGTERMFinishesInFlight stops a loaded server with SIGTERM: it must exit 0,
// and every delivery it answered 2xx — including those in flight when the signal came —
// must be committed.
func TestServe_SIGTERMFinishesInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	url := "http://" + addr + "/api/webhooks/clerk"
	var logs syncBuffer
	srv := launchServe(t, bin, addr, &logs, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "term.db")})

	key, _ := svixsig.DecodeSecret(testSecret)
	var (
		acked  sync.Map
		nAcked atomic.Int64
		stop   atomic.Bool
		wg     sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("msg_term_%d_%d", w, i)
				usr := clerkfake.NewUser(clerkfake.UserParams{Seed: uint64(w*100000 + i + 1), ID: fmt.Sprintf("user_2term%04d%06d", w, i), Rich: true})
				body := clerkfake.WebhookEvent("user.created", usr, time.Now())
				code := postSigned(client, url, key, id, body)
				if code == 0 {
					time.Sleep(2 * time.Millisecond) // not up yet, or shutting down
					continue
				}
				if code/100 == 2 {
					acked.Store(id, true)
					nAcked.Add(1)
				}
			}
		}()
	}
	for nAcked.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	err := srv.Terminate()
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("serve exited with %v after SIGTERM\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Fatalf("serve did not log a clean stop:\n%s", logs.String())
	}

	store, err := sqlite.Open(filepath.Join(dir, "term.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		if _, err := store.Event(context.Background(), k.(string)); err != nil {
			t.Errorf("delivery %s was answered 2xx but is not committed: %v", k, err)
		}
		return true
	})
	t.Logf("%d deliveries acknowledged before and during shutdown, all committed", n)
}
