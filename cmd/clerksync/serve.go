package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/internal/logwriter"
	"github.com/clerksync/clerksync/metrics"
	"github.com/clerksync/clerksync/service"
	"github.com/clerksync/clerksync/web"
)

// ServeCommand runs the HTTP server: webhooks in, profiles out.
type ServeCommand struct {
	*Main

	common          commonFlags
	secrets         string
	addr            string
	maxBody         int64
	bodies          bodyLimits
	keepPrivate     bool
	shutdownTimeout time.Duration
	queueSize       int
	maxBatch        int
	writers         int
	debugAddr       string
	eventBodies     string
	logNames        bool
	stopDebug       func()

	logger   *slog.Logger
	logOut   *logwriter.Writer // what logger writes to: Stderr, through a goroutine
	svc      *service.Service
	store    clerksync.Store
	engine   *engine.Engine
	server   *http.Server
	listener net.Listener
	serveErr chan error
	closing  atomic.Bool

	pull      pullSettings    // polls and reconciles with the Clerk Backend API (serve_pull.go)
	retention retention       // prunes the event log (serve_retention.go)
	profile   profileSettings // the profile page and its API (serve_profile.go)
	feed      feedSettings    // forwarding and reading the changes feed (serve_feed.go)
}

// ParseFlags reads the command's flags and environment and checks them.
func (c *ServeCommand) ParseFlags(args []string) error {
	fs := newFlagSet("serve [flags]", "Receive Clerk webhooks on POST /api/webhooks/clerk and keep the profiles table right.", c.Stderr)
	c.common.register(fs, c.Getenv)
	c.retention.register(fs, c.Getenv)
	c.pull.register(fs, c.Getenv)
	c.profile.register(fs, c.Getenv)
	c.feed.register(fs, c.Getenv)
	secretEnv := c.Getenv("CLERK_WEBHOOK_SECRET")
	if strings.TrimSpace(secretEnv) == "" {
		secretEnv = c.Getenv("CLERK_WEBHOOK_SIGNING_SECRET")
	}
	fs.StringVar(&c.secrets, "webhook-secret", secretEnv,
		"Svix signing secret(s) of the Clerk webhook endpoint, whsec_…; several separated by space or comma during rotation (env CLERK_WEBHOOK_SECRET)")
	fs.StringVar(&c.addr, "addr", addrFromEnv(c.Getenv), "address to listen on (env PORT)")
	fs.Int64Var(&c.maxBody, "max-body-bytes", web.DefaultMaxBodyBytes, "largest webhook body accepted; larger ones get 413")
	c.bodies.register(fs, c.Getenv)
	fs.BoolVar(&c.keepPrivate, "keep-private-metadata", envBool(c.Getenv, "CLERKSYNC_KEEP_PRIVATE_METADATA"),
		"store users' private_metadata too (off: it is cut from every stored payload) (env CLERKSYNC_KEEP_PRIVATE_METADATA=1)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 25*time.Second, "how long in-flight deliveries may take to finish on SIGTERM")
	fs.IntVar(&c.queueSize, "queue-size", 4096, "deliveries that may wait for the database before new ones get 503")
	fs.IntVar(&c.maxBatch, "max-batch", 256, "most changes committed in one transaction")
	fs.IntVar(&c.writers, "writers", 0, "batches applied at once (0: 1 on SQLite; on PostgreSQL 2 to 4, as many as the cores)")
	fs.StringVar(&c.eventBodies, "event-bodies", envOr(c.Getenv, "CLERKSYNC_EVENT_BODIES", "dead-letters"),
		"which deliveries keep their body in the event log: dead-letters (for replay) or all (for inspection with events show) (env CLERKSYNC_EVENT_BODIES)")
	fs.StringVar(&c.debugAddr, "debug-addr", c.Getenv("CLERKSYNC_DEBUG_ADDR"), "serve Go's profiler (/debug/pprof/) on this separate address, e.g. 127.0.0.1:6060 (env CLERKSYNC_DEBUG_ADDR)")
	fs.BoolVar(&c.logNames, "log-names", envBool(c.Getenv, "CLERKSYNC_LOG_NAMES"),
		"name the user in the info line of each synced profile, \"Syncing profile for user_123 (Ada Lovelace)\" (off: ids only) (env CLERKSYNC_LOG_NAMES=1)")
	if err := parseFlagsOnly(fs, args, "serve", ""); err != nil {
		return err
	}
	given := flagsGiven(fs)
	setting, value := addrSetting(given["addr"], c.addr, c.Getenv)
	if err := checkAddr(setting, value, c.addr); err != nil {
		return err
	}
	if err := c.pull.validate(); err != nil {
		return err
	}
	if err := checkWebhookSecrets(secretSource("--webhook-secret", given["webhook-secret"], c.Getenv), splitSecrets(c.secrets)); err != nil {
		return err
	}
	if len(splitSecrets(c.secrets)) == 0 && !c.pull.polling() {
		return usagef("CLERK_WEBHOOK_SECRET is not set: copy the Signing Secret of your endpoint " +
			"(Clerk Dashboard → Webhooks → your endpoint → Signing Secret, it starts with whsec_) and run " +
			"CLERK_WEBHOOK_SECRET=whsec_… clerksync serve, or pass --webhook-secret; " +
			"or, with no public URL, poll instead: CLERK_SECRET_KEY=sk_test_… clerksync serve --poll-every 10s")
	}
	if c.maxBody < 1024 {
		return usagef("--max-body-bytes %d is too small: Clerk's events are a few KB; use at least 65536", c.maxBody)
	}
	if c.eventBodies != "dead-letters" && c.eventBodies != "all" {
		return usagef("--event-bodies %q: use dead-letters (the default) or all", c.eventBodies)
	}
	if c.queueSize < 1 || c.maxBatch < 1 || c.writers < 0 {
		return usagef("--queue-size and --max-batch must be at least 1, --writers at least 0")
	}
	if err := c.bodies.validate(); err != nil {
		return err
	}
	if err := c.retention.validate(); err != nil {
		return err
	}
	if err := c.feed.validate(); err != nil {
		return err
	}
	return c.profile.validate()
}

// Run serves until ctx ends (SIGINT/SIGTERM), then shuts down gracefully.
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	if err := c.Open(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		c.logger.Info("shutting down: finishing in-flight deliveries", "timeout", c.shutdownTimeout)
	case err := <-c.serveErr:
		_ = c.Close()
		_ = c.logOut.Close()
		return fmt.Errorf("http server: %w", err)
	}
	err := c.Close()
	if err == nil {
		c.logger.Info("stopped")
	}
	_ = c.logOut.Close()
	return err
}

// Open opens and migrates the database, starts the engine and listens. The server is
// ready for deliveries when Open returns.
func (c *ServeCommand) Open(ctx context.Context) (err error) {
	// Every delivery logs three lines; through logOut the handlers append them to a
	// buffer instead of each making a write system call while the others wait.
	c.logOut = logwriter.New(c.Stderr)
	defer func() {
		if err != nil {
			_ = c.logOut.Close()
		}
	}()
	logger, err := c.common.logger(c.logOut)
	if err != nil {
		return err
	}
	c.logger = logger
	db, err := c.common.db()
	if err != nil {
		return err
	}
	policy, err := c.common.deletePolicy()
	if err != nil {
		return err
	}
	if set := tuneGC(db, c.Getenv); len(set) > 0 {
		logger.LogAttrs(ctx, slog.LevelDebug, "Go collector tuned for "+db.Kind+" (set GOGC or GOMEMLIMIT to choose)", set...)
	}
	m := metrics.New()
	decode := clerkdecode.Options{KeepPrivateMetadata: c.keepPrivate}
	// One Backend API client, so that one rate limiter covers polls, reconciles and
	// the sync button together.
	var clerkClient *clerkapi.Client
	if c.pull.clerk.secretKey != "" {
		if clerkClient, err = c.pull.clerk.client(logger, nil, m); err != nil {
			return err
		}
	}
	eventRetention := c.retention.keep
	if eventRetention == 0 {
		eventRetention = -1 // 0 on the command line keeps the log for ever
	}
	svc, err := service.Open(ctx, service.Config{
		DatabaseURL: c.common.DatabaseURL, Schema: c.common.Schema, RowLevelSecurity: c.common.Supabase, OnDelete: policy,
		WebhookSecrets: splitSecrets(c.secrets), KeepPrivateMetadata: c.keepPrivate,
		Forward: c.feed.endpoints, ForwardSecret: c.feed.secret, APIToken: c.feed.token, TuneForward: c.feed.tune,
		EventRetention: eventRetention, ChangesRetention: c.feed.keep,
		RetentionTicks: c.retention.ticks, OnRetention: c.retention.onPass,
		Writers: c.writers, MaxBatch: c.maxBatch, QueueSize: c.queueSize,
		Logger: logger, Metrics: m, Now: c.now,
		HTTP: func(svc *service.Service, srv *web.Server) error {
			srv.MaxBodyBytes = c.maxBody
			srv.KeepEventBodies = c.eventBodies == "all"
			srv.Ready = func() bool { return !c.closing.Load() }
			srv.LogNames = c.logNames
			srv.Version = Version()
			c.bodies.apply(srv)
			profile, err := c.profile.config(logger, svc.Store(), svc.Engine(), decode, clerkClient, splitSecrets(c.secrets))
			srv.Profile = profile
			return err
		},
	})
	if err != nil {
		if clerksync.ErrorCode(err) == clerksync.EINVALID {
			return &usageError{err}
		}
		return err
	}
	c.svc, c.store, c.engine = svc, svc.Store(), svc.Engine()
	ln, err := c.listen(ctx)
	if err != nil {
		_ = svc.Close()
		return listenError(c.addr, err)
	}
	c.listener = ln
	c.server = &http.Server{
		Handler:           c.profile.handler(svc.Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Svix gives up on a delivery after 15 s; answering later is wasted work.
		WriteTimeout:   30 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if c.stopDebug, err = startDebug(c.debugAddr, logger); err != nil {
		_ = ln.Close()
		_ = svc.Close()
		return err
	}
	c.serveErr = make(chan error, 1)
	go func() {
		if err := c.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.serveErr <- err
		}
	}()
	if err := c.pull.start(ctx, logger, c.store, c.engine, decode, clerkClient, c.now); err != nil {
		_ = c.Close()
		return err
	}
	if len(splitSecrets(c.secrets)) == 0 {
		logger.Warn("no webhook secret: the webhook route is off and clerksync keeps in step by polling the Clerk Backend API alone (deletions need --reconcile-prune)")
	}
	c.profile.start(logger)
	webhook := "POST " + c.URL() + "/api/webhooks/clerk"
	if len(splitSecrets(c.secrets)) == 0 {
		webhook = "off (no webhook secret; polling)"
	}
	logger.Info("clerksync listening",
		"version", Version(), "addr", ln.Addr().String(), "database", db.String(), "webhook", webhook)
	return nil
}

// URL returns the server's base URL, e.g. http://127.0.0.1:3000.
func (c *ServeCommand) URL() string {
	addr := c.listener.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

// Close shuts down gracefully: /readyz turns 503, no new connections are accepted,
// in-flight deliveries finish and commit (each is one transaction, so nothing is half
// written), then the engine and database are closed.
func (c *ServeCommand) Close() error {
	c.closing.Store(true)
	c.pull.stop()
	c.profile.stop()
	var errs []error
	if c.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
		if err := c.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown http server: %w", err))
			_ = c.server.Close()
		}
		cancel()
	}
	if c.stopDebug != nil {
		c.stopDebug()
	}
	if c.svc != nil {
		if err := c.svc.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.FlushLogs()
	return errors.Join(errs...)
}

// FlushLogs waits until every log line written so far has reached Stderr.
func (c *ServeCommand) FlushLogs() {
	if c.logOut != nil {
		c.logOut.Flush()
	}
}
