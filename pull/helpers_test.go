package pull_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/internal/sqlitetest"
	"github.com/clerksync/clerksync/pull"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is a fake Clerk behind a real HTTP server, a real SQLite store, an engine
// and a Syncer wired to them, with one clock for all of them.
type harness struct {
	Clock  *storetest.Clock
	Fake   *clerkfake.Server
	URL    string
	Store  pullStore
	Engine *engine.Engine
	Syncer *pull.Syncer

	mu   sync.Mutex
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

// pullStore is a store with what pulling needs; both stores are one.
type pullStore interface {
	clerksync.Store
	clerksync.SyncStore
}

type harnessConfig struct {
	// retries is the client's MaxRetries (0: none at all).
	retries int
	// open opens the store; a new SQLite file when nil.
	open func(t *testing.T, now func() time.Time) pullStore
}

// newHarness starts a harness whose clock reads storetest.Epoch, with rate limits
// off on both sides and no retries, and stops it when t ends.
func newHarness(t *testing.T, opts ...func(*harnessConfig)) *harness {
	t.Helper()
	cfg := harnessConfig{retries: -1}
	for _, o := range opts {
		o(&cfg)
	}
	h := &harness{Clock: storetest.NewClock(storetest.Epoch)}
	h.Fake = clerkfake.New(clerkfake.WithClock(h.Clock.Now), clerkfake.WithRateLimit(0, 0), clerkfake.WithSeed(7))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		wrap := h.wrap
		h.mu.Unlock()
		if wrap != nil {
			wrap(w, r, h.Fake)
			return
		}
		h.Fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL + "/v1"

	if cfg.open == nil {
		cfg.open = func(t *testing.T, now func() time.Time) pullStore {
			return sqlitetest.Open(t, sqlite.WithNow(now))
		}
	}
	store := cfg.open(t, h.Clock.Now)
	h.Store = store
	h.Engine = engine.New(store, engine.Config{Logger: discard()})
	t.Cleanup(func() { h.Engine.Close() })

	client, err := clerkapi.New(clerkapi.Config{
		BaseURL:    h.URL,
		SecretKey:  h.Fake.SecretKey(),
		RateLimit:  -1,
		MaxRetries: cfg.retries,
		HTTPClient: srv.Client(),
		Sleep:      func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Syncer = &pull.Syncer{Client: client, Engine: h.Engine, Store: store, State: store, Logger: discard(), Now: h.Clock.Now}
	return h
}

func withRetries(n int) func(*harnessConfig) { return func(c *harnessConfig) { c.retries = n } }

// Wrap puts f in front of the fake Clerk for every later request.
func (h *harness) Wrap(f func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wrap = f
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// seed adds n users to the fake Clerk.
func (h *harness) seed(t *testing.T, n int) {
	t.Helper()
	if err := h.Fake.Seed(n); err != nil {
		t.Fatal(err)
	}
}

// wantInSync fails t unless every user of the fake Clerk has a profile at Clerk's
// version and no other profile exists.
func (h *harness) wantInSync(t *testing.T) {
	t.Helper()
	users := h.Fake.Users()
	want := make(map[string]int64, len(users))
	for _, u := range users {
		want[u.ID] = u.UpdatedAt
	}
	got := h.profiles(t)
	for id, v := range want {
		p, ok := got[id]
		if !ok {
			t.Fatalf("user %s of Clerk has no profile", id)
		}
		if p.UpdatedAt != v {
			t.Fatalf("profile %s at updated_at %d, Clerk has %d", id, p.UpdatedAt, v)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Fatalf("profile %s exists but Clerk has no such user", id)
		}
	}
}

// profiles returns every stored profile by user id.
func (h *harness) profiles(t *testing.T) map[string]clerksync.Profile {
	t.Helper()
	out := make(map[string]clerksync.Profile)
	after := ""
	for {
		page, err := h.Store.Profiles(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			out[p.UserID] = p
		}
		if len(page) < 1000 {
			return out
		}
		after = page[len(page)-1].UserID
	}
}

// run returns the recorded run id.
func (h *harness) run(t *testing.T, id int64) *clerksync.SyncRun {
	t.Helper()
	r, err := h.Store.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// upsert stores p as a webhook would have.
func (h *harness) upsert(t *testing.T, p *clerksync.Profile) {
	t.Helper()
	res := storetest.MustApply(t, h.Store, clerksync.UpsertUser(p, clerksync.SourceWebhook))
	if res[0].Outcome != clerksync.OutcomeApplied {
		t.Fatalf("upsert %s: %+v", p.UserID, res[0])
	}
}

// listing reports whether r is a request for a page of the user list.
func listing(r *http.Request) bool { return r.Method == http.MethodGet && r.URL.Path == "/v1/users" }

// answer runs next into a recorder and returns what it answered.
func answer(next http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return rec
}

// copyAnswer writes rec to w.
func copyAnswer(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// decodeUsers returns the profiles of users as clerksync decodes Clerk's user objects.
func decodeUsers(users ...*clerkfake.User) ([]*clerksync.Profile, error) {
	out := make([]*clerksync.Profile, 0, len(users))
	for _, u := range users {
		raw, err := json.Marshal(u)
		if err != nil {
			return nil, err
		}
		p, err := clerkdecode.DecodeUser(raw, clerkdecode.Options{})
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// webhookDelete deletes userID as a user.deleted webhook would.
func (h *harness) webhookDelete(t *testing.T, userID string) {
	t.Helper()
	storetest.MustApply(t, h.Store, clerksync.Delete(clerksync.UserKey(userID), clerksync.SourceWebhook))
}

// replaceUpdatedAt returns the listing body with the updated_at of userID replaced by
// a string, which no decoder accepts.
func replaceUpdatedAt(body []byte, userID string) []byte {
	var users []map[string]any
	if err := json.Unmarshal(body, &users); err != nil {
		return body
	}
	for _, u := range users {
		if u["id"] == userID {
			u["updated_at"] = "yesterday"
		}
	}
	out, err := json.Marshal(users)
	if err != nil {
		return body
	}
	return out
}

// dropUser returns the listing body without userID.
func dropUser(body []byte, userID string) []byte {
	var users []json.RawMessage
	if err := json.Unmarshal(body, &users); err != nil {
		return body
	}
	kept := users[:0]
	for _, u := range users {
		var head struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(u, &head) == nil && head.ID == userID {
			continue
		}
		kept = append(kept, u)
	}
	out, err := json.Marshal(kept)
	if err != nil {
		return body
	}
	return out
}

// poll runs one poll with default options and fails t on an error.
func (h *harness) poll(t *testing.T) *pull.PollReport {
	t.Helper()
	rep, err := h.Syncer.Poll(context.Background(), pull.PollOptions{})
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return rep
}

// failListingPage makes the Clerk fake answer status to the page-th request of a user
// listing (counting from 1), once.
func (h *harness) failListingPage(page, status int) {
	n := 0
	h.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if listing(r) {
			n++
			if n == page {
				h.Fake.FailNext(1, status)
			}
		}
		next.ServeHTTP(w, r)
	})
}
