package session

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"github.com/clerksync/clerksync"
)

// Defaults for the zero values of Config.
const (
	// DefaultAPIURL is Clerk's Backend API, whose /jwks endpoint serves the instance's
	// keys to holders of the secret key.
	DefaultAPIURL = clerk.APIURL
	// DefaultLeeway is how far exp, nbf and iat may be off, for clock skew.
	DefaultLeeway = 5 * time.Second
	// DefaultRefetchInterval is the least time between two fetches of the JSON Web Key
	// Set, so that a flood of tokens with unknown key ids cannot hammer it.
	DefaultRefetchInterval = 10 * time.Second
	// DefaultCacheTTL is how long fetched keys are used before they are fetched again,
	// so that a key Clerk withdraws stops being accepted.
	DefaultCacheTTL = time.Hour
	// DefaultHTTPTimeout bounds a fetch of the JSON Web Key Set with the default client.
	DefaultHTTPTimeout = 10 * time.Second
)

// minRSABits is the smallest RSA key accepted; Clerk's keys have 2048 bits.
const minRSABits = 2048

// Config says where a Verifier finds Clerk's public keys and what tokens it accepts.
//
// At most one of JWKSURL, PublishableKey and PEMKey is set; when none is, SecretKey is
// used to fetch the keys from the Backend API. SecretKey beside one of them is not a
// conflict (it is then unused here), so that a deployment that sets CLERK_SECRET_KEY
// for the Backend API can still choose how tokens are verified.
type Config struct {
	// JWKSURL is the URL of the instance's JSON Web Key Set (CLERK_JWKS_URL), such as
	// https://example.clerk.accounts.dev/.well-known/jwks.json.
	JWKSURL string
	// PublishableKey is the instance's publishable key (CLERK_PUBLISHABLE_KEY); the
	// JSON Web Key Set is fetched from the Frontend API it names.
	PublishableKey string
	// PEMKey is the instance's public key in PEM form (CLERK_JWT_KEY), shown in the
	// Clerk Dashboard under API keys → Show JWT public key; tokens are verified without
	// any request. A key pasted on one line, with literal \n, or without the BEGIN/END
	// lines is accepted too.
	PEMKey string
	// SecretKey is the instance's secret key (CLERK_SECRET_KEY), used to fetch the keys
	// from {APIURL}/jwks when none of the above is set.
	SecretKey string
	// APIURL is the Backend API URL (CLERK_API_URL); DefaultAPIURL when empty.
	APIURL string
	// ProxyURL is the URL of a proxy in front of the Frontend API, if the application
	// uses one; tokens must then have it as their issuer. When empty, the issuer must be
	// a Clerk Frontend API (https://clerk.… or ….clerk.accounts.dev).
	ProxyURL string

	// AuthorizedParties lists the origins (scheme://host[:port]) allowed in azp
	// (CLERK_AUTHORIZED_PARTIES). When set, a token whose azp is present and not in the
	// list is rejected; Clerk omits azp when the browser sent no Origin.
	AuthorizedParties []string
	// Leeway is how far exp, nbf and iat may be off; DefaultLeeway when zero, none when
	// negative.
	Leeway time.Duration
	// RefetchInterval is the least time between two fetches of the key set;
	// DefaultRefetchInterval when zero or negative.
	RefetchInterval time.Duration
	// CacheTTL is how long fetched keys are trusted before they are fetched again;
	// DefaultCacheTTL when zero or negative.
	CacheTTL time.Duration

	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// HTTPClient fetches the key set; a client with DefaultHTTPTimeout when nil.
	HTTPClient *http.Client
	// Logger receives a line when keys are fetched or cannot be refreshed; nothing is
	// logged when nil.
	Logger *slog.Logger
}

// Validate reports whether c can make a Verifier. Its errors have the code
// clerksync.ECONFIG, name the setting at fault and say how to fix it in their hint;
// they never contain a key.
func (c *Config) Validate() error {
	_, err := c.source()
	return err
}

// source returns how keys are obtained, checking the settings involved.
func (c *Config) source() (keySource, error) {
	var none keySource
	var set []string
	if c.JWKSURL != "" {
		set = append(set, "CLERK_JWKS_URL")
	}
	if c.PublishableKey != "" {
		set = append(set, "CLERK_PUBLISHABLE_KEY")
	}
	if c.PEMKey != "" {
		set = append(set, "CLERK_JWT_KEY")
	}
	if len(set) > 1 {
		both := " are both set"
		if len(set) > 2 {
			both = " are all set"
		}
		return none, &clerksync.Error{
			Code:    clerksync.ECONFIG,
			Message: strings.Join(set, " and ") + both,
			Hint:    "set only one of CLERK_PUBLISHABLE_KEY, CLERK_JWKS_URL and CLERK_JWT_KEY to say how session tokens are verified",
		}
	}
	for _, p := range c.AuthorizedParties {
		if _, err := normalizeOrigin(p); err != nil {
			return none, err
		}
	}
	if c.ProxyURL != "" {
		if _, err := checkURL("the Frontend API proxy URL", c.ProxyURL, "give the proxy's https URL"); err != nil {
			return none, err
		}
	}

	switch {
	case c.PEMKey != "":
		key, err := parsePEMKey(c.PEMKey)
		if err != nil {
			return none, err
		}
		return keySource{pem: key}, nil
	case c.JWKSURL != "":
		u, err := checkURL("CLERK_JWKS_URL", c.JWKSURL, "copy the JWKS URL from the Clerk Dashboard → API keys, or set CLERK_PUBLISHABLE_KEY instead")
		if err != nil {
			return none, err
		}
		return keySource{url: u}, nil
	case c.PublishableKey != "":
		u, err := JWKSURLFromPublishableKey(c.PublishableKey)
		if err != nil {
			return none, err
		}
		return keySource{url: u}, nil
	case c.SecretKey != "":
		apiURL := c.APIURL
		if apiURL == "" {
			apiURL = DefaultAPIURL
		}
		u, err := checkURL("CLERK_API_URL", apiURL, "leave CLERK_API_URL unset to use "+DefaultAPIURL)
		if err != nil {
			return none, err
		}
		return keySource{apiURL: strings.TrimSuffix(u, "/"), secretKey: c.SecretKey}, nil
	}
	return none, &clerksync.Error{
		Code:    clerksync.ECONFIG,
		Message: "session tokens cannot be verified: no Clerk key is configured",
		Hint:    "set CLERK_PUBLISHABLE_KEY (Clerk Dashboard → API keys), or CLERK_JWKS_URL, or CLERK_JWT_KEY for networkless verification",
	}
}

// keySource is where a Verifier gets its keys: exactly one field is set, or apiURL and
// secretKey together.
type keySource struct {
	pem       *clerk.JSONWebKey // networkless: the one key, whatever the token's kid
	url       string            // a public JSON Web Key Set
	apiURL    string            // the Backend API, whose /jwks needs secretKey
	secretKey string
}

// checkURL returns s if it is an absolute http(s) URL, and an ECONFIG error naming
// setting otherwise. Plain http is allowed only to loopback hosts (a local emulator):
// keys fetched over plain http from elsewhere could be replaced on the way.
func checkURL(setting, s, hint string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", &clerksync.Error{Code: clerksync.ECONFIG, Message: setting + " is not an http(s) URL", Hint: hint}
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "", &clerksync.Error{
			Code:    clerksync.ECONFIG,
			Message: setting + " uses plain http to a host that is not local",
			Hint:    "use https; plain http is only accepted for localhost",
		}
	}
	return s, nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseAuthorizedParties splits the value of CLERK_AUTHORIZED_PARTIES, origins
// separated by commas or spaces, into a list for Config.AuthorizedParties. It returns
// nil for an empty value.
func ParseAuthorizedParties(s string) []string {
	parties := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(parties) == 0 {
		return nil
	}
	return parties
}

// normalizeOrigin returns origin as azp carries it (scheme://host[:port], no trailing
// slash), or an ECONFIG error if it is not an origin.
func normalizeOrigin(origin string) (string, error) {
	o := strings.TrimSuffix(strings.TrimSpace(origin), "/")
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", &clerksync.Error{
			Code:    clerksync.ECONFIG,
			Message: fmt.Sprintf("CLERK_AUTHORIZED_PARTIES: %q is not an origin", origin),
			Hint:    "list origins such as https://example.com or http://localhost:3000, separated by commas",
		}
	}
	return o, nil
}

// publishableKeyHint says where a publishable key is found; it names no value.
const publishableKeyHint = "copy the Publishable key from the Clerk Dashboard → API keys; it starts with pk_test_ or pk_live_"

// JWKSURLFromPublishableKey returns the URL of the JSON Web Key Set of the Clerk
// instance that key (a publishable key: pk_test_ or pk_live_ followed by the base64 of
// the instance's Frontend API host and a "$") belongs to:
// https://<frontend api>/.well-known/jwks.json. It returns an error with the code
// clerksync.ECONFIG, which does not repeat the key, if key is not a publishable key.
func JWKSURLFromPublishableKey(key string) (string, error) {
	bad := func(msg string) error {
		return &clerksync.Error{Code: clerksync.ECONFIG, Message: "CLERK_PUBLISHABLE_KEY " + msg, Hint: publishableKeyHint}
	}
	key = strings.TrimSpace(key)
	var encoded string
	switch {
	case strings.HasPrefix(key, "pk_test_"):
		encoded = strings.TrimPrefix(key, "pk_test_")
	case strings.HasPrefix(key, "pk_live_"):
		encoded = strings.TrimPrefix(key, "pk_live_")
	case strings.HasPrefix(key, "sk_"):
		// Say so without echoing it: a secret key in the wrong variable ends up in logs.
		return "", bad("holds a secret key (sk_…), not a publishable key")
	default:
		return "", bad("does not start with pk_test_ or pk_live_")
	}
	// Clerk encodes with padding; accept keys whose padding was lost in copying.
	decoded, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(encoded, "="))
	if err != nil {
		return "", bad("is not valid base64 after its prefix")
	}
	host, ok := strings.CutSuffix(string(decoded), "$")
	if !ok || host == "" {
		return "", bad("does not encode a Frontend API host followed by $")
	}
	u, err := url.Parse("https://" + host)
	if err != nil || u.Host != host || u.Hostname() == "" || !strings.Contains(host, ".") {
		return "", bad("does not encode a valid Frontend API host")
	}
	return "https://" + host + "/.well-known/jwks.json", nil
}

// jwtKeyHint says where the PEM key is found; it names no value.
const jwtKeyHint = "copy the PEM public key from the Clerk Dashboard → API keys → Show JWT public key"

// parsePEMKey returns the RSA public key that s holds, in any of the forms people paste
// into an environment variable, as a JSON Web Key for RS256.
func parsePEMKey(s string) (*clerk.JSONWebKey, error) {
	bad := func(msg string, err error) error {
		return &clerksync.Error{Code: clerksync.ECONFIG, Message: "CLERK_JWT_KEY " + msg, Hint: jwtKeyHint, Err: err}
	}
	s = strings.ReplaceAll(strings.TrimSpace(s), `\n`, "\n")
	if block, _ := pem.Decode([]byte(s)); block == nil {
		// One line, or the body alone: rebuild the PEM from the base64 between the
		// markers, as Clerk's own SDKs do.
		body := strings.NewReplacer("-----BEGIN PUBLIC KEY-----", "", "-----END PUBLIC KEY-----", "").Replace(s)
		body = strings.Join(strings.Fields(body), "")
		der, err := base64.StdEncoding.DecodeString(body)
		if err != nil || len(der) == 0 {
			return nil, bad("is not a PEM public key", nil)
		}
		s = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	jwk, err := clerk.JSONWebKeyFromPEM(s)
	if err != nil {
		return nil, bad("is not a PEM public key", err)
	}
	pub, ok := jwk.Key.(*rsa.PublicKey)
	if !ok {
		return nil, bad("is not an RSA public key", nil)
	}
	if pub.N.BitLen() < minRSABits {
		return nil, bad(fmt.Sprintf("is a %d-bit RSA key; at least %d bits are required", pub.N.BitLen(), minRSABits), nil)
	}
	return jwk, nil
}
