package devemu_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync/devemu"
	"github.com/clerksync/clerksync/session"
	"github.com/clerksync/clerksync/svixsig"
)

// received is a webhook the test server got.
type received struct {
	ID, Type, UserID string
}

// env is an emulator wrapped around an application that records webhooks and says
// who is signed in.
type env struct {
	URL  string
	Emu  *devemu.Emulator
	mu   sync.Mutex
	hook []received
}

// MustRunEmulator starts an emulator in front of a test application.
func MustRunEmulator(tb testing.TB) *env {
	tb.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	emu, err := devemu.New(devemu.Config{BaseURL: base, Stylesheet: "/assets/clerksync.css"})
	if err != nil {
		tb.Fatal(err)
	}
	verifier, err := svixsig.NewVerifier([]string{emu.WebhookSecret()})
	if err != nil {
		tb.Fatal(err)
	}
	sessions, err := session.NewVerifier(session.Config{PEMKey: emu.Issuer().PublicKeyPEM()})
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{URL: base, Emu: emu}
	app := http.NewServeMux()
	app.HandleFunc("POST "+devemu.WebhookPath, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg, err := verifier.Verify(r.Header, body)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev struct {
			Type string `json:"type"`
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		e.mu.Lock()
		e.hook = append(e.hook, received{msg.ID, ev.Type, ev.Data.ID})
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"outcome":"applied","action":"created"}`)
	})
	app.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		c, err := sessions.VerifyRequest(r)
		if err != nil {
			http.Error(w, clerkMessage(err), http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": c.Subject, "sid": c.SessionID, "azp": c.AuthorizedParty})
	})
	ts.Config.Handler = emu.Wrap(app)
	ts.Start()
	tb.Cleanup(ts.Close)
	return e
}

func clerkMessage(err error) string {
	if errors.Is(err, session.ErrNoToken) {
		return "no token"
	}
	return "invalid"
}

func (e *env) webhooks() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.hook...)
}

func TestEmulator_Webhooks(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)

	u, d, err := e.Emu.CreateUser(devemu.UserInput{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", PublicMetadata: `{"plan":"pro"}`})
	if err != nil {
		t.Fatal(err)
	}
	if d == nil || !d.OK() || d.Status != 200 || d.Outcome != "applied" {
		t.Fatalf("user.created delivery = %+v", d)
	}
	if string(u.PublicMetadata) != `{"plan":"pro"}` || !strings.HasPrefix(u.ImageURL, e.URL+"/dev/avatars/") {
		t.Fatalf("user = %+v", u)
	}
	if _, d, err = e.Emu.UpdateUser(u.ID, devemu.UserInput{FirstName: "Augusta", SkipWebhook: true}); err != nil {
		t.Fatal(err)
	}
	if d == nil || !d.Skipped || d.OK() {
		t.Fatalf("skipped user.updated delivery = %+v", d)
	}
	if _, d, err = e.Emu.UpdateUser(u.ID, devemu.UserInput{Email: "augusta@example.com"}); err != nil || !d.OK() {
		t.Fatalf("user.updated: %+v, %v", d, err)
	}
	if got, _ := e.Emu.Fake().User(u.ID); *got.FirstName != "Augusta" || got.EmailAddresses[0].EmailAddress != "augusta@example.com" {
		t.Fatalf("fake user after updates = %+v", got)
	}
	if d, err = e.Emu.DeleteUser(u.ID, false); err != nil || !d.OK() {
		t.Fatalf("user.deleted: %+v, %v", d, err)
	}

	var got []received
	for _, r := range e.webhooks() {
		got = append(got, received{Type: r.Type, UserID: r.UserID})
		if !strings.HasPrefix(r.ID, "msg_") {
			t.Errorf("svix-id %q", r.ID)
		}
	}
	want := []received{{Type: "user.created", UserID: u.ID}, {Type: "user.updated", UserID: u.ID}, {Type: "user.deleted", UserID: u.ID}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("webhooks received (-want +got):\n%s", diff)
	}
	var types []string
	for _, d := range e.Emu.Deliveries() {
		types = append(types, d.Type)
	}
	if diff := cmp.Diff([]string{"user.deleted", "user.updated", "user.updated", "user.created"}, types); diff != "" {
		t.Fatalf("deliveries, newest first (-want +got):\n%s", diff)
	}
}

func TestEmulator_InvalidInput(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	u, _, err := e.Emu.CreateUser(devemu.UserInput{FirstName: "Ada", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		in   devemu.UserInput
	}{
		{"MetadataNotJSON", devemu.UserInput{PublicMetadata: "plan=pro"}},
		{"MetadataNotObject", devemu.UserInput{PublicMetadata: `["pro"]`}},
		{"EmailNotEmail", devemu.UserInput{Email: "ada", SkipWebhook: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := e.Emu.UpdateUser(u.ID, tt.in); !errors.Is(err, devemu.ErrInvalidInput) {
				t.Fatalf("err = %v, want ErrInvalidInput", err)
			}
		})
	}
	if got, _ := e.Emu.Fake().User(u.ID); got.EmailAddresses[0].EmailAddress != "ada@example.com" || string(got.PublicMetadata) != "{}" {
		t.Fatalf("a refused change was stored: %+v", got)
	}
	if _, _, err := e.Emu.CreateUser(devemu.UserInput{FirstName: "Eve", Email: "ada@example.com"}); !errors.Is(err, devemu.ErrInvalidInput) {
		t.Fatalf("taken email: err = %v", err)
	}
	// A refused silent change leaves no mark behind: the next change sends its webhook.
	before := len(e.webhooks())
	if _, d, err := e.Emu.UpdateUser(u.ID, devemu.UserInput{FirstName: "Augusta"}); err != nil || !d.OK() {
		t.Fatalf("update after a refused one: %+v, %v", d, err)
	}
	if got := len(e.webhooks()); got != before+1 {
		t.Fatalf("%d webhooks, want %d", got, before+1)
	}
}

// browser is an HTTP client with cookies that does not follow redirects.
func browser(tb testing.TB) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// reply is an answer read whole.
type reply struct {
	StatusCode int
	Header     http.Header
}

func do(tb testing.TB, c *http.Client, method, u string, hdr map[string]string, form url.Values) (reply, string) {
	tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		tb.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{StatusCode: resp.StatusCode, Header: resp.Header}, string(b)
}

func TestEmulator_SignInKeepsTokensFresh(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	u, _, err := e.Emu.CreateUser(devemu.UserInput{FirstName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	b := browser(t)

	if resp, _ := do(t, b, "GET", e.URL+"/whoami", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("whoami before sign-in = %d", resp.StatusCode)
	}
	resp, _ := do(t, b, "POST", e.URL+devemu.SignInPath, map[string]string{"Origin": e.URL}, url.Values{"user_id": {u.ID}, "redirect_url": {"https://evil.example/steal"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/profile" {
		t.Fatalf("sign-in = %d to %q (a foreign redirect must be refused)", resp.StatusCode, resp.Header.Get("Location"))
	}

	who := func(hdr map[string]string) map[string]string {
		t.Helper()
		resp, body := do(t, b, "GET", e.URL+"/whoami", hdr, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("whoami = %d %s", resp.StatusCode, body)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := who(nil)
	if first["sub"] != u.ID || first["azp"] != e.URL || !strings.HasPrefix(first["sid"], "sess_") {
		t.Fatalf("claims = %v", first)
	}
	// A request from another page gets a token made for that page, same session.
	other := who(map[string]string{"Origin": "http://localhost:5173"})
	if other["azp"] != "http://localhost:5173" || other["sid"] != first["sid"] {
		t.Fatalf("claims from another origin = %v", other)
	}
	// A bearer token is left alone.
	resp, _ = do(t, b, "GET", e.URL+"/whoami", map[string]string{"Authorization": "Bearer nonsense"}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("whoami with a bad bearer token = %d", resp.StatusCode)
	}

	// Signing out ends it; a stale __session from before is not used.
	stale := ""
	for _, c := range b.Jar.Cookies(mustURL(t, e.URL)) {
		if c.Name == session.CookieName {
			stale = c.Value
		}
	}
	if stale == "" {
		t.Fatal("the browser got no __session cookie")
	}
	do(t, b, "POST", e.URL+"/dev/sign-out", map[string]string{"Origin": e.URL}, url.Values{})
	anon := &http.Client{}
	resp, _ = do(t, anon, "GET", e.URL+"/whoami", map[string]string{"Cookie": session.CookieName + "=" + stale}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a __session without the emulator's sign-in = %d", resp.StatusCode)
	}
}

func mustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func TestEmulator_DeletedUserIsSignedOut(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	u, _, err := e.Emu.CreateUser(devemu.UserInput{FirstName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	do(t, b, "POST", e.URL+devemu.SignInPath, map[string]string{"Origin": e.URL}, url.Values{"user_id": {u.ID}})
	if resp, _ := do(t, b, "GET", e.URL+"/whoami", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("whoami = %d", resp.StatusCode)
	}
	if _, err := e.Emu.DeleteUser(u.ID, true); err != nil {
		t.Fatal(err)
	}
	if resp, _ := do(t, b, "GET", e.URL+"/whoami", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("whoami of a deleted user = %d", resp.StatusCode)
	}
}

func TestEmulator_Pages(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	if err := e.Emu.Seed(); err != nil {
		t.Fatal(err)
	}
	ada := e.Emu.Fake().Users()[0]
	b := browser(t)
	for _, tt := range []struct {
		name, path string
		status     int
		contains   []string
	}{
		{"Root", "/", http.StatusSeeOther, nil},
		{"Home", "/dev/", http.StatusOK, []string{"Development mode", "Clerk emulator", "Ada Lovelace", "Katherine Johnson", "not sent", "POST " + e.URL + "/api/webhooks/clerk"}},
		{"SignIn", "/dev/sign-in?redirect_url=/profile", http.StatusOK, []string{"Development mode", "Sign in", `id="sign-in-` + ada.ID + `"`, `value="/profile"`}},
		{"User", "/dev/users/" + ada.ID, http.StatusOK, []string{"Development mode", `name="no_webhook"`, "&#34;plan&#34;: &#34;pro&#34;"}},
		{"Avatar", "/dev/avatars/" + ada.ID + ".svg", http.StatusOK, []string{"<svg", ">AL</text>"}},
		{"JWKS", devemu.JWKSPath, http.StatusOK, []string{`"kty":"RSA"`, e.Emu.Issuer().KeyID()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, b, "GET", e.URL+tt.path, nil, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			for _, want := range tt.contains {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("no CSP on %s", tt.path)
			}
		})
	}

	// The fake Backend API answers with the emulator's secret key only.
	resp, body := do(t, b, "GET", e.Emu.APIURL()+"/users/"+ada.ID, map[string]string{"Authorization": "Bearer " + e.Emu.SecretKey()}, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, ada.ID) {
		t.Fatalf("fake API = %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, b, "GET", e.Emu.APIURL()+"/users/"+ada.ID, map[string]string{"Authorization": "Bearer sk_test_wrong"}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("fake API with a wrong key = %d", resp.StatusCode)
	}
}

func TestEmulator_RefusesCrossSiteForms(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	u, _, err := e.Emu.CreateUser(devemu.UserInput{FirstName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	for _, path := range []string{"/dev/users", "/dev/users/" + u.ID, "/dev/users/" + u.ID + "/delete", devemu.SignInPath} {
		resp, _ := do(t, b, "POST", e.URL+path, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
			url.Values{"first_name": {"Mallory"}, "user_id": {u.ID}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d, want 403", path, resp.StatusCode)
		}
	}
	if got, ok := e.Emu.Fake().User(u.ID); !ok || *got.FirstName != "Ada" {
		t.Fatalf("a cross-site form changed the user: %+v", got)
	}
}
