package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/forward"
	"github.com/clerksync/clerksync/internal/broadcast"
	"github.com/clerksync/clerksync/metrics"
	"github.com/clerksync/clerksync/web"
)

// DefaultChangesRetention is how long the changes feed keeps an entry that every
// endpoint has acknowledged: 7 days.
const DefaultChangesRetention = 7 * 24 * time.Hour

// feedSettings are serve's settings of the changes feed: where to forward it, the token
// of GET /api/changes, and how long entries are kept.
type feedSettings struct {
	urls      stringList // --forward-url, repeatable
	types     stringList // --forward-types, repeatable
	secret    string     // CLERKSYNC_FORWARD_SECRET (environment only: it is a secret)
	token     string     // CLERKSYNC_API_TOKEN (likewise)
	retention string     // --changes-retention as given
	keep      time.Duration

	endpoints []forward.Endpoint

	// tune, set by tests, adjusts the forwarder's settings: a backoff in milliseconds
	// compresses an outage of minutes.
	tune func(*forward.Config)

	notify    broadcast.Broadcaster
	forwarder *forward.Forwarder
	cancel    context.CancelFunc
	done      chan struct{}
}

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// register adds the feed's flags to fs, with defaults from the environment.
func (f *feedSettings) register(fs *flag.FlagSet, getenv func(string) string) {
	for _, u := range strings.Split(getenv("CLERKSYNC_FORWARD_URL"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			f.urls = append(f.urls, u)
		}
	}
	if t := strings.TrimSpace(getenv("CLERKSYNC_FORWARD_TYPES")); t != "" {
		f.types = append(f.types, t)
	}
	fs.Var(&f.urls, "forward-url", "POST every change of the tables to this URL of your application, signed with CLERKSYNC_FORWARD_SECRET; repeat for several (env CLERKSYNC_FORWARD_URL, comma-separated)")
	fs.Var(&f.types, "forward-types", "the changes an endpoint gets, such as profile.*,membership.created; once for every endpoint, or once per --forward-url in the same order (env CLERKSYNC_FORWARD_TYPES)")
	fs.StringVar(&f.retention, "changes-retention", envOr(getenv, "CLERKSYNC_CHANGES_RETENTION", DefaultChangesRetention.String()),
		"how long the changes feed keeps an entry once every endpoint has acknowledged it, such as 168h or 7d (env CLERKSYNC_CHANGES_RETENTION)")
	f.secret = strings.TrimSpace(getenv("CLERKSYNC_FORWARD_SECRET"))
	f.token = strings.TrimSpace(getenv("CLERKSYNC_API_TOKEN"))
}

// validate checks the settings; its errors name the setting and say what to use.
func (f *feedSettings) validate() error {
	d, err := parseRetention(f.retention)
	if err != nil || d <= 0 {
		return usagef("--changes-retention %q (env CLERKSYNC_CHANGES_RETENTION) is not a duration: use hours or days, such as 168h or 7d", f.retention)
	}
	f.keep = d
	if len(f.types) > 1 && len(f.types) != len(f.urls) {
		return usagef("--forward-types is given %d times for %d --forward-url: give it once for every endpoint, or once per endpoint in the same order",
			len(f.types), len(f.urls))
	}
	f.endpoints = f.endpoints[:0]
	for i, u := range f.urls {
		e := forward.Endpoint{URL: u}
		switch {
		case len(f.types) == 1:
			e.Types = splitPatterns(f.types[0])
		case len(f.types) > 1:
			e.Types = splitPatterns(f.types[i])
		}
		for _, p := range e.Types {
			if !clerksync.ValidFeedPattern(p) {
				return usagef("--forward-types %q matches no type of change: use types such as profile.created, kinds such as membership.*, or *", p)
			}
		}
		f.endpoints = append(f.endpoints, e)
	}
	if len(f.endpoints) > 0 && f.secret == "" {
		return usagef("CLERKSYNC_FORWARD_SECRET is not set: --forward-url needs a Signing Secret to sign the changes it sends " +
			"(make one with: clerksync receive --new-secret, and give the same to your application)")
	}
	return nil
}

func splitPatterns(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// changesConfig returns the configuration of GET /api/changes.
func (f *feedSettings) changesConfig() *web.ChangesConfig {
	return &web.ChangesConfig{Token: f.token, Notify: f.notify.C}
}

// committed tells the feed's readers in this process that a batch committed: the long
// polls and the forwarder look at once instead of at their next poll.
func (f *feedSettings) committed() {
	f.notify.Notify()
	if f.forwarder != nil {
		f.forwarder.Wake()
	}
}

// start starts forwarding and the pruning of old entries.
func (f *feedSettings) start(ctx context.Context, store clerksync.Store, m *metrics.Metrics, now func() time.Time, logger *slog.Logger) error {
	fs, ok := store.(forward.Store)
	if !ok {
		return fmt.Errorf("the %T store keeps no changes feed", store)
	}
	if len(f.endpoints) > 0 {
		attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerksync_forward_attempts_total",
			Help: "Deliveries of the changes feed to the application's endpoints, by endpoint and result (ok or failed).",
		}, []string{"endpoint", "result"})
		m.Register(attempts)
		cfg := forward.Config{
			Store: fs, Endpoints: f.endpoints, Secret: f.secret, Logger: logger,
			OnDelivery: func(a forward.Attempt) {
				result := "ok"
				if a.Err != nil {
					result = "failed"
				}
				attempts.WithLabelValues(a.Endpoint, result).Inc()
			},
		}
		if f.tune != nil {
			f.tune(&cfg)
		}
		fw, err := forward.New(cfg)
		if err != nil {
			return &usageError{err}
		}
		f.forwarder = fw
		m.Register(&backlogCollector{f: fw})
		fw.Start(ctx)
		for _, e := range f.endpoints {
			logger.Info("forwarding the changes feed", slog.String("endpoint", forward.Redact(e.URL)),
				slog.String("types", strings.Join(e.Types, ",")))
		}
	}
	ctx, f.cancel = context.WithCancel(ctx)
	f.done = make(chan struct{})
	go f.prune(ctx, fs, now, logger)
	return nil
}

// prune deletes, at start and every hour, the entries older than the retention that
// every endpoint has acknowledged; without endpoints, by age alone.
func (f *feedSettings) prune(ctx context.Context, fs forward.Store, now func() time.Time, logger *slog.Logger) {
	defer close(f.done)
	tick := time.NewTicker(retentionEvery)
	defer tick.Stop()
	for {
		upTo := int64(math.MaxInt64)
		for _, e := range f.endpoints {
			pos, _, err := fs.ForwardPosition(ctx, forward.LeaseName(e.URL))
			if err != nil {
				upTo = -1
				break
			}
			upTo = min(upTo, pos)
		}
		if upTo >= 0 {
			n, err := fs.PruneChanges(ctx, now().Add(-f.keep), upTo)
			switch {
			case err != nil && ctx.Err() == nil:
				logger.Warn("pruning the changes feed failed; it is tried again in an hour", slog.Any("error", err))
			case n > 0:
				logger.Info("pruned the changes feed", slog.Int("entries", n))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// stop stops forwarding and pruning.
func (f *feedSettings) stop() {
	if f.forwarder != nil {
		f.forwarder.Stop()
	}
	if f.cancel != nil {
		f.cancel()
		<-f.done
	}
}

// backlogCollector reports each endpoint's backlog as clerksync_forward_backlog.
type backlogCollector struct{ f *forward.Forwarder }

var (
	backlogDesc = prometheus.NewDesc("clerksync_forward_backlog",
		"Changes not yet acknowledged by an endpoint (as the replica holding it sees them; 0 elsewhere).", []string{"endpoint"}, nil)
	positionDesc = prometheus.NewDesc("clerksync_forward_position",
		"The seq up to which an endpoint has acknowledged every change.", []string{"endpoint"}, nil)
)

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- positionDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.f.Status() {
		backlog := float64(0)
		if st.Holding {
			backlog = float64(st.Backlog)
		}
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, backlog, st.Endpoint)
		ch <- prometheus.MustNewConstMetric(positionDesc, prometheus.GaugeValue, float64(st.Position), st.Endpoint)
	}
}
