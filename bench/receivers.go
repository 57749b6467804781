package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the naive SQLite receiver uses database/sql like most apps

	"github.com/clerksync/clerksync/svixsig"
)

// The receivers clerksync is measured against, run as processes of their own by
// `bench receive`, so that each has the machine to itself as clerksync does.
//
//	verify-only     reads the body and checks the signature: the ceiling for any receiver.
//	naive-sqlite    the handler most apps write: verify, decode with encoding/json, one
//	                durable upsert per request (WAL, synchronous=FULL) through database/sql.
//	naive-postgres  the same on PostgreSQL through a pgx pool.

// naiveUser is the part of a Clerk user the naive handler stores.
type naiveUser struct {
	ID                    string          `json:"id"`
	PrimaryEmailAddressID string          `json:"primary_email_address_id"`
	EmailAddresses        []naiveEmail    `json:"email_addresses"`
	FirstName             *string         `json:"first_name"`
	LastName              *string         `json:"last_name"`
	ImageURL              string          `json:"image_url"`
	PublicMetadata        json.RawMessage `json:"public_metadata"`
	UpdatedAt             int64           `json:"updated_at"`
}

type naiveEmail struct {
	ID           string `json:"id"`
	EmailAddress string `json:"email_address"`
}

type naiveEvent struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

const naiveSchema = `CREATE TABLE IF NOT EXISTS profiles (
	user_id TEXT PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT, image_url TEXT,
	public_metadata TEXT, raw TEXT, updated_at BIGINT NOT NULL)`

const naiveUpsert = `INSERT INTO profiles (user_id, email, first_name, last_name, image_url, public_metadata, raw, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, first_name = excluded.first_name,
	last_name = excluded.last_name, image_url = excluded.image_url,
	public_metadata = excluded.public_metadata, raw = excluded.raw, updated_at = excluded.updated_at
WHERE excluded.updated_at >= profiles.updated_at`

// receive runs one receiver until SIGTERM.
func receive(args []string) error {
	fs := flag.NewFlagSet("receive", flag.ContinueOnError)
	mode := fs.String("mode", "verify-only", "verify-only, naive-sqlite or naive-postgres")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	secret := fs.String("secret", "", "webhook secret")
	dbURL := fs.String("db", "", "SQLite path or PostgreSQL URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	verifier, err := svixsig.NewVerifier([]string{*secret})
	if err != nil {
		return err
	}
	var exec func(ctx context.Context, args ...any) error
	switch *mode {
	case "verify-only":
	case "naive-sqlite":
		db, err := sql.Open("sqlite", *dbURL+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
		if err != nil {
			return err
		}
		if _, err := db.Exec(naiveSchema); err != nil {
			return err
		}
		exec = func(ctx context.Context, args ...any) error {
			_, err := db.ExecContext(ctx, naiveUpsert, args...)
			return err
		}
	case "naive-postgres":
		cfg, err := pgxpool.ParseConfig(*dbURL)
		if err != nil {
			return err
		}
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			return err
		}
		if _, err := pool.Exec(context.Background(), naiveSchema); err != nil {
			return err
		}
		exec = func(ctx context.Context, args ...any) error {
			_, err := pool.Exec(ctx, naiveUpsert, args...)
			return err
		}
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /api/webhooks/clerk", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		if _, err := verifier.Verify(r.Header, body); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		if exec == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		var ev naiveEvent
		var u naiveUser
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		if err := json.Unmarshal(ev.Data, &u); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		email := ""
		for _, e := range u.EmailAddresses {
			if e.ID == u.PrimaryEmailAddressID {
				email = e.EmailAddress
			}
		}
		if err := exec(r.Context(), u.ID, email, u.FirstName, u.LastName, u.ImageURL, string(u.PublicMetadata), string(ev.Data), u.UpdatedAt); err != nil {
			http.Error(w, "db", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
		<-ch
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}
