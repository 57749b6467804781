package service_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/service"
	"github.com/clerksync/clerksync/svixsig"
)

// An application mounts clerksync's routes on its own mux, beside its own, and reacts
// to what changes in its tables: here the welcome email of a new user, sent once.
func Example() {
	dir, _ := os.MkdirTemp("", "clerksync-example")
	defer os.RemoveAll(dir)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // the Clerk endpoint's Signing Secret

	ctx := context.Background()
	svc, err := service.Open(ctx, service.Config{
		DatabaseURL:    "sqlite:" + filepath.Join(dir, "app.db"),
		WebhookSecrets: []string{secret},
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })
	svc.Mount(mux) // POST /api/webhooks/clerk, GET /api/changes, /healthz, …

	sent := make(chan string, 1)
	err = svc.Consume("welcome-emails", func(ctx context.Context, e clerksync.FeedEntry) error {
		sent <- "welcome email to " + e.ObjectID // keyed by e.ID, a real app sends it once
		return nil
	}, "profile.created")
	if err != nil {
		fmt.Println(err)
		return
	}

	// Clerk (through Svix) delivers a user.created.
	body := []byte(`{"type":"user.created","timestamp":1716883200000,"data":{"object":"user","id":"user_2ada",` +
		`"first_name":"Ada","last_name":"Lovelace","created_at":1716883200000,"updated_at":1716883200000}}`)
	req := httptest.NewRequest(http.MethodPost, "/api/webhooks/clerk", bytes.NewReader(body))
	key, _ := svixsig.DecodeSecret(secret)
	svixsig.SetHeaders(req.Header, key, "msg_1", time.Now(), body)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	p, _ := svc.Store().Profile(ctx, "user_2ada")
	fmt.Println(p.FirstName, p.LastName)
	fmt.Println(<-sent)
	// Output:
	// 200
	// Ada Lovelace
	// welcome email to user_2ada
}
