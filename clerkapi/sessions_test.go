package clerkapi_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
)

func TestRevokeSession(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/sessions/sess_live/revoke":
			_, _ = w.Write([]byte(`{"object":"session","id":"sess_live","status":"revoked"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"code":"resource_not_found","message":"not found"}]}`))
		}
	}))
	t.Cleanup(srv.Close)
	c, err := clerkapi.New(clerkapi.Config{BaseURL: srv.URL + "/v1", SecretKey: "sk_test_abc", HTTPClient: srv.Client(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}

	if err := c.RevokeSession(t.Context(), "sess_live"); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	if err := c.RevokeSession(t.Context(), "sess_gone"); err == nil {
		t.Fatal("RevokeSession of an unknown session succeeded")
	}
	mustCode(t, c.RevokeSession(t.Context(), "sess/../users"), clerksync.EINVALID)

	mu.Lock()
	defer mu.Unlock()
	want := []string{"POST /v1/sessions/sess_live/revoke Bearer sk_test_abc", "POST /v1/sessions/sess_gone/revoke Bearer sk_test_abc"}
	if len(seen) != len(want) || seen[0] != want[0] || seen[1] != want[1] {
		t.Fatalf("requests = %q, want %q", seen, want)
	}
}
