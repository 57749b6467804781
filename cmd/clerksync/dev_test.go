package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
)

// regexpCSRF finds the profile form's CSRF token.
var regexpCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// MustRunDev starts `clerksync dev` on a free loopback port with env and stops it when
// the test ends.
func MustRunDev(tb testing.TB, env map[string]string, args ...string) *DevCommand {
	tb.Helper()
	m, _, stderr := testMain(env)
	c := &DevCommand{Main: m}
	if err := c.ParseFlags(append([]string{"--addr", "127.0.0.1:0", "--log-level", "debug"}, args...)); err != nil {
		tb.Fatalf("dev flags: %v", err)
	}
	if err := c.Open(context.Background()); err != nil {
		tb.Fatalf("dev: %v\n%s", err, stderr)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close dev: %v", err)
		}
	})
	return c
}

// seededUser returns the seeded user whose first name is first.
func seededUser(tb testing.TB, c *DevCommand, first string) *clerkfake.User {
	tb.Helper()
	for _, u := range c.emu.Fake().Users() {
		if u.FirstName != nil && *u.FirstName == first {
			return u
		}
	}
	tb.Fatalf("no seeded user named %s", first)
	return nil
}

// devProfile returns the stored row of userID, or nil.
func devProfile(tb testing.TB, c *DevCommand, userID string) *clerksync.Profile {
	tb.Helper()
	p, err := c.serve.store.Profile(context.Background(), userID)
	if clerksync.ErrorCode(err) == clerksync.ENOTFOUND {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// browserless is an HTTP client with a cookie jar, as a browser with JavaScript off.
func browserless(tb testing.TB) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func get(tb testing.TB, c *http.Client, u string) (int, string) {
	tb.Helper()
	resp, err := c.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postForm posts form as a page of origin would.
func postForm(tb testing.TB, c *http.Client, u, origin string, form url.Values) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDev_RefusesLiveKeys(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"SecretKey", map[string]string{"CLERK_SECRET_KEY": "sk_live_abc"}, nil, "CLERK_SECRET_KEY holds a production key (sk_live_…)"},
		{"PublishableKey", map[string]string{"CLERK_PUBLISHABLE_KEY": " pk_live_abc"}, nil, "CLERK_PUBLISHABLE_KEY holds a production key (pk_live_…)"},
		{"NextPublicKey", map[string]string{"NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY": "pk_live_abc"}, nil, "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY"},
		{"Flag", nil, []string{"--authorized-parties", "sk_live_oops"}, "a flag holds a production key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, stdout, stderr := testMain(tt.env)
			code := m.exitCode(m.Run(context.Background(), append([]string{"dev", "--addr", "127.0.0.1:0"}, tt.args...)))
			out := stdout.String() + stderr.String()
			if code != 2 || !strings.Contains(out, tt.want) || !strings.Contains(out, "refusing to start") {
				t.Fatalf("exit %d, output:\n%s", code, out)
			}
			if strings.Contains(out, "abc") {
				t.Fatalf("the key is echoed:\n%s", out)
			}
		})
	}
	// Test keys are fine: they are simply not used.
	c := MustRunDev(t, map[string]string{"CLERK_SECRET_KEY": "sk_test_abc", "DATABASE_URL": "postgres://prod.example.com/app"})
	if !strings.HasPrefix(c.serve.common.DatabaseURL, "sqlite:") {
		t.Fatalf("dev used DATABASE_URL %q from the environment", c.serve.common.DatabaseURL)
	}
}

func TestDev_Seed(t *testing.T) {
	t.Parallel()
	c := MustRunDev(t, nil)
	users := c.emu.Fake().Users()
	if got, want := len(users), 4; got != want {
		t.Fatalf("%d seeded users, want %d", got, want)
	}
	// Three arrived by webhook; one signed up "before clerksync was set up".
	stored := 0
	for _, u := range users {
		if p := devProfile(t, c, u.ID); p != nil {
			stored++
			if p.SyncSource != clerksync.SourceWebhook {
				t.Errorf("%s synced by %s, want webhook", u.ID, p.SyncSource)
			}
		}
	}
	if got, want := stored, 3; got != want {
		t.Fatalf("%d seeded users stored, want %d", got, want)
	}
	if p := devProfile(t, c, seededUser(t, c, "Katherine").ID); p != nil {
		t.Fatal("the user whose webhook was skipped is stored")
	}
	if c.url == "" || !strings.HasPrefix(c.url, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want loopback", c.url)
	}
}

// TestDev_FlowWithoutJavaScript runs the whole flow as a browser with JavaScript off
// would: sign in, see the profile, change the user without a webhook, sync with the
// form, see the change.
func TestDev_FlowWithoutJavaScript(t *testing.T) {
	t.Parallel()
	c := MustRunDev(t, nil)
	b := browserless(t)
	ada := seededUser(t, c, "Ada")

	// Not signed in: the page explains and links to the development sign-in.
	status, body := get(t, b, c.URL()+"/profile")
	if status != http.StatusUnauthorized || !strings.Contains(body, "/dev/sign-in?redirect_url=") || !strings.Contains(body, "Development mode") {
		t.Fatalf("/profile signed out = %d:\n%s", status, body)
	}

	status, body = postForm(t, b, c.URL()+"/dev/sign-in", c.URL(), url.Values{"user_id": {ada.ID}, "redirect_url": {"/profile"}})
	if status != http.StatusOK || !strings.Contains(body, "Ada Lovelace") || !strings.Contains(body, "ada@example.com") {
		t.Fatalf("profile after sign-in = %d:\n%s", status, body)
	}
	csrf := regexpCSRF.FindStringSubmatch(body)
	if csrf == nil {
		t.Fatal("no CSRF token on the page")
	}

	// Change Ada in the emulator without a webhook.
	status, body = postForm(t, b, c.URL()+"/dev/users/"+ada.ID, c.URL(), url.Values{
		"first_name": {"Augusta"}, "last_name": {"Lovelace"}, "email": {"augusta@example.com"},
		"username": {"ada"}, "public_metadata": {`{"plan":"enterprise"}`}, "no_webhook": {"1"},
	})
	if status != http.StatusOK || !strings.Contains(body, "no webhook sent") || !strings.Contains(body, "behind Clerk") {
		t.Fatalf("emulator after the silent change = %d:\n%s", status, body)
	}
	if p := devProfile(t, c, ada.ID); p.FirstName != "Ada" {
		t.Fatalf("the row changed without a webhook: %+v", p)
	}

	// The no-JavaScript form syncs and redirects back with what changed.
	status, body = postForm(t, b, c.URL()+"/profile/sync", c.URL(), url.Values{"csrf_token": {csrf[1]}})
	if status != http.StatusOK {
		t.Fatalf("form sync = %d:\n%s", status, body)
	}
	for _, want := range []string{"Augusta Lovelace", "augusta@example.com", "3 fields changed: First name, Email, Public metadata.", "Clerk API"} {
		if !strings.Contains(body, want) {
			t.Errorf("page after sync lacks %q", want)
		}
	}
	p := devProfile(t, c, ada.ID)
	if p.FirstName != "Augusta" || p.SyncSource != clerksync.SourceAPI {
		t.Fatalf("row after sync = %+v", p)
	}

	// A change with its webhook reaches the row at once.
	postForm(t, b, c.URL()+"/dev/users/"+ada.ID, c.URL(), url.Values{"first_name": {"Ada"}})
	if p := devProfile(t, c, ada.ID); p.FirstName != "Ada" || p.SyncSource != clerksync.SourceWebhook {
		t.Fatalf("row after a change with its webhook = %+v", p)
	}

	// Deleting the user signs them out and removes the row.
	status, body = postForm(t, b, c.URL()+"/dev/users/"+ada.ID+"/delete", c.URL(), url.Values{})
	if status != http.StatusOK || !strings.Contains(body, "user.deleted delivered") {
		t.Fatalf("delete = %d:\n%s", status, body)
	}
	if p := devProfile(t, c, ada.ID); p != nil {
		t.Fatalf("row after delete: %+v", p)
	}
	if status, _ := get(t, b, c.URL()+"/profile"); status != http.StatusUnauthorized {
		t.Fatalf("/profile after the user was deleted = %d", status)
	}
}

// TestDev_EnsureUser signs in as the user whose user.created webhook never came: the
// profile page syncs her on the spot.
func TestDev_EnsureUser(t *testing.T) {
	t.Parallel()
	c := MustRunDev(t, nil)
	b := browserless(t)
	k := seededUser(t, c, "Katherine")
	status, body := postForm(t, b, c.URL()+"/dev/sign-in", c.URL(), url.Values{"user_id": {k.ID}})
	if status != http.StatusOK || !strings.Contains(body, "Katherine Johnson") || !strings.Contains(body, "just read from Clerk") {
		t.Fatalf("profile of a user never synced = %d:\n%s", status, body)
	}
	if p := devProfile(t, c, k.ID); p == nil || p.SyncSource != clerksync.SourceAPI {
		t.Fatalf("row = %+v", p)
	}

	// The JSON API with the browser's cookies answers the same row.
	req, _ := http.NewRequest(http.MethodGet, c.URL()+"/api/profile", nil)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got["user_id"] != k.ID {
		t.Fatalf("/api/profile = %d %v (%v)", resp.StatusCode, got, err)
	}
}

func TestDev_SignUp(t *testing.T) {
	t.Parallel()
	c := MustRunDev(t, nil, "--seed=false")
	b := browserless(t)
	status, body := postForm(t, b, c.URL()+"/dev/sign-in", c.URL(), url.Values{
		"create": {"1"}, "first_name": {"Hedy"}, "last_name": {"Lamarr"}, "email": {"hedy@example.com"}, "no_webhook": {"1"},
	})
	if status != http.StatusOK || !strings.Contains(body, "Hedy Lamarr") {
		t.Fatalf("profile after sign-up = %d:\n%s", status, body)
	}
	// The same email again is refused with a message, not a crash.
	status, body = postForm(t, b, c.URL()+"/dev/sign-in", c.URL(), url.Values{
		"create": {"1"}, "first_name": {"Hedy"}, "email": {"hedy@example.com"},
	})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "taken") {
		t.Fatalf("sign-up with a taken email = %d:\n%s", status, body)
	}
}

// TestDev_SignOut signs out with the profile page header's button, which in dev posts
// to the emulator's sign-out.
func TestDev_SignOut(t *testing.T) {
	t.Parallel()
	c := MustRunDev(t, nil)
	b := browserless(t)
	ada := seededUser(t, c, "Ada")
	status, body := postForm(t, b, c.URL()+"/dev/sign-in", c.URL(), url.Values{"user_id": {ada.ID}, "redirect_url": {"/profile"}})
	if status != http.StatusOK || !strings.Contains(body, `data-account="primary">Ada Lovelace</span>`) || !strings.Contains(body, `action="/dev/sign-out"`) {
		t.Fatalf("profile after sign-in = %d, want the header naming Ada with a sign-out to the emulator:\n%s", status, body)
	}
	csrf := regexpCSRF.FindStringSubmatch(body)
	if csrf == nil {
		t.Fatal("no CSRF token on the page")
	}
	status, body = postForm(t, b, c.URL()+"/dev/sign-out", c.URL(), url.Values{"csrf_token": {csrf[1]}})
	if status != http.StatusOK || !strings.Contains(body, "Signed out.") {
		t.Fatalf("sign-out = %d:\n%s", status, body)
	}
	if status, body := get(t, b, c.URL()+"/profile"); status != http.StatusUnauthorized || strings.Contains(body, "Ada Lovelace") {
		t.Fatalf("/profile after sign-out = %d:\n%s", status, body)
	}
}

// TestDev_Organizations: the seeded organization reaches clerksync by webhook; a change
// made in the emulator without a webhook is in the emulated Backend API, where a sync
// of the organization finds it.
func TestDev_Organizations(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "dev.db")
	c := MustRunDev(t, nil, "--database-url", "sqlite:"+dbPath)
	ctx := context.Background()
	orgs := c.emu.Fake().Organizations()
	if len(orgs) != 1 || orgs[0].Name != "Acme Inc" {
		t.Fatalf("seeded organizations = %+v", orgs)
	}
	org := orgs[0]
	count := func(kind clerksync.Kind) int {
		t.Helper()
		objs, err := c.serve.store.Objects(ctx, kind, clerksync.ObjectFilter{OrgID: org.ID})
		if err != nil {
			t.Fatal(err)
		}
		return len(objs)
	}
	if _, err := c.serve.store.Object(ctx, clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: org.ID}); err != nil {
		t.Fatalf("the seeded organization is not stored: %v", err)
	}
	if m, i := count(clerksync.KindMembership), count(clerksync.KindInvitation); m != 2 || i != 1 {
		t.Fatalf("stored %d memberships and %d invitations of Acme, want 2 and 1", m, i)
	}

	grace := seededUser(t, c, "Grace")
	if _, err := c.emu.SetRole(org.ID, grace.ID, "org:admin", false); err != nil {
		t.Fatal(err)
	}
	ms, err := c.serve.store.Objects(ctx, clerksync.KindMembership, clerksync.ObjectFilter{OrgID: org.ID, UserID: grace.ID})
	if err != nil || len(ms) != 1 || ms[0].(*clerksync.Membership).Role != "org:admin" {
		t.Fatalf("Grace's membership after the role change = %+v, %v", ms, err)
	}

	// Removed without a webhook: clerksync still has the membership until a sync.
	if _, err := c.emu.RemoveMember(org.ID, grace.ID, true); err != nil {
		t.Fatal(err)
	}
	if n := count(clerksync.KindMembership); n != 2 {
		t.Fatalf("%d memberships stored after a silent removal, want still 2", n)
	}
	env := map[string]string{"CLERK_SECRET_KEY": c.emu.SecretKey(), "CLERK_API_URL": c.emu.APIURL(), "DATABASE_URL": "sqlite:" + dbPath, "LOG_LEVEL": "warn"}
	code, stdout, stderr := runMain(t, env, nil, "sync", org.ID)
	if code != 0 || !strings.Contains(stdout, "1 removed") {
		t.Fatalf("sync of the organization: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := count(clerksync.KindMembership); n != 1 {
		t.Fatalf("%d memberships stored after the sync, want 1", n)
	}
}
