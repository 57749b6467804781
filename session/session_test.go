package session_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/clerksync/clerksync/session"
)

func TestTokenFromRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		auth   string // Authorization header, if any
		cookie string // __session cookie, if any
		other  string // a cookie of another name, if any
		want   string
		wantOK bool
	}{
		{name: "Nothing", want: "", wantOK: false},
		{name: "Cookie", cookie: "a.b.c", want: "a.b.c", wantOK: true},
		{name: "Bearer", auth: "Bearer a.b.c", want: "a.b.c", wantOK: true},
		{name: "BearerLowerCase", auth: "bearer a.b.c", want: "a.b.c", wantOK: true},
		{name: "BearerExtraSpaces", auth: "  Bearer   a.b.c  ", want: "a.b.c", wantOK: true},
		{name: "BearerWinsOverCookie", auth: "Bearer h.h.h", cookie: "c.c.c", want: "h.h.h", wantOK: true},
		{name: "EmptyBearerFallsBackToCookie", auth: "Bearer ", cookie: "c.c.c", want: "c.c.c", wantOK: true},
		{name: "BasicAuthFallsBackToCookie", auth: "Basic dXNlcjpwYXNz", cookie: "c.c.c", want: "c.c.c", wantOK: true},
		{name: "BasicAuthAlone", auth: "Basic dXNlcjpwYXNz", want: "", wantOK: false},
		{name: "SchemeOnly", auth: "Bearer", want: "", wantOK: false},
		{name: "EmptyCookie", cookie: "", other: "x", want: "", wantOK: false},
		{name: "OtherCookie", other: "a.b.c", want: "", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/api/profile", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: session.CookieName, Value: tt.cookie})
			}
			if tt.other != "" {
				r.AddCookie(&http.Cookie{Name: "__client_uat", Value: tt.other})
			}
			got, ok := session.TokenFromRequest(r)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("TokenFromRequest = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
