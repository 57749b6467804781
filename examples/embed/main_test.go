package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/clerksync/clerksync/storetest"
	"github.com/clerksync/clerksync/svixsig"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// mailer records the emails, failing the first one.
type mailer struct {
	mu     sync.Mutex
	sent   []string
	failed bool
}

func (m *mailer) Welcome(ctx context.Context, userID, email string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.failed {
		m.failed = true
		return errors.New("the mail server is down")
	}
	m.sent = append(m.sent, userID+" "+email)
	return nil
}

// TestEmbeddedApp mounts clerksync on the application's mux, beside its home page,
// drives a signed delivery through it, and sees the welcome email sent once.
func TestEmbeddedApp(t *testing.T) {
	t.Parallel()
	m := &mailer{}
	a, err := newApp(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "app.db"), secret, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.mux)
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("application's home page")) {
		t.Fatalf("GET / = %d %q; want the application's page", resp.StatusCode, body)
	}

	p := storetest.NewProfile("user_2embed", 1_750_000_000_000)
	c := storetest.Upsert("msg_embed", p)
	for range 2 { // Svix retries: the second delivery is a duplicate
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/webhooks/clerk", bytes.NewReader(c.Body))
		key, _ := svixsig.DecodeSecret(secret)
		svixsig.SetHeaders(req.Header, key, "msg_embed", time.Now(), c.Body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("delivery = %d", resp.StatusCode)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		m.mu.Lock()
		n := len(m.sent)
		m.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a wrong second email
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sent) != 1 || m.sent[0] != "user_2embed "+p.Email {
		t.Fatalf("emails sent: %v; want one to %s", m.sent, p.Email)
	}
}
