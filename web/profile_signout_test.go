package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/session"
)

// recordingRevoker records the sessions it is asked to revoke, and fails with err.
type recordingRevoker struct {
	mu      sync.Mutex
	revoked []string
	err     error
}

func (r *recordingRevoker) RevokeSession(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked = append(r.revoked, id)
	return r.err
}

func (r *recordingRevoker) sessions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.revoked...)
}

// expiredCookies returns the names of the cookies an answer expires.
func expiredCookies(h http.Header) []string {
	var names []string
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.MaxAge < 0 && c.Value == "" && c.Path == "/" {
			names = append(names, c.Name)
		}
	}
	return names
}

func TestProfilePage_HeaderNamesTheUser(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})
	r := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: e.Token(t, u.ID, "")})
	if r.Status != http.StatusOK {
		t.Fatalf("status = %d:\n%s", r.Status, r.Body)
	}
	_, header, ok := strings.Cut(r.Body, `<header class="topbar">`)
	if !ok {
		t.Fatalf("no header:\n%s", r.Body)
	}
	header, _, _ = strings.Cut(header, "</header>")
	for _, want := range []string{
		`<span class="topbar-name" data-account="primary">Ada Lovelace</span>`, `<span class="topbar-email" data-account="secondary">ada@example.com</span>`,
		`action="/profile/sign-out"`, `name="csrf_token"`, ">Sign out</button>",
	} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %q:\n%s", want, header)
		}
	}
	if strings.Contains(header, `class="mono">`+u.ID) {
		t.Errorf("header shows the raw user id:\n%s", header)
	}

	// Without a name the header shows the email address.
	nameless := e.MustCreateUser(t, "", "", "grace@example.com")
	nameless, err := e.Fake.UpdateUser(nameless.ID, func(u *clerkfake.User) { u.FirstName, u.LastName = nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	e.MustStore(t, nameless)
	r = e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: e.Token(t, nameless.ID, "")})
	if !strings.Contains(r.Body, `<span class="topbar-name" data-account="primary">grace@example.com</span><span class="topbar-email" data-account="secondary" hidden></span>`) {
		t.Errorf("header of a user without a name lacks the email address:\n%s", r.Body)
	}
}

func TestProfilePage_SignOut(t *testing.T) {
	t.Parallel()
	revoker := &recordingRevoker{}
	e, u := MustRunWithAda(t, profileOptions{revoker: revoker})
	token := e.Token(t, u.ID, "")
	page := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: token})
	csrf := csrfField.FindStringSubmatch(page.Body)[1]

	// Refused without the page's form token or from another site: still signed in.
	e.PostForged(t, "/profile/sign-out", token, csrf, nil, func(t *testing.T, r reply) {
		if r.Status != http.StatusForbidden || len(expiredCookies(r.Header)) > 0 {
			t.Fatalf("status = %d, expired %v; want 403 and no cookie expired:\n%s", r.Status, expiredCookies(r.Header), r.Body)
		}
	})
	if got := revoker.sessions(); len(got) != 0 {
		t.Fatalf("a refused sign-out revoked %v", got)
	}

	// Accepted: the session is revoked with Clerk, the cookies expire, the page says so.
	suffixed := &http.Cookie{Name: session.CookieName + "_Zx9kQ2aB", Value: token}
	r := e.Do(t, request{method: http.MethodPost, path: "/profile/sign-out", cookie: token, cookies: []*http.Cookie{suffixed},
		form: url.Values{"csrf_token": {csrf}}, origin: e.URL})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/profile?signed_out=1" {
		t.Fatalf("sign-out = %d Location %q:\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if got := strings.Join(expiredCookies(r.Header), " "); !strings.Contains(got, session.CookieName) || !strings.Contains(got, suffixed.Name) {
		t.Fatalf("expired cookies %q, want __session and %s", got, suffixed.Name)
	}
	if got := revoker.sessions(); len(got) != 1 || got[0] != "sess_"+u.ID {
		t.Fatalf("revoked %v, want [sess_%s]", got, u.ID)
	}
	if !strings.Contains(e.Logs.String(), "Clerk session revoked") {
		t.Errorf("the sign-out is not logged:\n%s", e.Logs)
	}
	r = e.Do(t, request{method: http.MethodGet, path: "/profile?signed_out=1"})
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "You are signed out") || !strings.Contains(r.Body, "accounts.example.com/sign-in") {
		t.Fatalf("page after sign-out = %d:\n%s", r.Status, r.Body)
	}

	// Without a session there is nothing to protect: the cookies expire all the same.
	r = e.Do(t, request{method: http.MethodPost, path: "/profile/sign-out", form: url.Values{}})
	if r.Status != http.StatusSeeOther || len(expiredCookies(r.Header)) == 0 {
		t.Fatalf("sign-out without a session = %d, expired %v", r.Status, expiredCookies(r.Header))
	}
	if r := e.Do(t, request{method: http.MethodGet, path: "/profile/sign-out"}); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("GET /profile/sign-out = %d, want 405", r.Status)
	}
}

func TestProfilePage_SignOutWhenClerkFails(t *testing.T) {
	t.Parallel()
	revoker := &recordingRevoker{err: errors.New("clerk is down")}
	e, u := MustRunWithAda(t, profileOptions{revoker: revoker})
	token := e.Token(t, u.ID, "")
	csrf := csrfField.FindStringSubmatch(e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: token}).Body)[1]
	r := e.Do(t, request{method: http.MethodPost, path: "/profile/sign-out", cookie: token, form: url.Values{"csrf_token": {csrf}}})
	if r.Status != http.StatusSeeOther || len(expiredCookies(r.Header)) == 0 {
		t.Fatalf("sign-out = %d, expired %v; want 303 with the cookies expired", r.Status, expiredCookies(r.Header))
	}
	if !strings.Contains(e.Logs.String(), "Clerk session could not be revoked") {
		t.Errorf("the failed revocation is not logged:\n%s", e.Logs)
	}
}
