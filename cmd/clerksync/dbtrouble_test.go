package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/internal/tcpproxy"
	"github.com/clerksync/clerksync/postgres"
)

// troubleServer runs serve on a fresh PostgreSQL schema that it reaches through a
// proxy the test controls. The store it returns reads the schema directly.
func troubleServer(t *testing.T) (*testServer, *tcpproxy.Proxy, *postgres.Store) {
	t.Helper()
	pgtest.Admin(t) // skips t when PostgreSQL does not answer
	p, via := tcpproxy.ForURL(t, pgtest.URL())
	schema := pgtest.SchemaName(t, "clerksync_test")
	s := MustRunServe(t, map[string]string{
		"DATABASE_URL":    via,
		"DATABASE_SCHEMA": schema,
	})
	return s, p, pgtest.Open(t, schema)
}

// wantProfiles fails t unless every user of events has Ada's profile in db, or, with
// none set, no profile at all.
func wantProfiles(t *testing.T, db clerksync.Store, events []troubleEvent, none bool) {
	t.Helper()
	for _, ev := range events {
		p, err := db.Profile(context.Background(), ev.userID)
		switch {
		case none && clerksync.ErrorCode(err) != clerksync.ENOTFOUND:
			t.Errorf("%s: Profile = %+v, %v; want none, as every delivery about them was refused", ev.userID, p, err)
		case !none && err != nil:
			t.Errorf("%s: %v", ev.userID, err)
		case !none && p.FirstName != "Ada":
			t.Errorf("profile of %s = %+v, want Ada's", ev.userID, p)
		}
	}
}

// troubleEvent is a user.created event of its own user.
type troubleEvent struct {
	id, userID string
	body       []byte
}

func troubleEvents(prefix string, n int) []troubleEvent {
	events := make([]troubleEvent, n)
	for i := range events {
		userID := fmt.Sprintf("user_2%s%020d", prefix, i)
		events[i] = troubleEvent{
			id:     fmt.Sprintf("msg_%s_%d", prefix, i),
			userID: userID,
			body:   clerkfake.WebhookEvent("user.created", user(userID, "Ada", time.UnixMilli(1_700_000_001_000)), time.Now()),
		}
	}
	return events
}

// wantUnavailable fails t unless d is the answer to a delivery that the database
// could not take: 503 with a Retry-After of whole seconds, so that Svix retries.
func wantUnavailable(t *testing.T, what string, d delivery) {
	t.Helper()
	if d.Err != nil {
		t.Errorf("%s: no answer within Svix's 15 s: %v", what, d.Err)
		return
	}
	if d.Status != http.StatusServiceUnavailable {
		t.Errorf("%s: status %d (outcome %q), want 503", what, d.Status, d.Outcome)
		return
	}
	if secs, err := strconv.Atoi(d.RetryAfter); err != nil || secs < 1 {
		t.Errorf("%s: Retry-After %q, want whole seconds", what, d.RetryAfter)
	}
}

// redeliver posts ev as Svix retries it until the answer is 200, at most attempts
// times (a connection that broke while the database was away fails one delivery
// before the pool replaces it), and returns the outcome.
func redeliver(t *testing.T, base string, ev troubleEvent, attempts int) string {
	t.Helper()
	var d delivery
	for range attempts {
		d = post(base, ev.id, ev.body)
		if d.Err == nil && d.Status == http.StatusOK {
			return d.Outcome
		}
		wantUnavailable(t, ev.id+" after the database came back", d)
	}
	t.Fatalf("%s: still %d (%v) after %d attempts with the database back", ev.id, d.Status, d.Err, attempts)
	return ""
}

// getStatus returns the status of GET base+path, failing t when there is no answer
// within timeout.
func getStatus(t *testing.T, base, path string, timeout time.Duration) int {
	t.Helper()
	c := &http.Client{Timeout: timeout}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: no answer within %v: %v", path, timeout, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// wantReadyAgain fails t unless /readyz answers 200 within a few attempts.
func wantReadyAgain(t *testing.T, base string) {
	t.Helper()
	status := 0
	for range 5 {
		if status = getStatus(t, base, "/readyz", 5*time.Second); status == http.StatusOK {
			return
		}
	}
	t.Fatalf("/readyz = %d with the database back, want 200", status)
}

// TestDBTrouble_Unreachable cuts the connection to PostgreSQL: deliveries get 503 with
// Retry-After, never a 2xx, /readyz says not ready while /healthz stays up, and when
// the database is back the same deliveries, retried, land without a restart.
func TestDBTrouble_Unreachable(t *testing.T) {
	t.Parallel()
	s, p, db := troubleServer(t)
	events := troubleEvents("unreachable", 4)
	if got := post(s.URL, events[0].id, events[0].body); got.Status != http.StatusOK || got.Outcome != "applied" {
		t.Fatalf("delivery before the cut = %+v, want 200 applied", got)
	}

	p.Cut()
	pending := events[1:]
	for attempt := range 3 {
		for _, ev := range pending {
			wantUnavailable(t, fmt.Sprintf("%s, attempt %d, database cut off", ev.id, attempt+1), post(s.URL, ev.id, ev.body))
		}
	}
	if got, want := getStatus(t, s.URL, "/readyz", 5*time.Second), http.StatusServiceUnavailable; got != want {
		t.Errorf("/readyz with the database cut off = %d, want %d", got, want)
	}
	if got, want := getStatus(t, s.URL, "/healthz", 5*time.Second), http.StatusOK; got != want {
		t.Errorf("/healthz with the database cut off = %d, want %d", got, want)
	}
	if t.Failed() {
		t.FailNow()
	}
	wantProfiles(t, db, pending, true)

	p.Restore()
	for _, ev := range pending {
		// Nothing could commit while the database was away, so each lands now.
		if got := redeliver(t, s.URL, ev, 5); got != "applied" {
			t.Errorf("%s with the database back: outcome %q, want applied", ev.id, got)
		}
	}
	wantReadyAgain(t, s.URL)
	wantProfiles(t, db, events, false)
}

// TestDBTrouble_Hung makes PostgreSQL stop answering without closing anything, as a
// network partition does, while deliveries keep coming in (more than the engine has
// writers, so that later ones queue behind batches stuck on the database). Every
// delivery must be answered 503 with Retry-After before Svix's 15 s timeout, /readyz
// must answer 503 promptly, and everything lands once the database answers again.
func TestDBTrouble_Hung(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 10 s a delivery may wait for a hung database; skipped with -short")
	}
	t.Parallel()
	s, p, db := troubleServer(t)
	events := troubleEvents("hung", 10)
	if got := post(s.URL, events[0].id, events[0].body); got.Status != http.StatusOK || got.Outcome != "applied" {
		t.Fatalf("delivery before the hang = %+v, want 200 applied", got)
	}

	p.Hang()
	pending := events[1:]
	answers := make([]delivery, len(pending))
	var wg sync.WaitGroup
	for i, ev := range pending {
		wg.Go(func() { answers[i] = post(s.URL, ev.id, ev.body) })
		// Spread the deliveries out as Svix's traffic is, so that the later ones find
		// every writer stuck.
		time.Sleep(150 * time.Millisecond)
	}
	// Probes answer at once (healthz) or within the readiness ping's 2 s (readyz).
	if got, want := getStatus(t, s.URL, "/healthz", 5*time.Second), http.StatusOK; got != want {
		t.Errorf("/healthz with the database hung = %d, want %d", got, want)
	}
	if got, want := getStatus(t, s.URL, "/readyz", 5*time.Second), http.StatusServiceUnavailable; got != want {
		t.Errorf("/readyz with the database hung = %d, want %d", got, want)
	}
	wg.Wait()
	for i, ev := range pending {
		wantUnavailable(t, ev.id+" with the database hung", answers[i])
	}
	if t.Failed() {
		t.FailNow()
	}

	p.Restore()
	for _, ev := range pending {
		// A delivery answered 503 may still have committed once the held bytes got
		// through; its retry is then a duplicate, which is as good.
		if got := redeliver(t, s.URL, ev, 5); got != "applied" && got != "duplicate" {
			t.Errorf("%s with the database back: outcome %q, want applied or duplicate", ev.id, got)
		}
	}
	wantReadyAgain(t, s.URL)
	wantProfiles(t, db, events, false)
}
