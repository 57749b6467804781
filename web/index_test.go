package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clerksync/clerksync/internal/sqlitetest"
	"github.com/clerksync/clerksync/metrics"
	"github.com/clerksync/clerksync/web"
)

func TestIndex(t *testing.T) {
	t.Parallel()
	store := sqlitetest.Open(t)
	srv := &web.Server{Store: store, Version: "v1.2.3", Metrics: metrics.New()}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	get := func(path, accept string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	routes := []string{"/api/webhooks/clerk", "/api/clerk-webhook", "/healthz", "/readyz", "/metrics", "/api/changes", "/profile", "/profile/sign-out", "/api/profile", "/api/profile/sync", "/profile-sync.js"}

	t.Run("Page", func(t *testing.T) {
		status, ctype, body := get("/", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		if status != http.StatusOK || !strings.HasPrefix(ctype, "text/html") {
			t.Fatalf("GET / = %d %s", status, ctype)
		}
		for _, want := range append([]string{"clerksync", "v1.2.3", "no webhook secret", "not configured"}, routes...) {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q:\n%s", want, body)
			}
		}
	})
	t.Run("JSON", func(t *testing.T) {
		status, ctype, body := get("/", "application/json")
		if status != http.StatusOK || ctype != "application/json" {
			t.Fatalf("GET / = %d %s", status, ctype)
		}
		var info struct {
			Service, Version string
			Routes           []struct{ Method, Path, Off string }
		}
		if err := json.Unmarshal([]byte(body), &info); err != nil {
			t.Fatal(err)
		}
		if info.Service != "clerksync" || info.Version != "v1.2.3" || len(info.Routes) != len(routes) {
			t.Fatalf("GET / = %+v", info)
		}
		for i, r := range info.Routes {
			if r.Path != routes[i] {
				t.Errorf("route %d = %s, want %s", i, r.Path, routes[i])
			}
		}
	})
	t.Run("EveryRouteIsServed", func(t *testing.T) {
		for _, path := range routes {
			if status, _, _ := get(path, ""); status == http.StatusNotFound && !strings.HasPrefix(path, "/api/webhooks") && !strings.HasPrefix(path, "/api/clerk-") { // webhooks off: 404 with a note
				t.Errorf("GET %s = 404: the page lists a route the server does not have", path)
			}
		}
	})
	t.Run("UnknownPathsStill404", func(t *testing.T) {
		for _, path := range []string{"/nope", "/index.html", "/api"} {
			if status, _, _ := get(path, ""); status != http.StatusNotFound {
				t.Errorf("GET %s = %d, want 404", path, status)
			}
		}
	})
}
