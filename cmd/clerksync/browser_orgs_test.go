package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/devemu"
)

// TestBrowser_ProfileOrganizations drives Chromium through the profile's
// Organizations section: Sync User Data re-renders it in place from the answer, with
// what an organization's admin chose shown as text, never run, and says so when the
// user belongs to none any more.
func TestBrowser_ProfileOrganizations(t *testing.T) {
	chromium := mustFindChromium(t)
	t.Parallel()
	dev := MustRunDev(t, map[string]string{"CLERKSYNC_PROFILE_SYNC_INTERVAL": "1ms"})
	ada := seededUser(t, dev, "Ada")
	grace := seededUser(t, dev, "Grace")
	store := dev.serve.store
	// The emulator seeds Acme Inc, which Ada created (its admin).
	var acme string
	for _, o := range dev.emu.Fake().Organizations() {
		if o.Name == "Acme Inc" {
			acme = o.ID
		}
	}
	if acme == "" {
		t.Fatal("the emulator seeded no Acme Inc")
	}
	const hostileName = `<img src=x onerror="window.__pwned=1">Zeta`

	browser := newBrowser(t, chromium)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	signIn := chromedp.CSS(`button[id="sign-in-` + ada.ID + `"]`)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(dev.URL()+"/dev/sign-in"),
		chromedp.WaitVisible(signIn),
		chromedp.Click(signIn),
		chromedp.WaitVisible(chromedp.CSS(`.org-list`)),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if got := text(t, ctx, `.org-list .org-name`); got != "Acme Inc" {
		t.Fatalf("organizations before the sync: %q", got)
	}
	eval[chromedp.Void](t, ctx, `window.__stillHere = true`)

	// In Clerk, without a webhook: Ada is made a plain member of Acme, and Grace adds
	// her to an organization whose name is markup. Sync User Data reads both from Clerk.
	if _, err := dev.emu.SetRole(acme, ada.ID, "org:member", true); err != nil {
		t.Fatal(err)
	}
	zeta, _, err := dev.emu.CreateOrganization(devemu.OrgInput{Name: hostileName, CreatedBy: grace.ID, SkipWebhook: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.emu.AddMember(zeta.ID, ada.ID, "org:admin", true); err != nil {
		t.Fatal(err)
	}
	sync := func(wantOrgs int) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#sync-button`))); err != nil {
			t.Fatalf("press Sync User Data: %v", err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
			`!document.querySelector('#sync-button').disabled && document.querySelectorAll('.org-list li').length === `+strconv.Itoa(wantOrgs),
			chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("wait for %d organizations: %v (page lists %q)", wantOrgs, err, text(t, ctx, `[data-row="organizations"]`))
		}
	}
	sync(2)
	// Once the highlight has faded, for the record.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getAnimations().every(a => a.playState === 'finished')`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("wait for the highlight to fade: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		path := filepath.Join(artifactDir(t), "profile-organizations.png")
		t.Logf("screenshot: %s", path)
		return os.WriteFile(path, png, 0o644)
	})); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	names := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('.org-list .org-name')).map(e => e.textContent)`)
	// By name: "<" sorts before letters.
	if len(names) != 2 || names[0] != hostileName || names[1] != "Acme Inc" {
		t.Fatalf("organizations after the sync: %q", names)
	}
	roles := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('.org-list .org-role')).map(e => e.textContent)`)
	if len(roles) != 2 || roles[0] != "Admin" || roles[1] != "Member" {
		t.Fatalf("roles after the sync: %q", roles)
	}
	if eval[bool](t, ctx, `window.__pwned !== undefined || !!document.querySelector('.org-list .org-name img')`) {
		t.Fatal("a hostile organization name became markup")
	}
	if !eval[bool](t, ctx, `window.__stillHere === true`) {
		t.Fatal("the page reloaded: the sync should update it in place")
	}

	// Removed from both in Clerk, again without webhooks: the section says there are none.
	for _, org := range []string{acme, zeta.ID} {
		if _, err := dev.emu.RemoveMember(org, ada.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	sync(0)
	if !eval[bool](t, ctx, `document.querySelector('.org-list').hidden && !document.querySelector('[data-field="organizations_empty"]').hidden`) {
		t.Fatal("with no organizations left, the section does not say so")
	}
	if left, err := store.Objects(context.Background(), clerksync.KindMembership, clerksync.ObjectFilter{UserID: ada.ID}); err != nil || len(left) != 0 {
		t.Fatalf("memberships left: %v, %v", left, err)
	}
}
