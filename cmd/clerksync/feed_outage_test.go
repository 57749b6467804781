package main

import (
	"io"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/forward"
	"github.com/clerksync/clerksync/storetest"
)

// timeScale compresses the forwarder's clock in the outage test: a second of its
// backoff lasts a millisecond, so that an outage of minutes lasts under a second.
const timeScale = 1000

// TestForward_OutageOfMinutesThenRecovery: the application's endpoint answers 503 for
// ten minutes (on a clock a thousand times faster: the forwarder's backoff, from 1 s
// to 5 min, scaled alike) while webhooks of users and organizations keep coming. serve
// keeps answering the webhooks, logs the growing backlog, shows it in metrics, and
// once the endpoint recovers delivers every entry, each object's in order.
func TestForward_OutageOfMinutesThenRecovery(t *testing.T) {
	t.Parallel()
	app := newAppEndpoint(t)
	s := runServe(t, map[string]string{"CLERK_WEBHOOK_SECRET": testSecret, "LOG_LEVEL": "info"},
		map[string]string{"CLERKSYNC_FORWARD_URL": app.URL(), "CLERKSYNC_FORWARD_SECRET": testSecret}, nil,
		func(c *ServeCommand) {
			c.feed.tune = func(cfg *forward.Config) {
				cfg.MinBackoff = forward.DefaultMinBackoff / timeScale
				cfg.MaxBackoff = forward.DefaultMaxBackoff / timeScale
				cfg.Report = forward.DefaultReport / timeScale
				cfg.Poll = 10 * time.Millisecond
			}
		})
	feed := s.store.(clerksync.FeedStore)

	app.refuse(true)
	outage := 10 * time.Minute / timeScale
	start := time.Now()
	events, _ := userHistory(newRand(t), "outage", 20)
	events = append(events, orgEvents("outage", 4)...)
	sent := 0
	for time.Since(start) < outage || sent < len(events) {
		if sent < len(events) {
			ev := events[sent]
			if a := deliver(t, s.URL, "/api/webhooks/clerk", testSecret, ev.id, time.Now(), ev.body); a.Status != http.StatusOK {
				t.Fatalf("webhook %s during the outage: %d %v", ev.id, a.Status, a.Body)
			}
			sent++
		}
		time.Sleep(outage / time.Duration(2*len(events)))
	}
	acked, refused := app.counts()
	if acked != 0 || refused == 0 {
		t.Fatalf("during the outage: %d acknowledged, %d refused; want none and some", acked, refused)
	}
	// The backlog is logged while it lasts, and measured.
	waitLogged(t, s, "forwarding is behind")
	if b := backlog(t, s.URL); b <= 0 {
		t.Errorf("clerksync_forward_backlog = %v during the outage", b)
	}

	app.refuse(false)
	all := app.waitAll(t, feed, 60*time.Second)
	app.check(t, all)
	_, refused = app.counts()
	t.Logf("%d entries from %d webhooks; %d deliveries refused during the outage, %d entries sent more than once",
		len(all), len(events), refused, app.redelivered())
	waitFor(t, "the backlog to drain", func() bool { return backlog(t, s.URL) == 0 })
}

// newRand returns a random source seeded as storetest.Seed says (the seed is logged).
func newRand(t *testing.T) *mrand.Rand { return mrand.New(mrand.NewPCG(storetest.Seed(t), 0x5eed)) }

// waitLogged waits until serve has logged msg.
func waitLogged(t *testing.T, s *testServer, msg string) {
	t.Helper()
	waitFor(t, "serve to log "+strconv.Quote(msg), func() bool { return strings.Contains(s.Logs.String(), msg) })
}

// waitFor polls cond until it holds, failing t after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var backlogLine = regexp.MustCompile(`(?m)^clerksync_forward_backlog\{[^}]*\} (\S+)$`)

// backlog returns clerksync_forward_backlog from serve's metrics.
func backlog(t *testing.T, base string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := backlogLine.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no clerksync_forward_backlog in the metrics:\n%s", body)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
