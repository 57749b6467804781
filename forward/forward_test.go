package forward_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/forward"
	"github.com/clerksync/clerksync/internal/sqlitetest"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// history applies users users, each created and updated versions times, and returns
// the feed's entries.
func history(t *testing.T, s *sqlite.Store, users, versions int) []clerksync.FeedEntry {
	t.Helper()
	base := int64(1_750_000_000_000)
	for v := range versions {
		var batch []clerksync.Change
		for u := range users {
			p := storetest.NewProfile(fmt.Sprintf("user_%03d", u), base+int64(v*1000))
			p.CreatedAt = base
			batch = append(batch, storetest.Upsert(fmt.Sprintf("msg_%d_%d", u, v), p))
		}
		storetest.MustApply(t, s, batch...)
	}
	return storetest.AllChanges(t, s, 0)
}

// receiver is an application's endpoint: it verifies each delivery with the svix
// library, records what it acknowledged, and fails as fail says.
type receiver struct {
	t    *testing.T
	wh   *svix.Webhook
	fail func(e clerksync.FeedEntry, n int) bool // whether to fail the nth delivery of e

	mu       sync.Mutex
	got      map[string]int        // entry id → deliveries
	acked    []clerksync.FeedEntry // in the order they were acknowledged
	inFlight map[string]int        // object → deliveries in flight
	active   int                   // requests being handled
	overlap  int                   // deliveries of an object that overlapped another of it
}

func newReceiver(t *testing.T, fail func(clerksync.FeedEntry, int) bool) *receiver {
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return &receiver{t: t, wh: wh, fail: fail, got: map[string]int{}, inFlight: map[string]int{}}
}

// serveReceiver starts a receiver (newReceiver) behind an HTTP server of its own,
// closed when t ends.
func serveReceiver(t *testing.T, fail func(clerksync.FeedEntry, int) bool) (*receiver, *httptest.Server) {
	t.Helper()
	r := newReceiver(t, fail)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.active++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.active--
		r.mu.Unlock()
	}()
	body, _ := io.ReadAll(req.Body)
	if err := r.wh.Verify(body, req.Header); err != nil {
		r.t.Errorf("the svix library refuses a delivery: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var e clerksync.FeedEntry
	if err := json.Unmarshal(body, &e); err != nil {
		r.t.Errorf("delivery body: %v", err)
		return
	}
	if got := req.Header.Get("webhook-id"); got != e.ID {
		r.t.Errorf("webhook-id %q for entry %q", got, e.ID)
	}
	r.mu.Lock()
	r.got[e.ID]++
	n := r.got[e.ID]
	r.inFlight[e.ObjectID]++
	if r.inFlight[e.ObjectID] > 1 {
		r.overlap++
	}
	fail := r.fail != nil && r.fail(e, n)
	r.mu.Unlock()
	time.Sleep(time.Millisecond)
	r.mu.Lock()
	r.inFlight[e.ObjectID]--
	if !fail {
		r.acked = append(r.acked, e)
	}
	r.mu.Unlock()
	if fail {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// idle reports whether no request is in the receiver's hands.
func (r *receiver) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active == 0
}

// check fails t unless every entry of want was acknowledged, and an object's entries
// were first acknowledged in order.
func (r *receiver) check(t *testing.T, want []clerksync.FeedEntry) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	first := map[string]bool{}
	last := map[string]int64{}
	for _, e := range r.acked {
		if first[e.ID] {
			continue
		}
		first[e.ID] = true
		if e.Seq < last[e.ObjectID] {
			t.Errorf("%s: entry %d acknowledged after %d", e.ObjectID, e.Seq, last[e.ObjectID])
		}
		last[e.ObjectID] = e.Seq
	}
	for _, e := range want {
		if !first[e.ID] {
			t.Errorf("entry %d (%s %s) never acknowledged", e.Seq, e.Type, e.ObjectID)
		}
	}
	if r.overlap > 0 {
		t.Errorf("%d deliveries overlapped another of the same object", r.overlap)
	}
}

func (r *receiver) ackedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.acked)
}

func start(t *testing.T, s forward.Store, url string, opts ...func(*forward.Config)) *forward.Forwarder {
	t.Helper()
	cfg := forward.Config{
		Store: s, Endpoints: []forward.Endpoint{{URL: url}}, Secret: secret,
		Logger:     slog.New(slog.DiscardHandler),
		MinBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Poll: 10 * time.Millisecond, LeaseTTL: 300 * time.Millisecond, Concurrency: 4,
	}
	for _, o := range opts {
		o(&cfg)
	}
	f, err := forward.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.Start(context.Background())
	t.Cleanup(f.Stop)
	return f
}

// waitFor polls cond until it holds, failing t after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func position(t *testing.T, s forward.Store, url string) int64 {
	t.Helper()
	pos, _, err := s.ForwardPosition(context.Background(), forward.LeaseName(url))
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// TestForwardInOrderDespiteFailures: an endpoint that fails a third of the deliveries
// gets every entry, each object's in order, and never two of an object at once.
func TestForwardInOrderDespiteFailures(t *testing.T) {
	t.Parallel()
	s := sqlitetest.Open(t)
	entries := history(t, s, 20, 5)
	var n atomic.Int64
	r, srv := serveReceiver(t, func(clerksync.FeedEntry, int) bool { return n.Add(1)%3 == 0 })
	start(t, s, srv.URL)
	last := entries[len(entries)-1].Seq
	waitFor(t, "the position to reach the last entry", func() bool { return position(t, s, srv.URL) == last })
	r.check(t, entries)
}

// TestForwardOutageThenRecovery: an endpoint that refuses connections for a while, then
// answers, gets everything, and its position is kept meanwhile.
func TestForwardOutageThenRecovery(t *testing.T) {
	t.Parallel()
	s := sqlitetest.Open(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/hook"
	ln.Close() // refused until the server starts below
	history(t, s, 5, 3)
	var attempts atomic.Int64
	f := start(t, s, url, func(c *forward.Config) {
		c.OnDelivery = func(a forward.Attempt) { attempts.Add(1) }
	})
	waitFor(t, "attempts against the closed port", func() bool { return attempts.Load() >= 20 })
	if pos := position(t, s, url); pos != 0 {
		t.Fatalf("position %d while nothing was acknowledged", pos)
	}
	st := f.Status()
	if len(st) != 1 || st[0].Failing == 0 || st[0].LastError == "" || !st[0].Holding {
		t.Fatalf("status during the outage: %+v", st)
	}
	// New changes keep coming during the outage.
	storetest.MustApply(t, s, storetest.Upsert("msg_during", storetest.NewProfile("user_new", 1_760_000_000_000)))
	entries := storetest.AllChanges(t, s, 0)

	r := newReceiver(t, nil)
	ln, err = net.Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	last := entries[len(entries)-1].Seq
	waitFor(t, "the position to reach the last entry", func() bool { return position(t, s, url) == last })
	r.check(t, entries)
	if st := f.Status(); st[0].Failing != 0 || st[0].LastError != "" {
		t.Errorf("status after the recovery: %+v", st)
	}
}

// TestForwardResumes: a forwarder stopped mid-way and started again (a restart) goes on
// from the position: nothing is lost, nothing acknowledged before the position is sent
// again.
func TestForwardResumes(t *testing.T) {
	t.Parallel()
	s := sqlitetest.Open(t)
	entries := history(t, s, 10, 4)
	r, srv := serveReceiver(t, nil)
	f := start(t, s, srv.URL, func(c *forward.Config) { c.Concurrency = 1 })
	waitFor(t, "some deliveries", func() bool { return r.ackedCount() >= 10 })
	f.Stop()
	pos := position(t, s, srv.URL)
	if pos == 0 {
		t.Fatal("no position saved")
	}
	// A delivery Stop gave up on may still be on its way or in the application's
	// hands, as it may be when a process dies; a restart takes longer than that.
	srv.CloseClientConnections()
	waitFor(t, "the deliveries Stop abandoned to end", r.idle)
	start(t, s, srv.URL)
	last := entries[len(entries)-1].Seq
	waitFor(t, "the position to reach the last entry", func() bool { return position(t, s, srv.URL) == last })
	r.check(t, entries)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range entries {
		if e.Seq <= pos && r.got[e.ID] != 1 {
			t.Errorf("entry %d, before the saved position %d, was delivered %d times", e.Seq, pos, r.got[e.ID])
		}
	}
}

// TestForwardTypes: an endpoint gets only the types it asked for; its position still
// moves past the others.
func TestForwardTypes(t *testing.T) {
	t.Parallel()
	s := sqlitetest.Open(t)
	org := storetest.NewOrganization("org_t", 1_750_000_000_000, 1_750_000_000_000)
	storetest.MustApply(t, s, storetest.Upsert("msg_u", storetest.NewProfile("user_t", 1_750_000_000_000)),
		storetest.Event("msg_m", "organizationMembership.created", storetest.NewMembership("orgmem_t", org, "user_t", "org:member", 1_750_000_000_000, 1_750_000_000_000)))
	entries := storetest.AllChanges(t, s, 0)
	r, srv := serveReceiver(t, nil)
	start(t, s, srv.URL, func(c *forward.Config) { c.Endpoints[0].Types = []string{"membership.*"} })
	waitFor(t, "the position to pass every entry", func() bool { return position(t, s, srv.URL) == entries[len(entries)-1].Seq })
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.acked) != 1 || r.acked[0].Type != "membership.created" {
		t.Fatalf("delivered %v; want the membership.created alone", r.acked)
	}
}

// TestForwardOneHolder: two forwarders of one endpoint (two replicas) take turns: one
// holds the lease and forwards; when it stops, the other takes over and finishes.
func TestForwardOneHolder(t *testing.T) {
	t.Parallel()
	s := sqlitetest.Open(t)
	entries := history(t, s, 8, 3)
	r, srv := serveReceiver(t, nil)
	a := start(t, s, srv.URL, func(c *forward.Config) { c.Holder = "replica-a"; c.Concurrency = 1 })
	waitFor(t, "replica a to take the lease", func() bool { return a.Status()[0].Holding })
	b := start(t, s, srv.URL, func(c *forward.Config) { c.Holder = "replica-b" })
	time.Sleep(50 * time.Millisecond)
	if b.Status()[0].Holding {
		t.Fatal("both replicas hold the endpoint")
	}
	waitFor(t, "some deliveries", func() bool { return r.ackedCount() >= 5 })
	a.Stop() // releases the lease
	waitFor(t, "replica b to take over", func() bool { return b.Status()[0].Holding })
	waitFor(t, "the position to reach the last entry", func() bool { return position(t, s, srv.URL) == entries[len(entries)-1].Seq })
	r.check(t, entries)
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	s := sqlitetest.Open(t)
	for _, tt := range []struct {
		name string
		cfg  forward.Config
	}{
		{"NotHTTP", forward.Config{Store: s, Secret: secret, Endpoints: []forward.Endpoint{{URL: "ftp://example.com/x"}}}},
		{"Relative", forward.Config{Store: s, Secret: secret, Endpoints: []forward.Endpoint{{URL: "/hook"}}}},
		{"BadType", forward.Config{Store: s, Secret: secret, Endpoints: []forward.Endpoint{{URL: "https://a.example/x", Types: []string{"users.*"}}}}},
		{"Twice", forward.Config{Store: s, Secret: secret, Endpoints: []forward.Endpoint{{URL: "https://a.example/x"}, {URL: "https://a.example/x"}}}},
		{"BadSecret", forward.Config{Store: s, Secret: "sk_test_abc", Endpoints: []forward.Endpoint{{URL: "https://a.example/x"}}}},
	} {
		if _, err := forward.New(tt.cfg); clerksync.ErrorCode(err) != clerksync.EINVALID {
			t.Errorf("%s: New = %v, want an EINVALID error", tt.name, err)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	got := forward.Redact("https://user:pass@app.example.com/hooks/clerk?token=secret#x")
	if got != "https://app.example.com/hooks/clerk" {
		t.Fatalf("Redact = %q", got)
	}
	if a, b := forward.LeaseName("https://a.example/x?k=1"), forward.LeaseName("https://a.example/x?k=2"); a == b {
		t.Fatal("two endpoints that differ in their query share a lease")
	}
}
