// Command welcome is an application's receiver of the changes feed that clerksync
// forwards: it sends a welcome email to every new user, once, whatever path the user
// came by (webhook, backfill, sync) and however often the entry is delivered.
//
//	CLERKSYNC_FORWARD_SECRET=whsec_… go run ./examples/welcome
//	CLERKSYNC_FORWARD_SECRET=whsec_… clerksync serve --forward-url http://localhost:8080/clerksync/changes
//
// It keeps the ids of the entries it acted on in its own SQLite database, and gives
// the entry's id to the mail service as an idempotency key, so that a crash between
// sending and recording sends no second email either.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "modernc.org/sqlite"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/feedhook"
)

// Mailer sends an email. Mail services (Postmark, Resend, SES through a queue…) take
// an idempotency key and send a message once per key.
type Mailer interface {
	Send(ctx context.Context, idempotencyKey, to, subject, body string) error
}

// Welcomer sends the welcome emails.
type Welcomer struct {
	DB     *sql.DB
	Mailer Mailer
}

// schema is the application's own table of the entries it acted on.
const schema = `CREATE TABLE IF NOT EXISTS welcome_emails (
	change_id TEXT PRIMARY KEY,
	user_id   TEXT NOT NULL,
	email     TEXT NOT NULL,
	sent_at   INTEGER NOT NULL
)`

// HandleChange acts on one entry of the feed: a welcome email for profile.created,
// nothing for the rest. An error has clerksync send the entry again.
func (w *Welcomer) HandleChange(ctx context.Context, e clerksync.FeedEntry) error {
	if e.Type != "profile.created" {
		return nil
	}
	var user struct {
		UserID    string  `json:"user_id"`
		Email     *string `json:"email"`
		FirstName *string `json:"first_name"`
	}
	if err := json.Unmarshal(e.Data, &user); err != nil {
		return fmt.Errorf("decode %s: %w", e.ID, err)
	}
	if user.Email == nil {
		return nil // no address to write to
	}
	tx, err := w.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", feedhook.ErrUnavailable, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO welcome_emails (change_id, user_id, email, sent_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (change_id) DO NOTHING`, e.ID, user.UserID, *user.Email, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("%w: record %s: %w", feedhook.ErrUnavailable, e.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // this entry was acted on already: a delivery sent again
	}
	name := "there"
	if user.FirstName != nil && *user.FirstName != "" {
		name = *user.FirstName
	}
	if err := w.Mailer.Send(ctx, e.ID, *user.Email, "Welcome!", "Hello "+name+", welcome aboard."); err != nil {
		return fmt.Errorf("send the welcome email of %s: %w", user.UserID, err)
	}
	return tx.Commit()
}

// OpenDB opens (and creates) the application's database.
func OpenDB(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create welcome_emails: %w", err)
	}
	return db, nil
}

// logMailer stands in for a mail service: it logs what it would send.
type logMailer struct{ log *slog.Logger }

func (m logMailer) Send(_ context.Context, key, to, subject, _ string) error {
	m.log.Info("welcome email sent", "to", to, "subject", subject, "idempotency_key", key)
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, log); err != nil {
		log.Error("welcome stopped", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	db, err := OpenDB(envOr("WELCOME_DB", "welcome.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	w := &Welcomer{DB: db, Mailer: logMailer{log}}
	h, err := feedhook.New(os.Getenv("CLERKSYNC_FORWARD_SECRET"), w.HandleChange, feedhook.WithLogger(log))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /clerksync/changes", h)
	srv := &http.Server{Addr: envOr("ADDR", "127.0.0.1:8080"), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("receiving clerksync's changes", "url", "http://"+srv.Addr+"/clerksync/changes")
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
