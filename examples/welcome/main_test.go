package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/clerksync/clerksync/feedhook"
	"github.com/clerksync/clerksync/forward"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// mailbox records the emails sent, by idempotency key, and fails the first attempt
// of every other one (a flaky mail service).
type mailbox struct {
	mu    sync.Mutex
	tries map[string]int
	sent  map[string][]string // recipient → idempotency keys of the emails delivered
}

func (m *mailbox) Send(_ context.Context, key, to, _, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tries[key]++
	if len(m.tries)%2 == 0 && m.tries[key] == 1 {
		return errors.New("mail service: 503")
	}
	m.sent[to] = append(m.sent[to], key)
	return nil
}

// TestWelcomeOnce forwards a real feed to the example twice over (as after a crash of
// the forwarder that lost its position), through a flaky mail service: every new user
// gets exactly one welcome email, and nobody gets one for an update or a deletion.
func TestWelcomeOnce(t *testing.T) {
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "clerksync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	base := int64(1_750_000_000_000)
	var emails []string
	for u := range 8 {
		p := storetest.NewProfile(fmt.Sprintf("user_%02d", u), base)
		emails = append(emails, p.Email)
		storetest.MustApply(t, store, storetest.Upsert("msg_c"+p.UserID, p))
		v2 := storetest.NewProfile(p.UserID, base+1000)
		v2.CreatedAt = p.CreatedAt
		storetest.MustApply(t, store, storetest.Upsert("msg_u"+p.UserID, v2))
	}
	storetest.MustApply(t, store, storetest.Delete("msg_d", "user_00", base+5000))

	db, err := OpenDB(filepath.Join(t.TempDir(), "welcome.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	box := &mailbox{tries: map[string]int{}, sent: map[string][]string{}}
	w := &Welcomer{DB: db, Mailer: box}
	h, err := feedhook.New(secret, w.HandleChange, feedhook.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	last, err := store.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		if err := store.SetForwardPosition(context.Background(), forward.LeaseName(srv.URL), 0); err != nil {
			t.Fatal(err)
		}
		fw, err := forward.New(forward.Config{Store: store, Endpoints: []forward.Endpoint{{URL: srv.URL}}, Secret: secret,
			Logger: slog.New(slog.DiscardHandler), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Poll: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		fw.Start(context.Background())
		deadline := time.Now().Add(30 * time.Second)
		for {
			pos, _, err := store.ForwardPosition(context.Background(), forward.LeaseName(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			if pos == last {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: forwarded up to %d of %d", round, pos, last)
			}
			time.Sleep(5 * time.Millisecond)
		}
		fw.Stop()
	}
	box.mu.Lock()
	defer box.mu.Unlock()
	for _, e := range emails {
		if got := len(box.sent[e]); got != 1 {
			t.Errorf("%s got %d welcome emails, want 1", e, got)
		}
	}
	if len(box.sent) != len(emails) {
		t.Errorf("emails went to %d addresses, want %d", len(box.sent), len(emails))
	}
}
