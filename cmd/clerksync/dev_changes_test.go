package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/devemu"
	"github.com/clerksync/clerksync/storetest"
)

// waitReceived waits until the emulator's receiver has acknowledged n entries.
func waitReceived(t *testing.T, c *DevCommand, n int) []devemu.ReceivedChange {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := c.emu.Changes()
		acked := 0
		for _, rc := range got {
			if rc.Acknowledged {
				acked++
			}
		}
		if acked >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver acknowledged %d entries, want %d: %+v", acked, n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDev_ChangesFeed: clerksync dev forwards its own changes feed to the emulator's
// receiver, whatever path a change came by, and lists it on the changes page.
func TestDev_ChangesFeed(t *testing.T) {
	t.Parallel()
	c := MustRunDev(t, nil)
	if out := c.Stdout.(*syncBuffer).String(); !strings.Contains(out, c.URL()+"/dev/changes") {
		t.Errorf("the banner does not show the changes page:\n%s", out)
	}
	// The three seeded users that arrived by webhook.
	got := waitReceived(t, c, 3)
	for _, rc := range got {
		if rc.Entry.Type != "profile.created" || rc.Entry.Source != clerksync.SourceWebhook || rc.Attempts != 1 {
			t.Errorf("seeded entry %+v", rc)
		}
	}

	// Katherine, whose webhook never came, signs in: the profile page syncs her, and
	// the feed tells of her creation through the Backend API.
	b := browserless(t)
	kate := seededUser(t, c, "Katherine")
	if status, body := postForm(t, b, c.URL()+"/dev/sign-in", c.URL(), url.Values{"user_id": {kate.ID}, "redirect_url": {"/profile"}}); status != http.StatusOK {
		t.Fatalf("sign in as Katherine = %d:\n%s", status, body)
	}
	// Ada renamed with her webhook.
	ada := seededUser(t, c, "Ada")
	postForm(t, b, c.URL()+"/dev/users/"+ada.ID, c.URL(), url.Values{"first_name": {"Augusta"}})
	got = waitReceived(t, c, 5)
	byType := map[string]devemu.ReceivedChange{}
	for _, rc := range got {
		byType[rc.Entry.Type+" "+rc.Entry.ObjectID] = rc
	}
	if rc, ok := byType["profile.created "+kate.ID]; !ok || rc.Entry.Source != clerksync.SourceAPI {
		t.Errorf("Katherine's creation: %+v, %v; want one from the Backend API", rc, ok)
	}
	if _, ok := byType["profile.updated "+ada.ID]; !ok {
		t.Errorf("no profile.updated of Ada among %+v", got)
	}

	status, page := get(t, b, c.URL()+devemu.ChangesPath)
	if status != http.StatusOK {
		t.Fatalf("changes page = %d", status)
	}
	for _, want := range []string{"profile.updated", ada.ID, kate.ID, `&#34;Ada&#34;</td><td class="mono after">&#34;Augusta&#34;`, "1 attempt"} {
		if !strings.Contains(page, want) {
			t.Errorf("the changes page lacks %q", want)
		}
	}
	// What was received is the feed, and the feed is the table.
	entries := storetest.AllChanges(t, c.serve.store.(clerksync.FeedStore), 0)
	if len(entries) != len(got) {
		t.Errorf("the feed holds %d entries, the receiver got %d", len(entries), len(got))
	}
	storetest.CheckFeedMatchesTables(t, c.serve.store, entries)
}
