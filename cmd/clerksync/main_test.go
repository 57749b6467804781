package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/syncbuf"
	"github.com/clerksync/clerksync/svixsig"
)

// testSecret is the Standard Webhooks example secret; tests sign with it.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// syncBuffer is an io.Writer safe for the server's goroutines and the test to share.
type syncBuffer = syncbuf.Buffer

// testMain returns a Main whose environment is env and whose output is captured.
func testMain(env map[string]string) (*Main, *syncBuffer, *syncBuffer) {
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	return &Main{
		Stdin:  strings.NewReader(""),
		Stdout: stdout,
		Stderr: stderr,
		Getenv: func(k string) string { return env[k] },
	}, stdout, stderr
}

// testServer is a running `clerksync serve` on :0 with a temporary SQLite file.
type testServer struct {
	*ServeCommand
	URL    string
	Logs   serveLogs
	DBPath string
}

// serveLogs is what a test server logged. Lines reach the buffer from a goroutine of the
// server's (logwriter), so String first waits for those written so far.
type serveLogs struct {
	buf *syncBuffer
	cmd *ServeCommand
}

// String returns every line logged so far.
func (l serveLogs) String() string {
	l.cmd.FlushLogs()
	return l.buf.String()
}

// MustRunServe starts serve with env (plus a secret and a temporary database unless
// env gives them) on a free port and stops it when the test ends.
func MustRunServe(tb testing.TB, env map[string]string, args ...string) *testServer {
	tb.Helper()
	return runServe(tb, map[string]string{"CLERK_WEBHOOK_SECRET": testSecret, "LOG_LEVEL": "debug"}, env, args, nil)
}

// runServe starts serve on :0 with a temporary SQLite file, defaults and then env as
// its environment, and args. prepare, when set, adjusts the command between its flags
// and its start. The server stops when the test ends.
func runServe(tb testing.TB, defaults, env map[string]string, args []string, prepare func(*ServeCommand)) *testServer {
	tb.Helper()
	full := map[string]string{
		"DATABASE_URL": "sqlite:" + filepath.Join(tb.TempDir(), "clerksync.db"),
		"PORT":         "127.0.0.1:0",
	}
	for _, m := range []map[string]string{defaults, env} {
		for k, v := range m {
			full[k] = v
		}
	}
	m, _, stderr := testMain(full)
	c := &ServeCommand{Main: m}
	if err := c.ParseFlags(args); err != nil {
		tb.Fatalf("serve flags: %v", err)
	}
	if prepare != nil {
		prepare(c)
	}
	if err := c.Open(context.Background()); err != nil {
		tb.Fatalf("serve: %v\n%s", err, stderr)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close serve: %v", err)
		}
	})
	return &testServer{ServeCommand: c, URL: c.URL(), Logs: serveLogs{stderr, c}, DBPath: strings.TrimPrefix(full["DATABASE_URL"], "sqlite:")}
}

// migratedDB returns the path of a new SQLite database that `clerksync migrate` created,
// for the commands that refuse to create one (sync, backfill, events).
func migratedDB(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "clerksync.db")
	m, _, stderr := testMain(map[string]string{"DATABASE_URL": "sqlite:" + path, "LOG_LEVEL": "warn"})
	if code := m.exitCode(m.Run(context.Background(), []string{"migrate"})); code != 0 {
		tb.Fatalf("migrate %s: exit %d\n%s", path, code, stderr)
	}
	return path
}

// answer is a webhook answer.
type answer struct {
	Status int
	Header http.Header
	Body   map[string]any
}

// deliver signs body with secret as delivery id at ts and posts it to path.
func deliver(tb testing.TB, base, path, secret, id string, ts time.Time, body []byte) answer {
	tb.Helper()
	key, err := svixsig.DecodeSecret(secret)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	svixsig.SetHeaders(req.Header, key, id, ts, body)
	return do(tb, req)
}

func do(tb testing.TB, req *http.Request) answer {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Header: resp.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.Body); err != nil {
			tb.Fatalf("answer %d is not JSON: %q", resp.StatusCode, raw)
		}
	}
	return a
}

// send delivers an event about u as Clerk would, signed with the test secret.
func (s *testServer) send(tb testing.TB, id, eventType string, u *clerkfake.User) answer {
	tb.Helper()
	return deliver(tb, s.URL, "/api/webhooks/clerk", testSecret, id, time.Now(), clerkfake.WebhookEvent(eventType, u, time.Now()))
}

func wantAnswer(tb testing.TB, a answer, status int, outcome, action string) {
	tb.Helper()
	if a.Status != status || a.Body["outcome"] != outcome || a.Body["action"] != action {
		tb.Fatalf("answer = %d %v, want %d outcome=%s action=%s", a.Status, a.Body, status, outcome, action)
	}
}

func (s *testServer) profile(tb testing.TB, userID string) *clerksync.Profile {
	tb.Helper()
	p, err := s.store.Profile(context.Background(), userID)
	if clerksync.ErrorCode(err) == clerksync.ENOTFOUND {
		return nil
	}
	if err != nil {
		tb.Fatalf("profile %s: %v", userID, err)
	}
	return p
}

// user returns a realistic user at version updated.
func user(id string, first string, updated time.Time) *clerkfake.User {
	return clerkfake.NewUser(clerkfake.UserParams{
		Seed: seedOf(id), ID: id, FirstName: first, LastName: "Lovelace",
		Email: "ada@example.com", Rich: true,
		PublicMetadata: json.RawMessage(`{"plan":"pro"}`),
		CreatedAt:      time.UnixMilli(1_700_000_000_000), UpdatedAt: updated,
	})
}

func TestServe_UserLifecycle(t *testing.T) {
	t.Parallel()
	s := MustRunServe(t, nil)
	id := "user_2lifecycleAAAAAAAAAAAAAAAAA"
	v1 := time.UnixMilli(1_700_000_001_000)

	wantAnswer(t, s.send(t, "msg_1", "user.created", user(id, "Ada", v1)), 200, "applied", "created")
	p := s.profile(t, id)
	if p == nil {
		t.Fatal("no profile after user.created")
	}
	if got, want := p.FirstName+" "+p.LastName, "Ada Lovelace"; got != want {
		t.Fatalf("name = %q, want %q", got, want)
	}
	if got, want := p.Email, "ada@example.com"; got != want {
		t.Fatalf("email = %q, want %q", got, want)
	}
	if !p.EmailVerified || p.UpdatedAt != v1.UnixMilli() || p.SyncSource != clerksync.SourceWebhook {
		t.Fatalf("profile = %+v", p)
	}
	if got, want := string(p.PublicMetadata), `{"plan":"pro"}`; got != want {
		t.Fatalf("public_metadata = %s, want %s", got, want)
	}
	if bytes.Contains(p.Raw, []byte("private_metadata")) {
		t.Fatal("raw keeps private_metadata without the opt-in")
	}

	// A newer update applies; its retry is a duplicate; an older one is stale.
	v2 := v1.Add(time.Minute)
	wantAnswer(t, s.send(t, "msg_2", "user.updated", user(id, "Augusta", v2)), 200, "applied", "updated")
	wantAnswer(t, s.send(t, "msg_2", "user.updated", user(id, "Augusta", v2)), 200, "duplicate", "none")
	wantAnswer(t, s.send(t, "msg_old", "user.updated", user(id, "Stale", v1.Add(time.Second))), 200, "stale", "none")
	if got := s.profile(t, id).FirstName; got != "Augusta" {
		t.Fatalf("first name = %q after a stale update, want Augusta", got)
	}

	// Delete wins for ever, even against a later update.
	wantAnswer(t, s.send(t, "msg_3", "user.deleted", user(id, "", v2)), 200, "applied", "deleted")
	if p := s.profile(t, id); p != nil {
		t.Fatalf("profile still there after user.deleted: %+v", p)
	}
	wantAnswer(t, s.send(t, "msg_4", "user.updated", user(id, "Zombie", v2.Add(time.Hour))), 200, "stale", "none")
	if p := s.profile(t, id); p != nil {
		t.Fatalf("deleted user came back: %+v", p)
	}
}

func TestServe_Answers(t *testing.T) {
	t.Parallel()
	s := MustRunServe(t, map[string]string{}, "--max-body-bytes", "65536")
	body := clerkfake.WebhookEvent("user.created", user("user_2answersAAAAAAAAAAAAAAAAAA", "Ada", time.UnixMilli(1_700_000_001_000)), time.Now())
	key, _ := svixsig.DecodeSecret(testSecret)
	now := time.Now()

	req := func(method, path string, body []byte, hdr map[string]string) *http.Request {
		r, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		return r
	}
	signed := func(id string, ts time.Time, b []byte) map[string]string {
		return map[string]string{"svix-id": id, "svix-timestamp": fmt.Sprint(ts.Unix()), "svix-signature": svixsig.Sign(key, id, ts, b)}
	}
	big := bytes.Repeat([]byte("x"), 70_000)
	undecodable := []byte(`{"type":"user.updated","data":{"id":42}}`)
	session, err := os.ReadFile("testdata/session.created.json")
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name    string
		req     *http.Request
		status  int
		outcome string
	}{
		{"GetIsNotAllowed", req(http.MethodGet, "/api/webhooks/clerk", nil, nil), 405, ""},
		{"BodyOverCap", req(http.MethodPost, "/api/webhooks/clerk", big, signed("msg_big", now, big)), 413, ""},
		{"MissingHeaders", req(http.MethodPost, "/api/webhooks/clerk", body, nil), 400, ""},
		{"MissingID", req(http.MethodPost, "/api/webhooks/clerk", body, map[string]string{"svix-timestamp": fmt.Sprint(now.Unix()), "svix-signature": svixsig.Sign(key, "msg_x", now, body)}), 400, ""},
		{"WrongSignature", req(http.MethodPost, "/api/webhooks/clerk", body, signed("msg_a", now, []byte("other"))), 401, ""},
		{"TimestampTooOld", req(http.MethodPost, "/api/webhooks/clerk", body, signed("msg_b", now.Add(-310*time.Second), body)), 401, ""},
		{"TimestampTooNew", req(http.MethodPost, "/api/webhooks/clerk", body, signed("msg_c", now.Add(310*time.Second), body)), 401, ""},
		{"Applied", req(http.MethodPost, "/api/webhooks/clerk", body, signed("msg_d", now, body)), 200, "applied"},
		{"AlreadySeen", req(http.MethodPost, "/api/webhooks/clerk", body, signed("msg_d", now, body)), 200, "duplicate"},
		{"AliasRoute", req(http.MethodPost, "/api/clerk-webhook", body, signed("msg_e", now, body)), 200, "applied"},
		{"TypeNotSynced", req(http.MethodPost, "/api/webhooks/clerk", session, signed("msg_f", now, session)), 200, "ignored"},
		{"NotDecodable", req(http.MethodPost, "/api/webhooks/clerk", undecodable, signed("msg_g", now, undecodable)), 200, "dead_letter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, tt.req)
			if a.Status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", a.Status, tt.status, a.Body)
			}
			if tt.outcome != "" && a.Body["outcome"] != tt.outcome {
				t.Fatalf("outcome = %v, want %s", a.Body["outcome"], tt.outcome)
			}
			if tt.status == 401 && strings.Contains(fmt.Sprint(a.Body), "timestamp") {
				t.Fatalf("401 answer says why: %v", a.Body)
			}
		})
	}

	// Nothing rejected reached the database; the dead letter kept its raw body.
	ev, err := s.store.Event(context.Background(), "msg_g")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Outcome != clerksync.OutcomeDeadLetter || !bytes.Equal(ev.Body, undecodable) || ev.Error == "" {
		t.Fatalf("dead letter = %+v", ev)
	}
	for _, id := range []string{"msg_big", "msg_a", "msg_b", "msg_c"} {
		if _, err := s.store.Event(context.Background(), id); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
			t.Fatalf("rejected delivery %s was recorded (err=%v)", id, err)
		}
	}
}

func TestServe_LogLines(t *testing.T) {
	t.Parallel()
	id := "user_2loglinesAAAAAAAAAAAAAAAAA"
	for _, tt := range []struct {
		name    string
		env     map[string]string
		args    []string
		names   bool
		syncing string
	}{
		{"IdsOnlyByDefault", nil, nil, false, `msg="Syncing profile for ` + id + `"`},
		{"NamesWithFlag", nil, []string{"--log-names"}, true, `msg="Syncing profile for ` + id + ` (Test User)"`},
		{"NamesWithEnv", map[string]string{"CLERKSYNC_LOG_NAMES": "1"}, nil, true, `msg="Syncing profile for ` + id + ` (Test User)"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := MustRunServe(t, tt.env, tt.args...)
			wantAnswer(t, s.send(t, "msg_log", "user.created", clerkfake.NewUser(clerkfake.UserParams{ID: id, FirstName: "Test", LastName: "User"})), 200, "applied", "created")
			logs := s.Logs.String()
			for _, want := range []string{
				"Webhook received: user.created for user: " + id,
				tt.syncing,
				"Successfully synced profile for user " + id,
			} {
				if !strings.Contains(logs, want) {
					t.Errorf("logs lack %q:\n%s", want, logs)
				}
			}
			if strings.Contains(logs, "example.com") {
				t.Errorf("logs contain an email address (a payload leaked):\n%s", logs)
			}
			if got := strings.Contains(logs, "Test User"); got != tt.names {
				t.Errorf("logs name the user: %v, want %v:\n%s", got, tt.names, logs)
			}
		})
	}
}

func TestServe_HealthAndMetrics(t *testing.T) {
	t.Parallel()
	s := MustRunServe(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		if a := do(t, mustReq(t, http.MethodGet, s.URL+path)); a.Status != 200 {
			t.Fatalf("%s = %d %v", path, a.Status, a.Body)
		}
	}
	s.send(t, "msg_m", "user.created", user("user_2metricsAAAAAAAAAAAAAAAAAAA", "Ada", time.UnixMilli(1_700_000_001_000)))
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`clerksync_webhook_deliveries_total{result="applied"} 1`, "clerksync_batch_changes_count 1", "clerksync_queue_depth 0"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func mustReq(tb testing.TB, method, url string) *http.Request {
	tb.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestMain_UsageAndConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		contains []string
	}{
		{"NoCommand", nil, nil, 2, []string{"Usage:", "no command given"}},
		{"UnknownCommand", []string{"srve"}, nil, 2, []string{"unknown command \"srve\"", "serve"}},
		{"BadFlag", []string{"serve", "--nope"}, map[string]string{"CLERK_WEBHOOK_SECRET": testSecret}, 2, []string{"flag provided but not defined: -nope", "Usage: clerksync serve"}},
		{"MissingSecret", []string{"serve"}, nil, 2, []string{"CLERK_WEBHOOK_SECRET is not set", "Signing Secret", "whsec_"}},
		{"APIKeyAsSecret", []string{"serve", "--addr", "127.0.0.1:0"}, map[string]string{"CLERK_WEBHOOK_SECRET": "sk_test_abc", "DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "x.db")}, 2, []string{"CLERK_WEBHOOK_SECRET holds a Clerk API key (sk_…)", "whsec_", "Signing Secret"}},
		{"SecretWithoutPrefix", []string{"serve"}, map[string]string{"CLERK_WEBHOOK_SECRET": "not-a-secret!"}, 2, []string{"CLERK_WEBHOOK_SECRET is not a Clerk signing secret: it should start with whsec_ followed by base64", "Webhooks → your endpoint → Signing Secret"}},
		{"SecretNotBase64", []string{"serve", "--webhook-secret", "whsec_abc"}, nil, 2, []string{"--webhook-secret is not a Clerk signing secret: after whsec_ it should be base64"}},
		{"SecondSecretBad", []string{"serve"}, map[string]string{"CLERK_WEBHOOK_SIGNING_SECRET": testSecret + " whsec_"}, 2, []string{"the 2nd of the 2 secrets in CLERK_WEBHOOK_SIGNING_SECRET is only whsec_"}},
		{"SendSecretWithoutPrefix", []string{"send", "user.created"}, map[string]string{"CLERK_WEBHOOK_SECRET": "not-a-secret!"}, 2, []string{"CLERK_WEBHOOK_SECRET is not a Clerk signing secret"}},
		{"PortNotANumber", []string{"serve"}, map[string]string{"CLERK_WEBHOOK_SECRET": testSecret, "PORT": "abc"}, 2, []string{`PORT "abc" is not a port`, "such as 3000"}},
		{"AddrPortOutOfRange", []string{"serve", "--addr", "127.0.0.1:99999"}, map[string]string{"CLERK_WEBHOOK_SECRET": testSecret}, 2, []string{`--addr "127.0.0.1:99999" is not a port or host:port`}},
		{"DevPortNotANumber", []string{"dev"}, map[string]string{"PORT": "abc"}, 2, []string{`PORT "abc" is not a port`}},
		{"HealthcheckPortNotANumber", []string{"healthcheck"}, map[string]string{"PORT": "abc"}, 2, []string{`PORT "abc" is not a port`}},
		{"BadDatabaseURL", []string{"serve"}, map[string]string{"CLERK_WEBHOOK_SECRET": testSecret, "DATABASE_URL": "mysql://localhost/app"}, 2, []string{"\"mysql\" is not supported", "sqlite:PATH", "postgres://"}},
		{"BadLogLevel", []string{"migrate"}, map[string]string{"LOG_LEVEL": "loud", "DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "y.db")}, 2, []string{"LOG_LEVEL \"loud\""}},
		{"SendWithoutType", []string{"send"}, map[string]string{"CLERK_WEBHOOK_SECRET": testSecret}, 2, []string{"needs an event TYPE"}},
		{"SendUnknownType", []string{"send", "user.exploded"}, map[string]string{"CLERK_WEBHOOK_SECRET": testSecret}, 2, []string{"cannot build a \"user.exploded\" event"}},
		{"Help", []string{"help"}, nil, 0, []string{"serve", "migrate", "send"}},
		{"Version", []string{"version"}, nil, 0, []string{"clerksync " + Version()}},
		{"VersionFlag", []string{"--version"}, nil, 0, []string{"clerksync " + Version()}},
		{"VersionShortFlag", []string{"-v"}, nil, 0, []string{"clerksync " + Version()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, stdout, stderr := testMain(tt.env)
			code := m.exitCode(m.Run(context.Background(), tt.args))
			out := stdout.String() + stderr.String()
			if code != tt.code {
				t.Fatalf("exit code = %d, want %d; output:\n%s", code, tt.code, out)
			}
			for _, want := range tt.contains {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.db")
	for range 2 { // the second run finds the schema current and changes nothing
		m, stdout, stderr := testMain(map[string]string{"DATABASE_URL": "sqlite:" + path})
		if code := m.exitCode(m.Run(context.Background(), []string{"migrate"})); code != 0 {
			t.Fatalf("migrate exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout.String(), "newest schema") {
			t.Fatalf("migrate said %q", stdout)
		}
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	s := MustRunServe(t, nil)
	id := "user_2sendAAAAAAAAAAAAAAAAAAAAAA"
	run := func(args ...string) string {
		t.Helper()
		m, stdout, stderr := testMain(map[string]string{"CLERK_WEBHOOK_SECRET": testSecret})
		if code := m.exitCode(m.Run(context.Background(), append(args, "--to", s.URL+"/api/webhooks/clerk"))); code != 0 {
			t.Fatalf("send %v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		return stdout.String()
	}
	out := run("send", "user.created", "--user-id", id, "--first-name", "Grace", "--last-name", "Hopper", "--email", "grace@example.com")
	if !strings.Contains(out, "200 OK") || !strings.Contains(out, `"outcome":"applied"`) {
		t.Fatalf("send printed %q", out)
	}
	p := s.profile(t, id)
	if p == nil || p.FirstName != "Grace" || p.Email != "grace@example.com" {
		t.Fatalf("profile after send = %+v", p)
	}
	run("send", "user.updated", "--user-id", id, "--first-name", "Amazing", "--last-name", "Grace", "--public-metadata", `{"plan":"team"}`)
	if p := s.profile(t, id); p.FirstName != "Amazing" || string(p.PublicMetadata) != `{"plan":"team"}` {
		t.Fatalf("profile after update = %+v", p)
	}
	run("send", "user.deleted", "--user-id", id)
	if p := s.profile(t, id); p != nil {
		t.Fatalf("profile after user.deleted = %+v", p)
	}

	// A wrong secret is refused by the server, and send says so and fails.
	m, stdout, stderr := testMain(nil)
	code := m.exitCode(m.Run(context.Background(), []string{"send", "user.created", "--secret", "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--to", s.URL + "/api/webhooks/clerk"}))
	if code != 1 || !strings.Contains(stdout.String()+stderr.String(), "401") {
		t.Fatalf("send with a wrong secret: exit %d\n%s%s", code, stdout, stderr)
	}
}
