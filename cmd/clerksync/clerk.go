package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/metrics"
	"github.com/clerksync/clerksync/pull"
)

// clerkSettings are what the commands that read the Clerk Backend API (backfill,
// sync, serve's poll and reconcile) need: the secret key and the API's address come
// from the environment only (a secret in a flag would show in ps), the rate limit
// from a flag.
type clerkSettings struct {
	secretKey string
	apiURL    string
	rateLimit int
}

// read takes CLERK_SECRET_KEY and CLERK_API_URL from the environment.
func (c *clerkSettings) read(getenv func(string) string) {
	c.secretKey = strings.TrimSpace(getenv("CLERK_SECRET_KEY"))
	c.apiURL = strings.TrimSpace(getenv("CLERK_API_URL"))
}

// usage is the text of the rate limit flags.
const rateLimitUsage = "requests to the Clerk Backend API per 10 seconds: 0 for the key's limit " +
	"(100 for sk_test_ keys, 1000 for sk_live_), -1 for no limit (a fake or a raised limit)"

// client returns a Backend API client with the settings, whose requests are counted
// in counts (and in m when set). A missing or malformed key is a usage error that
// says where to find the right one.
func (c *clerkSettings) client(logger *slog.Logger, counts *requestCounts, m *metrics.Metrics) (*clerkapi.Client, error) {
	if c.secretKey == "" {
		return nil, usagef("CLERK_SECRET_KEY is not set: this command reads your users from the Clerk Backend API. " +
			"Copy the Secret Key (sk_test_… or sk_live_…) from the Clerk Dashboard → API keys and run it with " +
			"CLERK_SECRET_KEY=sk_… in the environment")
	}
	if c.rateLimit < -1 {
		return nil, usagef("the rate limit %d is not allowed: use a positive number of requests per 10 seconds, 0 for the key's limit or -1 for none", c.rateLimit)
	}
	rt := &countingTransport{base: http.DefaultTransport, counts: counts, metrics: m}
	client, err := clerkapi.New(clerkapi.Config{
		BaseURL:    c.apiURL,
		SecretKey:  c.secretKey,
		RateLimit:  c.rateLimit,
		HTTPClient: &http.Client{Transport: rt},
		Logger:     logger,
	})
	if clerksync.ErrorCode(err) == clerksync.ECONFIG {
		return nil, &usageError{err}
	}
	return client, err
}

// requestCounts counts the answers of the Clerk Backend API by status.
type requestCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (rc *requestCounts) add(status string) {
	if rc == nil {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.n == nil {
		rc.n = make(map[string]int)
	}
	rc.n[status]++
}

// total returns how many requests were sent.
func (rc *requestCounts) total() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, v := range rc.n {
		n += v
	}
	return n
}

// get returns how many answers had status ("429", "error" for none).
func (rc *requestCounts) get(status string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n[status]
}

// String lists the counts by status, such as "200: 201, 429: 2".
func (rc *requestCounts) String() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	keys := make([]string, 0, len(rc.n))
	for k := range rc.n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+strconv.Itoa(rc.n[k]))
	}
	return strings.Join(parts, ", ")
}

// countingTransport counts every answer (and every request that got none) by status.
type countingTransport struct {
	base    http.RoundTripper
	counts  *requestCounts
	metrics *metrics.Metrics
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	t.counts.add(status)
	if t.metrics != nil {
		t.metrics.ClerkRequests.WithLabelValues(status).Inc()
	}
	return resp, err
}

// pullFlags are what the commands that pull users from the Clerk Backend API (backfill,
// sync) share: the database, the Clerk settings and the private metadata opt-in.
type pullFlags struct {
	common      commonFlags
	clerk       clerkSettings
	keepPrivate bool
}

// register adds the shared flags to fs, with defaults from the environment.
func (p *pullFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	p.common.register(fs, getenv)
	p.clerk.read(getenv)
	fs.BoolVar(&p.keepPrivate, "keep-private-metadata", envBool(getenv, "CLERKSYNC_KEEP_PRIVATE_METADATA"),
		"store users' private_metadata too (env CLERKSYNC_KEEP_PRIVATE_METADATA=1)")
}

// puller is an open pull: its logger, the Clerk client's request counts, the database
// and the engine over it, and the syncer that uses them.
type puller struct {
	logger *slog.Logger
	counts *requestCounts
	db     DB
	store  clerksync.Store
	engine *engine.Engine
	syncer *pull.Syncer
}

// open builds the logger and the Clerk client and opens the database, which must
// exist (command names the command for the error), with an engine over it. The caller
// closes the puller.
func (p *pullFlags) open(ctx context.Context, command string, stderr io.Writer, now func() time.Time) (*puller, error) {
	logger, err := p.common.logger(stderr)
	if err != nil {
		return nil, err
	}
	counts := &requestCounts{}
	client, err := p.clerk.client(logger, counts, nil)
	if err != nil {
		return nil, err
	}
	db, store, err := p.common.openExistingDB(ctx, command, logger)
	if err != nil {
		return nil, err
	}
	eng := engine.New(store, engine.Config{Writers: defaultWriters(db), Logger: logger})
	state, _ := store.(clerksync.SyncStore)
	return &puller{logger: logger, counts: counts, db: db, store: store, engine: eng,
		syncer: &pull.Syncer{Client: client, Engine: eng, Store: store, State: state,
			Decode: clerkdecode.Options{KeepPrivateMetadata: p.keepPrivate}, Logger: logger, Now: now}}, nil
}

// Close stops the engine, once every change is applied, and closes the database.
func (p *puller) Close() error {
	return errors.Join(p.engine.Close(), p.store.Close())
}
