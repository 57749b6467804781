package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/pull"
	"github.com/clerksync/clerksync/session"
	"github.com/clerksync/clerksync/svixsig"
	"github.com/clerksync/clerksync/web"
)

// keyCheckTimeout bounds the fetch of Clerk's signing keys at start.
const keyCheckTimeout = 10 * time.Second

// profileSettings are serve's settings for the profile page, its API and the drop-in
// sync-on-visit script: how session tokens are verified, which origins may call, and
// how to read a user from Clerk.
type profileSettings struct {
	jwtKey         string // CLERK_JWT_KEY: a PEM key, environment only
	jwksURL        string
	publishableKey string
	secretKey      string // CLERK_SECRET_KEY: environment only
	apiURL         string // CLERK_API_URL: environment only
	parties        string
	signInURL      string
	publicURL      string
	syncInterval   time.Duration
	maxAge         time.Duration

	// dev is set by `clerksync dev`: pages carry the development banner.
	dev bool
	// signOutURL, set by `clerksync dev`, is where the Sign out button posts (the
	// emulator's sign-out); empty for serve's own /profile/sign-out.
	signOutURL string
	// wrap, set by `clerksync dev`, wraps the server's handler (the emulator's routes).
	wrap func(http.Handler) http.Handler

	verifier *session.Verifier // after config, when tokens are verified with a key set
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// register adds the profile flags to fs, with defaults from the environment. Keys that
// are secret or span lines (CLERK_SECRET_KEY, CLERK_JWT_KEY) are read from the
// environment only, so that they never show in a process listing.
func (p *profileSettings) register(fs *flag.FlagSet, getenv func(string) string) {
	p.jwtKey = strings.TrimSpace(getenv("CLERK_JWT_KEY"))
	p.secretKey = strings.TrimSpace(getenv("CLERK_SECRET_KEY"))
	p.apiURL = strings.TrimSpace(getenv("CLERK_API_URL"))
	fs.StringVar(&p.jwksURL, "jwks-url", strings.TrimSpace(getenv("CLERK_JWKS_URL")),
		"URL of the Clerk instance's JSON Web Key Set, to verify session tokens for the profile page (env CLERK_JWKS_URL)")
	fs.StringVar(&p.publishableKey, "publishable-key", firstEnv(getenv, "CLERK_PUBLISHABLE_KEY", "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY"),
		"Clerk publishable key, pk_…; session tokens are verified with its instance's keys (env CLERK_PUBLISHABLE_KEY)")
	fs.StringVar(&p.parties, "authorized-parties", getenv("CLERK_AUTHORIZED_PARTIES"),
		"origins of the application's pages, comma-separated, such as https://app.example.com: checked against tokens' azp, allowed to call the profile API cross-origin (env CLERK_AUTHORIZED_PARTIES)")
	fs.StringVar(&p.signInURL, "sign-in-url", firstEnv(getenv, "CLERK_SIGN_IN_URL", "NEXT_PUBLIC_CLERK_SIGN_IN_URL"),
		"the application's sign-in page, linked from /profile when nobody is signed in (env CLERK_SIGN_IN_URL)")
	fs.StringVar(&p.publicURL, "public-url", getenv("CLERKSYNC_PUBLIC_URL"),
		"this server's origin as browsers reach it, such as https://clerksync.example.com (default: from each request's Host) (env CLERKSYNC_PUBLIC_URL)")
	fs.DurationVar(&p.syncInterval, "profile-sync-interval", envDuration(getenv, "CLERKSYNC_PROFILE_SYNC_INTERVAL", web.DefaultSyncInterval),
		"least time between two syncs of one user from the Clerk API by the profile page or script (env CLERKSYNC_PROFILE_SYNC_INTERVAL)")
	fs.DurationVar(&p.maxAge, "profile-sync-max-age", envDuration(getenv, "CLERKSYNC_PROFILE_SYNC_MAX_AGE", web.DefaultMaxAge),
		"profile-sync.js syncs a visitor whose row is older than this, unless its data-max-age says otherwise (env CLERKSYNC_PROFILE_SYNC_MAX_AGE)")
}

// firstEnv returns the first of keys that is set.
func firstEnv(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return ""
}

// envDuration reads a duration from the environment, def when unset or malformed
// (ParseFlags then reports nothing: the flag's default is what is used).
func envDuration(getenv func(string) string, key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(strings.TrimSpace(getenv(key))); err == nil {
		return d
	}
	return def
}

// keySetting names the setting that says how session tokens are verified.
type keySetting struct {
	name  string
	value string
}

// keySettings returns the settings that are set, in order of precedence: a PEM key
// verifies without any request, a JWKS URL is explicit, a publishable key is derived.
func (p *profileSettings) keySettings() []keySetting {
	var set []keySetting
	for _, k := range []keySetting{
		{"CLERK_JWT_KEY", p.jwtKey},
		{"CLERK_JWKS_URL", p.jwksURL},
		{"CLERK_PUBLISHABLE_KEY", p.publishableKey},
	} {
		if k.value != "" {
			set = append(set, k)
		}
	}
	return set
}

// sessionConfig returns the verifier's configuration: the setting of highest
// precedence (many applications' .env files hold several), or CLERK_SECRET_KEY's
// Backend API key set as a last resort. It returns false when nothing is set.
func (p *profileSettings) sessionConfig() (session.Config, bool) {
	cfg := session.Config{SecretKey: p.secretKey, APIURL: p.apiURL, AuthorizedParties: session.ParseAuthorizedParties(p.parties)}
	set := p.keySettings()
	switch {
	case len(set) > 0:
		switch set[0].name {
		case "CLERK_JWT_KEY":
			cfg.PEMKey = set[0].value
		case "CLERK_JWKS_URL":
			cfg.JWKSURL = set[0].value
		default:
			cfg.PublishableKey = set[0].value
		}
	case p.secretKey == "":
		return cfg, false
	}
	return cfg, true
}

// validate checks the settings; its errors name the setting and say how to fix it.
func (p *profileSettings) validate() error {
	if p.syncInterval <= 0 {
		return usagef("--profile-sync-interval must be positive, such as 5s (env CLERKSYNC_PROFILE_SYNC_INTERVAL)")
	}
	if p.maxAge <= 0 {
		return usagef("--profile-sync-max-age must be positive, such as 15m (env CLERKSYNC_PROFILE_SYNC_MAX_AGE)")
	}
	if p.publicURL != "" {
		u, err := url.Parse(p.publicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return usagef("--public-url %q (env CLERKSYNC_PUBLIC_URL) is not an origin: give the scheme and host browsers use, such as https://clerksync.example.com", p.publicURL)
		}
	}
	if cfg, ok := p.sessionConfig(); ok {
		if err := cfg.Validate(); err != nil {
			return &usageError{err}
		}
	}
	if p.secretKey != "" {
		if _, err := clerkapi.New(clerkapi.Config{SecretKey: p.secretKey, BaseURL: p.apiURL}); err != nil {
			return &usageError{err}
		}
	}
	return nil
}

// config builds the profile routes' configuration and logs how they are set up.
// Without any Clerk key they answer "not configured"; webhooks are not affected.
func (p *profileSettings) config(logger *slog.Logger, store clerksync.Store, eng pull.Applier, decode clerkdecode.Options,
	client *clerkapi.Client, webhookSecrets []string) (*web.ProfileConfig, error) {
	cfg := &web.ProfileConfig{
		AuthorizedParties: session.ParseAuthorizedParties(p.parties),
		PublicURL:         p.publicURL,
		SignInURL:         p.signInURL,
		SignOutURL:        p.signOutURL,
		CSRFKey:           csrfKey(webhookSecrets, p.secretKey),
		SyncInterval:      p.syncInterval,
		MaxAge:            p.maxAge,
		Development:       p.dev,
	}
	if client != nil {
		cfg.Syncer = &pull.Syncer{Client: client, Engine: eng, Store: store, Decode: decode, Logger: logger}
		cfg.Revoker = client // Sign out ends the Clerk session, not only this page's cookie
	}

	scfg, ok := p.sessionConfig()
	if !ok {
		logger.Info("profile page not configured: /profile and /api/profile answer 503 until CLERK_PUBLISHABLE_KEY (or CLERK_JWKS_URL, CLERK_JWT_KEY, CLERK_SECRET_KEY) is set")
		return cfg, nil
	}
	scfg.Logger = logger
	verifier, err := session.NewVerifier(scfg)
	if err != nil {
		return nil, &usageError{err}
	}
	cfg.Sessions = verifier
	p.verifier = verifier

	set := p.keySettings()
	using := "CLERK_SECRET_KEY (the Backend API's key set)"
	if len(set) > 0 {
		using = set[0].name
	}
	attrs := []any{"session_keys", verifier.KeySource()}
	if len(set) > 1 {
		var ignored []string
		for _, k := range set[1:] {
			ignored = append(ignored, k.name)
		}
		attrs = append(attrs, "ignored", strings.Join(ignored, ","))
		using += " (also set, ignored: " + strings.Join(ignored, ", ") + "; precedence CLERK_JWT_KEY > CLERK_JWKS_URL > CLERK_PUBLISHABLE_KEY)"
	}
	logger.Info("profile page: session tokens verified with "+using, attrs...)
	if cfg.Syncer == nil {
		logger.Info("profile page: Sync User Data and sync on visit are off until CLERK_SECRET_KEY is set")
	}
	if len(cfg.AuthorizedParties) == 0 {
		logger.Info("profile page: CLERK_AUTHORIZED_PARTIES is not set: only session tokens made for this server's own origin (or for none) are accepted, and only its own pages may call /api/profile/sync with cookies")
	}
	return cfg, nil
}

// csrfKey derives the key of the profile form's CSRF tokens from the webhook secret,
// or from the Clerk secret key when serve polls without webhooks, so that every
// replica has the same key without another setting; the derivation is one-way, so
// the derived key reveals neither. It returns nil (a random key) when neither is set.
func csrfKey(webhookSecrets []string, secretKey string) []byte {
	var secret []byte
	if len(webhookSecrets) > 0 {
		secret, _ = svixsig.DecodeSecret(webhookSecrets[0])
	}
	if len(secret) == 0 && secretKey != "" {
		secret = []byte(secretKey)
	}
	if len(secret) == 0 {
		return nil
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("clerksync profile csrf key"))
	return mac.Sum(nil)
}

// handler wraps the server's handler for dev mode, and returns it as is otherwise.
func (p *profileSettings) handler(h http.Handler) http.Handler {
	if p.wrap != nil {
		return p.wrap(h)
	}
	return h
}

// start fetches Clerk's signing keys once in the background, so that a wrong
// CLERK_PUBLISHABLE_KEY or CLERK_JWKS_URL shows in the log at start rather than at the
// first visit. Failing is only a warning: tokens fetch the keys again when they come.
func (p *profileSettings) start(logger *slog.Logger) {
	if p.verifier == nil || p.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	v := p.verifier
	p.wg.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, keyCheckTimeout)
		defer cancel()
		if err := v.Refresh(ctx); err != nil {
			if ctx.Err() == nil || ctx.Err() == context.DeadlineExceeded {
				logger.Warn("profile page: Clerk's signing keys could not be fetched; signed-in requests fail until they can",
					"session_keys", v.KeySource(), "error", err)
			}
			return
		}
		logger.Debug("profile page: Clerk's signing keys fetched", "session_keys", v.KeySource())
	})
}

// stop ends the key check started by start and waits for it.
func (p *profileSettings) stop() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
}

// listen returns the listener `clerksync dev` opened before starting serve (it needs
// the address first), or listens on --addr.
func (c *ServeCommand) listen(ctx context.Context) (net.Listener, error) {
	if c.listener != nil {
		return c.listener, nil
	}
	return (&net.ListenConfig{}).Listen(ctx, "tcp", c.addr)
}
