package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/session"
)

// errSessionPending rejects a session that is signed in but has tasks left (such as
// choosing an organization): Clerk's own SDKs treat it as signed out.
var errSessionPending = &clerksync.Error{Code: clerksync.EUNAUTHORIZED, Message: "finish signing in first"}

// authenticate returns the claims of the request's session token.
func (h *profileHandler) authenticate(r *http.Request) (*session.Claims, error) {
	claims, err := h.cfg.Sessions.VerifyRequest(r)
	if err != nil {
		return nil, err
	}
	if claims.SessionStatus == "pending" {
		return nil, errSessionPending
	}
	if err := h.checkParty(r, claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// checkParty refuses a token made for a page of another origin (azp) than this
// server's own, when no authorized parties are configured (the verifier checks azp
// against them when they are): a token another site's page obtained must not open
// this server's routes. A token without azp passes, as Clerk omits it when the browser
// sent no Origin.
func (h *profileHandler) checkParty(r *http.Request, claims *session.Claims) error {
	if len(h.parties) > 0 || claims.AuthorizedParty == "" {
		return nil
	}
	self := h.selfOrigin(r)
	if normalizeOrigin(claims.AuthorizedParty) == self {
		return nil
	}
	h.log.Info("Session token refused: made for a page of another origin; list the application's origins in CLERK_AUTHORIZED_PARTIES, or set CLERKSYNC_PUBLIC_URL if a proxy changes the Host",
		"azp", claims.AuthorizedParty, "server_origin", self)
	return fmt.Errorf("%w: azp %q is not this server's origin %s", session.ErrUnauthorizedParty, claims.AuthorizedParty, self)
}

// isBearer reports whether r authenticates with an Authorization: Bearer header, which
// a browser never adds on its own to a cross-site request (unlike a cookie).
func isBearer(r *http.Request) bool {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != ""
}

// Reasons a cookie-authenticated POST is refused; logged, never answered.
var (
	errNoOrigin       = errors.New("no Origin or Referer header")
	errForeignOrigin  = errors.New("origin is neither this server nor an authorized party")
	errOriginMismatch = errors.New("origin differs from the session token's azp")
)

// checkOrigin accepts a state-changing request only from this server's own pages or
// from an authorized party's, and, when the session token names the page it was made
// for (azp), only from that page's origin. When required is false a request without
// Origin or Referer passes (the form post, which has its own CSRF token).
func (h *profileHandler) checkOrigin(r *http.Request, claims *session.Claims, required bool) error {
	origin := requestOrigin(r)
	if origin == "" {
		if required {
			return errNoOrigin
		}
		return nil
	}
	if origin != h.selfOrigin(r) && !h.parties[origin] {
		return errForeignOrigin
	}
	if claims.AuthorizedParty != "" && normalizeOrigin(claims.AuthorizedParty) != origin {
		return errOriginMismatch
	}
	return nil
}

// requestOrigin returns the origin a browser says the request comes from: the Origin
// header, else the origin of the Referer; "" when neither says (or Origin is "null").
func requestOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		if o == "null" {
			return ""
		}
		return normalizeOrigin(o)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return normalizeOrigin(ref)
	}
	return ""
}

// selfOrigin returns this server's origin: PublicURL, or the request's scheme and
// Host.
func (h *profileHandler) selfOrigin(r *http.Request) string {
	if h.public != "" {
		return h.public
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return normalizeOrigin(scheme + "://" + r.Host)
}

// normalizeOrigin returns the origin (lower-case scheme://host[:port], default port
// dropped) of an origin or URL, or "" if s is neither.
func normalizeOrigin(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port
	}
	return scheme + "://" + host
}

// cors lets an authorized party's pages read the answer of a credentialed request.
// Same-origin requests need nothing; other origins get no CORS headers, so the browser
// hides the answer from them.
func (h *profileHandler) cors(w http.ResponseWriter, r *http.Request) bool {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" || !h.parties[normalizeOrigin(origin)] {
		return false
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Access-Control-Allow-Credentials", "true")
	hd.Set("Access-Control-Expose-Headers", "Retry-After")
	return true
}

// handlePreflight answers the CORS preflight of the API routes.
func (h *profileHandler) handlePreflight(w http.ResponseWriter, r *http.Request) {
	if !h.cors(w, r) {
		writeAPIError(w, http.StatusForbidden, apiError{Code: "cors", Message: "origin not allowed",
			Hint: "add the page's origin to CLERK_AUTHORIZED_PARTIES"})
		return
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Methods", "GET, POST")
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	hd.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// csrfToken returns the form token of a session: an HMAC of the user and session ids,
// so it needs no storage, survives the session token's refreshes, and means nothing
// for another session.
func (h *profileHandler) csrfToken(claims *session.Claims) string {
	mac := hmac.New(sha256.New, h.csrfKey)
	mac.Write([]byte("clerksync profile sync\x00"))
	mac.Write([]byte(claims.Subject))
	mac.Write([]byte{0})
	mac.Write([]byte(claims.SessionID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// validCSRF reports whether token is the form token of claims' session.
func (h *profileHandler) validCSRF(claims *session.Claims, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(h.csrfToken(claims)))
}
