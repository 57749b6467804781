package session

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
)

// Attribute keys of the log lines of this package.
const (
	attrSource = "jwks_source"
	attrKeys   = "keys"
	attrError  = "error"
)

// maxJWKSSize caps the body of a key set; Clerk's holds one or two keys (under 1 KiB).
const maxJWKSSize = 1 << 20

// keyCache holds the keys of a key set by kid and fetches the set again when a token
// names a kid it does not hold, at most once per refetch interval, or when its keys are
// older than the TTL. Fetches happen one at a time; a failed fetch counts against the
// interval too, so a key set that is down is not hammered either.
type keyCache struct {
	fetch    func(context.Context) ([]*clerk.JSONWebKey, error)
	source   string // names the key set in logs and errors; holds no secret
	now      func() time.Time
	interval time.Duration
	ttl      time.Duration
	log      *slog.Logger

	// fetching is a semaphore: the goroutine that holds it may fetch. A channel rather
	// than a mutex so that waiting for it respects the caller's context.
	fetching chan struct{}

	mu        sync.Mutex
	keys      map[string]*clerk.JSONWebKey
	fetchedAt time.Time // last successful fetch (zero: never)
	triedAt   time.Time // last fetch, successful or not (zero: never)
	lastErr   error     // why the last fetch failed; nil if it succeeded
}

func newKeyCache(fetch func(context.Context) ([]*clerk.JSONWebKey, error), source string, now func() time.Time, interval, ttl time.Duration, log *slog.Logger) *keyCache {
	return &keyCache{
		fetch:    fetch,
		source:   source,
		now:      now,
		interval: interval,
		ttl:      ttl,
		log:      log,
		fetching: make(chan struct{}, 1),
	}
}

// key returns the key with id kid. It returns an error wrapping ErrInvalidToken when
// the key set has no such key, and one wrapping ErrJWKSUnavailable when the key set
// could not be fetched.
func (c *keyCache) key(ctx context.Context, kid string) (*clerk.JSONWebKey, error) {
	if kid == "" {
		return nil, fmt.Errorf("%w: no kid in the token header", ErrInvalidToken)
	}
	if k, fresh := c.lookup(kid); k != nil && fresh {
		return k, nil
	}

	select {
	case c.fetching <- struct{}{}:
		defer func() { <-c.fetching }()
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for jwks fetch: %w", ctx.Err())
	}

	// Another goroutine may have fetched while this one waited.
	k, fresh := c.lookup(kid)
	if k != nil && fresh {
		return k, nil
	}
	c.mu.Lock()
	now := c.now()
	mayFetch := c.triedAt.IsZero() || now.Sub(c.triedAt) >= c.interval
	lastErr := c.lastErr
	c.mu.Unlock()

	if !mayFetch {
		switch {
		case k != nil:
			return k, nil // old, but a refresh was tried a moment ago
		case lastErr != nil:
			return nil, fmt.Errorf("%w: %s: %w", ErrJWKSUnavailable, c.source, lastErr)
		}
		return nil, unknownKID(kid)
	}

	if err := c.refresh(ctx); err != nil {
		if k != nil && ctx.Err() == nil {
			// Keep accepting the keys already known rather than locking everybody
			// out while the key set is unreachable.
			c.log.Warn("Could not refresh Clerk signing keys; using cached keys", attrSource, c.source, attrError, err)
			return k, nil
		}
		return nil, err
	}
	if k, _ := c.lookup(kid); k != nil {
		return k, nil
	}
	return nil, unknownKID(kid)
}

func unknownKID(kid string) error {
	return fmt.Errorf("%w: no key with kid %q in the key set", ErrInvalidToken, kid)
}

// lookup returns the cached key kid (nil if none) and whether the cache is fresh.
func (c *keyCache) lookup(kid string) (*clerk.JSONWebKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fresh := !c.fetchedAt.IsZero() && c.now().Sub(c.fetchedAt) < c.ttl
	return c.keys[kid], fresh
}

// refresh fetches the key set and replaces the cached keys. Its caller holds the
// fetching semaphore. A fetch cut short by ctx is not recorded, so that a client that
// hung up does not make the key set look down.
func (c *keyCache) refresh(ctx context.Context) error {
	keys, err := c.fetch(ctx)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("fetch jwks: %w", ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.triedAt = c.now()
	c.lastErr = err
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJWKSUnavailable, c.source, err)
	}
	c.keys = make(map[string]*clerk.JSONWebKey, len(keys))
	for _, k := range keys {
		c.keys[k.KeyID] = k
	}
	c.fetchedAt = c.triedAt
	c.log.Debug("Fetched Clerk signing keys", attrSource, c.source, attrKeys, len(keys))
	return nil
}

// forceRefresh fetches the key set now, whatever the interval.
func (c *keyCache) forceRefresh(ctx context.Context) error {
	select {
	case c.fetching <- struct{}{}:
		defer func() { <-c.fetching }()
	case <-ctx.Done():
		return fmt.Errorf("wait for jwks fetch: %w", ctx.Err())
	}
	return c.refresh(ctx)
}

// fetchURL fetches the public key set at url with a plain GET. The SDK's jwks.Client
// does not fit here: it calls the Backend API ({APIURL}/jwks) with a secret key, while
// a Frontend API's /.well-known/jwks.json is a public document.
func fetchURL(ctx context.Context, client *http.Client, url string) ([]*clerk.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err // already names the method and the URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("read key set: %w", err)
	}
	if len(body) > maxJWKSSize {
		return nil, fmt.Errorf("key set larger than %d bytes", maxJWKSSize)
	}
	return parseJWKS(body)
}

// parseJWKS decodes a key set and keeps its usable keys. Each key is decoded on its
// own, so that a key of a type this package does not know does not hide the others.
func parseJWKS(body []byte) ([]*clerk.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}
	keys := make([]*clerk.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		k := new(clerk.JSONWebKey)
		if err := json.Unmarshal(raw, k); err != nil {
			continue
		}
		keys = append(keys, k)
	}
	return usableKeys(keys)
}

// fetchAPI fetches the key set from the Backend API with the SDK's jwks client.
func fetchAPI(ctx context.Context, client *http.Client, apiURL, secretKey string) ([]*clerk.JSONWebKey, error) {
	c := jwks.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
		HTTPClient: client,
		URL:        &apiURL,
		Key:        &secretKey,
	}})
	set, err := c.Get(ctx, &jwks.GetParams{})
	if err != nil {
		var apiErr *clerk.APIErrorResponse
		if errors.As(err, &apiErr) {
			// Its Error() is the whole JSON answer; the status says enough.
			return nil, fmt.Errorf("backend api answered %d", apiErr.HTTPStatusCode)
		}
		return nil, err
	}
	return usableKeys(set.Keys)
}

// usableKeys returns the RS256 signing keys of keys: RSA public keys of at least
// minRSABits with a kid. It returns an error if there is none, since a key set without
// them would reject every token.
func usableKeys(keys []*clerk.JSONWebKey) ([]*clerk.JSONWebKey, error) {
	var usable []*clerk.JSONWebKey
	for _, k := range keys {
		if k == nil || k.KeyID == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != "RS256" {
			continue
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() < minRSABits {
			continue
		}
		// jwt.Verify compares the token's alg with the key's; a key published
		// without alg is an RS256 key here, since nothing else is accepted.
		k.Algorithm = "RS256"
		usable = append(usable, k)
	}
	if len(usable) == 0 {
		return nil, fmt.Errorf("key set has no RS256 signing key (of %d keys)", len(keys))
	}
	return usable, nil
}
