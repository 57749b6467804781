package clerkfake

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultSecretKey is the secret key a Server accepts unless WithSecretKeys says
// otherwise. Like every sk_test_ key it is limited to 100 requests per 10 seconds.
const DefaultSecretKey = "sk_test_clerkfake0000000000000000000000000000"

// Clerk's Backend API limits per secret key, as published.
const (
	DevRateLimit  = 100  // requests per RateWindow for sk_test_ keys
	ProdRateLimit = 1000 // requests per RateWindow for sk_live_ keys
	RateWindow    = 10 * time.Second
)

// Server is a fake Clerk Backend API: an http.Handler serving /v1/users and its
// neighbours from memory. It is safe for concurrent use.
type Server struct {
	mux   *http.ServeMux
	now   func() time.Time
	seed  uint64
	keys  map[string]bool
	store *store
	orgs  *orgStore
	// noOrgs answers every organization endpoint as an instance whose
	// organizations feature is off.
	noOrgs bool

	mu          sync.Mutex
	rateLimit   int // 0: by key kind; <0: off
	rateWindow  time.Duration
	windows     map[string]*rateWindow
	failNext    int
	failStatus  int
	dropNext    int
	latency     time.Duration
	requests    map[string]int
	rateLimited int
	hooks       []func(eventType string, u *User)
	orgHooks    []func(OrgEvent)
}

type rateWindow struct {
	start time.Time
	count int
}

// Option configures a Server.
type Option func(*Server)

// WithSecretKeys sets the secret keys the server accepts, replacing
// DefaultSecretKey. A key that starts with sk_live_ gets the production rate limit.
func WithSecretKeys(keys ...string) Option {
	return func(s *Server) {
		s.keys = make(map[string]bool, len(keys))
		for _, k := range keys {
			s.keys[k] = true
		}
	}
}

// WithRateLimit makes every key allowed n requests per window instead of Clerk's
// limits; n <= 0 turns rate limiting off, as load tests need.
func WithRateLimit(n int, window time.Duration) Option {
	return func(s *Server) {
		s.rateLimit = n
		if n <= 0 {
			s.rateLimit = -1
		}
		s.rateWindow = window
	}
}

// WithClock makes the server read the time from now: the timestamps of users it
// creates or changes, and its rate limit windows.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithoutOrganizations makes the server an instance whose organizations feature is
// off: every organization endpoint (memberships, invitations, roles and permissions
// included) answers 403 organization_not_enabled_in_instance, as Clerk does.
func WithoutOrganizations() Option {
	return func(s *Server) { s.noOrgs = true }
}

// WithSeed makes the users and ids the server generates deterministic.
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.seed = seed }
}

// New returns a Server with no users.
func New(opts ...Option) *Server {
	s := &Server{
		now:        time.Now,
		keys:       map[string]bool{DefaultSecretKey: true},
		rateWindow: RateWindow,
		windows:    make(map[string]*rateWindow),
		requests:   make(map[string]int),
	}
	for _, opt := range opts {
		opt(s)
	}
	s.store = newStore(s.seed)
	s.orgs = newOrgStore()

	s.mux = http.NewServeMux()
	s.handle("GET /v1/users", s.listUsers)
	s.handle("POST /v1/users", s.createUser)
	s.handle("GET /v1/users/count", s.countUsers)
	s.handle("GET /v1/users/{user_id}", s.getUser)
	s.handle("PATCH /v1/users/{user_id}", s.updateUser)
	s.handle("DELETE /v1/users/{user_id}", s.handleDeleteUser)
	s.handle("PATCH /v1/users/{user_id}/metadata", s.updateMetadata)
	s.handle("POST /v1/users/{user_id}/ban", s.setFlag(func(u *User) { u.Banned = true }))
	s.handle("POST /v1/users/{user_id}/unban", s.setFlag(func(u *User) { u.Banned = false }))
	s.handle("POST /v1/users/{user_id}/lock", s.setFlag(func(u *User) {
		u.Locked = true
		u.VerificationAttemptsRemaining = ptr(int64(0))
	}))
	s.handle("POST /v1/users/{user_id}/unlock", s.setFlag(func(u *User) {
		u.Locked = false
		u.LockoutExpiresInSeconds = nil
		u.VerificationAttemptsRemaining = ptr(int64(100))
	}))
	s.handleOrganizations()
	s.handle("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, clerkError{Code: "resource_not_found", Message: "not found", LongMessage: "The requested resource " + r.URL.Path + " was not found"})
	})
	return s
}

// ServeHTTP answers a Backend API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// handle registers h under pattern behind what every Clerk endpoint does first:
// counting, injected latency and faults, authentication and the rate limit.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[pattern]++
		latency := s.latency
		drop := s.dropNext > 0
		if drop {
			s.dropNext--
		}
		fail := 0
		if !drop && s.failNext > 0 {
			s.failNext--
			fail = s.failStatus
		}
		s.mu.Unlock()

		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if drop {
			dropConnection(w)
			return
		}
		if fail != 0 {
			writeError(w, fail, clerkError{Code: "internal_clerk_error", Message: "Oops, an unexpected error occurred", LongMessage: "There was an internal error on our servers. We've been notified and are working on fixing it."})
			return
		}
		key, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if retryAfter, ok := s.allow(key); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			writeError(w, http.StatusTooManyRequests, clerkError{Code: "too_many_requests", Message: "Too many requests", LongMessage: "Too many requests, please try again in " + strconv.Itoa(retryAfter) + " seconds."})
			return
		}
		h(w, r)
	})
}

// authenticate returns the secret key of r, or answers 401 as Clerk does.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	key, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !found || key == "":
		writeError(w, http.StatusUnauthorized, clerkError{Code: "authentication_invalid", Message: "Invalid authentication", LongMessage: "Unable to authenticate the request: the Authorization header must be \"Bearer <secret key>\"."})
		return "", false
	case !s.keys[key]:
		// Clerk's code for a well-formed but wrong secret key.
		writeError(w, http.StatusUnauthorized, clerkError{Code: "clerk_key_invalid", Message: "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.", LongMessage: "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct."})
		return "", false
	}
	return key, true
}

// allow counts a request of key against its fixed window and reports whether it is
// within the limit; if not, it returns the whole seconds until the window ends.
func (s *Server) allow(key string) (retryAfter int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.rateLimit
	switch {
	case limit < 0:
		return 0, true
	case limit == 0 && strings.HasPrefix(key, "sk_live_"):
		limit = ProdRateLimit
	case limit == 0:
		limit = DevRateLimit
	}
	now := s.now()
	win := s.windows[key]
	if win == nil || now.Sub(win.start) >= s.rateWindow || now.Before(win.start) {
		win = &rateWindow{start: now}
		s.windows[key] = win
	}
	if win.count >= limit {
		s.rateLimited++
		left := win.start.Add(s.rateWindow).Sub(now)
		return max(1, int((left+time.Second-1)/time.Second)), false
	}
	win.count++
	return 0, true
}

// dropConnection closes the connection without answering, as a network failure
// between the client and Clerk would.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// SecretKey returns a secret key the server accepts.
func (s *Server) SecretKey() string {
	if s.keys[DefaultSecretKey] {
		return DefaultSecretKey
	}
	best := ""
	for k := range s.keys {
		if best == "" || k < best {
			best = k
		}
	}
	return best
}

// SetRateLimit changes the rate limit as WithRateLimit does and starts new windows.
func (s *Server) SetRateLimit(n int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	WithRateLimit(n, window)(s)
	clear(s.windows)
}

// FailNext makes the next n requests fail with status (500, 503, ...) and Clerk's
// error body, before authentication, as an outage would.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failStatus = n, status
}

// DropNext makes the server close the connection of the next n requests without
// answering. It needs a real HTTP/1.1 server, such as httptest.NewServer: the
// connection is hijacked.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext = n
}

// SetLatency delays every answer by d (0 for none). A request whose client gives up
// stops waiting.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Requests returns how many requests reached pattern, such as "GET /v1/users" or
// "GET /v1/users/{user_id}", whatever their answer.
func (s *Server) Requests(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[pattern]
}

// RequestCounts returns the number of requests per pattern.
func (s *Server) RequestCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		m[k] = v
	}
	return m
}

// RateLimited returns how many requests were answered 429.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

// ResetCounters zeroes the request counters and the count of 429 answers.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.requests)
	s.rateLimited = 0
}

// OnChange registers f to be called after every change to a user, made through the
// API or the test controls (but not Seed), with the event type Clerk would send
// (user.created, user.updated, user.deleted) and a copy of the user: for
// user.deleted, its last state. f runs on the goroutine that made the change.
func (s *Server) OnChange(f func(eventType string, u *User)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, f)
}

// notify calls the change hooks.
func (s *Server) notify(eventType string, u *User) {
	s.mu.Lock()
	hooks := slices.Clone(s.hooks)
	s.mu.Unlock()
	for _, f := range hooks {
		f(eventType, u)
	}
}

// OnOrgChange registers f to be called after every change to an organization, a
// membership, an invitation, a role or a permission, made through the test controls
// (but not SeedOrganizations), with the event Clerk would send. f runs on the
// goroutine that made the change, after the change is visible.
func (s *Server) OnOrgChange(f func(OrgEvent)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgHooks = append(s.orgHooks, f)
}

// notifyOrg calls the organization change hooks with each event in order.
func (s *Server) notifyOrg(events ...OrgEvent) {
	s.mu.Lock()
	hooks := slices.Clone(s.orgHooks)
	s.mu.Unlock()
	for _, ev := range events {
		for _, f := range hooks {
			f(ev)
		}
	}
}

// traceID returns a new random trace id like the clerk_trace_id of Clerk's errors.
func traceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
