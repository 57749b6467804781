package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/metrics"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/svixsig"
	"github.com/clerksync/clerksync/web"
)

// webhookEnv is a web.Server with the webhook route over a real SQLite store.
type webhookEnv struct {
	URL     string
	Handler http.Handler
	Metrics *metrics.Metrics
	Logs    *logBuffer
	Store   clerksync.Store
	key     []byte
}

// Deliver signs body as delivery id and posts it; it returns the status and the
// answer's outcome.
func (e *webhookEnv) Deliver(tb testing.TB, id string, body []byte) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL+"/api/webhooks/clerk", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	svixsig.SetHeaders(req.Header, e.key, id, time.Now(), body)
	status, _, answer := send(tb, req)
	var a struct{ Outcome string }
	_ = json.Unmarshal([]byte(answer), &a)
	return status, a.Outcome
}

// MustRunWebhookServer starts a server on SQLite configured by adjust and stops it
// when the test ends.
func MustRunWebhookServer(tb testing.TB, adjust func(*web.Server)) *webhookEnv {
	tb.Helper()
	store, err := sqlite.Open(filepath.Join(tb.TempDir(), "clerksync.db"))
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() {
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return MustRunWebhookServerOn(tb, store, adjust)
}

// MustRunWebhookServerOn starts a server on store configured by adjust and stops it
// (not the store) when the test ends.
func MustRunWebhookServerOn(tb testing.TB, store clerksync.Store, adjust func(*web.Server)) *webhookEnv {
	tb.Helper()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng := engine.New(store, engine.Config{Logger: logger})
	verifier, err := svixsig.NewVerifier([]string{webhookSecret})
	if err != nil {
		tb.Fatal(err)
	}
	m := metrics.New()
	srv := &web.Server{Store: store, Engine: eng, Verifier: verifier, Logger: logger, Metrics: m}
	if adjust != nil {
		adjust(srv)
	}
	h := srv.Handler()
	ts := httptest.NewServer(h)
	tb.Cleanup(func() {
		ts.Close()
		if err := eng.Close(); err != nil {
			tb.Errorf("close engine: %v", err)
		}
	})
	key, err := svixsig.DecodeSecret(webhookSecret)
	if err != nil {
		tb.Fatal(err)
	}
	return &webhookEnv{URL: ts.URL, Handler: h, Metrics: m, Logs: logs, Store: store, key: key}
}

// Signed returns a signed user.created delivery of a new user.
func (e *webhookEnv) Signed(tb testing.TB, id string) *http.Request {
	tb.Helper()
	now := time.Now()
	body := clerkfake.WebhookEvent(clerkfake.EventUserCreated, clerkfake.NewUser(clerkfake.UserParams{UpdatedAt: now}), now)
	req, err := http.NewRequest(http.MethodPost, e.URL+"/api/webhooks/clerk", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	svixsig.SetHeaders(req.Header, e.key, id, now, body)
	return req
}

// MetricsText returns what /metrics answers.
func (e *webhookEnv) MetricsText(tb testing.TB) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	e.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// send sends req and returns the status, the Retry-After header and the body.
func send(tb testing.TB, req *http.Request) (int, string, string) {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// watchedBody is a request body that says whether anything read it.
type watchedBody struct {
	r    io.Reader
	read atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

func TestWebhook_HeadersCheckedBeforeBody(t *testing.T) {
	t.Parallel()
	e := MustRunWebhookServer(t, nil)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	for _, tt := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"NoHeaders", nil, http.StatusBadRequest},
		{"NoSignature", map[string]string{"svix-id": "a", "svix-timestamp": now}, http.StatusBadRequest},
		{"TimestampNotANumber", map[string]string{"svix-id": "a", "svix-timestamp": "soon", "svix-signature": "v1,x"}, http.StatusBadRequest},
		{"TimestampOne", map[string]string{"svix-id": "a", "svix-timestamp": "1", "svix-signature": "v1,x"}, http.StatusUnauthorized},
		{"TimestampSixMinutesAhead", map[string]string{"svix-id": "a", "svix-timestamp": strconv.FormatInt(time.Now().Add(6*time.Minute).Unix(), 10), "svix-signature": "v1,x"}, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &watchedBody{r: strings.NewReader(strings.Repeat("x", 100_000))}
			req := httptest.NewRequest(http.MethodPost, "/api/webhooks/clerk", b)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			e.Handler.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tt.status, rec.Body)
			}
			if b.read.Load() {
				t.Fatal("the body was read before the headers were checked")
			}
		})
	}
}

func TestWebhook_TooLargeSaysTheLimit(t *testing.T) {
	t.Parallel()
	e := MustRunWebhookServer(t, func(s *web.Server) { s.MaxBodyBytes = 64 << 10 })
	big := make([]byte, 70_000)
	now := time.Now()
	sig := svixsig.Sign(e.key, "msg_big", now, big)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("Chunked=%v", chunked), func(t *testing.T) {
			var body io.Reader = bytes.NewReader(big)
			if chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, e.URL+"/api/webhooks/clerk", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("svix-id", "msg_big")
			req.Header.Set("svix-timestamp", strconv.FormatInt(now.Unix(), 10))
			req.Header.Set("svix-signature", sig)
			status, _, answer := send(t, req)
			if status != http.StatusRequestEntityTooLarge || !strings.Contains(answer, "body over the 64 KiB limit") {
				t.Fatalf("answer = %d %s, want 413 naming the 64 KiB limit", status, answer)
			}
		})
	}
	if text := e.MetricsText(t); !strings.Contains(text, `clerksync_webhook_deliveries_total{result="too_large"} 2`) {
		t.Fatalf("metrics do not count the two 413s by reason:\n%s", grep(text, "deliveries_total"))
	}
}

// holdBody opens a connection to url that sends a delivery with a current timestamp
// and a wrong signature, and all of its body but the last byte. It returns the
// connection, which the caller closes.
func holdBody(tb testing.TB, url string, length int) net.Conn {
	tb.Helper()
	addr := strings.TrimPrefix(url, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(c, "POST /api/webhooks/clerk HTTP/1.1\r\nHost: %s\r\nsvix-id: a\r\nsvix-timestamp: %d\r\nsvix-signature: v1,x\r\nContent-Length: %d\r\n\r\n%s",
		addr, time.Now().Unix(), length, strings.Repeat("x", length-1))
	return c
}

func TestWebhook_BoundedConcurrentBodies(t *testing.T) {
	t.Parallel()
	e := MustRunWebhookServer(t, func(s *web.Server) {
		s.MaxConcurrentBodies = 1
		s.BodyWait = 50 * time.Millisecond
		s.BodyReadTimeout = time.Minute
	})
	held := holdBody(t, e.URL, 1000)
	defer held.Close()

	// The held body takes the only slot (as soon as the server reads it): a delivery
	// then waits 50 ms and is sent away with 503 and Retry-After.
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, retry, answer := send(t, e.Signed(t, "msg_busy"))
		if status == http.StatusServiceUnavailable {
			if retry == "" {
				t.Fatalf("503 without Retry-After: %s", answer)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a delivery beside a held body got %d %s, want 503: concurrent bodies are not bounded", status, answer)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Once the held connection goes, its slot is free again.
	held.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		status, _, answer := send(t, e.Signed(t, "msg_after"))
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the held body left, a delivery got %d %s", status, answer)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if text := e.MetricsText(t); !strings.Contains(text, `clerksync_webhook_deliveries_total{result="busy"}`) {
		t.Fatalf("metrics do not count the 503s by reason:\n%s", grep(text, "deliveries_total"))
	}
}

func TestWebhook_SlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	e := MustRunWebhookServer(t, func(s *web.Server) {
		s.MaxConcurrentBodies = 1
		s.BodyReadTimeout = 200 * time.Millisecond
	})
	held := holdBody(t, e.URL, 1000)
	defer held.Close()
	_ = held.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(held).ReadString('\n')
	if err != nil {
		t.Fatalf("a body held open got no answer: %v (a slow client keeps its body slot)", err)
	}
	if !strings.Contains(line, "408") {
		t.Fatalf("a body held open got %q, want 408", line)
	}
	// The slot is free: a delivery goes through at once.
	if status, _, answer := send(t, e.Signed(t, "msg_next")); status != http.StatusOK {
		t.Fatalf("delivery after the timeout = %d %s", status, answer)
	}
	if text := e.MetricsText(t); !strings.Contains(text, `clerksync_webhook_deliveries_total{result="timeout"} 1`) {
		t.Fatalf("metrics do not count the 408:\n%s", grep(text, "deliveries_total"))
	}
}

func TestWebhook_RejectionsCountedAndLoggedAtDebug(t *testing.T) {
	t.Parallel()
	e := MustRunWebhookServer(t, nil)
	get, _ := http.NewRequest(http.MethodGet, e.URL+"/api/webhooks/clerk", nil)
	send(t, get)
	bad := e.Signed(t, "msg_forged")
	bad.Header.Set("svix-signature", "v1,"+strings.Repeat("A", 43)+"=")
	if status, _, _ := send(t, bad); status != http.StatusUnauthorized {
		t.Fatalf("forged delivery = %d, want 401", status)
	}
	stale := e.Signed(t, "msg_stale")
	stale.Header.Set("svix-timestamp", "1")
	send(t, stale)
	noHeaders, _ := http.NewRequest(http.MethodPost, e.URL+"/api/webhooks/clerk", strings.NewReader("{}"))
	send(t, noHeaders)

	text := e.MetricsText(t)
	for _, want := range []string{
		`clerksync_webhook_deliveries_total{result="method_not_allowed"} 1`,
		`clerksync_webhook_deliveries_total{result="unauthorized"} 2`,
		`clerksync_webhook_deliveries_total{result="bad_request"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s:\n%s", want, grep(text, "deliveries_total"))
		}
	}
	logs := e.Logs.String()
	for _, want := range []string{"reason=method_not_allowed", "reason=unauthorized", "reason=bad_request", "svix_id=msg_forged"} {
		if !strings.Contains(logs, "level=DEBUG msg=\"webhook delivery refused") || !strings.Contains(logs, want) {
			t.Errorf("debug log lacks a refusal with %s:\n%s", want, logs)
		}
	}
}

func TestWebhook_LastVerifiedTimestamp(t *testing.T) {
	t.Parallel()
	e := MustRunWebhookServer(t, nil)
	const name = "clerksync_webhook_last_verified_timestamp_seconds"
	if got := gauge(t, e.MetricsText(t), name); got != 0 {
		t.Fatalf("%s = %v before any delivery, want 0", name, got)
	}
	forged := e.Signed(t, "msg_forged")
	forged.Header.Set("svix-signature", "v1,"+strings.Repeat("A", 43)+"=")
	send(t, forged)
	if got := gauge(t, e.MetricsText(t), name); got != 0 {
		t.Fatalf("%s = %v after a forged delivery, want 0", name, got)
	}
	before := time.Now().Unix()
	if status, _, answer := send(t, e.Signed(t, "msg_real")); status != http.StatusOK {
		t.Fatalf("signed delivery = %d %s", status, answer)
	}
	if got := gauge(t, e.MetricsText(t), name); got < float64(before) || got > float64(time.Now().Unix()) {
		t.Fatalf("%s = %v after a signed delivery at %d", name, got, before)
	}
}

// gauge returns the value of the metric name in a /metrics text, failing when absent.
func gauge(tb testing.TB, text, name string) float64 {
	tb.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	tb.Fatalf("metrics lack %s", name)
	return 0
}

// grep returns the lines of text that contain s.
func grep(text, s string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
