package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/session"
)

// testIssuer mints session tokens for the serve tests; its key is made once.
var testIssuer = sync.OnceValue(func() *session.Issuer {
	iss, err := session.NewIssuer(session.IssuerConfig{})
	if err != nil {
		panic(err)
	}
	return iss
})

func mint(tb testing.TB, userID string) string {
	tb.Helper()
	tok, err := testIssuer().Mint(session.Token{Subject: userID})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// getProfile calls GET /api/profile with a bearer token.
func getProfile(tb testing.TB, base, token string) answer {
	tb.Helper()
	req := mustReq(tb, http.MethodGet, base+"/api/profile")
	req.Header.Set("Authorization", "Bearer "+token)
	return do(tb, req)
}

func TestServeProfile_NotConfigured(t *testing.T) {
	t.Parallel()
	s := MustRunServe(t, nil)
	a := getProfile(t, s.URL, mint(t, "user_2nobody"))
	if a.Status != http.StatusServiceUnavailable || a.Body["code"] != "not_configured" {
		t.Fatalf("/api/profile without keys = %d %v", a.Status, a.Body)
	}
	if !strings.Contains(s.Logs.String(), "profile page not configured") {
		t.Fatalf("logs do not say the profile page is off:\n%s", s.Logs)
	}
}

func TestServeProfile_KeyPrecedence(t *testing.T) {
	t.Parallel()
	pk := "pk_test_" + base64.StdEncoding.EncodeToString([]byte("example.clerk.accounts.dev$"))
	s := MustRunServe(t, map[string]string{
		"CLERK_PUBLISHABLE_KEY": pk,
		"CLERK_JWKS_URL":        "https://example.clerk.accounts.dev/.well-known/jwks.json",
		"CLERK_JWT_KEY":         testIssuer().PublicKeyPEM(),
	})
	want := "session tokens verified with CLERK_JWT_KEY (also set, ignored: CLERK_JWKS_URL, CLERK_PUBLISHABLE_KEY"
	if !strings.Contains(s.Logs.String(), want) {
		t.Fatalf("logs lack %q:\n%s", want, s.Logs)
	}
	// The PEM key verifies with no request: a valid token reaches the store (no row,
	// no secret key to sync it with).
	a := getProfile(t, s.URL, mint(t, "user_2precedence"))
	if a.Status != http.StatusNotFound || a.Body["code"] != "not_synced" {
		t.Fatalf("/api/profile = %d %v", a.Status, a.Body)
	}
	if hint, _ := a.Body["hint"].(string); !strings.Contains(hint, "CLERK_SECRET_KEY") {
		t.Fatalf("hint = %q", hint)
	}
}

func TestServeProfile_JWKSAndBackendAPI(t *testing.T) {
	t.Parallel()
	jwks := httptest.NewServer(testIssuer())
	t.Cleanup(jwks.Close)
	fake := clerkfake.New()
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	u, err := fake.CreateUser(clerkfake.UserParams{FirstName: "Mary", LastName: "Jackson", Email: "mary@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s := MustRunServe(t, map[string]string{
		"CLERK_JWKS_URL":           jwks.URL,
		"CLERK_SECRET_KEY":         fake.SecretKey(),
		"CLERK_API_URL":            api.URL + "/v1",
		"CLERK_AUTHORIZED_PARTIES": "https://app.example.com",
	})
	// Signed in, no row yet: synced on the spot from the Backend API.
	a := getProfile(t, s.URL, mint(t, u.ID))
	if a.Status != http.StatusOK || a.Body["email"] != "mary@example.com" || a.Body["sync_source"] != "api" {
		t.Fatalf("/api/profile = %d %v", a.Status, a.Body)
	}
	if p := s.profile(t, u.ID); p == nil || p.FirstName != "Mary" {
		t.Fatalf("row = %+v", p)
	}
	// The drop-in script is served with the default max age.
	resp, err := http.Get(s.URL + "/profile-sync.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/profile-sync.js = %d", resp.StatusCode)
	}
}

func TestServeProfile_BadSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"PublishableKeyIsSecret", map[string]string{"CLERK_PUBLISHABLE_KEY": "sk_test_abc"}, nil, []string{"CLERK_PUBLISHABLE_KEY holds a secret key"}},
		{"PublishableKeyGarbage", map[string]string{"CLERK_PUBLISHABLE_KEY": "hello"}, nil, []string{"CLERK_PUBLISHABLE_KEY does not start with pk_test_ or pk_live_", "Clerk Dashboard"}},
		{"JWTKeyNotPEM", map[string]string{"CLERK_JWT_KEY": "not a key"}, nil, []string{"CLERK_JWT_KEY is not a PEM public key"}},
		{"JWKSPlainHTTP", map[string]string{"CLERK_JWKS_URL": "http://example.com/jwks.json"}, nil, []string{"CLERK_JWKS_URL uses plain http"}},
		{"AuthorizedPartyNotOrigin", map[string]string{"CLERK_JWT_KEY": testIssuer().PublicKeyPEM()}, []string{"--authorized-parties", "https://app.example.com/login"}, []string{"is not an origin"}},
		{"SecretKeyIsPublishable", map[string]string{"CLERK_SECRET_KEY": "pk_test_abc"}, nil, []string{"CLERK_SECRET_KEY holds a publishable key"}},
		{"SyncIntervalZero", nil, []string{"--profile-sync-interval", "0s"}, []string{"--profile-sync-interval must be positive"}},
		{"PublicURLWithPath", nil, []string{"--public-url", "https://clerksync.example.com/app"}, []string{"--public-url", "is not an origin"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"CLERK_WEBHOOK_SECRET": testSecret, "DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "x.db")}
			for k, v := range tt.env {
				env[k] = v
			}
			m, stdout, stderr := testMain(env)
			code := m.exitCode(m.Run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)))
			out := stdout.String() + stderr.String()
			if code != 2 {
				t.Fatalf("exit %d, want 2:\n%s", code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "sk_test_abc") || strings.Contains(out, "pk_test_abc") {
				t.Errorf("a key is echoed:\n%s", out)
			}
		})
	}
}
