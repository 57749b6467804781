package devemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clerksync/clerksync/devemu"
	"github.com/clerksync/clerksync/forward"
	"github.com/clerksync/clerksync/internal/sqlitetest"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
	"github.com/clerksync/clerksync/svixsig"
)

// forwardFeed records changes in a store of its own and forwards its feed to the
// emulator's receiver, as clerksync dev does; it returns the store.
func forwardFeed(t *testing.T, e *env) *sqlite.Store {
	t.Helper()
	s := sqlitetest.Open(t)
	fw, err := forward.New(forward.Config{
		Store: s, Endpoints: []forward.Endpoint{{URL: e.Emu.ChangesURL()}}, Secret: e.Emu.ChangesSecret(),
		Logger: slog.New(slog.DiscardHandler), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Poll: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	fw.Start(context.Background())
	t.Cleanup(fw.Stop)
	return s
}

// waitChanges waits until the receiver holds n entries, the last acknowledged.
func waitChanges(t *testing.T, emu *devemu.Emulator, n int) []devemu.ReceivedChange {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := emu.Changes()
		if len(got) >= n && got[0].Acknowledged {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver holds %d entries, want %d: %+v", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEmulator_ChangesPage(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	s := forwardFeed(t, e)
	base := int64(1_750_000_000_000)
	v1 := storetest.NewProfile("user_page", base)
	v2 := storetest.NewProfile("user_page", base+1000)
	v2.CreatedAt, v2.FirstName = v1.CreatedAt, "<script>alert(1)</script>"
	storetest.MustApply(t, s, storetest.Upsert("msg_1", v1))
	storetest.MustApply(t, s, storetest.Upsert("msg_2", v2))
	got := waitChanges(t, e.Emu, 2)
	if got[0].Entry.Type != "profile.updated" || got[1].Entry.Type != "profile.created" || got[0].Attempts != 1 {
		t.Fatalf("received %+v", got)
	}

	// The receiver refuses on request: the entry is sent again, and counted.
	e.Emu.FailNextChanges(2)
	storetest.MustApply(t, s, storetest.Delete("msg_3", "user_page", base+2000))
	got = waitChanges(t, e.Emu, 3)
	if got[0].Entry.Type != "profile.deleted" || got[0].Attempts != 3 {
		t.Fatalf("the refused entry: %+v; want profile.deleted acknowledged at its third attempt", got[0])
	}

	b := browser(t)
	resp, page := do(t, b, "GET", e.URL+devemu.ChangesPath, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("changes page: %d", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("changes page CSP = %q", csp)
	}
	for _, want := range []string{
		"Changes feed", "profile.created", "profile.updated", "profile.deleted", "user_page", "3 attempts",
		// Before and after, escaped: the new first name is text, never markup.
		`<td class="mono before">&#34;Test&#34;</td><td class="mono after">&#34;\u003cscript\u003ealert(1)\u003c/script\u003e&#34;</td>`,
		`<script src="/dev/assets/changes.js" defer></script>`, `aria-current="page">Changes feed</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the changes page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("the changes page holds the first name as markup")
	}
	if _, home := do(t, b, "GET", e.URL+"/dev/", nil, nil); !strings.Contains(home, `<a href="/dev/changes">Changes feed</a>`) {
		t.Error("the emulator's page does not link to the changes page")
	}
	for _, a := range []string{"/dev/assets/changes.js", "/dev/assets/changes.css"} {
		if resp, body := do(t, b, "GET", e.URL+a, nil, nil); resp.StatusCode != http.StatusOK || len(body) < 100 {
			t.Errorf("%s: %d, %d bytes", a, resp.StatusCode, len(body))
		}
	}
}

func TestEmulator_ChangesWait(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	s := forwardFeed(t, e)
	b := browser(t)
	version := func(body string) int64 {
		var v struct{ Version int64 }
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("wait answered %q", body)
		}
		return v.Version
	}
	// A page that is behind is answered at once.
	if _, body := do(t, b, "GET", e.URL+"/dev/changes/wait?version=-5", nil, nil); version(body) != 0 {
		t.Fatalf("wait = %s, want version 0", body)
	}
	// A page that is current is answered when a delivery arrives.
	answered := make(chan string, 1)
	go func() {
		resp, err := b.Get(e.URL + "/dev/changes/wait?version=0")
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered <- string(body)
	}()
	time.Sleep(50 * time.Millisecond)
	storetest.MustApply(t, s, storetest.Upsert("msg_1", storetest.NewProfile("user_wait", 1_750_000_000_000)))
	select {
	case body := <-answered:
		if version(body) < 1 {
			t.Fatalf("wait = %s after a delivery", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait was not answered when a delivery arrived")
	}
}

// TestEmulator_ChangesReceiverVerifies: a delivery not signed with the receiver's
// secret is refused and not listed.
func TestEmulator_ChangesReceiverVerifies(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	body := []byte(`{"id":"chg_forged","seq":1,"type":"profile.created","object_id":"user_x","data":{"user_id":"user_x"}}`)
	for _, key := range [][]byte{[]byte("wrong key"), nil} {
		req, _ := http.NewRequest(http.MethodPost, e.Emu.ChangesURL(), bytes.NewReader(body))
		if key != nil {
			svixsig.SetStandardHeaders(req.Header, key, "chg_forged", time.Now(), body)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a forged delivery (key %q) got %d", key, resp.StatusCode)
		}
	}
	if got := e.Emu.Changes(); len(got) != 0 {
		t.Fatalf("forged deliveries were listed: %+v", got)
	}
}
