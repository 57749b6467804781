package main

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/clerksync/clerksync/internal/serveproc"
	"github.com/clerksync/clerksync/sqlite"
)

// TestForward_KillDuringForwarding kills serve with SIGKILL while it forwards the
// changes feed to a slow endpoint, twice, and starts it again on the same database
// each time. No entry may be lost: every entry of the feed is acknowledged in the end,
// each object's entries first acknowledged in seq order, as the feed holds them.
func TestForward_KillDuringForwarding(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it; skipped with -short")
	}
	t.Parallel()
	app := newAppEndpoint(t)
	app.delay = 3 * time.Millisecond
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "forward.db")
	logs := &syncBuffer{}
	base, start := restartableServe(t, dbPath, logs, map[string]string{
		"CLERKSYNC_FORWARD_URL":    app.URL(),
		"CLERKSYNC_FORWARD_SECRET": testSecret,
	})
	// send delivers each event until serve answers 200, as Svix retries.
	send := func(events []event) {
		for _, ev := range events {
			deadline := time.Now().Add(time.Minute)
			for {
				if d := post(base, ev.id, ev.body); d.Err == nil && d.Status == http.StatusOK {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("webhook %s was never answered 200\n%s", ev.id, logs)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	kill := func(srv *serveproc.Proc, atLeast int) *serveproc.Proc {
		waitFor(t, "some acknowledgements", func() bool { n, _ := app.counts(); return n >= atLeast })
		srv.Kill()
		return start()
	}

	events, _ := userHistory(newRand(t), "kill", 40)
	events = append(events, orgEvents("kill", 6)...)
	third := len(events) / 3
	srv := start()
	send(events[:2*third])
	srv = kill(srv, third)
	send(events[2*third:])
	acked, _ := app.counts()
	srv = kill(srv, acked+10)

	store, err := sqlite.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	all := app.waitAll(t, store, 2*time.Minute)
	if err := srv.Terminate(); err != nil {
		t.Errorf("serve did not stop cleanly: %v\n%s", err, logs)
	}
	app.check(t, all)
	t.Logf("%d entries from %d webhooks, 2 kills; %d entries delivered again after a kill", len(all), len(events), app.redelivered())
}
