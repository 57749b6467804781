// Package service runs clerksync inside a Go application: the webhook routes, the
// profile routes and the changes feed on the application's own mux, on a database the
// application names by URL or hands over (an *sql.DB of SQLite, a *pgxpool.Pool of
// PostgreSQL), and the feed consumed in the application's own process. The clerksync
// command is built on this package: `clerksync serve` is one of its users.
//
//	svc, err := service.Open(ctx, service.Config{
//		DatabaseURL:    "postgres://…",
//		WebhookSecrets: []string{os.Getenv("CLERK_WEBHOOK_SECRET")},
//	})
//	…
//	defer svc.Close()
//	svc.Mount(mux) // POST /api/webhooks/clerk, GET /api/changes, …
//	svc.Consume("welcome-emails", func(ctx context.Context, e clerksync.FeedEntry) error {
//		… // each profile.created once, in order per user, at least once
//	}, "profile.created")
package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/forward"
	"github.com/clerksync/clerksync/internal/broadcast"
	"github.com/clerksync/clerksync/internal/dburl"
	"github.com/clerksync/clerksync/metrics"
	"github.com/clerksync/clerksync/postgres"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/svixsig"
	"github.com/clerksync/clerksync/web"
)

// Defaults of Config.
const (
	DefaultDatabaseURL      = "sqlite:clerksync.db"
	DefaultEventRetention   = 720 * time.Hour    // 30 days
	DefaultChangesRetention = 7 * 24 * time.Hour // 7 days
)

// Config configures a Service. Only the database and, to receive webhooks, the webhook
// secrets are needed; everything else has a default.
type Config struct {
	// The database: a URL (sqlite:PATH, file:PATH, postgres://…), or one the
	// application has open: DB (SQLite; clerksync opens its own connections to the same
	// file) or Pool (PostgreSQL; clerksync's tables go in the pool's schema). One of
	// them; DefaultDatabaseURL when none is set.
	DatabaseURL string
	DB          *sql.DB
	Pool        *pgxpool.Pool
	// Schema puts the tables in a PostgreSQL schema of their own (with DatabaseURL).
	Schema string
	// RowLevelSecurity enables Supabase's row level security (PostgreSQL).
	RowLevelSecurity bool
	// OnDelete is what a deletion does to a row: clerksync.DeleteHard (the default)
	// or DeleteSoft.
	OnDelete clerksync.DeletePolicy

	// WebhookSecrets are the Signing Secrets of the Clerk webhook endpoint (several
	// during a rotation); none turns the webhook routes off.
	WebhookSecrets []string
	// KeepPrivateMetadata keeps private metadata (off: it is cut from everything
	// stored).
	KeepPrivateMetadata bool

	// Forward forwards the changes feed to these endpoints, signed with
	// ForwardSecret (whsec_…).
	Forward       []forward.Endpoint
	ForwardSecret string
	// APIToken is the bearer token of GET /api/changes; empty turns the route off.
	APIToken string
	// TuneForward, when set, adjusts the settings of the forwarders of endpoints and
	// consumers (backoff, timeouts, leases) before they start.
	TuneForward func(*forward.Config)

	// EventRetention is how long the event log keeps an entry (dead letters are
	// kept): DefaultEventRetention when 0, for ever when negative. ChangesRetention
	// is how long the changes feed keeps an entry every endpoint and consumer has
	// acknowledged: DefaultChangesRetention when 0, for ever when negative.
	EventRetention   time.Duration
	ChangesRetention time.Duration

	// Writers, MaxBatch and QueueSize tune the engine (see engine.Config); Writers 0
	// is 1 on SQLite and as many as the cores, from 2 to 4, on PostgreSQL.
	Writers, MaxBatch, QueueSize int

	// Logger receives what happens; slog.Default() when nil.
	Logger *slog.Logger
	// Metrics is updated and served at /metrics; a new registry when nil.
	Metrics *metrics.Metrics
	// Now is the clock of retention and the feed; time.Now when nil.
	Now func() time.Time
	// HTTP, when set, is called with the service (its store and engine are open) and
	// its HTTP server before the server's routes are built, to set what Config does
	// not: body limits, the profile routes, readiness…
	HTTP func(*Service, *web.Server) error
	// OnApplied, when set, is called with every committed batch and its results.
	OnApplied func([]clerksync.Change, []clerksync.Result)

	// RetentionTicks, when set, replaces the hourly schedule of retention passes, and
	// OnRetention is told what each pass of the event log deleted (for tests).
	RetentionTicks <-chan time.Time
	OnRetention    func(deleted int, err error)
}

// Service is clerksync running inside an application.
type Service struct {
	cfg     Config
	log     *slog.Logger
	store   clerksync.Store
	engine  *engine.Engine
	metrics *metrics.Metrics
	server  *web.Server
	handler http.Handler
	notify  broadcast.Broadcaster
	now     func() time.Time

	mu            sync.Mutex
	forwarder     *forward.Forwarder
	consumers     []*forward.Forwarder
	consumerNames []string
	holder        string
	attempts      *prometheus.CounterVec
	ctx           context.Context
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	closed        bool
}

// Open opens and migrates the database, starts the engine, the forwarding of the feed
// and the retention of the event log and the feed. It returns an error with code
// EINVALID for a setting that cannot work (saying which), EUNAVAILABLE when the
// database cannot be reached, and ECONFIG when it is not the database asked for.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, log: cfg.Logger, metrics: cfg.Metrics, now: cfg.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if s.now == nil {
		s.now = time.Now
	}
	var verifier *svixsig.Verifier
	if len(cfg.WebhookSecrets) > 0 {
		v, err := svixsig.NewVerifier(cfg.WebhookSecrets)
		if err != nil {
			return nil, &clerksync.Error{Code: clerksync.EINVALID, Message: "webhook secret: " + err.Error(),
				Hint: "copy the Signing Secret of the endpoint (Clerk Dashboard → Webhooks → your endpoint); it starts with whsec_", Err: err}
		}
		verifier = v
	}
	store, writers, err := openStore(ctx, &cfg, s.log)
	if err != nil {
		return nil, err
	}
	s.store = store
	if cfg.Writers == 0 {
		cfg.Writers = writers
	}
	s.engine = engine.New(store, engine.Config{
		Writers: cfg.Writers, MaxBatch: cfg.MaxBatch, QueueSize: cfg.QueueSize, Logger: s.log,
		OnBatch:   s.metrics.ObserveBatch,
		OnApplied: s.applied,
	})
	s.metrics.GaugeFunc("clerksync_queue_depth", "Deliveries waiting for a database writer.", func() float64 { return float64(s.engine.QueueLen()) })
	s.metrics.GaugeFunc("clerksync_sync_backlog", "Committed batches waiting to be made durable (SQLite).", func() float64 { return float64(s.engine.SyncBacklog()) })

	s.server = &web.Server{
		Store: store, Engine: s.engine, Verifier: verifier, Logger: s.log, Metrics: s.metrics,
		Decode:  clerkdecode.Options{KeepPrivateMetadata: cfg.KeepPrivateMetadata},
		Changes: &web.ChangesConfig{Token: cfg.APIToken, Notify: s.notify.C},
	}
	if cfg.HTTP != nil {
		if err := cfg.HTTP(s, s.server); err != nil {
			s.closeStore()
			return nil, err
		}
	}
	s.handler = s.server.Handler()

	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if len(cfg.Forward) > 0 {
		fw, err := s.newForwarder(cfg.Forward, cfg.ForwardSecret)
		if err != nil {
			s.closeStore()
			return nil, err
		}
		s.forwarder = fw
		fw.Start(s.ctx)
		for _, e := range cfg.Forward {
			s.log.Info("forwarding the changes feed", slog.String("endpoint", forward.Redact(e.URL)))
		}
	}
	s.metrics.Register(&backlogCollector{fw: s.forwarders})
	s.startRetention()
	return s, nil
}

// openStore opens the database cfg names and returns the store and the engine's
// default number of writers for it.
func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (clerksync.Store, int, error) {
	policy := cfg.OnDelete
	switch policy {
	case "":
		policy = clerksync.DeleteHard
	case clerksync.DeleteHard, clerksync.DeleteSoft:
	default:
		return nil, 0, clerksync.Errorf(clerksync.EINVALID, "OnDelete %q: use hard or soft", policy)
	}
	given := 0
	for _, set := range []bool{cfg.DatabaseURL != "", cfg.DB != nil, cfg.Pool != nil} {
		if set {
			given++
		}
	}
	if given > 1 {
		return nil, 0, clerksync.Errorf(clerksync.EINVALID, "give one database: DatabaseURL, DB or Pool")
	}
	pgOpts := []postgres.Option{postgres.WithLogger(log), postgres.WithDeletePolicy(policy), postgres.WithNow(nowOr(cfg.Now))}
	if cfg.RowLevelSecurity {
		pgOpts = append(pgOpts, postgres.WithRowLevelSecurity())
	}
	sqliteOpts := []sqlite.Option{sqlite.WithLogger(log), sqlite.WithDeletePolicy(policy), sqlite.WithNow(nowOr(cfg.Now))}
	pgWriters := min(4, max(2, runtime.GOMAXPROCS(0)))
	switch {
	case cfg.DB != nil:
		s, err := sqlite.OpenDB(ctx, cfg.DB, sqliteOpts...)
		return s, 1, err
	case cfg.Pool != nil:
		if cfg.Schema != "" {
			pgOpts = append(pgOpts, postgres.WithSchema(cfg.Schema))
		}
		s, err := postgres.OpenPool(ctx, cfg.Pool, pgOpts...)
		return s, pgWriters, err
	}
	url := cfg.DatabaseURL
	if url == "" {
		url = DefaultDatabaseURL
	}
	d, err := dburl.Parse(url)
	if err != nil {
		return nil, 0, &clerksync.Error{Code: clerksync.EINVALID, Message: err.Error()}
	}
	switch d.Kind {
	case "sqlite":
		s, err := sqlite.Open(d.Path, sqliteOpts...)
		if err != nil {
			return nil, 0, fmt.Errorf("open %s: %w", d, err)
		}
		return s, 1, nil
	default:
		if cfg.Schema != "" {
			pgOpts = append(pgOpts, postgres.WithSchema(cfg.Schema))
		}
		s, err := postgres.Open(ctx, d.URL, pgOpts...)
		if err != nil {
			return nil, 0, fmt.Errorf("open %s: %w", d, err)
		}
		return s, pgWriters, nil
	}
}

func nowOr(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// applied is called by the engine with every committed batch.
func (s *Service) applied(changes []clerksync.Change, results []clerksync.Result) {
	s.metrics.ObserveApplied(changes, results)
	s.notify.Notify()
	for _, fw := range s.forwarders() {
		fw.Wake()
	}
	if s.cfg.OnApplied != nil {
		s.cfg.OnApplied(changes, results)
	}
}

// Store returns the database clerksync keeps its tables in.
func (s *Service) Store() clerksync.Store { return s.store }

// Engine returns the engine that applies changes with group commit: hand it changes
// of the application's own (from the Clerk Backend API, say) and the same rules hold.
func (s *Service) Engine() *engine.Engine { return s.engine }

// Metrics returns the service's metrics, served at /metrics.
func (s *Service) Metrics() *metrics.Metrics { return s.metrics }

// Handler returns every route of clerksync (see Routes), for an http.Server of its own
// or to mount under the application's mux (see Mount).
func (s *Service) Handler() http.Handler { return s.handler }

// Routes lists the patterns of the routes Handler serves.
func (s *Service) Routes() []string { return s.server.Routes() }

// Mount registers clerksync's routes on mux, beside the application's own: each of
// Routes goes to Handler. It panics, as http.ServeMux does, when a pattern conflicts
// with one the application registered.
func (s *Service) Mount(mux *http.ServeMux) {
	for _, p := range s.Routes() {
		mux.Handle(p, s.handler)
	}
}

// Close stops forwarding, consumers and retention, finishes the changes waiting for the
// engine, and closes the database (unless the application handed it over).
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	for _, fw := range s.forwarders() {
		fw.Stop()
	}
	s.cancel()
	s.wg.Wait()
	var errs []error
	if err := s.engine.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close engine: %w", err))
	}
	if err := s.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close database: %w", err))
	}
	return errors.Join(errs...)
}

func (s *Service) closeStore() {
	s.engine.Close()
	s.store.Close()
}
