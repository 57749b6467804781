package web

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/pull"
	"github.com/clerksync/clerksync/session"
)

// Defaults of ProfileConfig.
const (
	// DefaultSyncInterval is the least time between two syncs of one user from the
	// Clerk Backend API, so that a page that loops cannot burn the instance's rate
	// limit (100 requests per 10 s on development instances).
	DefaultSyncInterval = 5 * time.Second
	// DefaultSyncTimeout bounds one sync: a person waits for the answer.
	DefaultSyncTimeout = 10 * time.Second
	// DefaultMaxAge is how old a row may be before the drop-in script syncs it again.
	DefaultMaxAge = 15 * time.Minute
)

// SessionVerifier checks the Clerk session token a request carries; *session.Verifier
// is one. Its errors are those of package session.
type SessionVerifier interface {
	VerifyRequest(r *http.Request) (*session.Claims, error)
}

// UserSyncer reads one user from the Clerk Backend API and applies it; *pull.Syncer is
// one.
type UserSyncer interface {
	SyncUser(ctx context.Context, userID string) (*pull.UserSync, error)
}

// ProfileConfig enables the routes people see: the profile page (GET /profile, POST
// /profile/sync), its API (GET /api/profile, POST /api/profile/sync) and the drop-in
// sync-on-visit script (GET /profile-sync.js).
type ProfileConfig struct {
	// Sessions verifies Clerk session tokens. When nil the routes answer 503 "not
	// configured" with NotConfiguredHint; webhooks are not affected.
	Sessions SessionVerifier
	// NotConfiguredHint tells the operator how to enable the routes when Sessions is
	// nil.
	NotConfiguredHint string
	// Syncer reads users from the Clerk Backend API. When nil, the profile can be read
	// but not synced: sync answers 503 with SyncNotConfiguredHint.
	Syncer UserSyncer
	// SyncNotConfiguredHint tells the operator how to enable sync when Syncer is nil.
	SyncNotConfiguredHint string

	// AuthorizedParties are the origins (scheme://host[:port]) of the application's
	// pages, besides this server's own: they may call the API from the browser with
	// credentials (CORS), and a cookie-authenticated POST must come from one of them.
	AuthorizedParties []string
	// PublicURL is this server's own origin as browsers reach it, such as
	// https://clerksync.example.com; when empty it is taken from each request's Host
	// (and X-Forwarded-Proto).
	PublicURL string
	// SignInURL is where the page sends people who are not signed in; when empty the
	// page only explains how to sign in.
	SignInURL string
	// SignOutURL is where the page header's Sign out button posts; when empty, to
	// this server's POST /profile/sign-out. clerksync dev points it at the emulator's
	// sign-out.
	SignOutURL string
	// Revoker, when set, ends the Clerk session of a person who signs out of the page,
	// so that they are signed out of the application too; without it, signing out
	// only expires the session cookies on this origin.
	Revoker SessionRevoker
	// CSRFKey signs the token of the profile page's form. Replicas behind one load
	// balancer need the same key; a random key is used when empty.
	CSRFKey []byte

	// SyncInterval is the least time between two syncs of one user;
	// DefaultSyncInterval when zero.
	SyncInterval time.Duration
	// SyncTimeout bounds one sync; DefaultSyncTimeout when zero.
	SyncTimeout time.Duration
	// MaxAge is how old a row may be before the drop-in script syncs it, unless the
	// script's data-max-age says otherwise; DefaultMaxAge when zero.
	MaxAge time.Duration

	// Development marks every page with a development-only banner.
	Development bool
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// profileHandler serves the profile routes of one Server.
type profileHandler struct {
	cfg     ProfileConfig
	store   clerksync.Store
	log     *slog.Logger
	now     func() time.Time
	parties map[string]bool // normalized origins
	public  string          // normalized PublicURL, or ""
	csrfKey []byte
	limiter *userLimiter
	flight  singleflight.Group // ensure-user syncs, one per user at a time
	views   *views
	script  []byte // profile-sync.js with the server's default max age
}

// newProfileHandler returns the handler for cfg (nil: not configured).
func newProfileHandler(s *Server, cfg *ProfileConfig) *profileHandler {
	h := &profileHandler{store: s.Store, log: s.Logger}
	if cfg != nil {
		h.cfg = *cfg
	}
	if h.cfg.SyncInterval <= 0 {
		h.cfg.SyncInterval = DefaultSyncInterval
	}
	if h.cfg.SyncTimeout <= 0 {
		h.cfg.SyncTimeout = DefaultSyncTimeout
	}
	if h.cfg.MaxAge <= 0 {
		h.cfg.MaxAge = DefaultMaxAge
	}
	if h.cfg.NotConfiguredHint == "" {
		h.cfg.NotConfiguredHint = "set CLERK_PUBLISHABLE_KEY (Clerk Dashboard → API keys) so that clerksync can verify session tokens"
	}
	if h.cfg.SyncNotConfiguredHint == "" {
		h.cfg.SyncNotConfiguredHint = "set CLERK_SECRET_KEY (Clerk Dashboard → API keys → Secret keys) so that clerksync can read users from Clerk"
	}
	h.now = h.cfg.Now
	if h.now == nil {
		h.now = time.Now
	}
	h.parties = make(map[string]bool, len(h.cfg.AuthorizedParties))
	for _, p := range h.cfg.AuthorizedParties {
		if o := normalizeOrigin(p); o != "" {
			h.parties[o] = true
		}
	}
	h.public = normalizeOrigin(h.cfg.PublicURL)
	h.csrfKey = h.cfg.CSRFKey
	if len(h.csrfKey) == 0 {
		h.csrfKey = make([]byte, 32)
		_, _ = rand.Read(h.csrfKey)
	}
	h.limiter = newUserLimiter(h.cfg.SyncInterval, h.now)
	h.views = mustParseViews()
	h.script = syncScript(h.cfg.MaxAge)
	return h
}

// routes registers the profile routes on mux.
func (h *profileHandler) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /profile", h.handlePage)
	mux.HandleFunc("POST /profile/sync", h.handlePageSync)
	mux.HandleFunc("POST "+signOutPath, h.handleSignOut)
	mux.HandleFunc(signOutPath, methodNotAllowed(http.MethodPost))
	mux.HandleFunc("/profile/sync", methodNotAllowed(http.MethodPost))
	mux.HandleFunc("GET /api/profile", h.handleGetProfile)
	mux.HandleFunc("OPTIONS /api/profile", h.handlePreflight)
	mux.HandleFunc("POST /api/profile/sync", h.handleSync)
	mux.HandleFunc("OPTIONS /api/profile/sync", h.handlePreflight)
	mux.HandleFunc("/api/profile/sync", methodNotAllowed(http.MethodPost, http.MethodOptions))
	mux.HandleFunc("GET /profile-sync.js", h.handleScript)
	mux.HandleFunc("GET "+assetPrefix+"{name}", handleAsset)
}

// methodNotAllowed answers 405 naming the allowed methods.
func methodNotAllowed(allowed ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeAPIError(w, http.StatusMethodNotAllowed, apiError{Code: "method_not_allowed", Message: "use " + strings.Join(allowed, " or ")})
	}
}

// apiError is the JSON body of every error answer of the profile API.
type apiError struct {
	Code       string `json:"code"`
	Message    string `json:"error"`
	Hint       string `json:"hint,omitempty"`
	RetryAfter int    `json:"retry_after,omitempty"`
}

func writeAPIError(w http.ResponseWriter, status int, e apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, status, e)
}

// errNotConfigured is the answer of every profile route while Sessions is nil.
func (h *profileHandler) errNotConfigured() apiError {
	return apiError{Code: "not_configured", Message: "the profile page is not configured on this server", Hint: h.cfg.NotConfiguredHint}
}

// apiCaller answers CORS for r and returns the signed-in caller of an API route; when
// there is none (not configured, no or a bad token) it has answered and reports false.
func (h *profileHandler) apiCaller(w http.ResponseWriter, r *http.Request) (*session.Claims, bool) {
	h.cors(w, r)
	if h.cfg.Sessions == nil {
		writeAPIError(w, http.StatusServiceUnavailable, h.errNotConfigured())
		return nil, false
	}
	claims, err := h.authenticate(r)
	if err != nil {
		h.writeAuthError(w, err)
		return nil, false
	}
	return claims, true
}

// handleGetProfile answers the signed-in user's row. A signed-in user whose row is
// missing (the sign-up that races Clerk's user.created webhook) is synced on the spot.
func (h *profileHandler) handleGetProfile(w http.ResponseWriter, r *http.Request) {
	claims, ok := h.apiCaller(w, r)
	if !ok {
		return
	}
	p, _, err := h.ensure(r.Context(), claims.Subject)
	var answer *profileJSON
	if err == nil {
		answer, err = h.profileAnswer(r.Context(), p, claims)
	}
	if err != nil {
		status, e := h.apiErrorFor(claims.Subject, err)
		writeAPIError(w, status, e)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// syncAnswer is the answer of POST /api/profile/sync.
type syncAnswer struct {
	// Status says what the sync did: created, updated, unchanged, stale (a newer
	// version was already stored) or fresh (synced recently enough, Clerk not asked).
	Status  string       `json:"status"`
	Outcome string       `json:"outcome,omitempty"`
	Action  string       `json:"action,omitempty"`
	Changes []change     `json:"changes"`
	Profile *profileJSON `json:"profile"`
}

// handleSync syncs the signed-in user from the Clerk Backend API and answers the
// fresh row with the fields that changed. With max_age (seconds) it asks Clerk only
// when the row is older than that: the drop-in script's sync on visit.
func (h *profileHandler) handleSync(w http.ResponseWriter, r *http.Request) {
	claims, ok := h.apiCaller(w, r)
	if !ok {
		return
	}
	if !isBearer(r) {
		// A cookie rides along with any cross-site form or fetch; a bearer token does
		// not, so only cookie-authenticated requests need their origin checked.
		if err := h.checkOrigin(r, claims, true); err != nil {
			h.log.Warn("profile sync refused: cross-site request", attrUserID, claims.Subject, attrReason, err.Error())
			writeAPIError(w, http.StatusForbidden, apiError{Code: "csrf", Message: "cross-site request refused",
				Hint: "call this endpoint from a page of this server or of an origin listed in CLERK_AUTHORIZED_PARTIES, or send the session token as Authorization: Bearer"})
			return
		}
	}
	maxAge, ok := parseMaxAge(r.URL.Query().Get("max_age"))
	if !ok {
		writeAPIError(w, http.StatusBadRequest, apiError{Code: "invalid", Message: "max_age must be a number of seconds"})
		return
	}
	if maxAge >= 0 {
		p, err := h.store.Profile(r.Context(), claims.Subject)
		switch {
		case err == nil && h.now().Sub(p.SyncedAt) < maxAge:
			answer, err := h.profileAnswer(r.Context(), p, claims)
			if err != nil {
				status, e := h.apiErrorFor(claims.Subject, err)
				writeAPIError(w, status, e)
				return
			}
			writeJSON(w, http.StatusOK, syncAnswer{Status: "fresh", Changes: []change{}, Profile: answer})
			return
		case err != nil && clerksync.ErrorCode(err) != clerksync.ENOTFOUND:
			status, e := h.apiErrorFor(claims.Subject, fmt.Errorf("read profile: %w", err))
			writeAPIError(w, status, e)
			return
		}
	}
	a, err := h.syncAnswer(r.Context(), claims)
	if err != nil {
		status, e := h.apiErrorFor(claims.Subject, err)
		writeAPIError(w, status, e)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// newSyncAnswer describes a sync that left a row (the caller handles a gone user).
func newSyncAnswer(us *pull.UserSync) syncAnswer {
	a := syncAnswer{
		Status:  syncStatus(us),
		Outcome: us.Result.Outcome.String(),
		Action:  us.Result.Action.String(),
		Changes: diffProfiles(us.Before, us.After),
		Profile: newProfileJSON(us.After),
	}
	return a
}

// syncStatus names what a sync did.
func syncStatus(us *pull.UserSync) string {
	if us.Result.Outcome == clerksync.OutcomeApplied {
		return us.Result.Action.String()
	}
	return us.Result.Outcome.String()
}

// parseMaxAge reads max_age in seconds: -1 when absent, false when malformed.
func parseMaxAge(s string) (time.Duration, bool) {
	if s == "" {
		return -1, true
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || secs < 0 || secs > 365*24*3600 {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// Errors of the sync path that are answered with a status of their own.
var (
	// errSyncLimited: the user was synced less than SyncInterval ago.
	errSyncLimited = errors.New("synced too recently")
	// errUserGone: Clerk no longer has the user, or clerksync holds a tombstone.
	errUserGone = errors.New("user deleted")
	// errNotSynced: no row and no way to sync it now.
	errNotSynced = errors.New("profile not synced yet")
	// errSyncNotConfigured: no Backend API client.
	errSyncNotConfigured = errors.New("sync not configured")
)

// limitedError carries how long to wait before the next sync.
type limitedError struct{ wait time.Duration }

func (e *limitedError) Error() string { return "synced too recently; retry in " + e.wait.String() }
func (e *limitedError) Unwrap() error { return errSyncLimited }

// sync syncs userID from Clerk within the per-user limit and the sync timeout. It
// returns an error wrapping errUserGone when Clerk no longer has the user (the row is
// then deleted).
func (h *profileHandler) sync(ctx context.Context, userID string) (*pull.UserSync, error) {
	if h.cfg.Syncer == nil {
		return nil, errSyncNotConfigured
	}
	if wait, ok := h.limiter.allow(userID); !ok {
		return nil, &limitedError{wait: wait}
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.SyncTimeout)
	defer cancel()
	start := h.now()
	us, err := h.cfg.Syncer.SyncUser(ctx, userID)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("sync user %s: %w", userID, context.DeadlineExceeded)
		}
		return nil, err
	}
	if us.Gone || us.After == nil {
		h.log.Info("Profile sync: Clerk no longer has user "+userID+"; profile removed", attrUserID, userID)
		return nil, errUserGone
	}
	changes := diffProfiles(us.Before, us.After)
	h.log.Info("Synced profile for user "+userID+" from the Clerk API",
		attrUserID, userID, attrOutcome, us.Result.Outcome.String(), attrAction, us.Result.Action.String(),
		"changed_fields", len(changes), attrDuration, h.now().Sub(start))
	return us, nil
}

// ensure returns userID's row, syncing it from Clerk first when it is missing.
// Concurrent requests for the same user share one sync. It returns true when it
// synced.
func (h *profileHandler) ensure(ctx context.Context, userID string) (*clerksync.Profile, bool, error) {
	p, err := h.store.Profile(ctx, userID)
	switch {
	case err == nil:
		return p, false, nil
	case clerksync.ErrorCode(err) != clerksync.ENOTFOUND:
		return nil, false, fmt.Errorf("read profile: %w", err)
	}
	deleted, err := h.store.Deleted(ctx, clerksync.UserKey(userID))
	if err != nil {
		return nil, false, fmt.Errorf("read tombstone: %w", err)
	}
	if deleted {
		return nil, false, errUserGone
	}
	if h.cfg.Syncer == nil {
		return nil, false, errNotSynced
	}
	v, err, _ := h.flight.Do(userID, func() (any, error) {
		// Detached from the first caller's context: the others wait on the result.
		ctx := context.WithoutCancel(ctx)
		us, err := h.sync(ctx, userID)
		if err != nil {
			return nil, err
		}
		return us.After, nil
	})
	if err != nil {
		if errors.Is(err, errSyncLimited) {
			// Another request synced a moment ago: read what it wrote.
			if p, rerr := h.store.Profile(ctx, userID); rerr == nil {
				return p, false, nil
			}
			return nil, false, errNotSynced
		}
		return nil, false, err
	}
	h.log.Info("Profile of user "+userID+" was missing; synced it on the spot", attrUserID, userID)
	return v.(*clerksync.Profile), true, nil
}

// apiErrorFor turns an error of the sync or read path of userID into an answer that
// says what happened without echoing internals, and logs the failures worth a line:
// this is the one place they are logged.
func (h *profileHandler) apiErrorFor(userID string, err error) (int, apiError) {
	status, e := h.classify(err)
	switch {
	case status >= 500 && e.Code != "sync_not_configured":
		level := slog.LevelWarn
		if status == http.StatusInternalServerError || e.Code == "clerk_config" {
			level = slog.LevelError
		}
		h.log.Log(context.Background(), level, "Profile request failed; nothing changed", attrUserID, userID, attrReason, e.Code, attrError, err)
	case status == http.StatusTooManyRequests:
		h.log.Debug("Profile sync refused: synced a moment ago", attrUserID, userID)
	}
	return status, e
}

// classify maps an error of the sync or read path to its answer.
func (h *profileHandler) classify(err error) (int, apiError) {
	var limited *limitedError
	switch {
	case errors.As(err, &limited):
		secs := max(1, int((limited.wait+time.Second-1)/time.Second))
		return http.StatusTooManyRequests, apiError{Code: "rate_limited",
			Message:    fmt.Sprintf("your profile was synced a moment ago; try again in %d s", secs),
			RetryAfter: secs}
	case errors.Is(err, errUserGone):
		return http.StatusGone, apiError{Code: "deleted", Message: "this Clerk user has been deleted; its profile was removed"}
	case errors.Is(err, errNotSynced):
		hint := "it appears once Clerk's user.created webhook arrives"
		if h.cfg.Syncer == nil {
			hint += "; " + h.cfg.SyncNotConfiguredHint + " to sync it on demand"
		}
		return http.StatusNotFound, apiError{Code: "not_synced", Message: "your profile has not been synced yet", Hint: hint}
	case errors.Is(err, errSyncNotConfigured):
		return http.StatusServiceUnavailable, apiError{Code: "sync_not_configured",
			Message: "syncing from Clerk is not configured on this server", Hint: h.cfg.SyncNotConfiguredHint}
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, apiError{Code: "clerk_timeout",
			Message: "Clerk did not answer in time; nothing was changed, try again in a moment"}
	}
	var apiErr *clerkapi.APIError
	switch clerksync.ErrorCode(err) {
	case clerksync.EUNAVAILABLE:
		var netErr net.Error
		var urlErr *url.Error
		if errors.As(err, &apiErr) || errors.As(err, &netErr) || errors.As(err, &urlErr) {
			return http.StatusBadGateway, apiError{Code: "clerk_unavailable",
				Message: "Clerk is not answering right now; nothing was changed, try again in a moment", RetryAfter: 5}
		}
		return http.StatusServiceUnavailable, apiError{Code: "unavailable",
			Message: "the database is unavailable; nothing was changed, try again in a moment", RetryAfter: 5}
	case clerksync.EOVERLOADED:
		return http.StatusServiceUnavailable, apiError{Code: "overloaded", Message: "the server is busy; try again in a moment", RetryAfter: 1}
	case clerksync.ECONFIG:
		return http.StatusBadGateway, apiError{Code: "clerk_config",
			Message: "Clerk refused this server's credentials; nothing was changed (the operator must check CLERK_SECRET_KEY)"}
	case clerksync.EINVALID:
		return http.StatusBadRequest, apiError{Code: "invalid", Message: clerksync.ErrorMessage(err)}
	}
	return http.StatusInternalServerError, apiError{Code: "internal", Message: "internal error; nothing was changed"}
}

// writeAuthError answers a request whose session could not be verified.
func (h *profileHandler) writeAuthError(w http.ResponseWriter, err error) {
	status, e := authErrorAnswer(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="clerksync"`)
	} else {
		h.log.Warn("Session token could not be checked", attrError, err)
	}
	writeAPIError(w, status, e)
}

// authErrorAnswer is the answer to a session error: 401 for a missing or rejected
// token, 503 when Clerk's keys could not be fetched.
func authErrorAnswer(err error) (int, apiError) {
	switch {
	case errors.Is(err, errSessionPending):
		return http.StatusUnauthorized, apiError{Code: "unauthorized", Message: "finish signing in first"}
	case clerksync.ErrorCode(err) == clerksync.EUNAVAILABLE:
		return http.StatusServiceUnavailable, apiError{Code: "unavailable",
			Message: "Clerk's signing keys could not be fetched; try again in a moment", RetryAfter: 5}
	case clerksync.ErrorCode(err) == clerksync.EUNAUTHORIZED:
		return http.StatusUnauthorized, apiError{Code: "unauthorized", Message: clerksync.ErrorMessage(err),
			Hint: "sign in to the application; the request must carry Clerk's __session cookie or an Authorization: Bearer session token"}
	}
	return http.StatusUnauthorized, apiError{Code: "unauthorized", Message: "invalid session token"}
}
