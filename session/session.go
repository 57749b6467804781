// Package session verifies the session tokens Clerk gives to signed-in people, and
// mints such tokens for development and tests.
//
// Clerk's browser SDK keeps a short-lived (60 s) RS256 JSON Web Token in the __session
// cookie of the application's domain and sends it as "Authorization: Bearer <token>"
// on cross-origin requests. A Verifier checks such a token against Clerk's public keys
// (fetched from a JSON Web Key Set and cached by key id, or given as a PEM key for
// networkless verification) and returns who is signed in. An Issuer plays Clerk's part:
// it holds a key pair, serves its JSON Web Key Set and mints tokens of Clerk's shape.
package session

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
)

// CookieName is the name of the cookie in which Clerk keeps the session token on the
// application's own domain.
const CookieName = "__session"

// MaxTokenLifetime is the longest a session token may live, from iat to exp. Clerk's
// session tokens live 60 seconds; a token that lives longer is not one (the token of a
// JWT template, say, which an application may hand to another service for hours), and
// a stolen one would open the profile routes for as long.
const MaxTokenLifetime = 10 * time.Minute

// The errors Verify returns. Callers branch on them with errors.Is; the returned error
// may wrap one of them with details for the log (which claim failed, why a key could
// not be fetched), which must not be sent back to the caller. Every rejection of a
// token has the code clerksync.EUNAUTHORIZED (an HTTP 401), ErrJWKSUnavailable has
// clerksync.EUNAVAILABLE (an HTTP 503), and clerksync.ErrorMessage gives a message that
// is safe to show.
var (
	// ErrNoToken means that the request carries no session token: nobody is signed in.
	ErrNoToken = &clerksync.Error{Code: clerksync.EUNAUTHORIZED, Message: "not signed in"}
	// ErrInvalidToken means that the token is malformed, not signed with RS256, signed
	// with a key Clerk does not publish, altered, or lacks a claim a session token has.
	ErrInvalidToken = &clerksync.Error{Code: clerksync.EUNAUTHORIZED, Message: "invalid session token"}
	// ErrExpired means that the token's exp lies further in the past than the leeway
	// allows. Clerk's browser SDK refreshes tokens every minute, so a fresh request
	// normally carries a fresh token.
	ErrExpired = &clerksync.Error{Code: clerksync.EUNAUTHORIZED, Message: "session token expired"}
	// ErrNotYetValid means that the token's nbf or iat lies further in the future than
	// the leeway allows: a token minted ahead of time, or a clock far behind.
	ErrNotYetValid = &clerksync.Error{Code: clerksync.EUNAUTHORIZED, Message: "session token not valid yet"}
	// ErrUnauthorizedParty means that the token names, in azp, an origin that is not
	// one of the configured authorized parties.
	ErrUnauthorizedParty = &clerksync.Error{Code: clerksync.EUNAUTHORIZED, Message: "session token issued to an unauthorized origin"}
	// ErrJWKSUnavailable means that the token could not be checked because Clerk's
	// public keys could not be fetched. It says nothing about the token; try later.
	ErrJWKSUnavailable = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "Clerk signing keys unavailable"}
)

// Claims is what a verified session token says about the person who presented it.
type Claims struct {
	// Subject is the Clerk user id (sub), such as "user_2abc…".
	Subject string
	// SessionID is the Clerk session id (sid), such as "sess_2abc…".
	SessionID string
	// AuthorizedParty is the origin of the page the token was made for (azp), such as
	// "https://example.com"; empty when Clerk had no Origin header.
	AuthorizedParty string
	// Issuer is the Frontend API URL of the Clerk instance (iss).
	Issuer string
	// IssuedAt, NotBefore and Expiry are the iat, nbf and exp claims; zero when absent
	// (only nbf may be).
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	// Version is the version of Clerk's session token claims (v): 2, or 1 for tokens
	// without v.
	Version int
	// SessionStatus is the session's status (sts) in version 2 tokens: "active", or
	// "pending" when the person has signed in but still has tasks to complete (such as
	// choosing an organization). Clerk's own SDKs treat pending sessions as signed out
	// by default; callers that care should do the same.
	SessionStatus string
	// OrganizationID, OrganizationSlug, OrganizationRole and OrganizationPermissions
	// describe the session's active organization, if any.
	OrganizationID          string
	OrganizationSlug        string
	OrganizationRole        string
	OrganizationPermissions []string
	// Actor is the act claim of an impersonation session (who acts as Subject); nil
	// when the person signed in themselves.
	Actor json.RawMessage
	// FactorVerificationAge is fva: the minutes since the first and the second factor
	// were last verified, -1 for a factor never verified.
	FactorVerificationAge [2]int64
}

// TokenFromRequest returns the session token r carries and true, or "" and false if it
// carries none. A bearer token in the Authorization header (cross-origin requests)
// wins over the __session cookie (same-origin requests), as in Clerk's own SDKs.
func TokenFromRequest(r *http.Request) (string, bool) {
	if scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok &&
		strings.EqualFold(scheme, "Bearer") {
		if token = strings.TrimSpace(token); token != "" {
			return token, true
		}
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}
