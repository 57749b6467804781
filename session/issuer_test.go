package session_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync/session"
)

func TestIssuerJWKS(t *testing.T) {
	t.Parallel()
	iss := MustNewIssuer(t, newClock(), 0)
	srv := httptest.NewServer(iss)
	t.Cleanup(srv.Close)

	resp, err := srv.Client().Get(srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	if got, want := resp.Header.Get("Content-Type"), "application/json"; got != want {
		t.Fatalf("Content-Type = %q, want %q", got, want)
	}

	// Clerk's shape, field for field and in Clerk's order.
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if got, want := len(set.Keys), 1; got != want {
		t.Fatalf("keys = %d, want %d", got, want)
	}
	n := base64.RawURLEncoding.EncodeToString(testKey(0).N.Bytes())
	want := `{"use":"sig","kty":"RSA","kid":"` + iss.KeyID() + `","alg":"RS256","n":"` + n + `","e":"AQAB"}`
	if got := string(set.Keys[0]); got != want {
		t.Fatalf("key = %s, want %s", got, want)
	}
	if !strings.HasPrefix(iss.KeyID(), "ins_") {
		t.Fatalf("KeyID = %q, want an ins_ id like Clerk's", iss.KeyID())
	}

	// A standard JOSE library reads it as the issuer's public key.
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(body, &jwks); err != nil {
		t.Fatal(err)
	}
	pub, ok := jwks.Keys[0].Key.(*rsa.PublicKey)
	if !ok || !pub.Equal(&testKey(0).PublicKey) {
		t.Fatalf("key = %#v, want the issuer's public key", jwks.Keys[0].Key)
	}
}

func TestIssuerServeHTTPMethods(t *testing.T) {
	t.Parallel()
	iss := MustNewIssuer(t, newClock(), 0)
	tests := []struct {
		method   string
		status   int
		wantBody bool
	}{
		{method: http.MethodGet, status: http.StatusOK, wantBody: true},
		{method: http.MethodHead, status: http.StatusOK},
		{method: http.MethodPost, status: http.StatusMethodNotAllowed, wantBody: true},
		{method: http.MethodDelete, status: http.StatusMethodNotAllowed, wantBody: true},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			iss.ServeHTTP(w, httptest.NewRequest(tt.method, "/.well-known/jwks.json", nil))
			if got, want := w.Code, tt.status; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if got, want := w.Body.Len() > 0, tt.wantBody; got != want {
				t.Fatalf("has body = %v, want %v", got, want)
			}
			if tt.status == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
}

func TestIssuerRotate(t *testing.T) {
	t.Parallel()
	iss := MustNewIssuer(t, newClock(), 0)
	first := iss.KeyID()
	if err := iss.Rotate(testKey(1)); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	second := iss.KeyID()
	if second == first {
		t.Fatalf("KeyID after rotation = %q, unchanged", second)
	}
	if got, want := kids(t, iss), []string{second, first}; !cmp.Equal(got, want) {
		t.Fatalf("kids after one rotation = %v, want %v", got, want)
	}
	if err := iss.Rotate(nil); err != nil {
		t.Fatalf("Rotate(nil): %v", err)
	}
	third := iss.KeyID()
	if got, want := kids(t, iss), []string{third, second}; !cmp.Equal(got, want) {
		t.Fatalf("kids after two rotations = %v, want %v", got, want)
	}

	// The header of new tokens names the new key.
	token := MustMint(t, iss, session.Token{Subject: "user_2abc"})
	var header struct {
		Alg, Kid, Typ string
	}
	decodePart(t, strings.Split(token, ".")[0], &header)
	if header.Alg != "RS256" || header.Kid != third || header.Typ != "JWT" {
		t.Fatalf("header = %+v, want RS256, %s, JWT", header, third)
	}
}

func kids(tb testing.TB, iss *session.Issuer) []string {
	tb.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(iss.JWKS(), &set); err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.Kid)
	}
	return ids
}

func decodePart(tb testing.TB, part string, v any) {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
}

func TestIssuerMint(t *testing.T) {
	t.Parallel()
	clock := newClock()
	iss := MustNewIssuer(t, clock, 0)
	now := clock.Now().Unix()
	tests := []struct {
		name  string
		token session.Token
		want  map[string]any
	}{
		{
			name:  "Defaults",
			token: session.Token{Subject: "user_2abc", SessionID: "sess_2abc"},
			want: map[string]any{
				"sub": "user_2abc", "sid": "sess_2abc", "iss": session.DefaultIssuerURL,
				"iat": now, "nbf": now - 10, "exp": now + 60, "v": 2, "sts": "active", "fva": []any{0, -1},
			},
		},
		{
			name: "Everything",
			token: session.Token{
				Subject: "user_2abc", SessionID: "sess_2abc", AuthorizedParty: "http://localhost:3000",
				SessionStatus: "pending", IssuedAt: start.Add(-time.Hour), NotBefore: start.Add(-2 * time.Hour),
				Expiry: start.Add(time.Hour),
			},
			want: map[string]any{
				"sub": "user_2abc", "sid": "sess_2abc", "iss": session.DefaultIssuerURL, "azp": "http://localhost:3000",
				"iat": now - 3600, "nbf": now - 7200, "exp": now + 3600, "v": 2, "sts": "pending", "fva": []any{0, -1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := MustMint(t, iss, tt.token)
			var got map[string]any
			decodePart(t, strings.Split(token, ".")[1], &got)
			// JSON numbers decode as float64; compare through JSON.
			var want map[string]any
			if err := json.Unmarshal(mustJSON(t, tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssuerMintRandomSessionIDs(t *testing.T) {
	t.Parallel()
	iss := MustNewIssuer(t, newClock(), 0)
	sid := func() string {
		var c struct {
			Sid string `json:"sid"`
		}
		decodePart(t, strings.Split(MustMint(t, iss, session.Token{Subject: "user_2abc"}), ".")[1], &c)
		return c.Sid
	}
	a, b := sid(), sid()
	if !strings.HasPrefix(a, "sess_") || len(a) < 20 {
		t.Fatalf("sid = %q, want a sess_ id", a)
	}
	if a == b {
		t.Fatalf("two tokens share the sid %q", a)
	}
}

func TestIssuerErrors(t *testing.T) {
	t.Parallel()
	iss := MustNewIssuer(t, newClock(), 0)
	if _, err := iss.Mint(session.Token{}); err == nil {
		t.Fatal("Mint without subject: no error")
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := session.NewIssuer(session.IssuerConfig{Key: small}); err == nil {
		t.Fatal("NewIssuer with a 1024-bit key: no error")
	}
	if err := iss.Rotate(small); err == nil {
		t.Fatal("Rotate to a 1024-bit key: no error")
	}
}

func TestIssuerGeneratesKey(t *testing.T) {
	t.Parallel()
	clock := newClock()
	iss, err := session.NewIssuer(session.IssuerConfig{Now: clock.Now, TTL: 5 * time.Minute})
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	if got, want := iss.URL(), session.DefaultIssuerURL; got != want {
		t.Fatalf("URL = %q, want %q", got, want)
	}
	v := MustNewVerifier(t, session.Config{PEMKey: iss.PublicKeyPEM(), Now: clock.Now})
	claims, err := v.Verify(t.Context(), MustMint(t, iss, session.Token{Subject: "user_2abc"}))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got, want := claims.Expiry.Sub(claims.IssuedAt), 5*time.Minute; got != want {
		t.Fatalf("lifetime = %v, want the configured %v", got, want)
	}
}
