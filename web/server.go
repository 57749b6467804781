// Package web is clerksync's HTTP side: the Clerk webhook endpoint, health checks and
// metrics (and, with a session verifier, the profile page and its API).
//
// It is named web rather than http so that it does not shadow net/http.
package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/metrics"
	"github.com/clerksync/clerksync/svixsig"
)

// DefaultMaxBodyBytes is the default cap on a webhook body (1 MiB); Clerk's largest
// events are far smaller.
const DefaultMaxBodyBytes = 1 << 20

// Log attribute keys, shared by every log line so that logs can be queried by them.
const (
	attrSvixID    = "svix_id"
	attrEventType = "event_type"
	attrUserID    = "user_id"
	attrKind      = "kind"
	attrObjectID  = "object_id"
	attrOutcome   = "outcome"
	attrAction    = "action"
	attrDuration  = "duration"
	attrError     = "error"
	attrReason    = "reason"
)

// Applier applies changes and reports one result per change; *engine.Engine is one.
type Applier interface {
	Apply(ctx context.Context, changes ...clerksync.Change) ([]clerksync.Result, error)
}

// Server serves clerksync's HTTP routes. Set its fields, then use Handler.
type Server struct {
	// Store is read by the health check and the profile routes.
	Store clerksync.Store
	// Engine applies changes (group commit).
	Engine Applier
	// Verifier checks webhook signatures. Without one (serve polling the Clerk API
	// alone) the webhook routes answer 404 with a note that webhooks are off.
	Verifier *svixsig.Verifier
	// Decode says how webhook bodies are decoded (private metadata opt-in).
	Decode clerkdecode.Options
	// KeepEventBodies keeps the body of every delivery in the event log. Off, only
	// dead letters keep theirs (they wait for replay): the user's data is in profiles
	// already, and not writing a second ~4 KB copy per delivery roughly halves what
	// each delivery writes.
	KeepEventBodies bool
	// MaxBodyBytes caps a webhook body; DefaultMaxBodyBytes when 0.
	MaxBodyBytes int64
	// MaxConcurrentBodies bounds the webhook bodies read at once, so that clients
	// holding bodies open cannot take the memory of the process: a delivery that finds
	// none free within BodyWait is answered 503 with Retry-After.
	// DefaultMaxConcurrentBodies(MaxBodyBytes) when 0.
	MaxConcurrentBodies int
	// BodyWait is how long a delivery waits for a body slot; DefaultBodyWait when 0.
	BodyWait time.Duration
	// BodyReadTimeout bounds the reading of one body, which is answered 408 when it
	// is not in by then; DefaultBodyReadTimeout when 0.
	BodyReadTimeout time.Duration
	// Metrics, when set, is updated and served at /metrics.
	Metrics *metrics.Metrics
	// Logger receives one line per delivery; slog.Default() when nil.
	Logger *slog.Logger
	// Ready, when set, is consulted by /readyz besides the database ping (false while
	// shutting down).
	Ready func() bool
	// LogNames names the user in the info line of a synced profile ("Syncing profile
	// for user_123 (Ada Lovelace)"). Off, that line names the id alone, as every other
	// line does: names are personal data that logs are often kept longer than.
	LogNames bool
	// Version is the running version, named by the service page at GET /.
	Version string
	// Profile configures the profile page, its API and the drop-in sync script; when
	// nil (or its Sessions is nil) those routes answer "not configured".
	Profile *ProfileConfig
	// Changes configures GET /api/changes; when nil (or without a token) the route
	// answers "not configured".
	Changes *ChangesConfig

	bodies               *bodyReader
	tooLarge             string       // the 413 answer, naming the cap
	badSignatures        atomic.Int64 // since the last warning about them
	lastBadSignatureWarn atomic.Int64 // unix nanoseconds
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.MaxConcurrentBodies <= 0 {
		s.MaxConcurrentBodies = DefaultMaxConcurrentBodies(s.MaxBodyBytes)
	}
	if s.BodyWait <= 0 {
		s.BodyWait = DefaultBodyWait
	}
	if s.BodyReadTimeout <= 0 {
		s.BodyReadTimeout = DefaultBodyReadTimeout
	}
	s.bodies = newBodyReader(s.MaxBodyBytes, s.MaxConcurrentBodies, s.BodyWait, s.BodyReadTimeout)
	s.tooLarge = "body over the " + sizeText(s.MaxBodyBytes) + " limit"
	mux := http.NewServeMux()
	webhook := s.handleWebhook
	if s.Verifier == nil {
		webhook = webhooksOff
	}
	mux.HandleFunc("/api/webhooks/clerk", webhook)
	mux.HandleFunc("/api/clerk-webhook", webhook)
	mux.HandleFunc("GET /{$}", s.handleIndex) // lists the routes: see routeList
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics.Handler())
	}
	newProfileHandler(s, s.Profile).routes(mux)
	mux.HandleFunc("GET /api/changes", s.handleChanges)
	return mux
}

// webhooksOff answers the webhook routes of a server without a webhook secret.
func webhooksOff(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "webhooks are off on this server: it has no webhook secret (CLERK_WEBHOOK_SECRET) and polls the Clerk Backend API instead"})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz answers 200 only when the database can take writes (see storeReady),
// so that a load balancer stops sending deliveries to a replica that would answer 503
// anyway.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil && !s.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.storeReady(ctx); err != nil {
		s.Logger.Warn("readiness check failed", attrError, err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// writeJSON answers v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
