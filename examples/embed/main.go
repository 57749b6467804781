// Command embed is an application that runs clerksync inside its own server: its own
// routes and clerksync's on one mux, and a welcome email sent when a user signs up,
// from the changes feed, in the same process.
//
//	CLERK_WEBHOOK_SECRET=whsec_… DATABASE_URL=sqlite:app.db go run ./examples/embed
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := newApp(ctx, os.Getenv("DATABASE_URL"), os.Getenv("CLERK_WEBHOOK_SECRET"), &logMailer{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
	defer app.Close()
	srv := &http.Server{Addr: ":8080", Handler: app.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("listening", "addr", srv.Addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

// Mailer sends the welcome email.
type Mailer interface {
	Welcome(ctx context.Context, userID, email string) error
}

// app is the application: its routes, and clerksync's.
type app struct {
	mux *http.ServeMux
	svc *service.Service
}

// newApp opens clerksync on databaseURL, mounts its routes beside the application's,
// and sends a welcome email for every new profile, once.
func newApp(ctx context.Context, databaseURL, webhookSecret string, mail Mailer) (*app, error) {
	svc, err := service.Open(ctx, service.Config{
		DatabaseURL:    databaseURL,
		WebhookSecrets: []string{webhookSecret},
	})
	if err != nil {
		return nil, err
	}
	a := &app{mux: http.NewServeMux(), svc: svc}
	a.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the application's home page")
	})
	svc.Mount(a.mux)

	// The changes feed hands each entry at least once: the welcome email is keyed by
	// the entry's id, so that a redelivered entry sends nothing twice.
	var sentMu sync.Mutex
	sent := make(map[string]bool) // a real application keeps this in its database
	err = svc.Consume("welcome-emails", func(ctx context.Context, e clerksync.FeedEntry) error {
		sentMu.Lock()
		defer sentMu.Unlock()
		if sent[e.ID] {
			return nil
		}
		var row struct {
			Email string `json:"email"`
		}
		if err := json.Unmarshal(e.Data, &row); err != nil {
			return err
		}
		if err := mail.Welcome(ctx, e.ObjectID, row.Email); err != nil {
			return err // tried again later
		}
		sent[e.ID] = true
		return nil
	}, "profile.created")
	if err != nil {
		svc.Close()
		return nil, err
	}
	return a, nil
}

// Close stops clerksync.
func (a *app) Close() error { return a.svc.Close() }

// logMailer "sends" emails to the log.
type logMailer struct{}

func (*logMailer) Welcome(ctx context.Context, userID, email string) error {
	slog.InfoContext(ctx, "welcome email sent", "user_id", userID, "email", email)
	return nil
}
