package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/forward"
	"github.com/clerksync/clerksync/svixsig"
)

// receiver is a running `clerksync receive`.
type receiver struct {
	URL            string
	Stdout, Stderr *syncBuffer
	stop           func() error
}

// startReceive runs clerksync receive with env and args on a free port until the test
// ends.
func startReceive(t *testing.T, env map[string]string, args ...string) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, stdout, stderr := testMain(env)
	ready := make(chan string, 1)
	c := &ReceiveCommand{Main: m, Listener: ln, Ready: func(u string) { ready <- u }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, args) }()
	r := &receiver{Stdout: stdout, Stderr: stderr}
	r.stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	select {
	case r.URL = <-ready:
	case err := <-done:
		t.Fatalf("receive: %v\n%s", err, stderr)
	}
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// forwardTo forwards the feed of db to url with the test secret, quickly retried.
func forwardTo(t *testing.T, db clerksync.Store, url string) {
	t.Helper()
	fw, err := forward.New(forward.Config{
		Store: db.(forward.Store), Endpoints: []forward.Endpoint{{URL: url}}, Secret: testSecret,
		Logger: slog.New(slog.DiscardHandler), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Poll: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	fw.Start(context.Background())
	t.Cleanup(fw.Stop)
}

func TestReceive_PrintsForwardedChanges(t *testing.T) {
	t.Parallel()
	db := newSQLiteFeed(t)
	entries := seedFeed(t, db)
	r := startReceive(t, map[string]string{"CLERKSYNC_FORWARD_SECRET": testSecret}, "--fail-rate", "0.4")
	forwardTo(t, db.store, r.URL+"/changes")
	for _, e := range entries {
		waitOutput(t, r.Stdout, "#"+jsonString(e.Seq)+" "+e.Type+" "+e.ObjectID+" (webhook)")
	}
	out := r.Stdout.String()
	for _, want := range []string{`    first_name: "Test" → "Augusta"`, "    removed", `    role: "org:admin"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	// With a fail rate of 0.4 over 6 entries, some were refused with 503 and sent again
	// (the chance that none was is 0.6^6, under 5%; a retried entry says so).
	if strings.Contains(out, "answered 503") != strings.Contains(out, "attempt 2") {
		t.Errorf("a 503 and a second attempt go together:\n%s", out)
	}

	// A delivery that does not verify is answered 401 and not printed.
	body := []byte(`{"id":"chg_forged","seq":99,"type":"profile.deleted","object_id":"user_ada","data":{"user_id":"user_ada"}}`)
	req, _ := http.NewRequest(http.MethodPost, r.URL+"/changes", bytes.NewReader(body))
	svixsig.SetStandardHeaders(req.Header, []byte("not the secret"), "chg_forged", time.Now(), body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged delivery got %d, want 401", resp.StatusCode)
	}
	if err := r.stop(); err != nil {
		t.Errorf("receive ended with %v on Ctrl-C", err)
	}
	if strings.Contains(r.Stdout.String(), "chg_forged") {
		t.Errorf("the forged delivery was printed")
	}
}

func TestReceive_JSON(t *testing.T) {
	t.Parallel()
	db := newSQLiteFeed(t)
	entries := seedFeed(t, db)
	r := startReceive(t, map[string]string{}, "--json", "--secret", testSecret)
	forwardTo(t, db.store, r.URL)
	for _, e := range entries {
		waitOutput(t, r.Stdout, e.ID)
	}
	got := jsonLines(t, r.Stdout.String())
	// Objects' entries arrive in order, objects among themselves in any.
	pos := map[string]int{}
	for i, e := range got {
		pos[e.ID] = i
	}
	for i := 1; i < len(entries); i++ {
		if entries[i].ObjectID == entries[i-1].ObjectID && pos[entries[i].ID] < pos[entries[i-1].ID] {
			t.Errorf("entry %d printed before %d of the same object", entries[i].Seq, entries[i-1].Seq)
		}
	}
	byID := map[string]clerksync.FeedEntry{}
	for _, e := range got {
		byID[e.ID] = e
	}
	for _, want := range delivered(entries) {
		if diff := cmp.Diff(want, byID[want.ID]); diff != "" {
			t.Errorf("entry %d (-want +got):\n%s", want.Seq, diff)
		}
	}
}

func TestReceive_NewSecret(t *testing.T) {
	t.Parallel()
	_, a, _ := runMain(t, nil, nil, "receive", "--new-secret")
	_, b, _ := runMain(t, nil, nil, "receive", "--new-secret")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if !strings.HasPrefix(a, "whsec_") || a == b {
		t.Fatalf("--new-secret printed %q then %q; want two different whsec_ secrets", a, b)
	}
	if _, err := svixsig.DecodeSecret(a); err != nil {
		t.Fatalf("the new secret does not decode: %v", err)
	}
}

func TestReceive_SecretNeverPrinted(t *testing.T) {
	t.Parallel()
	env := map[string]string{"CLERKSYNC_FORWARD_SECRET": helpSigningSecret}
	secret := strings.TrimPrefix(helpSigningSecret, "whsec_")
	for _, args := range [][]string{{"receive", "-h"}, {"receive", "--listen", "nowhere"}, {"receive", "--fail-rate", "2"}, {"receive", "--nope"}} {
		code, stdout, stderr := runMain(t, env, nil, args...)
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("clerksync %s printed the secret:\n%s%s", strings.Join(args, " "), stdout, stderr)
		}
		if args[1] == "-h" && (code != 0 || !strings.Contains(stdout, "whsec_… (hidden)")) {
			t.Errorf("receive -h: exit %d, want the secret's default shown masked:\n%s", code, stdout)
		}
	}
	// No secret, or one that is not a Signing Secret: a usage error that says what to do.
	for _, env := range []map[string]string{{}, {"CLERKSYNC_FORWARD_SECRET": "sk_test_NotASigningSecret"}} {
		code, _, stderr := runMain(t, env, nil, "receive")
		if code != 2 || !strings.Contains(stderr, "receive --new-secret") || strings.Contains(stderr, "NotASigningSecret") {
			t.Errorf("receive with CLERKSYNC_FORWARD_SECRET=%q: exit %d\n%s", env["CLERKSYNC_FORWARD_SECRET"], code, stderr)
		}
	}
}
