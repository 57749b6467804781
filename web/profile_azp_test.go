package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestProfileAPI_OwnOriginOnlyWithoutAuthorizedParties checks what the README
// promises when CLERK_AUTHORIZED_PARTIES is not set: a session token is accepted
// only when it was made for this server's own origin (or names none).
func TestProfileAPI_OwnOriginOnlyWithoutAuthorizedParties(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{noParties: true})
	for _, tt := range []struct {
		name   string
		azp    string
		status int
	}{
		{"OwnOrigin", e.URL, http.StatusOK},
		{"NoAzp", "", http.StatusOK},
		{"AnotherSite", "https://evil.example.net", http.StatusUnauthorized},
		{"TheAppElsewhere", appOrigin, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, req := range []request{
				{method: "GET", path: "/api/profile", bearer: e.Token(t, u.ID, tt.azp)},
				{method: "GET", path: "/api/profile", cookie: e.Token(t, u.ID, tt.azp)},
			} {
				if r := e.Do(t, req); r.Status != tt.status {
					t.Fatalf("token for %q: status = %d, want %d: %s", tt.azp, r.Status, tt.status, r.Body)
				}
			}
		})
	}
	if logs := e.Logs.String(); !strings.Contains(logs, "CLERK_AUTHORIZED_PARTIES") {
		t.Fatalf("a refused azp is not logged with its fix:\n%s", logs)
	}
}

// TestProfileAPI_OwnOriginIsThePublicURL checks that behind a proxy the origin is
// CLERKSYNC_PUBLIC_URL, not the Host the proxy sends.
func TestProfileAPI_OwnOriginIsThePublicURL(t *testing.T) {
	t.Parallel()
	const public = "https://clerksync.example.com"
	e, u := MustRunWithAda(t, profileOptions{noParties: true, publicURL: public})
	if r := e.Do(t, request{method: "GET", path: "/api/profile", bearer: e.Token(t, u.ID, public)}); r.Status != http.StatusOK {
		t.Fatalf("token for the public URL: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, request{method: "GET", path: "/api/profile", bearer: e.Token(t, u.ID, e.URL)}); r.Status != http.StatusUnauthorized {
		t.Fatalf("token for the Host behind the proxy: %d, want 401", r.Status)
	}
}
