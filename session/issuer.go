package session

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// Defaults of IssuerConfig.
const (
	// DefaultIssuerURL is the iss of minted tokens. Like a production Clerk instance's
	// Frontend API it starts with https://clerk., which Verify requires.
	DefaultIssuerURL = "https://clerk.clerksync.localhost"
	// DefaultTokenTTL is the lifetime of minted tokens, Clerk's default.
	DefaultTokenTTL = 60 * time.Second
	// notBeforeSkew is how far before iat Clerk sets nbf, for clock skew.
	notBeforeSkew = 10 * time.Second
)

// IssuerConfig configures an Issuer. Its zero value is ready to use.
type IssuerConfig struct {
	// Key signs the tokens; a new 2048-bit key is generated when nil.
	Key *rsa.PrivateKey
	// KeyID is the kid of Key; derived from the key when empty. Giving two Issuers the
	// same KeyID and different keys makes tokens whose signature does not match.
	KeyID string
	// URL is the iss of the tokens; DefaultIssuerURL when empty.
	URL string
	// TTL is the lifetime of tokens minted without Expiry; DefaultTokenTTL when zero.
	TTL time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Issuer plays the part of a Clerk instance for development and tests: it signs
// session tokens of Clerk's shape with an RSA key, serves that key as a JSON Web Key
// Set, and can rotate it. It is safe for concurrent use.
type Issuer struct {
	url string
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	key     *rsa.PrivateKey
	kid     string
	prev    *rsa.PublicKey // the key before the last rotation, still published
	prevKID string
}

// NewIssuer returns an Issuer configured by cfg. It returns an error if cfg.Key is
// shorter than 2048 bits or a key cannot be generated.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	i := &Issuer{url: cfg.URL, ttl: cfg.TTL, now: cfg.Now}
	if i.url == "" {
		i.url = DefaultIssuerURL
	}
	if i.ttl == 0 {
		i.ttl = DefaultTokenTTL
	}
	if i.now == nil {
		i.now = time.Now
	}
	key, err := issuerKey(cfg.Key)
	if err != nil {
		return nil, err
	}
	i.key, i.kid = key, cfg.KeyID
	if i.kid == "" {
		i.kid = keyID(&key.PublicKey)
	}
	return i, nil
}

// issuerKey returns key, or a new key if key is nil.
func issuerKey(key *rsa.PrivateKey) (*rsa.PrivateKey, error) {
	if key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate rsa key: %w", err)
		}
		return k, nil
	}
	if key.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("rsa key of %d bits: at least %d are required", key.N.BitLen(), minRSABits)
	}
	return key, nil
}

// keyID derives a kid from the public key, in the form of Clerk's (ins_…).
func keyID(pub *rsa.PublicKey) string {
	sum := sha256.Sum256(x509.MarshalPKCS1PublicKey(pub))
	return "ins_" + hex.EncodeToString(sum[:12])
}

// URL returns the iss of the tokens i mints.
func (i *Issuer) URL() string { return i.url }

// KeyID returns the kid of the key i signs with now.
func (i *Issuer) KeyID() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.kid
}

// PublicKeyPEM returns the public key i signs with now, in the PEM form the Clerk
// Dashboard shows for CLERK_JWT_KEY.
func (i *Issuer) PublicKeyPEM() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	der, err := x509.MarshalPKIXPublicKey(&i.key.PublicKey)
	if err != nil {
		// An *rsa.PublicKey always marshals.
		panic(fmt.Sprintf("marshal rsa public key: %v", err))
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Rotate makes key (or a new key, if key is nil) the signing key, with a kid derived
// from it. The previous key stays in the key set until the next rotation, so that
// tokens minted before stay valid until they expire, as when Clerk rotates keys. It
// returns an error if key is too short or a key cannot be generated.
func (i *Issuer) Rotate(key *rsa.PrivateKey) error {
	key, err := issuerKey(key)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.prev, i.prevKID = &i.key.PublicKey, i.kid
	i.key, i.kid = key, keyID(&key.PublicKey)
	return nil
}

// Token describes a session token for Issuer.Mint. Zero fields take the values Clerk
// gives them.
type Token struct {
	// Subject is the Clerk user id (sub); required.
	Subject string
	// SessionID is the session id (sid); a random sess_… id when empty.
	SessionID string
	// AuthorizedParty is the origin the token is made for (azp); omitted when empty.
	AuthorizedParty string
	// SessionStatus is sts; "active" when empty.
	SessionStatus string
	// IssuedAt is iat; the issuer's current time when zero.
	IssuedAt time.Time
	// NotBefore is nbf; 10 s before IssuedAt when zero, as Clerk does.
	NotBefore time.Time
	// Expiry is exp; IssuedAt plus the issuer's TTL when zero.
	Expiry time.Time
	// Organization is the session's active organization (o); none when nil.
	Organization *TokenOrganization
}

// tokenHeader is the JOSE header of Clerk's session tokens.
type tokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// tokenClaims is the payload of a version 2 Clerk session token, in Clerk's order.
type tokenClaims struct {
	Azp string   `json:"azp,omitempty"`
	Exp int64    `json:"exp"`
	Fva [2]int64 `json:"fva"`
	Iat int64    `json:"iat"`
	Iss string   `json:"iss"`
	Nbf int64    `json:"nbf"`
	O   *oClaim  `json:"o,omitempty"`
	Sid string   `json:"sid"`
	Sts string   `json:"sts"`
	Sub string   `json:"sub"`
	V   int      `json:"v"`
}

// Mint returns a session token for t, signed with RS256 by the current key. It returns
// an error if t has no Subject.
func (i *Issuer) Mint(t Token) (string, error) {
	if t.Subject == "" {
		return "", errors.New("mint session token: no subject")
	}
	if t.SessionID == "" {
		t.SessionID = "sess_" + rand.Text()
	}
	if t.SessionStatus == "" {
		t.SessionStatus = "active"
	}
	if t.IssuedAt.IsZero() {
		t.IssuedAt = i.now()
	}
	if t.NotBefore.IsZero() {
		t.NotBefore = t.IssuedAt.Add(-notBeforeSkew)
	}
	if t.Expiry.IsZero() {
		t.Expiry = t.IssuedAt.Add(i.ttl)
	}
	claims := tokenClaims{
		Azp: t.AuthorizedParty,
		Exp: t.Expiry.Unix(),
		Fva: [2]int64{0, -1}, // just signed in with a first factor, no second factor
		Iat: t.IssuedAt.Unix(),
		Iss: i.url,
		Nbf: t.NotBefore.Unix(),
		O:   t.Organization.claims(),
		Sid: t.SessionID,
		Sts: t.SessionStatus,
		Sub: t.Subject,
		V:   2,
	}

	i.mu.RLock()
	key, kid := i.key, i.kid
	i.mu.RUnlock()
	token, err := sign(key, tokenHeader{Alg: "RS256", Kid: kid, Typ: "JWT"}, claims)
	if err != nil {
		return "", fmt.Errorf("mint session token: %w", err)
	}
	return token, nil
}

// sign returns the compact JWS of header and claims, signed with RS256 by key.
func sign(key *rsa.PrivateKey, header, claims any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return input + "." + enc.EncodeToString(sig), nil
}

// jwk is one key of a JSON Web Key Set, in the shape and order Clerk serves.
type jwk struct {
	Use string `json:"use"`
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func newJWK(kid string, pub *rsa.PublicKey) jwk {
	enc := base64.RawURLEncoding
	return jwk{
		Use: "sig",
		Kty: "RSA",
		Kid: kid,
		Alg: "RS256",
		N:   enc.EncodeToString(pub.N.Bytes()),
		E:   enc.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// JWKS returns the JSON Web Key Set of i: the current key, then the previous one if
// the key was rotated.
func (i *Issuer) JWKS() []byte {
	i.mu.RLock()
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{newJWK(i.kid, &i.key.PublicKey)}}
	if i.prev != nil {
		set.Keys = append(set.Keys, newJWK(i.prevKID, i.prev))
	}
	i.mu.RUnlock()
	b, err := json.Marshal(set)
	if err != nil {
		// Strings only: this cannot fail.
		panic(fmt.Sprintf("encode jwks: %v", err))
	}
	return b
}

// ServeHTTP serves the JSON Web Key Set of i to GET and HEAD requests, as a Frontend
// API serves /.well-known/jwks.json, and answers 405 to other methods.
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Rotation must show at once: the whole point of the endpoint here.
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(i.JWKS())
}
