// Package forward delivers the changes feed to the application's endpoints: each entry
// is POSTed as JSON, signed per the Standard Webhooks specification (webhook-id is the
// entry's id, so a receiver acts on an entry once), at least once and in order per
// object.
//
// Each endpoint is served by one process at a time, the holder of a lease in the
// database, and has a position there: every entry up to it has been acknowledged (a
// 2xx). A process that takes an endpoint over, after a restart or a crash of the one
// that held it, goes on from that position, so an entry acknowledged just before a
// crash may be sent again, with the same webhook-id, but none is lost.
//
// An entry that is not acknowledged (an error answer, a timeout, a refused connection)
// is sent again after an exponential backoff with jitter, for ever. Meanwhile the
// object's later entries wait, so that a receiver never sees an object's later change
// before its earlier one; other objects' entries go on, within a window of entries
// after the position. A failing endpoint grows a backlog; it never holds up the
// webhooks or the other endpoints.
package forward

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/svixsig"
)

// Store is what forwarding needs of the database: the feed, the endpoints' positions
// and leases. The sqlite and postgres stores implement it.
type Store interface {
	clerksync.FeedStore
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Endpoint is where entries are forwarded: an application's URL, or a function of the
// application's own process (Deliver).
type Endpoint struct {
	// URL is the endpoint, http or https.
	URL string
	// Deliver, instead of a URL, hands each entry to a function of this process: an
	// in-process consumer. A nil error acknowledges the entry; any other is a failed
	// attempt, tried again later. Name then names the consumer (its position and lease
	// in the database are kept under it).
	Deliver func(ctx context.Context, e clerksync.FeedEntry) error
	Name    string
	// Types selects the entries it gets (see clerksync.MatchFeedType); none for every
	// entry.
	Types []string
}

// Defaults of Config.
const (
	DefaultConcurrency = 8
	DefaultWindow      = 512
	DefaultTimeout     = 15 * time.Second
	DefaultMinBackoff  = time.Second
	DefaultMaxBackoff  = 5 * time.Minute
	DefaultPoll        = time.Second
	DefaultLeaseTTL    = 30 * time.Second
	DefaultReport      = time.Minute
)

// Config configures a Forwarder.
type Config struct {
	Store     Store
	Endpoints []Endpoint
	// Secret is the Signing Secret the deliveries are signed with (whsec_…).
	Secret string
	// Holder names this process in the leases (a random id when empty).
	Holder string
	// Client sends the deliveries; a client with Timeout when nil.
	Client *http.Client
	// Logger receives what happens; slog.Default() when nil.
	Logger *slog.Logger

	// Concurrency is how many deliveries may be in flight per endpoint.
	Concurrency int
	// Window is how many entries after the position an endpoint may hold: a failing
	// object's entries wait in it while others go on.
	Window int
	// Timeout bounds one delivery.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a delivery is tried again; it
	// doubles from MinBackoff with each failure, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// Poll is how often the feed is read for new entries when nothing wakes the
	// forwarder (Wake): entries committed by another process.
	Poll time.Duration
	// LeaseTTL is how long an endpoint's lease lasts without renewal: how soon another
	// process takes over when the holder dies.
	LeaseTTL time.Duration
	// Report is how often a growing backlog is logged while it lasts.
	Report time.Duration

	// OnDelivery, when set, is called after every attempt.
	OnDelivery func(Attempt)
}

// Attempt is one delivery attempt of an entry to an endpoint.
type Attempt struct {
	Endpoint string // the endpoint's URL, as shown in logs (see Redact)
	Entry    clerksync.FeedEntry
	// N counts the attempts of this entry, from 1.
	N int
	// Status is the endpoint's answer (0 when it gave none); Err says why the attempt
	// failed, nil for a 2xx.
	Status int
	Err    error
	Took   time.Duration
}

// Forwarder forwards the changes feed to endpoints.
type Forwarder struct {
	cfg    Config
	key    []byte
	cancel context.CancelFunc
	wg     sync.WaitGroup
	eps    []*endpoint
}

// New returns a forwarder for cfg. It returns an error with code EINVALID for an
// endpoint that is not an http(s) URL, a type pattern that matches no entry, or a
// secret that is not a Signing Secret.
func New(cfg Config) (*Forwarder, error) {
	if cfg.Store == nil {
		return nil, errors.New("forward: no store")
	}
	key, err := svixsig.DecodeSecret(cfg.Secret)
	if err != nil {
		return nil, &clerksync.Error{Code: clerksync.EINVALID, Message: "CLERKSYNC_FORWARD_SECRET " + err.Error(),
			Hint: "give a Signing Secret, whsec_ and base64 (make one with: clerksync receive --new-secret)", Err: err}
	}
	setDefaults(&cfg)
	f := &Forwarder{cfg: cfg, key: key}
	seen := make(map[string]bool)
	for _, e := range cfg.Endpoints {
		name, lease := Redact(e.URL), LeaseName(e.URL)
		if e.Deliver != nil {
			if e.Name == "" {
				return nil, clerksync.Errorf(clerksync.EINVALID, "an in-process consumer of the changes feed has no name")
			}
			name, lease = "consumer "+e.Name, ConsumerLeaseName(e.Name)
		} else if err := checkURL(e.URL); err != nil {
			return nil, err
		}
		if seen[lease] {
			return nil, clerksync.Errorf(clerksync.EINVALID, "%s is given twice", name)
		}
		seen[lease] = true
		for _, p := range e.Types {
			if !clerksync.ValidFeedPattern(p) {
				return nil, &clerksync.Error{Code: clerksync.EINVALID,
					Message: fmt.Sprintf("--forward-types %q matches no type of change", p),
					Hint:    "use types such as profile.created, kinds such as membership.*, or *"}
			}
		}
		f.eps = append(f.eps, &endpoint{f: f, Endpoint: e, name: name, lease: lease, wake: make(chan struct{}, 1)})
	}
	return f, nil
}

func setDefaults(c *Config) {
	orDefault(&c.Concurrency, DefaultConcurrency)
	orDefault(&c.Window, DefaultWindow)
	orDefault(&c.Timeout, DefaultTimeout)
	orDefault(&c.MinBackoff, DefaultMinBackoff)
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	orDefault(&c.Poll, DefaultPoll)
	orDefault(&c.LeaseTTL, DefaultLeaseTTL)
	orDefault(&c.Report, DefaultReport)
	if c.Client == nil {
		c.Client = &http.Client{Timeout: c.Timeout}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Holder == "" {
		c.Holder = clerksync.NewFeedID(time.Now())[4:]
	}
}

// orDefault sets *v to def unless *v is positive.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// checkURL checks that u is an absolute http(s) URL.
func checkURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return &clerksync.Error{Code: clerksync.EINVALID,
			Message: fmt.Sprintf("forward URL %q is not an http or https URL", Redact(u)),
			Hint:    "give the full URL of your application's endpoint, such as https://app.example.com/clerksync"}
	}
	return nil
}

// Redact returns u as it may be shown in logs and metrics: without its user
// information and query, which may hold credentials.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	p.User, p.RawQuery, p.Fragment = nil, "", ""
	return p.String()
}

// LeaseName returns the name of the lease and position of endpoint u in the database:
// derived from the whole URL, which is not stored as such since it may hold
// credentials.
func LeaseName(u string) string {
	sum := sha256.Sum256([]byte(u))
	return "forward " + Redact(u) + " " + hex.EncodeToString(sum[:6])
}

// ConsumerLeaseName returns the name of the lease and position of the in-process
// consumer name.
func ConsumerLeaseName(name string) string { return "consumer " + name }

// Start starts forwarding to every endpoint until ctx ends or Stop is called.
func (f *Forwarder) Start(ctx context.Context) {
	ctx, f.cancel = context.WithCancel(ctx)
	for _, e := range f.eps {
		f.wg.Go(func() { e.run(ctx) })
	}
}

// Stop stops forwarding: deliveries in flight are abandoned (they will be sent again),
// positions are saved and leases released.
func (f *Forwarder) Stop() {
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
}

// Wake tells the forwarder that new entries were committed, so that it reads them now
// rather than at its next poll. It never blocks.
func (f *Forwarder) Wake() {
	for _, e := range f.eps {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
}

// Status is where forwarding to one endpoint is.
type Status struct {
	Endpoint string // as shown in logs (Redact)
	// Position is the seq up to which every entry is acknowledged.
	Position int64
	// Backlog is how many entries after the position wait (as of the last read of
	// the feed).
	Backlog int64
	// Holding says this process holds the endpoint's lease.
	Holding bool
	// Failing is how many entries are waiting to be sent again.
	Failing int
	// LastError is the last failed attempt's error ("" for none).
	LastError string
}

// Status returns where forwarding to each endpoint is.
func (f *Forwarder) Status() []Status {
	out := make([]Status, 0, len(f.eps))
	for _, e := range f.eps {
		e.mu.Lock()
		out = append(out, e.status)
		e.mu.Unlock()
	}
	return out
}

// endpoint is the state of forwarding to one endpoint.
type endpoint struct {
	Endpoint
	f     *Forwarder
	name  string // for logs
	lease string
	wake  chan struct{}

	mu     sync.Mutex
	status Status
}

// item is one entry of an endpoint's window.
type item struct {
	entry    clerksync.FeedEntry
	body     []byte
	attempts int
	acked    bool
	skip     bool // not of the endpoint's types: acknowledged without sending
	retryAt  time.Time
}

// window is the entries an endpoint holds after its position.
type window struct {
	items   map[int64]*item
	order   []int64            // the seqs held, ascending
	queues  map[string][]*item // per object, the entries not yet acknowledged, in order
	flying  map[string]bool    // objects with an entry in flight
	fetched int64              // the highest seq read
	pos     int64              // every entry up to it is acknowledged
}

func newWindow(pos int64) *window {
	return &window{items: map[int64]*item{}, queues: map[string][]*item{}, flying: map[string]bool{}, fetched: pos, pos: pos}
}

// result is what a delivery came to.
type result struct {
	it     *item
	status int
	err    error
	took   time.Duration
}

// run serves the endpoint while this process holds its lease.
func (e *endpoint) run(ctx context.Context) {
	cfg := &e.f.cfg
	log := cfg.Logger.With(slog.String("endpoint", e.name))
	renew := time.NewTicker(cfg.LeaseTTL / 3)
	defer renew.Stop()
	for ctx.Err() == nil {
		held, err := cfg.Store.AcquireLease(ctx, e.lease, cfg.Holder, cfg.LeaseTTL)
		if err != nil && ctx.Err() == nil {
			log.Warn("forwarding: could not take the endpoint's lease; trying again", slog.Any("error", err))
		}
		if err != nil || !held {
			e.setHolding(false)
			select {
			case <-ctx.Done():
			case <-renew.C:
			}
			continue
		}
		e.setHolding(true)
		if err := e.serve(ctx, log, renew.C); err != nil && ctx.Err() == nil {
			log.Warn("forwarding paused", slog.Any("error", err))
			select {
			case <-ctx.Done():
			case <-time.After(cfg.MinBackoff):
			}
		}
	}
	e.setHolding(false)
	release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = cfg.Store.ReleaseLease(release, e.lease, cfg.Holder)
}

func (e *endpoint) setHolding(h bool) {
	e.mu.Lock()
	e.status.Endpoint, e.status.Holding = e.name, h
	e.mu.Unlock()
}

// serve forwards from the endpoint's position until ctx ends, the lease is lost or
// the database fails.
func (e *endpoint) serve(ctx context.Context, log *slog.Logger, renew <-chan time.Time) error {
	cfg := &e.f.cfg
	start, _, err := cfg.Store.ForwardPosition(ctx, e.lease)
	if err != nil {
		return fmt.Errorf("read the position: %w", err)
	}
	w := newWindow(start)
	saved := start
	e.mu.Lock()
	e.status.Position, e.status.Failing, e.status.LastError = start, 0, ""
	e.mu.Unlock()
	results := make(chan result, cfg.Concurrency)
	inFlight := 0
	// Deliveries in flight are waited for on the way out, whatever ends the loop.
	defer func() {
		for ; inFlight > 0; inFlight-- {
			e.done(w, <-results, log)
		}
		if w.pos != saved {
			save, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := cfg.Store.SetForwardPosition(save, e.lease, w.pos); err != nil {
				log.Warn("forwarding: could not save the position; entries after it will be sent again", slog.Any("error", err))
			}
			cancel()
		}
	}()
	dctx, cancelDeliveries := context.WithCancel(ctx)
	defer cancelDeliveries()

	poll := time.NewTicker(cfg.Poll)
	defer poll.Stop()
	report := time.NewTicker(cfg.Report)
	defer report.Stop()
	var retry *time.Timer
	needRead := true
	for {
		if needRead && len(w.order) < cfg.Window {
			if err := e.read(ctx, w); err != nil {
				return err
			}
			needRead = false
		}
		// Send what can be sent: the first waiting entry of each object that has
		// none in flight, oldest first, within the concurrency.
		now := time.Now()
		var next time.Time
		for _, seq := range w.order {
			if inFlight >= cfg.Concurrency {
				break
			}
			it := w.items[seq]
			obj := it.entry.ObjectID
			if it.acked || w.flying[obj] || w.queues[obj][0] != it {
				continue
			}
			if it.retryAt.After(now) {
				if next.IsZero() || it.retryAt.Before(next) {
					next = it.retryAt
				}
				continue
			}
			w.flying[obj] = true
			inFlight++
			it.attempts++
			go func() { results <- e.deliver(dctx, it) }()
		}
		if retry != nil {
			retry.Stop()
			retry = nil
		}
		var retryC <-chan time.Time
		if !next.IsZero() {
			retry = time.NewTimer(time.Until(next))
			retryC = retry.C
		}

		select {
		case <-ctx.Done():
			return nil
		case r := <-results:
			inFlight--
			e.done(w, r, log)
			needRead = true
		case <-e.wake:
			needRead = true
		case <-poll.C:
			needRead = true
		case <-retryC:
		case <-renew:
			held, err := cfg.Store.AcquireLease(ctx, e.lease, cfg.Holder, cfg.LeaseTTL)
			if err != nil {
				return fmt.Errorf("renew the lease: %w", err)
			}
			if !held {
				log.Warn("forwarding: another process took the endpoint over")
				return nil
			}
		case <-report.C:
			e.report(ctx, w, log)
		}
		if w.pos != saved {
			if err := cfg.Store.SetForwardPosition(ctx, e.lease, w.pos); err != nil {
				return fmt.Errorf("save the position: %w", err)
			}
			saved = w.pos
		}
	}
}

// read reads the entries after the window's last into it.
func (e *endpoint) read(ctx context.Context, w *window) error {
	cfg := &e.f.cfg
	page, err := cfg.Store.Changes(ctx, clerksync.FeedFilter{After: w.fetched, Limit: cfg.Window - len(w.order)})
	if err != nil {
		return fmt.Errorf("read the changes feed: %w", err)
	}
	for _, entry := range page {
		it := &item{entry: entry, skip: !e.wants(entry.Type)}
		w.items[entry.Seq] = it
		w.order = append(w.order, entry.Seq)
		w.fetched = entry.Seq
		if it.skip {
			it.acked = true
			continue
		}
		body, err := entry.MarshalJSON()
		if err != nil {
			return err
		}
		it.body = body
		w.queues[entry.ObjectID] = append(w.queues[entry.ObjectID], it)
	}
	w.advance()
	e.mu.Lock()
	e.status.Position = w.pos
	if last, err := cfg.Store.LastSeq(ctx); err == nil {
		e.status.Backlog = max(0, last-w.pos)
	}
	e.mu.Unlock()
	return nil
}

func (e *endpoint) wants(typ string) bool {
	if len(e.Types) == 0 {
		return true
	}
	return slices.ContainsFunc(e.Types, func(p string) bool { return clerksync.MatchFeedType(p, typ) })
}

// advance moves the position past every acknowledged entry at the window's start.
func (w *window) advance() {
	n := 0
	for n < len(w.order) && w.items[w.order[n]].acked {
		w.pos = w.order[n]
		delete(w.items, w.order[n])
		n++
	}
	w.order = w.order[n:]
}

// done records what a delivery came to.
func (e *endpoint) done(w *window, r result, log *slog.Logger) {
	cfg := &e.f.cfg
	it := r.it
	obj := it.entry.ObjectID
	delete(w.flying, obj)
	if cfg.OnDelivery != nil {
		cfg.OnDelivery(Attempt{Endpoint: e.name, Entry: it.entry, N: it.attempts, Status: r.status, Err: r.err, Took: r.took})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.err != nil {
		it.retryAt = time.Now().Add(backoff(cfg.MinBackoff, cfg.MaxBackoff, it.attempts))
		e.status.LastError = r.err.Error()
		if it.attempts == 1 {
			e.status.Failing++
			log.Info("forwarding: the endpoint did not acknowledge a change; it is sent again",
				slog.String("change_id", it.entry.ID), slog.Int64("seq", it.entry.Seq), slog.String("type", it.entry.Type),
				slog.Any("error", r.err))
		}
		return
	}
	if it.attempts > 1 {
		e.status.Failing--
	}
	it.acked = true
	q := w.queues[obj]
	if len(q) > 0 && q[0] == it {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(w.queues, obj)
	} else {
		w.queues[obj] = q
	}
	w.advance()
	e.status.Position = w.pos
	if e.status.Failing == 0 {
		e.status.LastError = ""
	}
}

// report logs the backlog while one lasts with entries failing.
func (e *endpoint) report(ctx context.Context, w *window, log *slog.Logger) {
	last, err := e.f.cfg.Store.LastSeq(ctx)
	if err != nil {
		return
	}
	e.mu.Lock()
	e.status.Backlog = max(0, last-w.pos)
	st := e.status
	e.mu.Unlock()
	if st.Backlog > 0 && st.Failing > 0 {
		log.Warn("forwarding is behind: the endpoint does not acknowledge some changes",
			slog.Int64("backlog", st.Backlog), slog.Int64("position", st.Position), slog.Int("failing", st.Failing),
			slog.String("last_error", st.LastError))
	}
}

// backoff returns how long to wait before attempt n+1: min doubled n-1 times, at most
// max, with up to a fifth of jitter either way.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	jitter := time.Duration(rand.Int64N(int64(d)/5 + 1))
	if rand.IntN(2) == 0 {
		return d - jitter
	}
	return d + jitter
}

// deliver sends one entry, signed, and returns what came of it.
func (e *endpoint) deliver(ctx context.Context, it *item) (r result) {
	start := time.Now()
	r.it = it
	if e.Deliver != nil {
		ctx, cancel := context.WithTimeout(ctx, e.f.cfg.Timeout)
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				r.err = fmt.Errorf("the consumer panicked: %v", p)
			}
		}()
		r.err = e.Deliver(ctx, it.entry)
		r.took = time.Since(start)
		return r
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(it.body))
	if err != nil {
		r.err = err
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "clerksync")
	svixsig.SetStandardHeaders(req.Header, e.f.key, it.entry.ID, time.Now(), it.body)
	resp, err := e.f.cfg.Client.Do(req)
	r.took = time.Since(start)
	if err != nil {
		// Never the URL: it may hold credentials, and url.Error repeats it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		r.err = err
		return r
	}
	defer resp.Body.Close()
	r.status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		r.err = fmt.Errorf("answered %s", resp.Status)
	}
	return r
}
