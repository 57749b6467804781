package session_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/session"
)

func TestJWKSURLFromPublishableKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     string
		want    string
		wantMsg string // part of the error message when the key is refused
	}{
		{
			name: "Development",
			key:  "pk_test_c3dlZXBpbmctcGlnLTEyLmNsZXJrLmFjY291bnRzLmRldiQ", // sweeping-pig-12.clerk.accounts.dev$
			want: "https://sweeping-pig-12.clerk.accounts.dev/.well-known/jwks.json",
		},
		{
			name: "DevelopmentPadded",
			key:  "pk_test_Y2xlYW4tbWF5Zmx5LTYyLmNsZXJrLmFjY291bnRzLmRldiQ=", // clean-mayfly-62.clerk.accounts.dev$
			want: "https://clean-mayfly-62.clerk.accounts.dev/.well-known/jwks.json",
		},
		{
			name: "Production",
			key:  "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k", // clerk.example.com$
			want: "https://clerk.example.com/.well-known/jwks.json",
		},
		{
			name: "ProductionPaddingLost",
			key:  "pk_live_Y2xlcmsuYWNtZS1jb3JwLmlvJA", // clerk.acme-corp.io$ without its ==
			want: "https://clerk.acme-corp.io/.well-known/jwks.json",
		},
		{
			name: "SurroundingSpace",
			key:  " pk_live_Y2xlcmsuZXhhbXBsZS5jb20k\n",
			want: "https://clerk.example.com/.well-known/jwks.json",
		},
		{name: "Empty", key: "", wantMsg: "does not start with pk_test_ or pk_live_"},
		{name: "SecretKey", key: "sk_test_clerksync_fake_secret", wantMsg: "holds a secret key"},
		{name: "UnknownPrefix", key: "pk_prod_Y2xlcmsuZXhhbXBsZS5jb20k", wantMsg: "does not start with pk_test_ or pk_live_"},
		{name: "NotBase64", key: "pk_test_!!!notbase64!!!", wantMsg: "not valid base64"},
		{name: "NoDollar", key: "pk_live_Y2xlcmsuZXhhbXBsZS5jb20=", wantMsg: "followed by $"},
		{name: "OnlyDollar", key: "pk_live_JA==", wantMsg: "followed by $"},
		{name: "PrefixOnly", key: "pk_test_", wantMsg: "followed by $"},
		{name: "SpaceInHost", key: "pk_live_YmFkIGhvc3QuY29tJA==", wantMsg: "not encode a valid Frontend API host"},
		{name: "HostWithPath", key: "pk_live_Y2xlcmsuZXhhbXBsZS5jb20vcGF0aCQ=", wantMsg: "not encode a valid Frontend API host"},
		{name: "NotADomain", key: "pk_test_bG9jYWxob3N0JA==", wantMsg: "not encode a valid Frontend API host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := session.JWKSURLFromPublishableKey(tt.key)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("JWKSURLFromPublishableKey: %v", err)
				}
				if got != tt.want {
					t.Fatalf("JWKSURLFromPublishableKey = %q, want %q", got, tt.want)
				}
				return
			}
			checkConfigErr(t, err, "CLERK_PUBLISHABLE_KEY", tt.wantMsg)
			if got != "" {
				t.Fatalf("JWKSURLFromPublishableKey = %q, want \"\"", got)
			}
			// (Past the prefix, which the hint names.)
			if len(tt.key) > len("pk_test_") && strings.Contains(err.Error(), strings.TrimSpace(tt.key)) {
				t.Fatalf("error %q repeats the key", err)
			}
		})
	}
}

// checkConfigErr fails the test unless err is an ECONFIG *clerksync.Error whose
// message names setting and contains msg, with a hint.
func checkConfigErr(tb testing.TB, err error, setting, msg string) {
	tb.Helper()
	var e *clerksync.Error
	if !errors.As(err, &e) {
		tb.Fatalf("err = %v (%T), want a *clerksync.Error", err, err)
	}
	if got, want := e.Code, clerksync.ECONFIG; got != want {
		tb.Fatalf("Code = %q, want %q (err %v)", got, want, err)
	}
	if !strings.Contains(e.Message, setting) || !strings.Contains(e.Message, msg) {
		tb.Fatalf("Message = %q, want it to name %s and contain %q", e.Message, setting, msg)
	}
	if e.Hint == "" {
		tb.Fatalf("err %v has no hint", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	pemKey := MustNewIssuer(t, newClock(), 0).PublicKeyPEM()
	pemOf := func(pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	const pk = "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"

	tests := []struct {
		name    string
		cfg     session.Config
		setting string
		msg     string
	}{
		{name: "Nothing", cfg: session.Config{}, setting: "", msg: "no Clerk key is configured"},
		{name: "OnlyAuthorizedParties", cfg: session.Config{AuthorizedParties: []string{"https://example.com"}}, setting: "", msg: "no Clerk key is configured"},
		{name: "TwoSources", cfg: session.Config{PublishableKey: pk, PEMKey: pemKey}, setting: "CLERK_PUBLISHABLE_KEY and CLERK_JWT_KEY", msg: "are both set"},
		{name: "ThreeSources", cfg: session.Config{JWKSURL: "https://clerk.example.com/.well-known/jwks.json", PublishableKey: pk, PEMKey: pemKey}, setting: "CLERK_JWKS_URL and CLERK_PUBLISHABLE_KEY and CLERK_JWT_KEY", msg: "are all set"},
		{name: "JWKSURLNotURL", cfg: session.Config{JWKSURL: "clerk.example.com/.well-known/jwks.json"}, setting: "CLERK_JWKS_URL", msg: "is not an http(s) URL"},
		{name: "JWKSURLOtherScheme", cfg: session.Config{JWKSURL: "ftp://clerk.example.com/jwks.json"}, setting: "CLERK_JWKS_URL", msg: "is not an http(s) URL"},
		{name: "JWKSURLPlainHTTP", cfg: session.Config{JWKSURL: "http://clerk.example.com/.well-known/jwks.json"}, setting: "CLERK_JWKS_URL", msg: "plain http"},
		{name: "PublishableKeyBad", cfg: session.Config{PublishableKey: "pk_test_nope"}, setting: "CLERK_PUBLISHABLE_KEY", msg: "does not encode"},
		{name: "PEMGarbage", cfg: session.Config{PEMKey: "not a key"}, setting: "CLERK_JWT_KEY", msg: "is not a PEM public key"},
		{name: "PEMPrivateKey", cfg: session.Config{PEMKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}))}, setting: "CLERK_JWT_KEY", msg: "is not a PEM public key"},
		{name: "PEMNotRSA", cfg: session.Config{PEMKey: pemOf(&ec.PublicKey)}, setting: "CLERK_JWT_KEY", msg: "is not an RSA public key"},
		{name: "PEMShortRSA", cfg: session.Config{PEMKey: pemOf(&small.PublicKey)}, setting: "CLERK_JWT_KEY", msg: "1024-bit"},
		{name: "APIURLPlainHTTP", cfg: session.Config{SecretKey: "sk_test_clerksync_fake_secret", APIURL: "http://api.clerk.com/v1"}, setting: "CLERK_API_URL", msg: "plain http"},
		{name: "AuthorizedPartyNotOrigin", cfg: session.Config{PublishableKey: pk, AuthorizedParties: []string{"localhost:3000"}}, setting: "CLERK_AUTHORIZED_PARTIES", msg: `"localhost:3000" is not an origin`},
		{name: "AuthorizedPartyWithPath", cfg: session.Config{PublishableKey: pk, AuthorizedParties: []string{"https://example.com/app"}}, setting: "CLERK_AUTHORIZED_PARTIES", msg: "is not an origin"},
		{name: "ProxyURLNotURL", cfg: session.Config{PublishableKey: pk, ProxyURL: "example.com/__clerk"}, setting: "proxy URL", msg: "is not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			checkConfigErr(t, err, tt.setting, tt.msg)
			v, err2 := session.NewVerifier(tt.cfg)
			if v != nil || err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("NewVerifier = %v, %v; want nil and the error of Validate (%v)", v, err2, err)
			}
			if tt.cfg.SecretKey != "" && strings.Contains(err.Error(), tt.cfg.SecretKey) {
				t.Fatalf("error %q contains the secret key", err)
			}
		})
	}
}

func TestConfigSources(t *testing.T) {
	t.Parallel()
	pemKey := MustNewIssuer(t, newClock(), 0).PublicKeyPEM()
	tests := []struct {
		name string
		cfg  session.Config
		want string // KeySource
	}{
		{name: "PublishableKey", cfg: session.Config{PublishableKey: "pk_test_c3dlZXBpbmctcGlnLTEyLmNsZXJrLmFjY291bnRzLmRldiQ"}, want: "https://sweeping-pig-12.clerk.accounts.dev/.well-known/jwks.json"},
		{name: "JWKSURL", cfg: session.Config{JWKSURL: "https://clerk.example.com/.well-known/jwks.json"}, want: "https://clerk.example.com/.well-known/jwks.json"},
		{name: "JWKSURLLocalEmulator", cfg: session.Config{JWKSURL: "http://localhost:3000/.well-known/jwks.json"}, want: "http://localhost:3000/.well-known/jwks.json"},
		{name: "JWKSURLLoopbackIP", cfg: session.Config{JWKSURL: "http://127.0.0.1:3000/jwks"}, want: "http://127.0.0.1:3000/jwks"},
		{name: "PEMKey", cfg: session.Config{PEMKey: pemKey}, want: "CLERK_JWT_KEY"},
		{name: "SecretKeyDefaultAPI", cfg: session.Config{SecretKey: "sk_test_clerksync_fake_secret"}, want: "https://api.clerk.com/v1/jwks"},
		{name: "SecretKeyOwnAPI", cfg: session.Config{SecretKey: "sk_test_clerksync_fake_secret", APIURL: "https://api.example.com/v1/"}, want: "https://api.example.com/v1/jwks"},
		{name: "SecretKeyBesidePublishableKey", cfg: session.Config{SecretKey: "sk_test_clerksync_fake_secret", PublishableKey: "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"}, want: "https://clerk.example.com/.well-known/jwks.json"},
		{name: "SecretKeyBesidePEMKey", cfg: session.Config{SecretKey: "sk_test_clerksync_fake_secret", PEMKey: pemKey}, want: "CLERK_JWT_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			v := MustNewVerifier(t, tt.cfg)
			if got := v.KeySource(); got != tt.want {
				t.Fatalf("KeySource = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseAuthorizedParties(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "Empty", in: "", want: nil},
		{name: "One", in: "https://example.com", want: []string{"https://example.com"}},
		{name: "Commas", in: "https://example.com,http://localhost:3000", want: []string{"https://example.com", "http://localhost:3000"}},
		{name: "CommasAndSpaces", in: " https://example.com, http://localhost:3000 ,,", want: []string{"https://example.com", "http://localhost:3000"}},
		{name: "Spaces", in: "https://a.example https://b.example", want: []string{"https://a.example", "https://b.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, session.ParseAuthorizedParties(tt.in)); diff != "" {
				t.Fatalf("ParseAuthorizedParties(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
