package session_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/clocktest"
	"github.com/clerksync/clerksync/session"
)

// start is the fake clock's first reading in every test.
var start = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock that moves only when told to.
type fakeClock = clocktest.Clock

func newClock() *fakeClock { return clocktest.New(start) }

// testKeys are 2048-bit keys generated once per run and shared by the tests, since
// generating one takes a while.
var testKeys = func() [4]func() *rsa.PrivateKey {
	var keys [4]func() *rsa.PrivateKey
	for i := range keys {
		keys[i] = sync.OnceValue(func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			return k
		})
	}
	return keys
}()

func testKey(i int) *rsa.PrivateKey { return testKeys[i]() }

// MustNewIssuer returns an Issuer that signs with test key i and reads clock.
func MustNewIssuer(tb testing.TB, clock *fakeClock, i int) *session.Issuer {
	tb.Helper()
	iss, err := session.NewIssuer(session.IssuerConfig{Key: testKey(i), Now: clock.Now})
	if err != nil {
		tb.Fatalf("NewIssuer: %v", err)
	}
	return iss
}

// MustMint mints a token for t or fails the test.
func MustMint(tb testing.TB, iss *session.Issuer, t session.Token) string {
	tb.Helper()
	token, err := iss.Mint(t)
	if err != nil {
		tb.Fatalf("Mint: %v", err)
	}
	return token
}

// jwksServer serves a key set and counts the requests it gets; when down, it answers
// 503 instead.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64
	down     atomic.Bool
}

func newJWKSServer(tb testing.TB, h http.Handler) *jwksServer {
	tb.Helper()
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if s.down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	tb.Cleanup(s.Close)
	return s
}

// MustNewVerifier returns a Verifier for cfg or fails the test.
func MustNewVerifier(tb testing.TB, cfg session.Config) *session.Verifier {
	tb.Helper()
	v, err := session.NewVerifier(cfg)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// setup returns a clock, an Issuer with test key 0, a server for its key set and a
// Verifier that fetches it.
func setup(tb testing.TB, cfg session.Config) (*fakeClock, *session.Issuer, *jwksServer, *session.Verifier) {
	tb.Helper()
	clock := newClock()
	iss := MustNewIssuer(tb, clock, 0)
	srv := newJWKSServer(tb, iss)
	cfg.JWKSURL = srv.URL + "/.well-known/jwks.json"
	cfg.Now = clock.Now
	cfg.HTTPClient = srv.Client()
	return clock, iss, srv, MustNewVerifier(tb, cfg)
}

// checkErr fails the test unless err matches want and has the code want implies.
func checkErr(tb testing.TB, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("err = %v, want %v", err, want)
	}
	var e *clerksync.Error
	if !errors.As(want, &e) {
		return
	}
	if got, want := clerksync.ErrorCode(err), e.Code; got != want {
		tb.Fatalf("ErrorCode(%v) = %q, want %q", err, got, want)
	}
}

// validClaims returns the payload of a valid session token at now.
func validClaims(now time.Time) map[string]any {
	return map[string]any{
		"sub": "user_2abc",
		"sid": "sess_2abc",
		"iss": session.DefaultIssuerURL,
		"iat": now.Unix(),
		"nbf": now.Add(-10 * time.Second).Unix(),
		"exp": now.Add(time.Minute).Unix(),
		"v":   2,
	}
}

// signingInput returns the first two parts of a compact JWS of header and claims.
func signingInput(tb testing.TB, header, claims map[string]any) string {
	tb.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	return b64(h) + "." + b64(c)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// signRS256 returns a token with header and claims signed by key with RS256, whatever
// the header says.
func signRS256(tb testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	tb.Helper()
	input := signingInput(tb, header, claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + b64(sig)
}

// signPS256 returns a token signed by key with RSA-PSS.
func signPS256(tb testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	tb.Helper()
	input := signingInput(tb, header, claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + b64(sig)
}

// signHS256 returns a token signed with HMAC-SHA256 under secret.
func signHS256(tb testing.TB, secret []byte, header, claims map[string]any) string {
	tb.Helper()
	input := signingInput(tb, header, claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}
