package flash_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync/internal/flash"
)

var profile = flash.Cookie{Name: "f", Path: "/profile"}

func TestSetThenTakeOnce(t *testing.T) {
	t.Parallel()
	set := httptest.NewRecorder()
	want := &flash.Notice{Kind: "success", Title: "Synced.", Changed: []string{"first_name"}}
	profile.Set(set, httptest.NewRequest(http.MethodPost, "/profile/sync", nil), want)

	req := httptest.NewRequest(http.MethodGet, "/profile", nil)
	for _, c := range set.Result().Cookies() {
		req.AddCookie(c)
	}
	take := httptest.NewRecorder()
	if diff := cmp.Diff(want, profile.Take(take, req)); diff != "" {
		t.Fatalf("Take (-want +got):\n%s", diff)
	}
	cleared := take.Result().Cookies()
	if len(cleared) != 1 || cleared[0].MaxAge >= 0 {
		t.Fatalf("Take did not clear the cookie: %+v", cleared)
	}
}

func TestTakeRefusesGarbage(t *testing.T) {
	t.Parallel()
	// "", not base64, base64 of "not json", and a notice of a kind no page knows.
	for _, value := range []string{"", "!!!not-base64", "bm90IGpzb24", "eyJrIjoiZXZpbCIsInQiOiJ4In0"} {
		req := httptest.NewRequest(http.MethodGet, "/profile", nil)
		req.AddCookie(&http.Cookie{Name: "f", Value: value})
		if got := profile.Take(httptest.NewRecorder(), req); got != nil {
			t.Errorf("Take accepted cookie %q as %+v", value, got)
		}
	}
	if got := profile.Take(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil)); got != nil {
		t.Errorf("Take returned %+v without a cookie", got)
	}
}
