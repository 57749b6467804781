package session_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/session"
)

func TestVerifyRequest(t *testing.T) {
	t.Parallel()
	clock, iss, _, v := setup(t, session.Config{AuthorizedParties: []string{"https://example.com"}})
	token := MustMint(t, iss, session.Token{
		Subject:         "user_2abc",
		SessionID:       "sess_2abc",
		AuthorizedParty: "https://example.com",
	})
	want := &session.Claims{
		Subject:               "user_2abc",
		SessionID:             "sess_2abc",
		AuthorizedParty:       "https://example.com",
		Issuer:                session.DefaultIssuerURL,
		IssuedAt:              clock.Now(),
		NotBefore:             clock.Now().Add(-10 * time.Second),
		Expiry:                clock.Now().Add(time.Minute),
		Version:               2,
		SessionStatus:         "active",
		FactorVerificationAge: [2]int64{0, -1},
	}

	tests := []struct {
		name   string
		header string
		cookie string
	}{
		{name: "Cookie", cookie: token},
		{name: "BearerHeader", header: "Bearer " + token},
		{name: "HeaderWinsOverStaleCookie", header: "Bearer " + token, cookie: "stale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/api/profile", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: session.CookieName, Value: tt.cookie})
			}
			got, err := v.VerifyRequest(r)
			if err != nil {
				t.Fatalf("VerifyRequest: %v", err)
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Fatalf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyRequestNoToken(t *testing.T) {
	t.Parallel()
	_, _, srv, v := setup(t, session.Config{})
	_, err := v.VerifyRequest(httptest.NewRequest(http.MethodGet, "/api/profile", nil))
	checkErr(t, err, session.ErrNoToken)
	_, err = v.Verify(context.Background(), "")
	checkErr(t, err, session.ErrNoToken)
	if got := srv.requests.Load(); got != 0 {
		t.Fatalf("JWKS requests = %d, want 0", got)
	}
}

func TestVerifyTimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		leeway  time.Duration
		token   session.Token
		advance time.Duration // verifier's clock after minting
		want    error
	}{
		{name: "Fresh", want: nil},
		{name: "LastSecond", advance: 60 * time.Second, want: nil},
		{name: "ExpiredWithinLeeway", advance: 65 * time.Second, want: nil},
		{name: "ExpiredPastLeeway", advance: 66 * time.Second, want: session.ErrExpired},
		{name: "ExpiredLongAgo", advance: 24 * time.Hour, want: session.ErrExpired},
		{name: "WiderLeeway", leeway: time.Minute, advance: 2 * time.Minute, want: nil},
		{name: "NoLeeway", leeway: -1, advance: 61 * time.Second, want: session.ErrExpired},
		{name: "LivesTheLongestAllowed", token: session.Token{Expiry: start.Add(session.MaxTokenLifetime)}, advance: 9 * time.Minute, want: nil},
		{
			name:  "NotBeforeInFuture",
			token: session.Token{NotBefore: start.Add(30 * time.Second)},
			want:  session.ErrNotYetValid,
		},
		{
			name:  "NotBeforeWithinLeeway",
			token: session.Token{NotBefore: start.Add(5 * time.Second)},
			want:  nil,
		},
		{
			name:  "IssuedInFuture",
			token: session.Token{IssuedAt: start.Add(time.Minute), NotBefore: start},
			want:  session.ErrNotYetValid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock, iss, _, v := setup(t, session.Config{Leeway: tt.leeway})
			tt.token.Subject = "user_2abc"
			token := MustMint(t, iss, tt.token)
			clock.Advance(tt.advance)
			claims, err := v.Verify(context.Background(), token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got, want := claims.Subject, "user_2abc"; got != want {
					t.Fatalf("Subject = %q, want %q", got, want)
				}
				return
			}
			checkErr(t, err, tt.want)
			if claims != nil {
				t.Fatalf("claims = %+v, want nil", claims)
			}
		})
	}
}

func TestVerifyRejectsForgeries(t *testing.T) {
	t.Parallel()
	clock, iss, _, v := setup(t, session.Config{})
	key := testKey(0)
	kid := iss.KeyID()
	header := map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT"}
	claims := validClaims(clock.Now())
	with := func(m map[string]any, k string, val any) map[string]any {
		c := make(map[string]any, len(m))
		for k, v := range m {
			c[k] = v
		}
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := []byte(iss.PublicKeyPEM())

	// An impostor with its own key but the real kid.
	impostor, err := session.NewIssuer(session.IssuerConfig{Key: testKey(1), KeyID: kid, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	good := MustMint(t, iss, session.Token{Subject: "user_2abc"})
	parts := strings.Split(good, ".")
	// The payload of another user under the signature of the good token.
	tampered := parts[0] + "." + b64(mustJSON(t, with(claims, "sub", "user_admin"))) + "." + parts[2]

	tests := []struct {
		name  string
		token string
	}{
		{name: "SignedByAnotherKey", token: MustMint(t, impostor, session.Token{Subject: "user_2abc"})},
		{name: "TamperedPayload", token: tampered},
		{name: "SignatureOfAnotherToken", token: parts[0] + "." + parts[1] + "." + strings.Split(MustMint(t, iss, session.Token{Subject: "user_other"}), ".")[2]},
		{name: "AlgNone", token: signingInput(t, map[string]any{"alg": "none", "kid": kid}, claims) + "."},
		{name: "AlgNoneWithSignature", token: signingInput(t, map[string]any{"alg": "none", "kid": kid}, claims) + "." + parts[2]},
		{name: "HS256WithPEMAsSecret", token: signHS256(t, pubPEM, map[string]any{"alg": "HS256", "kid": kid}, claims)},
		{name: "HS256WithDERAsSecret", token: signHS256(t, pubDER, map[string]any{"alg": "HS256", "kid": kid}, claims)},
		{name: "PS256WithTheRightKey", token: signPS256(t, key, map[string]any{"alg": "PS256", "kid": kid}, claims)},
		{name: "RS512Header", token: signRS256(t, key, map[string]any{"alg": "RS512", "kid": kid}, claims)},
		{name: "UnknownKID", token: signRS256(t, key, with(header, "kid", "ins_unknown"), claims)},
		{name: "NoKID", token: signRS256(t, key, with(header, "kid", nil), claims)},
		{name: "NoExp", token: signRS256(t, key, header, with(claims, "exp", nil))},
		{name: "NoIat", token: signRS256(t, key, header, with(claims, "iat", nil))},
		{name: "NoSub", token: signRS256(t, key, header, with(claims, "sub", nil))},
		// JWT templates' tokens are signed by the same key, without sid and with a
		// lifetime of their own.
		{name: "NoSid", token: signRS256(t, key, header, with(claims, "sid", nil))},
		{name: "EmptySid", token: signRS256(t, key, header, with(claims, "sid", ""))},
		{name: "LivesAnHour", token: MustMint(t, iss, session.Token{Subject: "user_2abc", Expiry: clock.Now().Add(time.Hour)})},
		{name: "LivesElevenMinutes", token: signRS256(t, key, header, with(claims, "exp", clock.Now().Add(11*time.Minute).Unix()))},
		{name: "TemplateForAThirdParty", token: signRS256(t, key, header, with(with(claims, "sid", nil), "exp", clock.Now().Add(30*24*time.Hour).Unix()))},
		{name: "ExpNotANumber", token: signRS256(t, key, header, with(claims, "exp", "tomorrow"))},
		{name: "ForeignIssuer", token: signRS256(t, key, header, with(claims, "iss", "https://evil.example.com"))},
		{name: "NoIssuer", token: signRS256(t, key, header, with(claims, "iss", nil))},
		{name: "JSONSerialization", token: fmt.Sprintf(`{"payload":%q,"protected":%q,"signature":%q}`, parts[1], parts[0], parts[2])},
		{name: "TwoParts", token: parts[0] + "." + parts[1]},
		{name: "FourParts", token: good + "." + parts[2]},
		{name: "NotBase64URL", token: parts[0] + "." + parts[1] + "." + strings.ReplaceAll(parts[2], "_", "/") + "+"},
		{name: "PayloadNotJSON", token: parts[0] + "." + b64([]byte("not json")) + "." + parts[2]},
		{name: "Garbage", token: "hello"},
		{name: "Huge", token: parts[0] + "." + strings.Repeat("A", 20<<10) + "." + parts[2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			claims, err := v.Verify(context.Background(), tt.token)
			checkErr(t, err, session.ErrInvalidToken)
			if claims != nil {
				t.Fatalf("claims = %+v, want nil", claims)
			}
		})
	}

	// The key set is fine: the good token still passes.
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("Verify(good): %v", err)
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestVerifyRefetchesOnRotation(t *testing.T) {
	t.Parallel()
	clock, iss, srv, v := setup(t, session.Config{RefetchInterval: 30 * time.Second})
	ctx := context.Background()

	old := MustMint(t, iss, session.Token{Subject: "user_2abc"})
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatalf("Verify(old): %v", err)
	}
	if got, want := srv.requests.Load(), int64(1); got != want {
		t.Fatalf("JWKS requests after the first token = %d, want %d", got, want)
	}
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatalf("Verify(old) again: %v", err)
	}
	if got, want := srv.requests.Load(), int64(1); got != want {
		t.Fatalf("JWKS requests for a known kid = %d, want %d (served from the cache)", got, want)
	}

	clock.Advance(30 * time.Second)
	if err := iss.Rotate(testKey(1)); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	rotated := MustMint(t, iss, session.Token{Subject: "user_2abc"})
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("Verify(rotated): %v", err)
	}
	if got, want := srv.requests.Load(), int64(2); got != want {
		t.Fatalf("JWKS requests after rotation = %d, want %d (one refetch)", got, want)
	}
	// The old key is still published, and still cached: both kinds of tokens pass
	// without another fetch.
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatalf("Verify(old) after rotation: %v", err)
	}
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("Verify(rotated) again: %v", err)
	}
	if got, want := srv.requests.Load(), int64(2); got != want {
		t.Fatalf("JWKS requests = %d, want %d", got, want)
	}
}

func TestVerifyRotationWithinRefetchInterval(t *testing.T) {
	t.Parallel()
	clock, iss, srv, v := setup(t, session.Config{RefetchInterval: 30 * time.Second})
	ctx := context.Background()
	if _, err := v.Verify(ctx, MustMint(t, iss, session.Token{Subject: "user_2abc"})); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := iss.Rotate(testKey(1)); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	rotated := MustMint(t, iss, session.Token{Subject: "user_2abc"})

	// Right after a fetch, an unknown kid is rejected without asking again ...
	clock.Advance(29 * time.Second)
	_, err := v.Verify(ctx, rotated)
	checkErr(t, err, session.ErrInvalidToken)
	if got, want := srv.requests.Load(), int64(1); got != want {
		t.Fatalf("JWKS requests within the interval = %d, want %d", got, want)
	}
	// ... and accepted once the interval has passed.
	clock.Advance(time.Second)
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("Verify(rotated) after the interval: %v", err)
	}
	if got, want := srv.requests.Load(), int64(2); got != want {
		t.Fatalf("JWKS requests = %d, want %d", got, want)
	}
}

func TestVerifyUnknownKIDDoesNotHammer(t *testing.T) {
	t.Parallel()
	clock, iss, srv, v := setup(t, session.Config{RefetchInterval: 10 * time.Second})
	ctx := context.Background()
	stranger, err := session.NewIssuer(session.IssuerConfig{Key: testKey(2), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	bad := MustMint(t, stranger, session.Token{Subject: "user_2abc", Expiry: start.Add(time.Hour)})

	// A flood of tokens with an unknown kid, all at once, before any key is cached:
	// one fetch between them.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := v.Verify(ctx, bad)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		checkErr(t, err, session.ErrInvalidToken)
	}
	if got, want := srv.requests.Load(), int64(1); got != want {
		t.Fatalf("JWKS requests after a concurrent flood = %d, want %d", got, want)
	}

	// More of them over 100 s: one fetch per 10 s interval after the first fetch.
	for range 100 {
		_, err := v.Verify(ctx, bad)
		checkErr(t, err, session.ErrInvalidToken)
		clock.Advance(time.Second)
	}
	if got, want := srv.requests.Load(), int64(1+9); got != want {
		t.Fatalf("JWKS requests after 100 s of bad tokens = %d, want %d", got, want)
	}

	// Good tokens still pass, from the cache.
	if _, err := v.Verify(ctx, MustMint(t, iss, session.Token{Subject: "user_2abc"})); err != nil {
		t.Fatalf("Verify(good): %v", err)
	}
}

func TestVerifyJWKSUnavailable(t *testing.T) {
	t.Parallel()
	clock, iss, srv, v := setup(t, session.Config{RefetchInterval: 10 * time.Second})
	ctx := context.Background()
	token := MustMint(t, iss, session.Token{Subject: "user_2abc"})

	srv.down.Store(true)
	_, err := v.Verify(ctx, token)
	checkErr(t, err, session.ErrJWKSUnavailable)
	if errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("err = %v: an unavailable key set says nothing about the token", err)
	}
	if got, want := clerksync.ErrorMessage(err), "Clerk signing keys unavailable"; got != want {
		t.Fatalf("ErrorMessage = %q, want %q", got, want)
	}

	// Within the interval the failure is remembered, not retried.
	clock.Advance(5 * time.Second)
	_, err = v.Verify(ctx, token)
	checkErr(t, err, session.ErrJWKSUnavailable)
	if got, want := srv.requests.Load(), int64(1); got != want {
		t.Fatalf("JWKS requests = %d, want %d", got, want)
	}

	// Back up, and the interval over: the token passes.
	srv.down.Store(false)
	clock.Advance(5 * time.Second)
	if _, err := v.Verify(ctx, token); err != nil {
		t.Fatalf("Verify after recovery: %v", err)
	}
	if got, want := srv.requests.Load(), int64(2); got != want {
		t.Fatalf("JWKS requests = %d, want %d", got, want)
	}
}

func TestVerifyJWKSUnreachable(t *testing.T) {
	t.Parallel()
	clock := newClock()
	iss := MustNewIssuer(t, clock, 0)
	srv := httptest.NewServer(iss)
	url := srv.URL
	srv.Close() // nothing listens there any more
	v := MustNewVerifier(t, session.Config{JWKSURL: url, Now: clock.Now})
	_, err := v.Verify(context.Background(), MustMint(t, iss, session.Token{Subject: "user_2abc"}))
	checkErr(t, err, session.ErrJWKSUnavailable)
}

func TestVerifyCacheTTL(t *testing.T) {
	t.Parallel()
	clock, iss, srv, v := setup(t, session.Config{CacheTTL: time.Hour})
	ctx := context.Background()
	if _, err := v.Verify(ctx, MustMint(t, iss, session.Token{Subject: "user_2abc"})); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	// Past the TTL with the key set down, the cached key is still used.
	clock.Advance(time.Hour)
	srv.down.Store(true)
	if _, err := v.Verify(ctx, MustMint(t, iss, session.Token{Subject: "user_2abc"})); err != nil {
		t.Fatalf("Verify with the key set down: %v", err)
	}
	if got, want := srv.requests.Load(), int64(2); got != want {
		t.Fatalf("JWKS requests = %d, want %d (a refresh was tried)", got, want)
	}

	// Clerk withdraws the key (two rotations): once the cache is refreshed, tokens
	// signed with it are rejected.
	srv.down.Store(false)
	withdrawn := MustMint(t, iss, session.Token{Subject: "user_2abc"})
	if err := iss.Rotate(testKey(1)); err != nil {
		t.Fatal(err)
	}
	if err := iss.Rotate(testKey(2)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	_, err := v.Verify(ctx, withdrawn)
	checkErr(t, err, session.ErrInvalidToken)
	if got, want := srv.requests.Load(), int64(3); got != want {
		t.Fatalf("JWKS requests = %d, want %d", got, want)
	}
}

func TestVerifyContextCanceled(t *testing.T) {
	t.Parallel()
	_, iss, srv, v := setup(t, session.Config{})
	token := MustMint(t, iss, session.Token{Subject: "user_2abc"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.Verify(ctx, token)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// A request whose client hung up does not count as a failed fetch: the next one
	// fetches at once.
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got, want := srv.requests.Load(), int64(1); got != want {
		t.Fatalf("JWKS requests = %d, want %d", got, want)
	}
}

func TestVerifyKeySetShapes(t *testing.T) {
	t.Parallel()
	clock := newClock()
	iss := MustNewIssuer(t, clock, 0)
	var clerkSet struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(iss.JWKS(), &clerkSet); err != nil {
		t.Fatal(err)
	}
	rsaKey := clerkSet.Keys[0]
	without := func(k string) map[string]any {
		c := make(map[string]any, len(rsaKey))
		for k, v := range rsaKey {
			c[k] = v
		}
		delete(c, k)
		return c
	}
	ecKey := map[string]any{
		"kty": "EC", "crv": "P-256", "kid": "ec", "use": "sig", "alg": "ES256",
		"x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tvf6JvDxXaJUBy0HZR3orEmFg0Ls",
	}

	tests := []struct {
		name string
		keys []any
		want error
	}{
		{name: "Clerk", keys: []any{rsaKey}},
		{name: "UnknownKeyTypesBeside", keys: []any{map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "x", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, ecKey, map[string]any{"kty": "bogus"}, rsaKey}},
		{name: "NoAlg", keys: []any{without("alg")}},
		{name: "NoUse", keys: []any{without("use")}},
		{name: "EncryptionKeyOnly", keys: []any{func() map[string]any { k := without("use"); k["use"] = "enc"; return k }()}, want: session.ErrJWKSUnavailable},
		{name: "NoKID", keys: []any{without("kid")}, want: session.ErrJWKSUnavailable},
		{name: "ECOnly", keys: []any{ecKey}, want: session.ErrJWKSUnavailable},
		{name: "Empty", keys: []any{}, want: session.ErrJWKSUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := mustJSON(t, map[string]any{"keys": tt.keys})
			srv := newJWKSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
			}))
			v := MustNewVerifier(t, session.Config{JWKSURL: srv.URL, Now: clock.Now})
			token := MustMint(t, iss, session.Token{Subject: "user_2abc"})
			_, err := v.Verify(context.Background(), token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			checkErr(t, err, tt.want)
		})
	}
}

func TestVerifyNotJSON(t *testing.T) {
	t.Parallel()
	clock := newClock()
	iss := MustNewIssuer(t, clock, 0)
	srv := newJWKSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>captive portal</html>"))
	}))
	v := MustNewVerifier(t, session.Config{JWKSURL: srv.URL, Now: clock.Now})
	_, err := v.Verify(context.Background(), MustMint(t, iss, session.Token{Subject: "user_2abc"}))
	checkErr(t, err, session.ErrJWKSUnavailable)
}

func TestVerifyAuthorizedParties(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		parties []string
		azp     string
		want    error
	}{
		{name: "Allowed", parties: []string{"https://example.com", "http://localhost:3000"}, azp: "http://localhost:3000"},
		{name: "AllowedWithTrailingSlashInConfig", parties: []string{"https://example.com/"}, azp: "https://example.com"},
		{name: "NotAllowed", parties: []string{"https://example.com"}, azp: "https://evil.example.net", want: session.ErrUnauthorizedParty},
		{name: "OtherPort", parties: []string{"http://localhost:3000"}, azp: "http://localhost:3001", want: session.ErrUnauthorizedParty},
		{name: "OtherScheme", parties: []string{"https://example.com"}, azp: "http://example.com", want: session.ErrUnauthorizedParty},
		{name: "Absent", parties: []string{"https://example.com"}, azp: ""},
		{name: "AnyWhenNoneConfigured", parties: nil, azp: "https://anything.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, iss, _, v := setup(t, session.Config{AuthorizedParties: tt.parties})
			claims, err := v.Verify(context.Background(), MustMint(t, iss, session.Token{Subject: "user_2abc", AuthorizedParty: tt.azp}))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got, want := claims.AuthorizedParty, tt.azp; got != want {
					t.Fatalf("AuthorizedParty = %q, want %q", got, want)
				}
				return
			}
			checkErr(t, err, tt.want)
		})
	}
}

func TestVerifyProxyURL(t *testing.T) {
	t.Parallel()
	clock := newClock()
	proxied, err := session.NewIssuer(session.IssuerConfig{Key: testKey(0), URL: "https://example.com/__clerk", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t, proxied)
	token := MustMint(t, proxied, session.Token{Subject: "user_2abc"})

	v := MustNewVerifier(t, session.Config{JWKSURL: srv.URL, Now: clock.Now, ProxyURL: "https://example.com/__clerk/"})
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("Verify through the proxy: %v", err)
	}
	// Without the proxy configured, its issuer is not a Clerk Frontend API.
	v = MustNewVerifier(t, session.Config{JWKSURL: srv.URL, Now: clock.Now})
	_, err = v.Verify(context.Background(), token)
	checkErr(t, err, session.ErrInvalidToken)
}

// failTransport fails the test on any request: networkless verification makes none.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected request to %s", r.URL)
	return nil, errors.New("no network")
}

func TestVerifyPEMKey(t *testing.T) {
	t.Parallel()
	clock := newClock()
	iss := MustNewIssuer(t, clock, 0)
	stranger := MustNewIssuer(t, clock, 1)
	pemKey := iss.PublicKeyPEM()
	body := strings.TrimSpace(strings.NewReplacer("-----BEGIN PUBLIC KEY-----", "", "-----END PUBLIC KEY-----", "").Replace(pemKey))

	forms := []struct {
		name string
		key  string
	}{
		{name: "AsShown", key: pemKey},
		{name: "EscapedNewlines", key: strings.ReplaceAll(strings.TrimSpace(pemKey), "\n", `\n`)},
		{name: "OneLine", key: strings.ReplaceAll(strings.TrimSpace(pemKey), "\n", "")},
		{name: "BodyOnly", key: strings.ReplaceAll(body, "\n", "")},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			v := MustNewVerifier(t, session.Config{
				PEMKey:     f.key,
				Now:        clock.Now,
				HTTPClient: &http.Client{Transport: failTransport{t}},
			})
			if got, want := v.KeySource(), "CLERK_JWT_KEY"; got != want {
				t.Fatalf("KeySource = %q, want %q", got, want)
			}
			if err := v.Refresh(context.Background()); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			claims, err := v.Verify(context.Background(), MustMint(t, iss, session.Token{Subject: "user_2abc"}))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got, want := claims.Subject, "user_2abc"; got != want {
				t.Fatalf("Subject = %q, want %q", got, want)
			}
			// Whatever the kid, the one key decides.
			_, err = v.Verify(context.Background(), MustMint(t, stranger, session.Token{Subject: "user_2abc"}))
			checkErr(t, err, session.ErrInvalidToken)
			later := newClock()
			later.Advance(2 * time.Minute)
			v = MustNewVerifier(t, session.Config{PEMKey: f.key, Now: later.Now, HTTPClient: &http.Client{Transport: failTransport{t}}})
			_, err = v.Verify(context.Background(), MustMint(t, iss, session.Token{Subject: "user_2abc"}))
			checkErr(t, err, session.ErrExpired)
		})
	}
}

func TestVerifySecretKey(t *testing.T) {
	t.Parallel()
	clock := newClock()
	iss := MustNewIssuer(t, clock, 0)
	const secret = "sk_test_clerksync_fake_secret"
	var mu sync.Mutex
	var gotAuth, gotPath string
	srv := newJWKSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+secret {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"authentication_invalid","message":"Invalid authentication","long_message":"Secret key invalid"}]}`))
			return
		}
		iss.ServeHTTP(w, r)
	}))
	token := MustMint(t, iss, session.Token{Subject: "user_2abc"})

	v := MustNewVerifier(t, session.Config{SecretKey: secret, APIURL: srv.URL + "/v1", Now: clock.Now})
	if got, want := v.KeySource(), srv.URL+"/v1/jwks"; got != want {
		t.Fatalf("KeySource = %q, want %q", got, want)
	}
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	mu.Lock()
	if gotAuth != "Bearer "+secret || gotPath != "/v1/jwks" {
		t.Fatalf("request = %q with %q, want /v1/jwks with the secret key", gotPath, gotAuth)
	}
	mu.Unlock()

	v = MustNewVerifier(t, session.Config{SecretKey: "sk_test_wrong", APIURL: srv.URL + "/v1", Now: clock.Now})
	err := v.Refresh(context.Background())
	checkErr(t, err, session.ErrJWKSUnavailable)
	if strings.Contains(err.Error(), "sk_test_wrong") {
		t.Fatalf("error %q contains the secret key", err)
	}
	_, err = v.Verify(context.Background(), token)
	checkErr(t, err, session.ErrJWKSUnavailable)
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	_, iss, srv, v := setup(t, session.Config{})
	ctx := context.Background()
	if err := v.Refresh(ctx); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	// Refresh ignores the interval: it is the operator's call.
	if err := v.Refresh(ctx); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got, want := srv.requests.Load(), int64(2); got != want {
		t.Fatalf("JWKS requests = %d, want %d", got, want)
	}
	if _, err := v.Verify(ctx, MustMint(t, iss, session.Token{Subject: "user_2abc"})); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got, want := srv.requests.Load(), int64(2); got != want {
		t.Fatalf("JWKS requests = %d, want %d (the warm cache serves)", got, want)
	}
	srv.down.Store(true)
	checkErr(t, v.Refresh(ctx), session.ErrJWKSUnavailable)
}

func TestVerifyClaimsFromClerkShapes(t *testing.T) {
	t.Parallel()
	clock, iss, _, v := setup(t, session.Config{})
	now := clock.Now()
	header := map[string]any{"alg": "RS256", "kid": iss.KeyID(), "typ": "JWT", "cat": "cl_B7d4PD111AAA"}
	tests := []struct {
		name   string
		claims map[string]any
		want   session.Claims
	}{
		{
			// A version 1 token: no v, organization claims at the top level.
			name: "Version1",
			claims: map[string]any{
				"azp": "https://example.com", "exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
				"iss": "https://clean-mayfly-62.clerk.accounts.dev", "nbf": now.Add(-10 * time.Second).Unix(),
				"sid": "sess_123", "sub": "user_123", "org_id": "org_1", "org_slug": "acme", "org_role": "org:admin",
			},
			want: session.Claims{
				Subject: "user_123", SessionID: "sess_123", AuthorizedParty: "https://example.com",
				Issuer: "https://clean-mayfly-62.clerk.accounts.dev", Version: 1,
				OrganizationID: "org_1", OrganizationSlug: "acme", OrganizationRole: "org:admin",
			},
		},
		{
			// A version 2 token of a pending session acting as someone else, with an
			// active organization.
			name: "Version2",
			claims: map[string]any{
				"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "iss": "https://clerk.example.com",
				"nbf": now.Add(-10 * time.Second).Unix(), "sid": "sess_123", "sub": "user_123", "v": 2,
				"sts": "pending", "fva": []int{7, -1}, "act": map[string]any{"sub": "user_support"},
				"o":   map[string]any{"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3"},
				"fea": "o:articles",
			},
			want: session.Claims{
				Subject: "user_123", SessionID: "sess_123", Issuer: "https://clerk.example.com", Version: 2,
				SessionStatus: "pending", FactorVerificationAge: [2]int64{7, -1},
				Actor:          json.RawMessage(`{"sub":"user_support"}`),
				OrganizationID: "org_1", OrganizationSlug: "acme", OrganizationRole: "org:admin",
				OrganizationPermissions: []string{"org:articles:read", "org:articles:manage"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Verify(context.Background(), signRS256(t, testKey(0), header, tt.claims))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			tt.want.IssuedAt, tt.want.NotBefore, tt.want.Expiry = now, now.Add(-10*time.Second), now.Add(time.Minute)
			if diff := cmp.Diff(tt.want, *got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Fatalf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVerifyMessagesAreSafe checks that the message meant for callers names no detail.
func TestVerifyMessagesAreSafe(t *testing.T) {
	t.Parallel()
	clock, iss, _, v := setup(t, session.Config{})
	token := MustMint(t, iss, session.Token{Subject: "user_2abc"})
	clock.Advance(time.Hour)
	_, err := v.Verify(context.Background(), token)
	checkErr(t, err, session.ErrExpired)
	if got, want := clerksync.ErrorMessage(err), "session token expired"; got != want {
		t.Fatalf("ErrorMessage = %q, want %q", got, want)
	}
	if !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Error() = %q, want the cause for the log", err)
	}
}

func TestPEMOfIssuerParses(t *testing.T) {
	t.Parallel()
	iss := MustNewIssuer(t, newClock(), 0)
	block, _ := pem.Decode([]byte(iss.PublicKeyPEM()))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("PublicKeyPEM is not a PEM public key: %q", iss.PublicKeyPEM())
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !testKey(0).PublicKey.Equal(pub) {
		t.Fatal("PublicKeyPEM is not the issuer's key")
	}
}

// TestVerifyWrongAlgFetchesNothing checks that a token that is not RS256 is refused on
// its header alone: forged tokens cannot make the verifier fetch keys.
func TestVerifyWrongAlgFetchesNothing(t *testing.T) {
	t.Parallel()
	clock, iss, srv, v := setup(t, session.Config{})
	claims := validClaims(clock.Now())
	kid := iss.KeyID()
	tokens := map[string]string{
		"none":  signingInput(t, map[string]any{"alg": "none", "kid": kid}, claims) + ".c2ln",
		"HS256": signHS256(t, []byte(iss.PublicKeyPEM()), map[string]any{"alg": "HS256", "kid": kid}, claims),
		"PS256": signPS256(t, testKey(0), map[string]any{"alg": "PS256", "kid": kid}, claims),
		"NoAlg": signRS256(t, testKey(0), map[string]any{"kid": kid}, claims),
	}
	for alg, token := range tokens {
		_, err := v.Verify(context.Background(), token)
		checkErr(t, err, session.ErrInvalidToken)
		if !strings.Contains(err.Error(), "is not RS256") {
			t.Fatalf("%s: err = %v, want the algorithm named", alg, err)
		}
	}
	if got := srv.requests.Load(); got != 0 {
		t.Fatalf("JWKS requests = %d, want 0", got)
	}
}
