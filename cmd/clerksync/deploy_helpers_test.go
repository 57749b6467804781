package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/metrics"
	"github.com/clerksync/clerksync/svixsig"
	"github.com/clerksync/clerksync/web"
)

// What the binary offers, asked of the binary itself: the deployment files' tests
// (deploy_test.go) check every flag, variable, route and metric they name against it.

// repoFile reads a file of the repository by its path from the root.
func repoFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(path)))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// runtimeEnv are variables the Go runtime or the C-less standard library reads, not
// clerksync's flags; deployment files may set them.
var runtimeEnv = []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG", "TMPDIR"}

// envRecorder is a getenv that records which variables were asked for.
type envRecorder struct {
	env  map[string]string
	read map[string]bool
}

func (r *envRecorder) getenv(k string) string {
	r.read[k] = true
	return r.env[k]
}

// envReadBy returns the variables the command of args reads while it sets up its
// flags (it runs with -h, which reads every default and stops).
func envReadBy(tb testing.TB, args ...string) map[string]bool {
	tb.Helper()
	rec := &envRecorder{read: make(map[string]bool)}
	m, _, _ := testMain(nil)
	m.Getenv = rec.getenv
	if code := m.exitCode(m.Run(context.Background(), append(args, "-h"))); code != 0 {
		tb.Fatalf("clerksync %s -h: exit %d", strings.Join(args, " "), code)
	}
	return rec.read
}

// knownEnv returns every variable some command reads (and the runtime's).
func knownEnv(tb testing.TB) map[string]bool {
	tb.Helper()
	all := make(map[string]bool)
	for _, path := range commandPaths(tb) {
		if takesFlags(path) {
			maps.Copy(all, envReadBy(tb, path...))
		}
	}
	rec := &envRecorder{read: make(map[string]bool)}
	m, _, _ := testMain(nil)
	m.Getenv = rec.getenv
	startCPUProfile(m)() // main reads CLERKSYNC_CPU_PROFILE before any command
	maps.Copy(all, rec.read)
	for _, k := range runtimeEnv {
		all[k] = true
	}
	return all
}

// flagLine matches a flag's line in usage text.
var flagLine = regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`)

// knownFlags returns the flags of each command, by its path ("events list"), as its
// -h lists them.
func knownFlags(tb testing.TB) map[string]map[string]bool {
	tb.Helper()
	flags := make(map[string]map[string]bool)
	for _, path := range commandPaths(tb) {
		if !takesFlags(path) {
			continue
		}
		code, stdout, _ := runMain(tb, nil, nil, append(path, "-h")...)
		if code != 0 {
			tb.Fatalf("clerksync %s -h: exit %d", strings.Join(path, " "), code)
		}
		set := make(map[string]bool)
		for _, m := range flagLine.FindAllStringSubmatch(stdout, -1) {
			set[m[1]] = true
		}
		flags[strings.Join(path, " ")] = set
	}
	return flags
}

// serveRoutes returns the routes of a running server, as its service page lists them.
func serveRoutes(tb testing.TB, s *testServer) map[string]bool {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/", nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	a := do(tb, req)
	routes := make(map[string]bool)
	list, _ := a.Body["routes"].([]any)
	for _, r := range list {
		if m, ok := r.(map[string]any); ok {
			routes[fmt.Sprint(m["path"])] = true
		}
	}
	if len(routes) < 5 {
		tb.Fatalf("GET / lists %d routes: %v", len(routes), a.Body)
	}
	return routes
}

// metricSet is what /metrics showed: each family with the values of each label.
type metricSet map[string]map[string]map[string]bool

// add parses a scrape of /metrics into s.
func (s metricSet) add(tb testing.TB, scrape io.Reader) {
	tb.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(scrape)
	if err != nil {
		tb.Fatalf("parse /metrics: %v", err)
	}
	for name, f := range families {
		labels := s[name]
		if labels == nil {
			labels = make(map[string]map[string]bool)
			s[name] = labels
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] == nil {
					labels[l.GetName()] = make(map[string]bool)
				}
				labels[l.GetName()][l.GetValue()] = true
			}
		}
	}
}

// family returns the family a series name belongs to: the name itself, or the
// histogram or summary whose _bucket, _sum or _count it is.
func (s metricSet) family(name string) (map[string]map[string]bool, bool) {
	if f, ok := s[name]; ok {
		return f, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if f, ok := s[strings.TrimSuffix(name, suffix)]; ok && strings.HasSuffix(name, suffix) {
			return f, true
		}
	}
	return nil, false
}

// failingApplier fails every change with an error of its code, as the engine does
// when the database is down (EUNAVAILABLE) or its queue is full (EOVERLOADED).
type failingApplier struct{ code string }

func (f failingApplier) Apply(context.Context, ...clerksync.Change) ([]clerksync.Result, error) {
	return nil, &clerksync.Error{Code: f.code, Message: "failing on purpose"}
}

// scrape returns the text of a metrics handler.
func scrape(tb testing.TB, h http.Handler) *bytes.Buffer {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("/metrics = %d", rec.Code)
	}
	return rec.Body
}

// exposedMetrics drives the real handlers through every answer they count and returns
// what their /metrics then show: a running server (deliveries applied, dead letters,
// rejections; batches, queue gauges), the webhook handler over a failing engine (503
// answers), and the Clerk API transport over answers of every kind.
func exposedMetrics(tb testing.TB) (metricSet, *testServer) {
	tb.Helper()
	set := make(metricSet)

	// The changes feed goes to an application that acknowledges it and one that fails.
	app := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
		tb.Cleanup(srv.Close)
		return srv.URL
	}
	s := runServe(tb, map[string]string{"CLERK_WEBHOOK_SECRET": testSecret, "LOG_LEVEL": "debug"},
		map[string]string{"CLERKSYNC_FORWARD_URL": app(http.StatusNoContent) + "," + app(http.StatusServiceUnavailable), "CLERKSYNC_FORWARD_SECRET": testSecret},
		[]string{"--max-body-bytes", "65536"}, nil)
	s.send(tb, "msg_metrics_applied", "user.created", user("user_2metricsdriftAAAAAAAAAAAAA", "Ada", time.UnixMilli(1_700_000_001_000)))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(s.URL + "/metrics")
		if err != nil {
			tb.Fatal(err)
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(text, []byte(`result="ok"`)) && bytes.Contains(text, []byte(`result="failed"`)) {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no forwarded change acknowledged and refused after 10s:\n%s", text)
		}
	}
	undecodable := []byte(`{"type":"user.updated","data":{"id":42}}`)
	deliver(tb, s.URL, "/api/webhooks/clerk", testSecret, "msg_metrics_dead", time.Now(), undecodable)
	deliver(tb, s.URL, "/api/webhooks/clerk", "whsec_"+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "msg_metrics_401", time.Now(), undecodable)
	for _, r := range []*http.Request{
		mustReq(tb, http.MethodGet, s.URL+"/api/webhooks/clerk"),
		mustReqBody(tb, s.URL+"/api/webhooks/clerk", undecodable),
		mustReqBody(tb, s.URL+"/api/webhooks/clerk", bytes.Repeat([]byte("x"), 70_000)),
	} {
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			tb.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	set.add(tb, resp.Body)

	verifier, err := svixsig.NewVerifier([]string{testSecret})
	if err != nil {
		tb.Fatal(err)
	}
	for _, code := range []string{clerksync.EUNAVAILABLE, clerksync.EOVERLOADED, clerksync.EINTERNAL} {
		m := metrics.New()
		h := (&web.Server{Engine: failingApplier{code}, Verifier: verifier, Metrics: m, Logger: slog.New(slog.DiscardHandler)}).Handler()
		body := clerkfake.WebhookEvent("user.created", user("user_2metricsfailAAAAAAAAAAAAAAA", "Ada", time.UnixMilli(1_700_000_001_000)), time.Now())
		req := httptest.NewRequest(http.MethodPost, "/api/webhooks/clerk", bytes.NewReader(body))
		key, _ := svixsig.DecodeSecret(testSecret)
		svixsig.SetHeaders(req.Header, key, "msg_metrics_"+code, time.Now(), body)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable {
			tb.Fatalf("delivery over an engine failing with %s = %d, want 503", code, rec.Code)
		}
		set.add(tb, scrape(tb, m.Handler()))
	}

	m := metrics.New()
	answers := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
	}))
	tb.Cleanup(answers.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	rt := &countingTransport{base: http.DefaultTransport, counts: &requestCounts{}, metrics: m}
	for _, target := range []string{answers.URL + "/200", answers.URL + "/401", answers.URL + "/403", answers.URL + "/429", answers.URL + "/503", "http://" + closed + "/"} {
		// The closed port answers nothing: counted as "error".
		if resp, err := rt.RoundTrip(mustReq(tb, http.MethodGet, target)); err == nil {
			resp.Body.Close()
		}
	}
	set.add(tb, scrape(tb, m.Handler()))

	// Repairs: what a reconcile or poll applied, of every kind and action.
	m = metrics.New()
	for _, k := range clerksync.Kinds {
		changes := []clerksync.Change{{Op: clerksync.OpUpsert, Kind: k, Source: clerksync.SourceBackfill}, {Op: clerksync.OpUpsert, Kind: k, Source: clerksync.SourceBackfill}, {Op: clerksync.OpDelete, Kind: k, Source: clerksync.SourceBackfill}}
		results := []clerksync.Result{{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionCreated}, {Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionUpdated}, {Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionDeleted}}
		m.ObserveApplied(changes, results)
	}
	set.add(tb, scrape(tb, m.Handler()))
	return set, s
}

func mustReqBody(tb testing.TB, url string, body []byte) *http.Request {
	tb.Helper()
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// sortedKeys returns the keys of m in order, for messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}
