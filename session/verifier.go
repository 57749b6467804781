package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwt"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
)

// maxTokenSize caps the length of a token; Clerk's session tokens are under 2 KiB, and
// a cookie cannot exceed 4 KiB.
const maxTokenSize = 16 << 10

// Verifier checks Clerk session tokens. It is safe for concurrent use.
type Verifier struct {
	pem      *clerk.JSONWebKey // networkless verification: the one key
	keys     *keyCache         // otherwise
	source   string
	parties  map[string]bool // nil: any azp
	leeway   time.Duration
	clock    clerk.Clock
	proxyURL *string
}

// NewVerifier returns a Verifier configured by cfg. It makes no request: keys are
// fetched when the first token arrives, or by Refresh. It returns an error with the
// code clerksync.ECONFIG, naming the setting at fault, if cfg is not valid (see
// Config.Validate).
func NewVerifier(cfg Config) (*Verifier, error) {
	src, err := cfg.source()
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	v := &Verifier{clock: clockFunc(now), leeway: cfg.Leeway}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	}
	if len(cfg.AuthorizedParties) > 0 {
		v.parties = make(map[string]bool, len(cfg.AuthorizedParties))
		for _, p := range cfg.AuthorizedParties {
			o, err := normalizeOrigin(p)
			if err != nil {
				return nil, err
			}
			v.parties[o] = true
		}
	}
	if cfg.ProxyURL != "" {
		p := strings.TrimSuffix(cfg.ProxyURL, "/")
		v.proxyURL = &p
	}

	interval := cfg.RefetchInterval
	if interval <= 0 {
		interval = DefaultRefetchInterval
	}
	ttl := cfg.CacheTTL
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	switch {
	case src.pem != nil:
		v.pem = src.pem
		v.source = "CLERK_JWT_KEY"
	case src.url != "":
		v.source = src.url
		v.keys = newKeyCache(func(ctx context.Context) ([]*clerk.JSONWebKey, error) {
			return fetchURL(ctx, client, src.url)
		}, v.source, now, interval, ttl, log)
	default:
		v.source = src.apiURL + "/jwks"
		v.keys = newKeyCache(func(ctx context.Context) ([]*clerk.JSONWebKey, error) {
			return fetchAPI(ctx, client, src.apiURL, src.secretKey)
		}, v.source, now, interval, ttl, log)
	}
	return v, nil
}

// KeySource says where v gets its keys, for a log line at start: the URL of the key
// set, or CLERK_JWT_KEY. It holds no secret.
func (v *Verifier) KeySource() string { return v.source }

// Refresh fetches the key set now, whatever the refetch interval, so that a server can
// warm its cache and report a wrong setting at start. It returns an error wrapping
// ErrJWKSUnavailable if the key set cannot be fetched, and nil at once for networkless
// verification.
func (v *Verifier) Refresh(ctx context.Context) error {
	if v.keys == nil {
		return nil
	}
	return v.keys.forceRefresh(ctx)
}

// VerifyRequest verifies the session token r carries (see TokenFromRequest). It returns
// ErrNoToken if r carries none, and otherwise what Verify returns.
func (v *Verifier) VerifyRequest(r *http.Request) (*Claims, error) {
	token, ok := TokenFromRequest(r)
	if !ok {
		return nil, ErrNoToken
	}
	return v.Verify(r.Context(), token)
}

// Verify checks that token is a Clerk session token signed with RS256 by one of the
// instance's keys, current (exp, nbf and iat within the leeway), living no longer than
// MaxTokenLifetime, issued by a Clerk Frontend API (or the configured proxy), about a
// user and a session (sub and sid), and made for an authorized party, and returns its
// claims. It returns ErrNoToken for an empty token, an error
// wrapping ErrInvalidToken, ErrExpired, ErrNotYetValid or ErrUnauthorizedParty for a
// token it rejects, and one wrapping ErrJWKSUnavailable if the keys needed to check the
// token could not be fetched.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	if err := checkCompact(token); err != nil {
		return nil, err
	}
	parsed, err := josejwt.ParseSigned(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if len(parsed.Headers) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrInvalidToken, len(parsed.Headers))
	}
	// Only RS256, checked before any key is looked up: "none", and HS256 with the
	// public key as the HMAC secret, are the classic forgeries.
	if alg := parsed.Headers[0].Algorithm; alg != "RS256" {
		return nil, fmt.Errorf("%w: algorithm %q is not RS256", ErrInvalidToken, alg)
	}

	key := v.pem
	if key == nil {
		key, err = v.keys.key(ctx, parsed.Headers[0].KeyID)
		if err != nil {
			return nil, err
		}
	}

	// The SDK checks the signature, the algorithm against the key's, exp, nbf and iat,
	// and the issuer. The azp check is done below rather than through its
	// AuthorizedPartyHandler, whose error could not be told apart from the others.
	sc, err := jwt.Verify(ctx, &jwt.VerifyParams{
		Token:                   token,
		JWK:                     key,
		Clock:                   v.clock,
		Leeway:                  v.leeway,
		ProxyURL:                v.proxyURL,
		CustomClaimsConstructor: func(context.Context) any { return new(extraClaims) },
	})
	switch {
	case err == nil:
	case errors.Is(err, josejwt.ErrExpired):
		return nil, fmt.Errorf("%w: %w", ErrExpired, err)
	case errors.Is(err, josejwt.ErrNotValidYet), errors.Is(err, josejwt.ErrIssuedInTheFuture):
		return nil, fmt.Errorf("%w: %w", ErrNotYetValid, err)
	default:
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}

	// go-jose accepts a token without exp, which would then never expire; Clerk's
	// session tokens always have one.
	if sc.Expiry == nil {
		return nil, fmt.Errorf("%w: no exp claim", ErrInvalidToken)
	}
	if sc.IssuedAt == nil {
		return nil, fmt.Errorf("%w: no iat claim", ErrInvalidToken)
	}
	if sc.Subject == "" {
		return nil, fmt.Errorf("%w: no sub claim", ErrInvalidToken)
	}
	// A token signed by the instance's key is not necessarily a session token: the
	// tokens of JWT templates, made for other services and often long-lived, are signed
	// by it too. A session token names its session and lives a minute.
	if sc.SessionID == "" {
		return nil, fmt.Errorf("%w: no sid claim: not a session token (a JWT template's?)", ErrInvalidToken)
	}
	if life := time.Duration(*sc.Expiry-*sc.IssuedAt) * time.Second; life > MaxTokenLifetime {
		return nil, fmt.Errorf("%w: lives %s from iat to exp, longer than a session token may (%s)", ErrInvalidToken, life, MaxTokenLifetime)
	}
	if v.parties != nil && sc.AuthorizedParty != "" && !v.parties[sc.AuthorizedParty] {
		return nil, fmt.Errorf("%w: azp %q", ErrUnauthorizedParty, sc.AuthorizedParty)
	}

	c := &Claims{
		Subject:                 sc.Subject,
		SessionID:               sc.SessionID,
		AuthorizedParty:         sc.AuthorizedParty,
		Issuer:                  sc.Issuer,
		IssuedAt:                unixTime(sc.IssuedAt),
		NotBefore:               unixTime(sc.NotBefore),
		Expiry:                  unixTime(sc.Expiry),
		Version:                 sc.Version,
		OrganizationID:          sc.ActiveOrganizationID,
		OrganizationSlug:        sc.ActiveOrganizationSlug,
		OrganizationRole:        sc.ActiveOrganizationRole,
		OrganizationPermissions: sc.ActiveOrganizationPermissions,
		Actor:                   sc.Actor,
		FactorVerificationAge:   sc.FactorVerificationAge,
	}
	if x, ok := sc.Custom.(*extraClaims); ok {
		c.SessionStatus = x.SessionStatus
		// jwt.Verify (v2.4.2) sets Version to 1 for every token without an active
		// organization, v2 ones included; v itself is the truth.
		if x.Version != 0 {
			c.Version = x.Version
		}
	}
	return c, nil
}

// extraClaims holds the claims of Clerk's session tokens that the SDK does not decode,
// or does not report faithfully.
type extraClaims struct {
	SessionStatus string `json:"sts"`
	Version       int    `json:"v"`
}

// checkCompact returns an error wrapping ErrInvalidToken unless token has the compact
// form of a signed JWT: three non-empty base64url parts. go-jose also parses the JSON
// form (with unprotected headers), which Clerk never sends, and an empty signature is
// an unsigned token.
func checkCompact(token string) error {
	if len(token) > maxTokenSize {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenSize)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fmt.Errorf("%w: not a compact JWT", ErrInvalidToken)
	}
	for _, p := range parts {
		if p == "" || strings.IndexFunc(p, func(r rune) bool {
			return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_'
		}) >= 0 {
			return fmt.Errorf("%w: not a compact JWT", ErrInvalidToken)
		}
	}
	return nil
}

func unixTime(sec *int64) time.Time {
	if sec == nil {
		return time.Time{}
	}
	return time.Unix(*sec, 0)
}

// clockFunc adapts a func to the SDK's clerk.Clock.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }
