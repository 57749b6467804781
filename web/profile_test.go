package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/session"
)

const getUserRoute = "GET /v1/users/{user_id}"

func TestProfileAPI_Unauthorized(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})
	expired := e.Token(t, u.ID, "")
	e.Clock.Advance(2 * time.Minute)
	pending, err := e.Issuer.Mint(session.Token{Subject: u.ID, SessionStatus: "pending"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := session.NewIssuer(session.IssuerConfig{Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Mint(session.Token{Subject: u.ID})
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name    string
		req     request
		message string
	}{
		{"NoToken", request{method: "GET", path: "/api/profile"}, "not signed in"},
		{"NoTokenSync", request{method: "POST", path: "/api/profile/sync", origin: e.URL}, "not signed in"},
		{"Garbage", request{method: "GET", path: "/api/profile", bearer: "not-a-token"}, "invalid session token"},
		{"Expired", request{method: "GET", path: "/api/profile", cookie: expired}, "session token expired"},
		{"OtherKey", request{method: "GET", path: "/api/profile", bearer: forged}, "invalid session token"},
		{"Pending", request{method: "GET", path: "/api/profile", bearer: pending}, "finish signing in first"},
		{"UnauthorizedParty", request{method: "GET", path: "/api/profile", bearer: e.Token(t, u.ID, "https://evil.example")}, "session token issued to an unauthorized origin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.Do(t, tt.req)
			if got, want := r.Status, http.StatusUnauthorized; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, r.Body)
			}
			body := r.JSON(t)
			if got, want := body["error"], tt.message; got != want {
				t.Fatalf("error = %v, want %q", got, want)
			}
			if got, want := body["code"], "unauthorized"; got != want {
				t.Fatalf("code = %v, want %q", got, want)
			}
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Fatalf("Content-Type = %q", got)
			}
		})
	}
}

func TestProfileAPI_NotConfigured(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opt  profileOptions
	}{
		{"NoProfileConfig", profileOptions{noProfile: true}},
		{"NoSessionVerifier", profileOptions{noSessions: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := MustRunProfileServer(t, tt.opt)
			for _, path := range []string{"/api/profile", "/api/profile/sync"} {
				method := http.MethodGet
				if strings.HasSuffix(path, "/sync") {
					method = http.MethodPost
				}
				r := e.Do(t, request{method: method, path: path})
				if got, want := r.Status, http.StatusServiceUnavailable; got != want {
					t.Fatalf("%s: status = %d, want %d", path, got, want)
				}
				body := r.JSON(t)
				if got, want := body["code"], "not_configured"; got != want {
					t.Fatalf("%s: code = %v, want %q", path, got, want)
				}
				if hint, _ := body["hint"].(string); !strings.Contains(hint, "CLERK_PUBLISHABLE_KEY") {
					t.Fatalf("%s: hint %q does not say what to set", path, hint)
				}
			}
			page := e.Do(t, request{method: "GET", path: "/profile"})
			if page.Status != http.StatusServiceUnavailable || !strings.Contains(page.Body, "not configured") || !strings.Contains(page.Body, "CLERK_PUBLISHABLE_KEY") {
				t.Fatalf("/profile = %d:\n%s", page.Status, page.Body)
			}
			if js := e.Do(t, request{method: "GET", path: "/profile-sync.js"}); js.Status != http.StatusServiceUnavailable {
				t.Fatalf("/profile-sync.js = %d", js.Status)
			}

			// Webhooks do not depend on any of it.
			u := e.MustCreateUser(t, "Grace", "Hopper", "grace@example.com")
			e.MustStore(t, u)
			if e.Profile(t, u.ID) == nil {
				t.Fatal("webhook not applied")
			}
		})
	}
}

func TestProfileAPI_GetProfile(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})
	e.Fake.ResetCounters()

	r := e.Do(t, request{method: "GET", path: "/api/profile", cookie: e.Token(t, u.ID, "")})
	if got, want := r.Status, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, r.Body)
	}
	got := r.JSON(t)
	want := map[string]any{
		"user_id": u.ID, "name": "Ada Lovelace", "first_name": "Ada", "last_name": "Lovelace",
		"email": "ada@example.com", "email_verified": true, "username": *u.Username,
		"public_metadata": map[string]any{"plan": "free"}, "sync_source": "webhook",
	}
	for k, v := range want {
		if diff := cmp.Diff(v, got[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	for _, k := range []string{"private_metadata", "raw"} {
		if _, ok := got[k]; ok {
			t.Errorf("answer has %s", k)
		}
	}
	if n := e.Fake.Requests(getUserRoute); n != 0 {
		t.Fatalf("a synced row was read from Clerk %d times", n)
	}
}

func TestProfileAPI_EnsureUser(t *testing.T) {
	t.Parallel()
	e := MustRunProfileServer(t, profileOptions{})
	// Signed up a moment ago: Clerk has the user, the webhook has not arrived.
	u := e.MustCreateUser(t, "Katherine", "Johnson", "katherine@example.com")
	token := e.Token(t, u.ID, "")

	r := e.Do(t, request{method: "GET", path: "/api/profile", bearer: token})
	if got, want := r.Status, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, r.Body)
	}
	if got, want := r.JSON(t)["sync_source"], "api"; got != want {
		t.Fatalf("sync_source = %v, want %q", got, want)
	}
	if p := e.Profile(t, u.ID); p == nil || p.Email != "katherine@example.com" {
		t.Fatalf("row after ensure = %+v", p)
	}
	// Now that the row exists, Clerk is not asked again.
	e.Do(t, request{method: "GET", path: "/api/profile", bearer: token})
	if got, want := e.Fake.Requests(getUserRoute), 1; got != want {
		t.Fatalf("Clerk was asked %d times, want %d", got, want)
	}
	// The page does the same for a user it has never seen.
	v := e.MustCreateUser(t, "Dorothy", "Vaughan", "dorothy@example.com")
	page := e.Do(t, request{method: "GET", path: "/profile", cookie: e.Token(t, v.ID, "")})
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "Dorothy Vaughan") || !strings.Contains(page.Body, "just read from Clerk") {
		t.Fatalf("/profile for a new user = %d:\n%s", page.Status, page.Body)
	}
}

func TestProfileAPI_NotSynced(t *testing.T) {
	t.Parallel()
	e := MustRunProfileServer(t, profileOptions{noSyncer: true})
	u := e.MustCreateUser(t, "Alan", "Turing", "alan@example.com")
	token := e.Token(t, u.ID, "")

	r := e.Do(t, request{method: "GET", path: "/api/profile", bearer: token})
	if got, want := r.Status, http.StatusNotFound; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, r.Body)
	}
	body := r.JSON(t)
	if got, want := body["code"], "not_synced"; got != want {
		t.Fatalf("code = %v, want %q", got, want)
	}
	if msg, _ := body["error"].(string); !strings.Contains(msg, "not been synced") {
		t.Fatalf("error = %q", msg)
	}
	if hint, _ := body["hint"].(string); !strings.Contains(hint, "CLERK_SECRET_KEY") {
		t.Fatalf("hint = %q, want it to name CLERK_SECRET_KEY", hint)
	}
	s := e.Do(t, request{method: "POST", path: "/api/profile/sync", bearer: token})
	if s.Status != http.StatusServiceUnavailable || s.JSON(t)["code"] != "sync_not_configured" {
		t.Fatalf("sync without a Backend API client = %d %s", s.Status, s.Body)
	}

	// Once the webhook arrives the row is there.
	e.MustStore(t, u)
	if r := e.Do(t, request{method: "GET", path: "/api/profile", bearer: token}); r.Status != http.StatusOK {
		t.Fatalf("after the webhook: %d %s", r.Status, r.Body)
	}
}

// syncReply is the answer of POST /api/profile/sync.
type syncReply struct {
	Status  string `json:"status"`
	Outcome string `json:"outcome"`
	Action  string `json:"action"`
	Changes []struct {
		Field  string          `json:"field"`
		Label  string          `json:"label"`
		Before json.RawMessage `json:"before"`
		After  json.RawMessage `json:"after"`
	} `json:"changes"`
	Profile map[string]any `json:"profile"`
}

func decodeSync(tb testing.TB, r reply) syncReply {
	tb.Helper()
	var s syncReply
	if err := json.Unmarshal([]byte(r.Body), &s); err != nil {
		tb.Fatalf("sync answer %d: %v\n%s", r.Status, err, r.Body)
	}
	return s
}

func TestProfileAPI_SyncDiff(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})

	// A change in Clerk whose webhook never arrived.
	e.Clock.Advance(time.Minute)
	if _, err := e.Fake.UpdateUser(u.ID, func(u *clerkfake.User) {
		first := "Augusta"
		u.FirstName = &first
		u.PublicMetadata = json.RawMessage(`{"plan":"pro","seats":5}`)
	}); err != nil {
		t.Fatal(err)
	}

	r := e.Do(t, request{method: "POST", path: "/api/profile/sync", bearer: e.Token(t, u.ID, "")})
	if got, want := r.Status, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d: %s", got, want, r.Body)
	}
	s := decodeSync(t, r)
	if s.Status != "updated" || s.Outcome != "applied" || s.Action != "updated" {
		t.Fatalf("status/outcome/action = %s/%s/%s", s.Status, s.Outcome, s.Action)
	}
	type fieldChange struct{ Field, Label, Before, After string }
	var got []fieldChange
	for _, c := range s.Changes {
		got = append(got, fieldChange{c.Field, c.Label, string(c.Before), string(c.After)})
	}
	want := []fieldChange{
		{"first_name", "First name", `"Ada"`, `"Augusta"`},
		{"public_metadata", "Public metadata", `{"plan":"free"}`, `{"plan":"pro","seats":5}`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("changes (-want +got):\n%s", diff)
	}
	if got, want := s.Profile["first_name"], "Augusta"; got != want {
		t.Fatalf("profile.first_name = %v, want %q", got, want)
	}
	p := e.Profile(t, u.ID)
	if p.FirstName != "Augusta" || p.SyncSource != clerksync.SourceAPI {
		t.Fatalf("row after sync = %+v", p)
	}

	// Nothing new in Clerk: a sync lists no change.
	e.Clock.Advance(time.Minute)
	s = decodeSync(t, e.Do(t, request{method: "POST", path: "/api/profile/sync", bearer: e.Token(t, u.ID, "")}))
	if s.Status != "unchanged" || len(s.Changes) != 0 {
		t.Fatalf("second sync = %+v", s)
	}
}

func TestProfileAPI_CSRF(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})

	for _, tt := range []struct {
		name   string
		req    request
		status int
		cors   bool
	}{
		{"CookieWithoutOrigin", request{cookie: "plain"}, http.StatusForbidden, false},
		{"CookieFromForeignOrigin", request{cookie: "plain", origin: "https://evil.example"}, http.StatusForbidden, false},
		{"CookieFromForeignReferer", request{cookie: "plain", referer: "https://evil.example/page"}, http.StatusForbidden, false},
		{"CookieFromNullOrigin", request{cookie: "plain", origin: "null"}, http.StatusForbidden, false},
		{"CookieFromOwnOrigin", request{cookie: "plain", origin: "self"}, http.StatusOK, false},
		{"CookieFromOwnReferer", request{cookie: "plain", referer: "self/profile"}, http.StatusOK, false},
		{"CookieFromAuthorizedParty", request{cookie: "plain", origin: appOrigin}, http.StatusOK, true},
		{"CookieMadeForTheParty", request{cookie: "app", origin: appOrigin}, http.StatusOK, true},
		{"CookieMadeForAnotherPage", request{cookie: "app", origin: "self"}, http.StatusForbidden, false},
		{"BearerWithoutOrigin", request{bearer: "plain"}, http.StatusOK, false},
		{"BearerFromAnywhere", request{bearer: "app", origin: "https://evil.example"}, http.StatusOK, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Far enough apart for the per-user limit.
			e.Clock.Advance(time.Minute)
			tokens := map[string]string{"plain": e.Token(t, u.ID, ""), "app": e.Token(t, u.ID, appOrigin)}
			req := tt.req
			req.method, req.path = http.MethodPost, "/api/profile/sync"
			req.cookie, req.bearer = tokens[req.cookie], tokens[req.bearer]
			if req.origin == "self" {
				req.origin = e.URL
			}
			req.referer = strings.Replace(req.referer, "self", e.URL, 1)
			r := e.Do(t, req)
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.status == http.StatusForbidden {
				if got, want := r.JSON(t)["code"], "csrf"; got != want {
					t.Fatalf("code = %v, want %q", got, want)
				}
			}
			if got := r.Header.Get("Access-Control-Allow-Origin"); (got == appOrigin) != tt.cors {
				t.Fatalf("Access-Control-Allow-Origin = %q, want CORS %v", got, tt.cors)
			}
			if tt.cors && r.Header.Get("Access-Control-Allow-Credentials") != "true" {
				t.Fatal("no Access-Control-Allow-Credentials")
			}
		})
	}

	t.Run("OnlyPOST", func(t *testing.T) {
		r := e.Do(t, request{method: http.MethodGet, path: "/api/profile/sync", bearer: e.Token(t, u.ID, "")})
		if got, want := r.Status, http.StatusMethodNotAllowed; got != want {
			t.Fatalf("GET /api/profile/sync = %d, want %d", got, want)
		}
		if got := r.Header.Get("Allow"); !strings.Contains(got, "POST") {
			t.Fatalf("Allow = %q", got)
		}
	})
}

func TestProfileAPI_Preflight(t *testing.T) {
	t.Parallel()
	e := MustRunProfileServer(t, profileOptions{})
	ok := e.Do(t, request{method: http.MethodOptions, path: "/api/profile/sync", origin: appOrigin})
	if ok.Status != http.StatusNoContent {
		t.Fatalf("preflight from an authorized party = %d", ok.Status)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":      appOrigin,
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Headers":     "Authorization, Content-Type",
	} {
		if got := ok.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(ok.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("Access-Control-Allow-Methods = %q", ok.Header.Get("Access-Control-Allow-Methods"))
	}
	bad := e.Do(t, request{method: http.MethodOptions, path: "/api/profile/sync", origin: "https://evil.example"})
	if bad.Status != http.StatusForbidden || bad.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin = %d %v", bad.Status, bad.Header)
	}
}

func TestProfileAPI_ClerkDown(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})
	before := e.Profile(t, u.ID)
	if _, err := e.Fake.UpdateUser(u.ID, func(u *clerkfake.User) { u.LastName = ptr("King") }); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		fail   func()
		status int
		code   string
	}{
		{"ServerError", func() { e.Fake.FailNext(1, http.StatusInternalServerError) }, http.StatusBadGateway, "clerk_unavailable"},
		{"Unavailable", func() { e.Fake.FailNext(1, http.StatusServiceUnavailable) }, http.StatusBadGateway, "clerk_unavailable"},
		// Two drops: Go's transport retries a GET once on a reused connection.
		{"ConnectionDropped", func() { e.Fake.DropNext(2) }, http.StatusBadGateway, "clerk_unavailable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.Clock.Advance(time.Minute)
			tt.fail()
			r := e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync", bearer: e.Token(t, u.ID, "")})
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			body := r.JSON(t)
			if body["code"] != tt.code {
				t.Fatalf("code = %v, want %q", body["code"], tt.code)
			}
			if msg, _ := body["error"].(string); !strings.Contains(msg, "Clerk") || !strings.Contains(msg, "nothing was changed") {
				t.Fatalf("error = %q, want a clear message", msg)
			}
			if strings.Contains(r.Body, "internal_clerk_error") || strings.Contains(r.Body, "trace") {
				t.Fatalf("answer echoes Clerk's error: %s", r.Body)
			}
			if diff := cmp.Diff(before, e.Profile(t, u.ID)); diff != "" {
				t.Fatalf("row changed while Clerk was down (-before +after):\n%s", diff)
			}
		})
	}

	// Each failure is logged once, with the user's id and never their data.
	logs := e.Logs.String()
	if got, want := strings.Count(logs, "Profile request failed; nothing changed"), 3; got != want {
		t.Fatalf("%d failure lines, want %d:\n%s", got, want, logs)
	}
	if !strings.Contains(logs, "user_id="+u.ID) || strings.Contains(logs, "ada@example.com") {
		t.Fatalf("logs name no user id, or show an email address:\n%s", logs)
	}

	// Clerk is back: the same request now syncs.
	e.Fake.DropNext(0)
	e.Clock.Advance(time.Minute)
	r := e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync", bearer: e.Token(t, u.ID, "")})
	if r.Status != http.StatusOK || e.Profile(t, u.ID).LastName != "King" {
		t.Fatalf("after Clerk came back: %d %s", r.Status, r.Body)
	}
}

func TestProfileAPI_ClerkSlow(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{syncTimeout: 50 * time.Millisecond})
	e.Fake.SetLatency(time.Minute)
	r := e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync", bearer: e.Token(t, u.ID, "")})
	if r.Status != http.StatusGatewayTimeout || r.JSON(t)["code"] != "clerk_timeout" {
		t.Fatalf("sync with Clerk hanging = %d %s", r.Status, r.Body)
	}
	if p := e.Profile(t, u.ID); p.SyncSource != clerksync.SourceWebhook {
		t.Fatalf("row touched: %+v", p)
	}
}

func TestProfileAPI_RateLimit(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})
	v := e.MustCreateUser(t, "Grace", "Hopper", "grace@example.com")
	e.MustStore(t, v)
	e.Fake.ResetCounters()
	sync := func(userID string) reply {
		return e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync", bearer: e.Token(t, userID, "")})
	}

	if r := sync(u.ID); r.Status != http.StatusOK {
		t.Fatalf("first sync = %d %s", r.Status, r.Body)
	}
	e.Clock.Advance(2 * time.Second)
	r := sync(u.ID)
	if got, want := r.Status, http.StatusTooManyRequests; got != want {
		t.Fatalf("second sync 2 s later = %d, want %d", got, want)
	}
	if got, want := r.Header.Get("Retry-After"), "3"; got != want {
		t.Fatalf("Retry-After = %q, want %q", got, want)
	}
	if got, want := r.JSON(t)["code"], "rate_limited"; got != want {
		t.Fatalf("code = %v, want %q", got, want)
	}
	// Another user is not held back.
	if r := sync(v.ID); r.Status != http.StatusOK {
		t.Fatalf("other user's sync = %d", r.Status)
	}
	e.Clock.Advance(3 * time.Second)
	if r := sync(u.ID); r.Status != http.StatusOK {
		t.Fatalf("sync after the interval = %d %s", r.Status, r.Body)
	}
	if got, want := e.Fake.Requests(getUserRoute), 3; got != want {
		t.Fatalf("Clerk asked %d times, want %d", got, want)
	}
}

func TestProfileAPI_MaxAge(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})
	e.Fake.ResetCounters()
	visit := func() syncReply {
		r := e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync?max_age=900", bearer: e.Token(t, u.ID, "")})
		if r.Status != http.StatusOK {
			t.Fatalf("visit = %d %s", r.Status, r.Body)
		}
		return decodeSync(t, r)
	}

	e.Clock.Advance(10 * time.Minute)
	if got, want := visit().Status, "fresh"; got != want {
		t.Fatalf("status 10 min after the webhook = %q, want %q", got, want)
	}
	if n := e.Fake.Requests(getUserRoute); n != 0 {
		t.Fatalf("a fresh row was read from Clerk %d times", n)
	}
	e.Clock.Advance(10 * time.Minute)
	if got, want := visit().Status, "unchanged"; got != want {
		t.Fatalf("status 20 min after the webhook = %q, want %q", got, want)
	}
	if got, want := e.Fake.Requests(getUserRoute), 1; got != want {
		t.Fatalf("Clerk asked %d times, want %d", got, want)
	}
	if r := e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync?max_age=soon", bearer: e.Token(t, u.ID, "")}); r.Status != http.StatusBadRequest {
		t.Fatalf("max_age=soon = %d", r.Status)
	}
}

func TestProfileAPI_UserGone(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})
	token := e.Token(t, u.ID, "")
	// Deleted in Clerk; the user.deleted webhook was missed.
	if err := e.Fake.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	r := e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync", bearer: token})
	if r.Status != http.StatusGone || r.JSON(t)["code"] != "deleted" {
		t.Fatalf("sync of a deleted user = %d %s", r.Status, r.Body)
	}
	if p := e.Profile(t, u.ID); p != nil {
		t.Fatalf("row still there: %+v", p)
	}
	// The tombstone answers without asking Clerk again.
	e.Fake.ResetCounters()
	if r := e.Do(t, request{method: http.MethodGet, path: "/api/profile", bearer: token}); r.Status != http.StatusGone {
		t.Fatalf("GET after deletion = %d %s", r.Status, r.Body)
	}
	if n := e.Fake.Requests(getUserRoute); n != 0 {
		t.Fatalf("Clerk asked %d times about a deleted user", n)
	}
}

func ptr[T any](v T) *T { return &v }

func TestProfilePage_SignIn(t *testing.T) {
	t.Parallel()
	e := MustRunProfileServer(t, profileOptions{})
	r := e.Do(t, request{method: http.MethodGet, path: "/profile"})
	if got, want := r.Status, http.StatusUnauthorized; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	for _, want := range []string{
		"Sign in to see your profile",
		"__session",
		`href="https://accounts.example.com/sign-in?redirect_url=` + url.QueryEscape(e.URL+"/profile") + `"`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("sign-in page lacks %q:\n%s", want, r.Body)
		}
	}
	if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Fatalf("Content-Type = %q", got)
	}
	expired := e.Token(t, "user_2expired", "")
	e.Clock.Advance(time.Hour)
	if r := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: expired}); r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "session token expired") {
		t.Fatalf("page with an expired token = %d:\n%s", r.Status, r.Body)
	}
}

// scriptTag finds script elements.
var scriptTag = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)

func TestProfilePage_Headers(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})
	signedIn := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: e.Token(t, u.ID, "")})
	signedOut := e.Do(t, request{method: http.MethodGet, path: "/profile"})
	for name, r := range map[string]reply{"SignedIn": signedIn, "SignedOut": signedOut} {
		t.Run(name, func(t *testing.T) {
			csp := r.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows inline code: %q", csp)
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "same-origin",
				"Cache-Control":          "no-store",
			} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			for _, m := range scriptTag.FindAllStringSubmatch(r.Body, -1) {
				if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
					t.Errorf("inline script: %s", m[0])
				}
			}
			if strings.Contains(r.Body, " style=") || strings.Contains(r.Body, "<style") {
				t.Error("inline style")
			}
			if strings.Contains(r.Body, "//cdn") || strings.Contains(r.Body, "https://fonts.") {
				t.Error("page loads from a CDN")
			}
		})
	}

	// The page's own assets are served, typed and versioned.
	m := regexp.MustCompile(`<script src="([^"]+)"`).FindStringSubmatch(signedIn.Body)
	if m == nil {
		t.Fatal("signed-in page has no script")
	}
	js := e.Do(t, request{method: http.MethodGet, path: m[1]})
	if js.Status != http.StatusOK || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(js.Body, "/api/profile/sync") {
		t.Fatalf("%s = %d %q", m[1], js.Status, js.Header.Get("Content-Type"))
	}
	css := e.Do(t, request{method: http.MethodGet, path: "/clerksync-assets/clerksync.css"})
	if css.Status != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") || !strings.Contains(css.Body, "prefers-color-scheme: dark") {
		t.Fatalf("stylesheet = %d %q", css.Status, css.Header.Get("Content-Type"))
	}
	if r := e.Do(t, request{method: http.MethodGet, path: "/clerksync-assets/layout.html"}); r.Status != http.StatusNotFound {
		t.Fatalf("a template is served: %d", r.Status)
	}
}

func TestProfilePage_Profile(t *testing.T) {
	t.Parallel()
	e := MustRunProfileServer(t, profileOptions{})
	u, err := e.Fake.CreateUser(clerkfake.UserParams{
		FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com", Username: "amazinggrace",
		Phone: "+12125550142", ExternalID: "emp_1906", PublicMetadata: json.RawMessage(`{"rank":"rear admiral"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.MustStore(t, u)
	e.Clock.Advance(3 * time.Minute)
	r := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: e.Token(t, u.ID, "")})
	if r.Status != http.StatusOK {
		t.Fatalf("status = %d:\n%s", r.Status, r.Body)
	}
	for _, want := range []string{
		"Grace Hopper", "grace@example.com", "Verified", "@amazinggrace", "&#43;12125550142", u.ID, "emp_1906",
		"&#34;rank&#34;: &#34;rear admiral&#34;", "3 minutes ago", "Jun 1, 2025, 12:00:00 UTC", "Webhook",
		"Sync User Data", `action="/profile/sync"`, `name="csrf_token"`, "GH",
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// csrfField finds the form's token.
var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func TestProfilePage_FormWithoutJavaScript(t *testing.T) {
	t.Parallel()
	e, u := MustRunWithAda(t, profileOptions{})
	token := e.Token(t, u.ID, "")
	page := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: token})
	m := csrfField.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page.Body)
	}
	csrf := m[1]
	e.Clock.Advance(time.Minute)
	if _, err := e.Fake.UpdateUser(u.ID, func(u *clerkfake.User) {
		u.FirstName = ptr("Augusta")
		u.EmailAddresses[len(u.EmailAddresses)-1].EmailAddress = "augusta@example.com"
	}); err != nil {
		t.Fatal(err)
	}

	// Refused: no token, a wrong token, another session's token, a foreign origin.
	other := e.MustCreateUser(t, "Eve", "Mallory", "eve@example.com")
	otherPage := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: e.Token(t, other.ID, "")})
	otherCSRF := csrfField.FindStringSubmatch(otherPage.Body)[1]
	e.PostForged(t, "/profile/sync", token, csrf, []forgedPost{{"OtherSessionsToken", url.Values{"csrf_token": {otherCSRF}}, ""}}, func(t *testing.T, r reply) {
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "refused") {
			t.Fatalf("status = %d, want 403:\n%s", r.Status, r.Body)
		}
	})
	if p := e.Profile(t, u.ID); p.FirstName != "Ada" {
		t.Fatalf("a refused form synced: %+v", p)
	}

	// Accepted: redirected back with a one-time notice naming what changed.
	r := e.Do(t, request{method: http.MethodPost, path: "/profile/sync", cookie: token, form: url.Values{"csrf_token": {csrf}}, origin: e.URL})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/profile" {
		t.Fatalf("form post = %d Location %q", r.Status, r.Header.Get("Location"))
	}
	var flash *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "clerksync_flash" {
			flash = c
		}
	}
	if flash == nil {
		t.Fatal("no flash cookie")
	}
	if p := e.Profile(t, u.ID); p.FirstName != "Augusta" || p.Email != "augusta@example.com" {
		t.Fatalf("row after the form = %+v", p)
	}
	after := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: token, cookies: []*http.Cookie{{Name: flash.Name, Value: flash.Value}}})
	for _, want := range []string{"Synced from Clerk.", "2 fields changed: First name, Email.", "Augusta Lovelace", `data-field="name" class="changed"`} {
		if !strings.Contains(after.Body, want) {
			t.Errorf("page after the form lacks %q", want)
		}
	}
	// The notice is shown once.
	if again := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: token}); strings.Contains(again.Body, "fields changed") {
		t.Error("notice shown again without the flash cookie")
	}

	// Too soon for another sync: still a redirect, with the error as the notice.
	e.Clock.Advance(time.Second)
	r = e.Do(t, request{method: http.MethodPost, path: "/profile/sync", cookie: token, form: url.Values{"csrf_token": {csrf}}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("rate-limited form post = %d", r.Status)
	}
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "clerksync_flash" {
			page := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: token, cookies: []*http.Cookie{{Name: c.Name, Value: c.Value}}})
			if !strings.Contains(page.Body, "Sync failed.") || !strings.Contains(page.Body, "try again in 4 s") {
				t.Fatalf("rate-limit notice missing:\n%s", page.Body)
			}
			return
		}
	}
	t.Fatal("no flash cookie for the rate-limited post")
}

func TestProfileSyncScript(t *testing.T) {
	t.Parallel()
	e := MustRunProfileServer(t, profileOptions{})
	r := e.Do(t, request{method: http.MethodGet, path: "/profile-sync.js"})
	if r.Status != http.StatusOK {
		t.Fatalf("status = %d", r.Status)
	}
	if got := r.Header.Get("Content-Type"); got != "text/javascript; charset=utf-8" {
		t.Fatalf("Content-Type = %q", got)
	}
	for _, want := range []string{"var DEFAULT_MAX_AGE_MINUTES = 15;", "/api/profile/sync?max_age=", "localStorage", "credentials: 'include'", "getToken", "console.debug"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	for _, bad := range []string{"__CLERKSYNC_", "document.write"} {
		if strings.Contains(r.Body, bad) {
			t.Errorf("script contains %q", bad)
		}
	}
}
