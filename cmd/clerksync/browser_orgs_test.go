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
	"github.com/clerksync/clerksync/storetest"
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
	store := dev.serve.store
	const at = 1_748_779_200_000
	acme := storetest.NewOrganization("org_2browserAcme", at, at)
	acme.Name = "Acme Corp"
	hostile := storetest.NewOrganization("org_2browserZeta", at, at)
	hostile.Name = `<img src=x onerror="window.__pwned=1">Zeta`
	hostile.ImageURL = "javascript:window.__pwned=2"
	inAcme := storetest.NewMembership("orgmem_2browserAcme", acme, ada.ID, "org:member", at+1, at+1)
	inZeta := storetest.NewMembership("orgmem_2browserZeta", hostile, ada.ID, "org:admin", at+2, at+2)
	storetest.MustApply(t, store, storetest.Event("msg_browser_acme", "organizationMembership.created", inAcme))

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
	if got := text(t, ctx, `.org-list .org-name`); got != "Acme Corp" {
		t.Fatalf("organizations before the sync: %q", got)
	}
	eval[chromedp.Void](t, ctx, `window.__stillHere = true`)

	// Promoted in Acme and added to Zeta, by webhooks the page has not seen.
	promoted := storetest.NewMembership(inAcme.MembershipID, acme, ada.ID, "org:admin", at+1, at+10)
	storetest.MustApply(t, store,
		storetest.Event("msg_browser_promoted", "organizationMembership.updated", promoted),
		storetest.Event("msg_browser_zeta", "organizationMembership.created", inZeta))
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
	if len(names) != 2 || names[0] != hostile.Name || names[1] != "Acme Corp" {
		t.Fatalf("organizations after the sync: %q", names)
	}
	roles := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('.org-list .org-role')).map(e => e.textContent)`)
	if len(roles) != 2 || roles[0] != "Admin" || roles[1] != "Admin" {
		t.Fatalf("roles after the sync: %q", roles)
	}
	if eval[bool](t, ctx, `window.__pwned !== undefined || !!document.querySelector('[data-org-id="org_2browserZeta"] img')`) {
		t.Fatal("a hostile organization name or image URL became markup")
	}
	if !eval[bool](t, ctx, `window.__stillHere === true`) {
		t.Fatal("the page reloaded: the sync should update it in place")
	}

	// Removed from both: the section says there are none.
	storetest.MustApply(t, store,
		storetest.MembershipDeleted("msg_browser_acme_gone", promoted, at+20),
		storetest.MembershipDeleted("msg_browser_zeta_gone", inZeta, at+20))
	sync(0)
	if !eval[bool](t, ctx, `document.querySelector('.org-list').hidden && !document.querySelector('[data-field="organizations_empty"]').hidden`) {
		t.Fatal("with no organizations left, the section does not say so")
	}
	if left, err := store.Objects(context.Background(), clerksync.KindMembership, clerksync.ObjectFilter{UserID: ada.ID}); err != nil || len(left) != 0 {
		t.Fatalf("memberships left: %v, %v", left, err)
	}
}
