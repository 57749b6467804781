package feedhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/feedhook"
	"github.com/clerksync/clerksync/forward"
	"github.com/clerksync/clerksync/internal/sqlitetest"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
	"github.com/clerksync/clerksync/svixsig"
)

// secret is the Standard Webhooks example secret.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var quiet = feedhook.WithLogger(slog.New(slog.DiscardHandler))

// history records users created, updated and some deleted, and an organization with
// a membership, and returns the feed.
func history(t *testing.T, s *sqlite.Store) []clerksync.FeedEntry {
	t.Helper()
	base := int64(1_750_000_000_000)
	for u := range 6 {
		id := fmt.Sprintf("user_%02d", u)
		v1 := storetest.NewProfile(id, base)
		v2 := storetest.NewProfile(id, base+1000)
		v2.CreatedAt, v2.FirstName = v1.CreatedAt, "Renamed"
		storetest.MustApply(t, s, storetest.Upsert("msg_c"+id, v1))
		storetest.MustApply(t, s, storetest.Upsert("msg_u"+id, v2))
		if u%3 == 0 {
			storetest.MustApply(t, s, storetest.Delete("msg_d"+id, id, base+2000))
		}
	}
	org := storetest.NewOrganization("org_feedhook", base, base)
	storetest.MustApply(t, s, storetest.Event("msg_m", "organizationMembership.created",
		storetest.NewMembership("orgmem_feedhook", org, "user_01", "org:member", base, base)))
	return storetest.AllChanges(t, s, 0)
}

// recorder is the application's function: it records the entries it is given and
// fails the first attempt of those fail names.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int
	got   map[string]clerksync.FeedEntry
	fail  map[string]bool
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, got: map[string]clerksync.FeedEntry{}, fail: map[string]bool{}}
}

func (r *recorder) handle(_ context.Context, e clerksync.FeedEntry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[e.ID]++
	if r.fail[e.ID] && r.calls[e.ID] == 1 {
		return errors.New("the mail service is down")
	}
	r.got[e.ID] = e
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// svixChecked verifies every request with the svix Go library before h sees it, so
// that what the forwarder sends is proven to verify with it too.
func svixChecked(t *testing.T, h http.Handler) http.Handler {
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := wh.Verify(body, r.Header); err != nil {
			t.Errorf("the svix library refuses a forwarded delivery: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	})
}

// TestHandlerReceivesTheForwardedFeed forwards a real feed to the handler: every entry
// reaches the function as it is in the store, once acknowledged, and an entry whose
// first attempt failed (500) is sent again and handled.
func TestHandlerReceivesTheForwardedFeed(t *testing.T) {
	t.Parallel()
	s := sqlitetest.Open(t)
	entries := history(t, s)
	rec := newRecorder()
	rec.fail[entries[1].ID] = true
	h, err := feedhook.New(secret, rec.handle, quiet)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svixChecked(t, h))
	t.Cleanup(srv.Close)
	fw, err := forward.New(forward.Config{
		Store: s, Endpoints: []forward.Endpoint{{URL: srv.URL + "/clerksync"}}, Secret: secret,
		Logger: slog.New(slog.DiscardHandler), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Poll: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	fw.Start(context.Background())
	t.Cleanup(fw.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for rec.count() < len(entries) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d entries handled", rec.count(), len(entries))
		}
		time.Sleep(5 * time.Millisecond)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, want := range entries {
		got := rec.got[want.ID]
		// What the application receives: the entry as the store holds it, but its
		// recording time and the svix-id that caused it, which a delivery leaves out.
		want.CreatedAt, want.EventID = time.Time{}, ""
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("entry %d (-store +received):\n%s", want.Seq, diff)
		}
	}
	if got := rec.calls[entries[1].ID]; got != 2 {
		t.Errorf("the entry that failed once was handed over %d times, want 2", got)
	}
}

// delivery returns a POST of body signed by the svix library as message id at ts.
func delivery(t *testing.T, id string, ts time.Time, body []byte, headers string) *http.Request {
	t.Helper()
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/clerksync", bytes.NewReader(body))
	req.Header.Set(headers+"-id", id)
	req.Header.Set(headers+"-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(headers+"-signature", sig)
	return req
}

func entryBody(t *testing.T, id string) []byte {
	t.Helper()
	b, err := json.Marshal(clerksync.FeedEntry{ID: id, Seq: 7, Type: "profile.created", ObjectID: "user_1",
		Source: clerksync.SourceWebhook, OccurredAt: 1_750_000_000_000, Data: json.RawMessage(`{"user_id":"user_1","email":"a@example.com"}`)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHandlerAnswers: the answers of the handler, and that the function is called only
// for an authentic entry.
func TestHandlerAnswers(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := entryBody(t, "chg_1")
	for _, tt := range []struct {
		name   string
		req    func(t *testing.T) *http.Request
		fnErr  error
		status int
		called bool
	}{
		{"WebhookHeaders", func(t *testing.T) *http.Request { return delivery(t, "chg_1", now, body, "webhook") }, nil, 204, true},
		{"SvixHeaders", func(t *testing.T) *http.Request { return delivery(t, "chg_1", now, body, "svix") }, nil, 204, true},
		{"FunctionFails", func(t *testing.T) *http.Request { return delivery(t, "chg_1", now, body, "webhook") }, errors.New("down"), 500, true},
		{"WrongSecret", func(t *testing.T) *http.Request {
			r := delivery(t, "chg_1", now, body, "webhook")
			r.Header.Set("webhook-signature", svixsig.Sign([]byte("another key"), "chg_1", now, body))
			return r
		}, nil, 401, false},
		{"AlteredBody", func(t *testing.T) *http.Request {
			r := delivery(t, "chg_1", now, body, "webhook")
			r.Body = io.NopCloser(bytes.NewReader(bytes.Replace(body, []byte("a@example"), []byte("b@example"), 1)))
			return r
		}, nil, 401, false},
		{"TooOld", func(t *testing.T) *http.Request {
			return delivery(t, "chg_1", now.Add(-10*time.Minute), body, "webhook")
		}, nil, 401, false},
		{"NoHeaders", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/clerksync", bytes.NewReader(body))
		}, nil, 400, false},
		{"OtherEntryID", func(t *testing.T) *http.Request { return delivery(t, "chg_2", now, body, "webhook") }, nil, 400, false},
		{"NotAnEntry", func(t *testing.T) *http.Request { return delivery(t, "chg_1", now, []byte(`{"hello":1}`), "webhook") }, nil, 400, false},
		{"Get", func(t *testing.T) *http.Request { return httptest.NewRequest(http.MethodGet, "/clerksync", nil) }, nil, 405, false},
		{"TooLarge", func(t *testing.T) *http.Request {
			big := bytes.Repeat([]byte(" "), 2<<20)
			return delivery(t, "chg_1", now, append(big, body...), "webhook")
		}, nil, 413, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			called := false
			h, err := feedhook.New(secret, func(_ context.Context, e clerksync.FeedEntry) error {
				called = true
				if e.ID != "chg_1" || e.Kind != clerksync.KindUser || e.Action() != clerksync.ActionCreated {
					t.Errorf("entry = %+v", e)
				}
				return tt.fnErr
			}, quiet)
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req(t))
			if w.Code != tt.status || called != tt.called {
				t.Fatalf("answer %d, function called %v; want %d, %v (body %q)", w.Code, called, tt.status, tt.called, w.Body)
			}
			if strings.Contains(w.Body.String(), "svixsig") || strings.Contains(w.Body.String(), "down") {
				t.Errorf("the answer tells why: %q", w.Body)
			}
		})
	}
}

// TestNewRefusesBadSecrets: a bad secret is refused, and the error never holds it.
func TestNewRefusesBadSecrets(t *testing.T) {
	t.Parallel()
	ok := func(context.Context, clerksync.FeedEntry) error { return nil }
	for _, s := range []string{"", "whsec_not base64!", "sk_test_abcdefghijklmnop"} {
		_, err := feedhook.New(s, ok)
		if !errors.Is(err, feedhook.ErrInvalidSecret) {
			t.Errorf("New(%q) = %v, want ErrInvalidSecret", s, err)
			continue
		}
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
	if _, err := feedhook.New(secret, nil); err == nil {
		t.Error("New with no function succeeded")
	}
	// Two secrets during a rotation: both verify.
	other := svixsig.GenerateSecret()
	h, err := feedhook.New(other+" "+secret, ok, quiet)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, delivery(t, "chg_1", time.Now(), entryBody(t, "chg_1"), "webhook"))
	if w.Code != http.StatusNoContent {
		t.Fatalf("a delivery signed with the second secret got %d", w.Code)
	}
}
