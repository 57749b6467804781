package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/svixsig"
	"github.com/clerksync/clerksync/web"
)

// Flags of FuzzWebhook's first argument.
const (
	fuzzSign      = 1 << iota // sign the request with the webhook secret
	fuzzMixedSigs             // put the fuzzed signature before the valid one
	fuzzOtherPath             // the legacy route /api/clerk-webhook
	fuzzMethodGet             // GET instead of POST
)

// FuzzWebhook sends any headers and body through the whole webhook handler, over a
// real SQLite store and engine. When the flags say so the harness signs the body with
// the webhook secret, as Clerk would (so that the fuzzer reaches the decoder and the
// store); otherwise the svix headers are the fuzzer's own. It checks that the handler
// never panics, never answers 5xx to an authentic delivery, records every authentic
// delivery it answers 2xx, and commits nothing, answering 4xx, for a request that is
// not signed with the secret.
func FuzzWebhook(f *testing.F) {
	var bodies [][]byte
	for _, pattern := range []string{"../clerkdecode/testdata/events/*.json", "../clerkdecode/testdata/clerk/*.json"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			bodies = append(bodies, b)
		}
	}
	if len(bodies) == 0 {
		f.Fatal("no seed payloads found in ../clerkdecode/testdata")
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	for i, body := range bodies {
		id := "msg_seed_" + strconv.Itoa(i)
		f.Add(uint8(fuzzSign), id, "", "", "", body)
		f.Add(uint8(fuzzSign|fuzzMixedSigs|fuzzOtherPath), id+"_mixed", "", "v1,bm90IGEgc2lnbmF0dXJl v2,x", "Content-Type: application/json", body)
		f.Add(uint8(0), id, ts, "v1,bm90IGEgc2lnbmF0dXJl", "", body)
	}
	f.Add(uint8(0), "a", "1", "v1,x", "", bytes.Repeat([]byte{'a'}, 1000))
	f.Add(uint8(0), "", "", "", "Webhook-Id: msg_1\nWebhook-Timestamp: "+ts+"\nWebhook-Signature: v1,AAAA", bodies[0])
	f.Add(uint8(fuzzSign|fuzzMethodGet), "msg_get", "", "", "", bodies[0])
	f.Add(uint8(fuzzSign), "msg_deep", "", "", "", []byte(`{"type":"user.updated","data":{"id":"user_1","updated_at":1,"unsafe_metadata":`+
		strings.Repeat("[", 1100)+strings.Repeat("]", 1100)+`}}`))

	// One store and engine per fuzzing process: opening a store per input would leave
	// little time for the inputs.
	path := filepath.Join(f.TempDir(), "clerksync.db")
	store, err := sqlite.Open(path)
	if err != nil {
		f.Fatal(err)
	}
	eng := engine.New(store, engine.Config{})
	f.Cleanup(func() {
		eng.Close()
		store.Close()
	})
	verifier, err := svixsig.NewVerifier([]string{webhookSecret})
	if err != nil {
		f.Fatal(err)
	}
	key, err := svixsig.DecodeSecret(webhookSecret)
	if err != nil {
		f.Fatal(err)
	}
	srv := &web.Server{Store: store, Engine: eng, Verifier: verifier, Logger: slog.New(slog.DiscardHandler)}
	handler := srv.Handler()

	// data_version, read on one connection of its own, changes whenever another
	// connection commits: it tells whether a request wrote anything at all.
	watch, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { watch.Close() })
	ctx := context.Background()
	conn, err := watch.Conn(ctx)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { conn.Close() })
	dataVersion := func(t *testing.T) int64 {
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			t.Fatalf("data_version: %v", err)
		}
		return v
	}

	f.Fuzz(func(t *testing.T, flags uint8, id, timestamp, signature, headers string, body []byte) {
		target := "/api/webhooks/clerk"
		if flags&fuzzOtherPath != 0 {
			target = "/api/clerk-webhook"
		}
		method := http.MethodPost
		if flags&fuzzMethodGet != 0 {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, target, bytes.NewReader(body))
		for line := range strings.Lines(headers) {
			if k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":"); ok {
				req.Header.Add(k, strings.TrimSpace(v))
			}
		}
		authentic := flags&fuzzSign != 0
		if authentic {
			now := time.Now()
			valid := svixsig.Sign(key, id, now, body)
			if flags&fuzzMixedSigs != 0 {
				valid = signature + " " + valid
			}
			req.Header.Set(svixsig.HeaderSvixID, id)
			req.Header.Set(svixsig.HeaderSvixTimestamp, strconv.FormatInt(now.Unix(), 10))
			req.Header.Set(svixsig.HeaderSvixSignature, valid)
		} else {
			req.Header.Set(svixsig.HeaderSvixID, id)
			req.Header.Set(svixsig.HeaderSvixTimestamp, timestamp)
			req.Header.Set(svixsig.HeaderSvixSignature, signature)
		}

		before := dataVersion(t)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		code := rec.Code

		if !authentic {
			if code < 400 || code >= 500 {
				t.Fatalf("unsigned request answered %d, want 4xx: %s", code, rec.Body)
			}
			if after := dataVersion(t); after != before {
				t.Fatalf("unsigned request (answered %d) wrote to the database", code)
			}
			return
		}
		if code >= 500 {
			t.Fatalf("authentic delivery answered %d: %s", code, rec.Body)
		}
		if code/100 == 2 {
			if _, err := store.Event(ctx, id); err != nil {
				t.Fatalf("authentic delivery answered %d but not in the event log: %v", code, err)
			}
		}
	})
}
