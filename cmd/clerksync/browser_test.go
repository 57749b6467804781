package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/clerksync/clerksync/session"
)

// chromiumPaths are where Debian and others put Chromium; CHROMIUM_PATH comes first.
var chromiumPaths = []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"}

// mustFindChromium returns Chromium's path, or skips the test loudly, or fails it when
// CLERKSYNC_REQUIRE_CHROMIUM=1 (CI) says it must run.
func mustFindChromium(t *testing.T) string {
	t.Helper()
	required := os.Getenv("CLERKSYNC_REQUIRE_CHROMIUM") == "1"
	if testing.Short() && !required {
		t.Skip("SKIPPING the browser test in -short mode")
	}
	paths := chromiumPaths
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		paths = append([]string{p}, paths...)
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	msg := fmt.Sprintf("Chromium not found (looked at %s); install it with `apt-get install chromium` or set CHROMIUM_PATH", strings.Join(paths, ", "))
	if required {
		t.Fatal(msg + " — CLERKSYNC_REQUIRE_CHROMIUM=1 makes this a failure")
	}
	t.Skip("SKIPPING the browser test: " + msg + " (set CLERKSYNC_REQUIRE_CHROMIUM=1 to make this a failure)")
	return ""
}

// artifactDir is where the screenshots go: CLERKSYNC_ARTIFACTS when it names a
// directory, artifacts/ at the repository's root when it is 1 or true, a temporary
// directory otherwise.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CLERKSYNC_ARTIFACTS")
	switch strings.ToLower(dir) {
	case "":
		return t.TempDir()
	case "1", "true", "yes":
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts: %v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// newBrowser starts a headless Chromium with a fresh profile and no network of its
// own, and returns a tab's context. The browser stops when the test ends.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 960),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first call starts the browser, which lives as long as this context: no
	// timeout on it (the steps get theirs below).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// consoleLog collects the page's console messages.
type consoleLog struct {
	mu   sync.Mutex
	msgs []string
	got  chan struct{}
}

// listenConsole starts collecting the console messages of ctx's tab.
func listenConsole(t *testing.T, ctx context.Context) *consoleLog {
	t.Helper()
	l := &consoleLog{got: make(chan struct{}, 1)}
	err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*runtime.EventConsoleAPICalled)
		if !ok {
			return
		}
		var parts []string
		for _, a := range e.Args {
			var s string
			if json.Unmarshal([]byte(a.Value), &s) == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		}
		l.mu.Lock()
		l.msgs = append(l.msgs, strings.Join(parts, " "))
		l.mu.Unlock()
		select {
		case l.got <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatalf("listen to the console: %v", err)
	}
	return l
}

// wait returns the first message containing substr, waiting for it until ctx ends.
func (l *consoleLog) wait(ctx context.Context, substr string) (string, error) {
	for {
		l.mu.Lock()
		for _, m := range l.msgs {
			if strings.Contains(m, substr) {
				l.mu.Unlock()
				return m, nil
			}
		}
		all := strings.Join(l.msgs, "\n")
		l.mu.Unlock()
		select {
		case <-l.got:
		case <-ctx.Done():
			return "", fmt.Errorf("no console message with %q; got:\n%s", substr, all)
		}
	}
}

// clear forgets the messages seen so far.
func (l *consoleLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = nil
}

// text returns the text content of the element sel finds, trimmed.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// call sends a DevTools command to the tab.
func call[P any](cmd cdp.Command[P, cdp.Empty], params P) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cmd, params)
		return err
	})
}

// colorScheme makes the page see prefers-color-scheme as scheme.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return call(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
}

// TestBrowser_ProfileFlow drives Chromium through `clerksync dev`: sign in with the
// development sign-in, see the profile, change the user in the emulator without a
// webhook, press Sync User Data and see the new data; then the drop-in script syncs
// on a visit to another origin's page, with cookies and with Clerk's bearer token.
func TestBrowser_ProfileFlow(t *testing.T) {
	chromium := mustFindChromium(t)
	t.Parallel()

	// The application's page, on an origin of its own, including the drop-in script.
	var devURL string
	var bearer string
	var pageMu sync.Mutex
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pageMu.Lock()
		src, token := devURL, bearer
		pageMu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		clerk := ""
		if r.URL.Path == "/with-clerk" {
			// What Clerk's JavaScript offers once loaded: a session whose getToken
			// gives the bearer token.
			clerk = fmt.Sprintf(`<script>window.Clerk = {loaded: true, user: {id: %q}, session: {getToken: function () { return Promise.resolve(%q); }}};</script>`,
				"user_from_clerk_js", token)
		}
		maxAge := r.URL.Query().Get("max_age")
		if maxAge == "" {
			maxAge = "0"
		}
		fmt.Fprintf(w, `<!doctype html><html><head><title>The app</title>%s</head><body><h1>Some page of the app</h1>
<script src="%s/profile-sync.js" data-max-age="%s" async></script></body></html>`, clerk, src, maxAge)
	}))
	t.Cleanup(app.Close)

	dev := MustRunDev(t, map[string]string{
		"CLERK_AUTHORIZED_PARTIES": app.URL,
		// Syncs of one user may follow each other at once here.
		"CLERKSYNC_PROFILE_SYNC_INTERVAL": "1ms",
	})
	pageMu.Lock()
	devURL = dev.URL()
	pageMu.Unlock()
	ada := seededUser(t, dev, "Ada")
	artifacts := artifactDir(t)

	browser := newBrowser(t, chromium)
	console := listenConsole(t, browser)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			path := filepath.Join(artifacts, name)
			t.Logf("screenshot: %s", path)
			return os.WriteFile(path, png, 0o644)
		})
	}
	const nameSel = `h1[data-field="name"]`
	signInButton := chromedp.CSS(`button[id="sign-in-` + ada.ID + `"]`)

	// Sign in through the development sign-in; it lands on the profile page.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(dev.URL()+"/dev/sign-in"),
		chromedp.WaitVisible(signInButton),
		shot("sign-in.png"),
		chromedp.Click(signInButton),
		chromedp.WaitVisible(chromedp.CSS(nameSel)),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if name, email, source := text(t, ctx, nameSel), text(t, ctx, `[data-field="email"]`), text(t, ctx, `[data-field="sync_source"]`); name != "Ada Lovelace" || email != "ada@example.com" || source != "Webhook" {
		t.Fatalf("profile shows %q %q %q", name, email, source)
	}

	// Change Ada in the emulator without sending a webhook.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(dev.URL()+"/dev/users/"+ada.ID),
		chromedp.WaitVisible(chromedp.CSS(`#edit-user`)),
		chromedp.SetValue(chromedp.CSS(`#edit-user input[name="first_name"]`), "Augusta"),
		chromedp.SetValue(chromedp.CSS(`#edit-user input[name="email"]`), "augusta@example.com"),
		chromedp.SetValue(chromedp.CSS(`#edit-user textarea[name="public_metadata"]`), `{"plan": "enterprise", "role": "admin"}`),
		chromedp.Click(chromedp.CSS(`#edit-user input[name="no_webhook"]`)),
		chromedp.Click(chromedp.CSS(`#edit-user button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.dev-notice`)),
		shot("emulator.png"),
	); err != nil {
		t.Fatalf("change the user in the emulator: %v", err)
	}
	if notice := text(t, ctx, `.dev-notice`); !strings.Contains(notice, "no webhook sent") {
		t.Fatalf("emulator notice = %q", notice)
	}
	if p := devProfile(t, dev, ada.ID); p.FirstName != "Ada" {
		t.Fatalf("row changed although no webhook was sent: %+v", p)
	}

	// The profile still shows the old data; Sync User Data pulls the change in place.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(dev.URL()+"/profile"),
		chromedp.WaitVisible(chromedp.CSS(nameSel)),
	); err != nil {
		t.Fatalf("open the profile: %v", err)
	}
	if before := text(t, ctx, nameSel); before != "Ada Lovelace" {
		t.Fatalf("before sync the page shows %q", before)
	}
	eval[chromedp.Void](t, ctx, `window.__stillHere = true`) // a full reload would lose it
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#sync-button`))); err != nil {
		t.Fatalf("press Sync User Data: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`document.querySelector('h1[data-field="name"]').textContent === 'Augusta Lovelace' && !!document.querySelector('#notice.notice-success')`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("wait for the synced profile: %v (page shows %q)", err, text(t, ctx, nameSel))
	}
	// The notice has slid in; the changed fields are still marked.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`document.getAnimations().every(a => a.animationName !== 'rise' || a.playState === 'finished')`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("wait for the notice: %v", err)
	}
	if err := chromedp.Do(ctx, shot("profile.png")); err != nil {
		t.Fatal(err)
	}
	if who, email := text(t, ctx, `[data-account="primary"]`), text(t, ctx, `[data-account="secondary"]`); who != "Augusta Lovelace" || email != "augusta@example.com" {
		t.Fatalf("after sync the header names %q %q, want the synced name and email", who, email)
	}
	if result := text(t, ctx, `#notice`); !strings.Contains(result, "3 fields changed: First name, Email, Public metadata.") {
		t.Fatalf("notice after sync = %q", result)
	}
	if metadata := text(t, ctx, `[data-field="public_metadata"]`); !strings.Contains(metadata, `"enterprise"`) {
		t.Fatalf("metadata after sync = %q", metadata)
	}
	if !eval[bool](t, ctx, `window.__stillHere === true`) {
		t.Fatal("the page reloaded: the sync should update it in place")
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('.changed').length`); n < 3 {
		t.Fatalf("%d elements highlighted, want the name, email and metadata", n)
	}
	if p := devProfile(t, dev, ada.ID); p.FirstName != "Augusta" || p.Email != "augusta@example.com" {
		t.Fatalf("row after sync = %+v", p)
	}

	// The same page in dark mode, for the record.
	if err := chromedp.Do(ctx,
		colorScheme("dark"),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(nameSel)),
		shot("profile-dark.png"),
		colorScheme("light"),
	); err != nil {
		t.Fatalf("dark mode: %v", err)
	}

	// Sync on visit, cross-origin with the browser's cookies.
	syncedAt := devProfile(t, dev, ada.ID).SyncedAt
	console.clear()
	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/")); err != nil {
		t.Fatalf("open the app's page: %v", err)
	}
	msg, err := console.wait(ctx, "profile sync:")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "200") {
		t.Fatalf("drop-in script with cookies: %q", msg)
	}
	p := devProfile(t, dev, ada.ID)
	if !p.SyncedAt.After(syncedAt) {
		t.Fatalf("synced_at %v did not move past %v", p.SyncedAt, syncedAt)
	}

	// Sync on visit with Clerk's JavaScript on the page: the bearer token alone, the
	// browser's cookies gone.
	token, err := dev.emu.Issuer().Mint(session.Token{Subject: ada.ID, AuthorizedParty: app.URL})
	if err != nil {
		t.Fatal(err)
	}
	pageMu.Lock()
	bearer = token
	pageMu.Unlock()
	syncedAt = p.SyncedAt
	console.clear()
	if err := chromedp.Do(ctx, call(network.ClearBrowserCookies, cdp.Empty{}), chromedp.Navigate(app.URL+"/with-clerk")); err != nil {
		t.Fatalf("open the app's page with Clerk: %v", err)
	}
	if msg, err = console.wait(ctx, "profile sync:"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "200") {
		t.Fatalf("drop-in script with a bearer token: %q", msg)
	}
	if p := devProfile(t, dev, ada.ID); !p.SyncedAt.After(syncedAt) {
		t.Fatalf("synced_at %v did not move past %v", p.SyncedAt, syncedAt)
	}

	// Another page within data-max-age minutes does not sync again: the browser
	// remembers when it last did, per user.
	syncedAt = devProfile(t, dev, ada.ID).SyncedAt
	console.clear()
	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/with-clerk?max_age=15")); err != nil {
		t.Fatal(err)
	}
	if _, err = console.wait(ctx, "next sync after 15 min"); err != nil {
		t.Fatal(err)
	}
	if p := devProfile(t, dev, ada.ID); !p.SyncedAt.Equal(syncedAt) {
		t.Fatalf("synced again within data-max-age: synced_at %v, was %v", p.SyncedAt, syncedAt)
	}

	// Signed in again, the header's Sign out button signs out, without JavaScript of
	// Clerk's; then the profile page explains how to sign in.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(dev.URL()+"/dev/sign-in"),
		chromedp.WaitVisible(signInButton),
		chromedp.Click(signInButton),
		chromedp.WaitVisible(chromedp.CSS(`#sign-out`)),
		chromedp.Click(chromedp.CSS(`#sign-out`)),
		chromedp.WaitVisible(signInButton),
		chromedp.Navigate(dev.URL()+"/profile"),
		chromedp.WaitVisible(chromedp.CSS(`.message h1`)),
		shot("signed-out.png"),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if h := text(t, ctx, `.message h1`); h != "Sign in to see your profile" {
		t.Fatalf("signed-out page says %q", h)
	}
}
