package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/broadcast"
	"github.com/clerksync/clerksync/internal/sqlitetest"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
	"github.com/clerksync/clerksync/web"
)

const apiToken = "test-token-7f3a"

func changesServer(t *testing.T, cfg *web.ChangesConfig) (*httptest.Server, *sqlite.Store) {
	t.Helper()
	store := sqlitetest.Open(t)
	srv := &web.Server{Store: store, Logger: slog.New(slog.DiscardHandler), Changes: cfg}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, store
}

type changesBody struct {
	Changes []clerksync.FeedEntry `json:"changes"`
	Next    int64                 `json:"next"`
	Error   string                `json:"error"`
}

func getChanges(t *testing.T, url, token string) (int, changesBody) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var b changesBody
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("body %q: %v", raw, err)
	}
	return resp.StatusCode, b
}

func TestChangesNotConfigured(t *testing.T) {
	t.Parallel()
	ts, _ := changesServer(t, nil)
	if code, b := getChanges(t, ts.URL+"/api/changes", apiToken); code != http.StatusServiceUnavailable || b.Error == "" {
		t.Fatalf("without a token configured: %d %+v; want 503 not configured", code, b)
	}
}

func TestChangesNeedsTheToken(t *testing.T) {
	t.Parallel()
	ts, _ := changesServer(t, &web.ChangesConfig{Token: apiToken})
	for _, token := range []string{"", "wrong", apiToken + "x"} {
		if code, _ := getChanges(t, ts.URL+"/api/changes", token); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", token, code)
		}
	}
}

func TestChangesPages(t *testing.T) {
	t.Parallel()
	ts, store := changesServer(t, &web.ChangesConfig{Token: apiToken})
	org := storetest.NewOrganization("org_w", 1_750_000_000_000, 1_750_000_000_000)
	storetest.MustApply(t, store,
		storetest.Upsert("msg_1", storetest.NewProfile("user_w1", 1_750_000_000_000)),
		storetest.Upsert("msg_2", storetest.NewProfile("user_w2", 1_750_000_000_000)),
		storetest.Event("msg_3", "organizationMembership.created", storetest.NewMembership("orgmem_w", org, "user_w1", "org:member", 1_750_000_000_000, 1_750_000_000_000)))

	code, b := getChanges(t, ts.URL+"/api/changes?limit=2", apiToken)
	if code != http.StatusOK || len(b.Changes) != 2 || b.Changes[0].Type != "profile.created" || b.Next != b.Changes[1].Seq {
		t.Fatalf("first page: %d %+v", code, b)
	}
	if b.Changes[0].Data == nil || b.Changes[0].ID == "" || b.Changes[0].Source != clerksync.SourceWebhook {
		t.Fatalf("entry shape: %+v", b.Changes[0])
	}
	code, b = getChanges(t, ts.URL+"/api/changes?after="+itoa(b.Next), apiToken)
	if code != http.StatusOK || len(b.Changes) != 2 || b.Changes[1].Type != "membership.created" {
		t.Fatalf("second page: %d %+v", code, b)
	}
	next := b.Next
	code, b = getChanges(t, ts.URL+"/api/changes?after="+itoa(next), apiToken)
	if code != http.StatusOK || len(b.Changes) != 0 || b.Next != next {
		t.Fatalf("past the end: %d %+v; want no changes and the same cursor", code, b)
	}
	code, b = getChanges(t, ts.URL+"/api/changes?types=membership.*,organization.created", apiToken)
	if code != http.StatusOK || len(b.Changes) != 2 || b.Changes[0].Type != "organization.created" {
		t.Fatalf("filtered: %d %+v", code, b)
	}
	for _, q := range []string{"after=-1", "after=x", "limit=0", "limit=5000", "wait=2m", "wait=soon", "types=users.*"} {
		if code, b := getChanges(t, ts.URL+"/api/changes?"+q, apiToken); code != http.StatusBadRequest || b.Error == "" {
			t.Errorf("?%s: %d %+v, want 400 with an error", q, code, b)
		}
	}
}

// TestChangesLongPoll: a call with wait and nothing new answers as soon as an entry is
// committed, and with none when the wait is over.
func TestChangesLongPoll(t *testing.T) {
	t.Parallel()
	var b broadcast.Broadcaster
	ts, store := changesServer(t, &web.ChangesConfig{Token: apiToken, Notify: b.C, PollEvery: time.Hour})

	start := time.Now()
	code, got := getChanges(t, ts.URL+"/api/changes?wait=200ms", apiToken)
	if code != http.StatusOK || len(got.Changes) != 0 || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("empty long poll: %d %+v after %v", code, got, time.Since(start))
	}

	done := make(chan changesBody, 1)
	go func() {
		_, got := getChanges(t, ts.URL+"/api/changes?wait=30s", apiToken)
		done <- got
	}()
	time.Sleep(100 * time.Millisecond)
	storetest.MustApply(t, store, storetest.Upsert("msg_1", storetest.NewProfile("user_lp", 1_750_000_000_000)))
	b.Notify()
	select {
	case got := <-done:
		if len(got.Changes) != 1 || got.Changes[0].ObjectID != "user_lp" {
			t.Fatalf("long poll answered %+v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not answer when an entry was committed")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
