package service_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/service"
	"github.com/clerksync/clerksync/storetest"
	"github.com/clerksync/clerksync/svixsig"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func open(t *testing.T, cfg service.Config) *service.Service {
	t.Helper()
	if cfg.DatabaseURL == "" && cfg.DB == nil && cfg.Pool == nil {
		cfg.DatabaseURL = "sqlite:" + filepath.Join(t.TempDir(), "app.db")
	}
	cfg.WebhookSecrets = []string{secret}
	cfg.Logger = slog.New(slog.DiscardHandler)
	svc, err := service.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return svc
}

// deliver posts a signed user event for p to h and returns the status.
func deliver(t *testing.T, h http.Handler, id string, p *clerksync.Profile) int {
	t.Helper()
	c := storetest.Upsert(id, p)
	req := httptest.NewRequest(http.MethodPost, "/api/webhooks/clerk", bytes.NewReader(c.Body))
	key, _ := svixsig.DecodeSecret(secret)
	svixsig.SetHeaders(req.Header, key, id, time.Now(), c.Body)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestMountBesideTheApp: clerksync's routes on the application's mux, beside its own,
// and a signed delivery through them.
func TestMountBesideTheApp(t *testing.T) {
	t.Parallel()
	svc := open(t, service.Config{APIToken: "tok"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("GET /assets/app.css", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "body{}") })
	svc.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for path, want := range map[string]int{"/hello": 200, "/assets/app.css": 200, "/healthz": 200, "/readyz": 200, "/api/changes": 401} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	if code := deliver(t, mux, "msg_1", storetest.NewProfile("user_mount", 1_750_000_000_000)); code != 200 {
		t.Fatalf("delivery = %d", code)
	}
	storetest.MustProfile(t, svc.Store(), "user_mount")
}

// TestFollow reads the feed from a cursor, waits for what comes, and resumes from a
// later cursor without repeats.
func TestFollow(t *testing.T) {
	t.Parallel()
	svc := open(t, service.Config{})
	for i := range 3 {
		if code := deliver(t, svc.Handler(), fmt.Sprintf("msg_%d", i), storetest.NewProfile(fmt.Sprintf("user_f%d", i), 1_750_000_000_000)); code != 200 {
			t.Fatalf("delivery = %d", code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []clerksync.FeedEntry
	for e, err := range svc.Follow(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
		if len(got) == 3 {
			// One more, committed while following.
			go deliver(t, svc.Handler(), "msg_late", storetest.NewProfile("user_late", 1_750_000_000_000))
		}
		if len(got) == 4 {
			break
		}
	}
	if len(got) != 4 || got[3].ObjectID != "user_late" {
		t.Fatalf("followed %v", got)
	}
	var again []string
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	for e, err := range svc.Follow(ctx2, got[1].Seq, "profile.*") {
		if err != nil {
			t.Fatal(err)
		}
		again = append(again, e.ObjectID)
	}
	if len(again) != 2 || again[0] != "user_f2" || again[1] != "user_late" {
		t.Fatalf("resumed after seq %d: %v; want user_f2, user_late", got[1].Seq, again)
	}
}

// TestConsumeAtLeastOnceAndResumes: a consumer that fails gets the entry again, in
// order per object; a consumer started again under the same name (after a restart) goes
// on from where it stopped.
func TestConsumeAtLeastOnceAndResumes(t *testing.T) {
	t.Parallel()
	url := "sqlite:" + filepath.Join(t.TempDir(), "app.db")
	svc, err := service.Open(context.Background(), service.Config{DatabaseURL: url, WebhookSecrets: []string{secret}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	v1 := storetest.NewProfile("user_c", 1_750_000_000_000)
	v2 := storetest.NewProfile("user_c", 1_750_000_001_000)
	v2.CreatedAt = v1.CreatedAt
	deliver(t, svc.Handler(), "msg_1", v1)
	deliver(t, svc.Handler(), "msg_2", v2)

	var mu sync.Mutex
	var seen []string
	failed := false
	done := make(chan struct{})
	err = svc.Consume("audit", func(ctx context.Context, e clerksync.FeedEntry) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e.Type)
		if e.Type == "profile.created" && !failed {
			failed = true
			return errors.New("the audit log is down")
		}
		if e.Type == "profile.updated" {
			close(done)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer did not get the update")
	}
	mu.Lock()
	if len(seen) != 3 || seen[0] != "profile.created" || seen[1] != "profile.created" || seen[2] != "profile.updated" {
		t.Fatalf("consumed %v; want created (failed), created, updated", seen)
	}
	mu.Unlock()
	// The position is saved when the consumer stops.
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}

	svc = open(t, service.Config{DatabaseURL: url})
	deliver(t, svc.Handler(), "msg_3", storetest.NewProfile("user_d", 1_750_000_000_000))
	got := make(chan string, 10)
	if err := svc.Consume("audit", func(ctx context.Context, e clerksync.FeedEntry) error {
		got <- e.ObjectID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != "user_d" {
			t.Fatalf("after the restart the consumer got %s first; want user_d (user_c was acknowledged)", id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer did not resume")
	}
}

// TestOpenOnTheAppsSQLite: the application hands its own *sql.DB of SQLite; clerksync
// keeps its tables in that file and leaves the handle open.
func TestOpenOnTheAppsSQLite(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := open(t, service.Config{DB: db})
	deliver(t, svc.Handler(), "msg_1", storetest.NewProfile("user_db", 1_750_000_000_000))
	var email string
	if err := db.QueryRow(`SELECT email FROM profiles WHERE user_id = 'user_db'`).Scan(&email); err != nil || email == "" {
		t.Fatalf("the application reads %q, %v from its own handle", email, err)
	}
	mem, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if _, err := service.Open(context.Background(), service.Config{DB: mem}); clerksync.ErrorCode(err) != clerksync.EINVALID {
		t.Fatalf("an in-memory database: %v, want EINVALID", err)
	}
}

// TestOpenOnTheAppsPool: the application hands its own pgx pool; clerksync keeps its
// tables in the pool's schema and leaves the pool open.
func TestOpenOnTheAppsPool(t *testing.T) {
	t.Parallel()
	schema := pgtest.Schema(t, "clerksync_service")
	pool := pgtest.Pool(t, schema)
	svc, err := service.Open(context.Background(), service.Config{Pool: pool, WebhookSecrets: []string{secret}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, svc.Handler(), "msg_1", storetest.NewProfile("user_pool", 1_750_000_000_000))
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM profiles WHERE user_id = 'user_pool'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after Close the application's pool reads %d, %v; want 1 (the pool stays open)", n, err)
	}
	if _, err := service.Open(context.Background(), service.Config{Pool: pool, Schema: "elsewhere"}); clerksync.ErrorCode(err) != clerksync.ECONFIG {
		t.Fatalf("a schema other than the pool's: %v, want ECONFIG", err)
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	t.Parallel()
	db, _ := sql.Open("sqlite", filepath.Join(t.TempDir(), "x.db"))
	defer db.Close()
	for name, cfg := range map[string]service.Config{
		"TwoDatabases": {DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "a.db"), DB: db},
		"BadURL":       {DatabaseURL: "mysql://x"},
		"BadSecret":    {DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "b.db"), WebhookSecrets: []string{"sk_test_123"}},
		"BadOnDelete":  {DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "c.db"), OnDelete: "sometimes"},
	} {
		if svc, err := service.Open(context.Background(), cfg); clerksync.ErrorCode(err) != clerksync.EINVALID {
			if svc != nil {
				svc.Close()
			}
			t.Errorf("%s: Open = %v, want EINVALID", name, err)
		}
	}
}
