package flash_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/clerksync/clerksync/internal/flash"
)

type notice struct{ Kind, Text string }

func TestSetThenTakeOnce(t *testing.T) {
	t.Parallel()
	set := httptest.NewRecorder()
	flash.Set(set, httptest.NewRequest(http.MethodPost, "/profile/sync", nil), "f", "/profile", notice{"success", "Synced."})

	req := httptest.NewRequest(http.MethodGet, "/profile", nil)
	for _, c := range set.Result().Cookies() {
		req.AddCookie(c)
	}
	take := httptest.NewRecorder()
	var got notice
	if !flash.Take(take, req, "f", "/profile", &got) || got != (notice{"success", "Synced."}) {
		t.Fatalf("Take = %+v, want the notice that was set", got)
	}
	cleared := take.Result().Cookies()
	if len(cleared) != 1 || cleared[0].MaxAge >= 0 {
		t.Fatalf("Take did not clear the cookie: %+v", cleared)
	}
}

func TestTakeRefusesGarbage(t *testing.T) {
	t.Parallel()
	for _, value := range []string{"", "!!!not-base64", "bm90IGpzb24"} {
		req := httptest.NewRequest(http.MethodGet, "/profile", nil)
		req.AddCookie(&http.Cookie{Name: "f", Value: value})
		var got notice
		if flash.Take(httptest.NewRecorder(), req, "f", "/profile", &got) {
			t.Errorf("Take accepted cookie %q as %+v", value, got)
		}
	}
	var got notice
	if flash.Take(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), "f", "/", &got) {
		t.Error("Take reported a notice without a cookie")
	}
}
