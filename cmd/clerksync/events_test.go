package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/storetest"
)

// The users of the seeded event log.
const (
	adaID  = "user_2eventsAdaAAAAAAAAAAAAAAAAA"
	bobID  = "user_2eventsBobAAAAAAAAAAAAAAAAA"
	cleoID = "user_2eventsCleoAAAAAAAAAAAAAAAA"
	// sessionUserID is the user of testdata/session.created.json.
	sessionUserID = "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
)

// undecodable is an authentic delivery the decoder cannot use: the user id is a number.
var undecodable = []byte(`{"type":"user.updated","object":"event","data":{"id":42,"first_name":"Nobody"}}`)

// eventLog is a running serve whose event log holds one entry of every kind:
//
//	msg_01 user.created  Ada   applied/created
//	msg_02 user.updated  Ada   applied/updated
//	msg_03 session.created     ignored
//	msg_04 user.updated  -     dead letter: the body cannot be decoded
//	msg_05 user.created  Bob   applied/created, redacted
//	msg_06 user.deleted  Bob   applied/deleted, redacted
//	msg_07 user.created  Cleo  dead letter whose body is fine (a decoder bug since fixed)
//
// The ids grow with the order of delivery, so "newest first" is the same order even
// when two deliveries share a millisecond.
type eventLog struct {
	*testServer
	env map[string]string // what the events commands need to find the database
}

func mustSeedEventLog(tb testing.TB) *eventLog {
	tb.Helper()
	// Every body is kept, so that show and replay have something to show and replay.
	s := MustRunServe(tb, nil, "--event-bodies", "all")
	v1 := time.UnixMilli(1_700_000_001_000)
	wantAnswer(tb, s.send(tb, "msg_01", "user.created", user(adaID, "Ada", v1)), 200, "applied", "created")
	wantAnswer(tb, s.send(tb, "msg_02", "user.updated", user(adaID, "Augusta", v1.Add(time.Minute))), 200, "applied", "updated")
	session, err := os.ReadFile("testdata/session.created.json")
	if err != nil {
		tb.Fatal(err)
	}
	wantAnswer(tb, deliver(tb, s.URL, "/api/webhooks/clerk", testSecret, "msg_03", time.Now(), session), 200, "ignored", "none")
	wantAnswer(tb, deliver(tb, s.URL, "/api/webhooks/clerk", testSecret, "msg_04", time.Now(), undecodable), 200, "dead_letter", "none")
	wantAnswer(tb, s.send(tb, "msg_05", "user.created", user(bobID, "Bob", v1)), 200, "applied", "created")
	wantAnswer(tb, s.send(tb, "msg_06", "user.deleted", user(bobID, "Bob", v1)), 200, "applied", "deleted")
	s.mustDeadLetter(tb, "msg_07", "user.created", clerkfake.WebhookEvent("user.created", user(cleoID, "Cleo", v1), time.Now()))
	return &eventLog{testServer: s, env: map[string]string{"DATABASE_URL": "sqlite:" + s.DBPath}}
}

// mustDeadLetter records body as a dead letter, as an older decoder that could not read
// it would have: the body itself is fine, so a replay applies it.
func (s *testServer) mustDeadLetter(tb testing.TB, id, eventType string, body []byte) {
	tb.Helper()
	c := clerksync.Change{
		Op: clerksync.OpDeadLetter, Source: clerksync.SourceWebhook, EventID: id, EventType: eventType,
		Body: body, Error: "decode user: unsupported shape of email_addresses",
	}
	res, err := s.store.Apply(context.Background(), []clerksync.Change{c})
	if err != nil {
		tb.Fatal(err)
	}
	if got, want := res[0].Outcome, clerksync.OutcomeDeadLetter; got != want {
		tb.Fatalf("recording dead letter %s: outcome %v, want %v", id, got, want)
	}
}

// run runs clerksync with args against the seeded database at the clock now (nil for
// the real one) and returns its exit code and output.
func (l *eventLog) run(tb testing.TB, now func() time.Time, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	return runMain(tb, l.env, now, args...)
}

func runMain(tb testing.TB, env map[string]string, now func() time.Time, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	m, out, errOut := testMain(env)
	m.Now = now
	code = m.exitCode(m.Run(context.Background(), args))
	return code, out.String(), errOut.String()
}

// mustRun runs clerksync and fails the test unless it exits with want.
func (l *eventLog) mustRun(tb testing.TB, want int, now func() time.Time, args ...string) string {
	tb.Helper()
	code, stdout, stderr := l.run(tb, now, args...)
	if code != want {
		tb.Fatalf("clerksync %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout + stderr
}

func (l *eventLog) event(tb testing.TB, id string) *clerksync.Event {
	tb.Helper()
	e, err := l.store.Event(context.Background(), id)
	if err != nil {
		tb.Fatalf("event %s: %v", id, err)
	}
	return e
}

// listed is what the tests compare of a --json line.
type listed struct {
	ID, Type, Kind, ObjectID, UserID string
	Outcome, Action                  string
	Redacted                         bool
	Attempts                         int
}

func decodeLines(tb testing.TB, out string) []eventJSON {
	tb.Helper()
	var events []eventJSON
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e eventJSON
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			tb.Fatalf("line %q is not an event: %v", sc.Text(), err)
		}
		events = append(events, e)
	}
	return events
}

func ids(events []eventJSON) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

// field returns the value of "name:" in events show's output.
func field(tb testing.TB, out, name string) string {
	tb.Helper()
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	tb.Fatalf("no %q in:\n%s", name, out)
	return ""
}

func TestEvents_List(t *testing.T) {
	t.Parallel()
	l := mustSeedEventLog(t)

	t.Run("JSON", func(t *testing.T) {
		out := l.mustRun(t, 0, nil, "events", "list", "--json")
		var got []listed
		for _, e := range decodeLines(t, out) {
			got = append(got, listed{e.ID, e.Type, e.Kind, e.ObjectID, e.UserID, e.Outcome, e.Action, e.Redacted, e.Attempts})
			if e.ReceivedAt.IsZero() || e.Body != nil {
				t.Errorf("%s: received_at %v, body %q; want a time and no body", e.ID, e.ReceivedAt, e.Body)
			}
		}
		want := []listed{
			{"msg_07", "user.created", "", "", "", "dead_letter", "none", false, 1},
			{"msg_06", "user.deleted", "user", bobID, bobID, "applied", "deleted", true, 1},
			{"msg_05", "user.created", "user", bobID, bobID, "applied", "created", true, 1},
			{"msg_04", "user.updated", "", "", "", "dead_letter", "none", false, 1},
			{"msg_03", "session.created", "user", sessionUserID, sessionUserID, "ignored", "none", false, 1},
			{"msg_02", "user.updated", "user", adaID, adaID, "applied", "updated", false, 1},
			{"msg_01", "user.created", "user", adaID, adaID, "applied", "created", false, 1},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("events list --json (-want +got):\n%s", diff)
		}
	})

	t.Run("Table", func(t *testing.T) {
		out := l.mustRun(t, 0, nil, "events", "list")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got, want := strings.Fields(lines[0]), []string{"RECEIVED", "(UTC)", "SVIX_ID", "TYPE", "OBJECT", "USER", "OUTCOME", "ERROR"}; !cmp.Equal(got, want) {
			t.Fatalf("header = %q, want %q", got, want)
		}
		var order []string
		outcome := map[string]string{}
		object := map[string]string{}
		errCol := map[string]string{}
		for _, line := range lines[1:] {
			// RECEIVED is a date and a time: the svix-id is the third field.
			f := strings.Fields(line)
			if len(f) < 8 {
				t.Fatalf("row %q has %d fields", line, len(f))
			}
			if _, err := time.Parse(time.DateTime, f[0]+" "+f[1]); err != nil {
				t.Errorf("row %q: received %v", line, err)
			}
			order = append(order, f[2])
			object[f[2]] = f[4]
			outcome[f[2]] = f[6]
			errCol[f[2]] = strings.Join(f[7:], " ")
		}
		if diff := cmp.Diff([]string{"msg_07", "msg_06", "msg_05", "msg_04", "msg_03", "msg_02", "msg_01"}, order); diff != "" {
			t.Fatalf("rows (-want +got):\n%s", diff)
		}
		for id, want := range map[string]string{"msg_02": "applied/updated", "msg_06": "applied/deleted", "msg_03": "ignored", "msg_04": "dead_letter"} {
			if got := outcome[id]; got != want {
				t.Errorf("OUTCOME of %s = %q, want %q", id, got, want)
			}
		}
		for id, want := range map[string]string{"msg_02": adaID, "msg_06": bobID, "msg_04": "-"} {
			if got := object[id]; got != want {
				t.Errorf("OBJECT of %s = %q, want %q", id, got, want)
			}
		}
		if got := errCol["msg_02"]; got != "-" {
			t.Errorf("ERROR of an applied event = %q, want -", got)
		}
		full := l.event(t, "msg_07").Error
		if got := errCol["msg_07"]; got == "-" || utf8.RuneCountInString(got) > 60 || !strings.HasPrefix(full, strings.TrimSuffix(got, "…")) {
			t.Errorf("ERROR of a dead letter = %q, want the start of %q, at most 60 characters", got, full)
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"DeadLetters", []string{"--outcome", "dead_letter"}, []string{"msg_07", "msg_04"}},
		{"OutcomeWithDash", []string{"--outcome", "dead-letter"}, []string{"msg_07", "msg_04"}},
		{"Ignored", []string{"--outcome", "ignored"}, []string{"msg_03"}},
		{"Type", []string{"--type", "user.created"}, []string{"msg_07", "msg_05", "msg_01"}},
		{"User", []string{"--user", adaID}, []string{"msg_02", "msg_01"}},
		{"TypeAndOutcome", []string{"--type", "user.created", "--outcome", "applied"}, []string{"msg_05", "msg_01"}},
		{"Limit", []string{"--limit", "2"}, []string{"msg_07", "msg_06"}},
		{"Before", []string{"--before", "msg_06", "--limit", "2"}, []string{"msg_05", "msg_04"}},
		{"BeforeOldest", []string{"--before", "msg_01"}, nil},
		{"NoMatch", []string{"--user", "user_nobody"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := l.mustRun(t, 0, nil, append([]string{"events", "list", "--json"}, tt.args...)...)
			if diff := cmp.Diff(tt.want, ids(decodeLines(t, out))); diff != "" {
				t.Fatalf("events list %s (-want +got):\n%s", strings.Join(tt.args, " "), diff)
			}
		})
	}

	t.Run("NextPageHint", func(t *testing.T) {
		_, stdout, stderr := l.run(t, nil, "events", "list", "--limit", "2")
		if !strings.Contains(stderr, "--before msg_06") {
			t.Fatalf("stderr = %q, want the next page's --before msg_06", stderr)
		}
		if strings.Contains(stdout, "--before") {
			t.Fatalf("the hint went to stdout:\n%s", stdout)
		}
	})

	t.Run("NoMatchTable", func(t *testing.T) {
		if out := l.mustRun(t, 0, nil, "events", "list", "--type", "user.exploded"); !strings.Contains(out, "No events match.") {
			t.Fatalf("output = %q", out)
		}
	})

	t.Run("BadOutcome", func(t *testing.T) {
		out := l.mustRun(t, 2, nil, "events", "list", "--outcome", "failed")
		if !strings.Contains(out, `"failed" is not an outcome`) || !strings.Contains(out, "applied, stale, ignored, dead_letter") {
			t.Fatalf("output lacks the valid outcomes:\n%s", out)
		}
	})

	t.Run("UnknownBefore", func(t *testing.T) {
		out := l.mustRun(t, 1, nil, "events", "list", "--before", "msg_gone")
		if !strings.Contains(out, "no event msg_gone in the log (ids are kept for 30 days)") {
			t.Fatalf("output = %q", out)
		}
	})
}

// TestEvents_ListByKind: entries record the kind and id of their object, and list
// selects by them; a membership's entry is about the membership and its user.
func TestEvents_ListByKind(t *testing.T) {
	t.Parallel()
	s := MustRunServe(t, nil)
	const at = 1_700_000_000_000
	org := storetest.NewOrganization("org_2eventsAcme", at, at)
	for _, d := range []struct {
		id, outcome, action string
		change              clerksync.Change
	}{
		{"msg_k1", "applied", "created", storetest.Event("", "organization.created", org)},
		{"msg_k2", "applied", "created", storetest.Event("", "organizationMembership.created",
			storetest.NewMembership("orgmem_2eventsAda", org, adaID, "org:admin", at+1, at+1))},
		{"msg_k3", "applied", "created", storetest.Event("", "organizationInvitation.created",
			storetest.NewInvitation("orginv_2eventsBob", org.OrgID, "bob@example.com", "pending", "", at+2, at+2))},
		{"msg_k4", "applied", "created", storetest.Event("", "role.created", storetest.NewRole("role_2eventsAdmin", "org:admin", at, at))},
		{"msg_k5", "applied", "created", storetest.Event("", "permission.created", storetest.NewPermission("perm_2eventsRead", "org:posts:read", at, at))},
		{"msg_k6", "applied", "deleted", storetest.DeleteEvent("", "organization.deleted", clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: org.OrgID}, at+10)},
	} {
		wantAnswer(t, deliver(t, s.URL, "/api/webhooks/clerk", testSecret, d.id, time.Now(), d.change.Body), 200, d.outcome, d.action)
	}
	wantAnswer(t, s.send(t, "msg_k7", "user.created", user(adaID, "Ada", time.UnixMilli(at))), 200, "applied", "created")
	l := &eventLog{testServer: s, env: map[string]string{"DATABASE_URL": "sqlite:" + s.DBPath}}

	t.Run("JSON", func(t *testing.T) {
		var got []listed
		for _, e := range decodeLines(t, l.mustRun(t, 0, nil, "events", "list", "--json")) {
			got = append(got, listed{e.ID, e.Type, e.Kind, e.ObjectID, e.UserID, e.Outcome, e.Action, e.Redacted, e.Attempts})
		}
		want := []listed{
			{"msg_k7", "user.created", "user", adaID, adaID, "applied", "created", false, 1},
			{"msg_k6", "organization.deleted", "organization", "org_2eventsAcme", "", "applied", "deleted", false, 1},
			{"msg_k5", "permission.created", "permission", "perm_2eventsRead", "", "applied", "created", false, 1},
			{"msg_k4", "role.created", "role", "role_2eventsAdmin", "", "applied", "created", false, 1},
			{"msg_k3", "organizationInvitation.created", "invitation", "orginv_2eventsBob", "", "applied", "created", false, 1},
			{"msg_k2", "organizationMembership.created", "membership", "orgmem_2eventsAda", adaID, "applied", "created", false, 1},
			{"msg_k1", "organization.created", "organization", "org_2eventsAcme", "", "applied", "created", false, 1},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("events list --json (-want +got):\n%s", diff)
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"Organization", []string{"--kind", "organization"}, []string{"msg_k6", "msg_k1"}},
		{"TableName", []string{"--kind", "organizations"}, []string{"msg_k6", "msg_k1"}},
		{"AnyCase", []string{"--kind", " Membership "}, []string{"msg_k2"}},
		{"Invitation", []string{"--kind", "invitation"}, []string{"msg_k3"}},
		{"Role", []string{"--kind", "role"}, []string{"msg_k4"}},
		{"Permission", []string{"--kind", "permission"}, []string{"msg_k5"}},
		{"User", []string{"--kind", "user"}, []string{"msg_k7"}},
		{"ProfilesIsUser", []string{"--kind", "profiles"}, []string{"msg_k7"}},
		{"Object", []string{"--object", "org_2eventsAcme"}, []string{"msg_k6", "msg_k1"}},
		{"KindAndObject", []string{"--kind", "organization", "--object", "org_2eventsAcme", "--type", "organization.deleted"}, []string{"msg_k6"}},
		// A membership's entries are about the membership and its user too.
		{"UserAnyKind", []string{"--user", adaID}, []string{"msg_k7", "msg_k2"}},
		{"UserAndKind", []string{"--user", adaID, "--kind", "membership"}, []string{"msg_k2"}},
		{"ObjectOfAnotherKind", []string{"--kind", "membership", "--object", "org_2eventsAcme"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := l.mustRun(t, 0, nil, append([]string{"events", "list", "--json"}, tt.args...)...)
			if diff := cmp.Diff(tt.want, ids(decodeLines(t, out))); diff != "" {
				t.Fatalf("events list %s (-want +got):\n%s", strings.Join(tt.args, " "), diff)
			}
		})
	}

	t.Run("Table", func(t *testing.T) {
		out := l.mustRun(t, 0, nil, "events", "list", "--kind", "membership")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("want a header and one row:\n%s", out)
		}
		if got, want := strings.Fields(lines[1])[2:7], []string{"msg_k2", "organizationMembership.created", "orgmem_2eventsAda", adaID, "applied/created"}; !cmp.Equal(got, want) {
			t.Fatalf("row = %q, want %q", got, want)
		}
		if out := l.mustRun(t, 0, nil, "events", "list", "--object", "org_nothing"); !strings.Contains(out, "No events match.") {
			t.Fatalf("no match: %q", out)
		}
	})

	t.Run("Show", func(t *testing.T) {
		out := l.mustRun(t, 0, nil, "events", "show", "msg_k2")
		for name, want := range map[string]string{"kind": "membership", "object": "orgmem_2eventsAda", "user": adaID} {
			if got := field(t, out, name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		out = l.mustRun(t, 0, nil, "events", "show", "msg_k4", "--json")
		e := decodeLines(t, out)
		if len(e) != 1 || e[0].Kind != "role" || e[0].ObjectID != "role_2eventsAdmin" {
			t.Fatalf("events show --json: %+v", e)
		}
	})

	t.Run("BadKind", func(t *testing.T) {
		out := l.mustRun(t, 2, nil, "events", "list", "--kind", "team")
		if !strings.Contains(out, `--kind "team" is not a kind of object`) ||
			!strings.Contains(out, "user, organization, membership, invitation, role, permission") {
			t.Fatalf("output lacks the valid kinds:\n%s", out)
		}
	})
}

func TestEvents_Show(t *testing.T) {
	t.Parallel()
	l := mustSeedEventLog(t)

	t.Run("Applied", func(t *testing.T) {
		out := l.mustRun(t, 0, nil, "events", "show", "msg_02")
		for name, want := range map[string]string{
			"svix_id": "msg_02", "type": "user.updated", "user": adaID, "outcome": "applied",
			"action": "updated", "attempts": "1",
		} {
			if got := field(t, out, name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, field(t, out, "received")); err != nil {
			t.Errorf("received: %v", err)
		}
		// The body is pretty-printed.
		for _, want := range []string{"body:\n{\n", "\n  \"type\": \"user.updated\"", "\n    \"first_name\": \"Augusta\""} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "events replay") {
			t.Errorf("an applied event suggests a replay:\n%s", out)
		}
	})

	t.Run("Redacted", func(t *testing.T) {
		out := l.mustRun(t, 0, nil, "events", "show", "msg_05")
		if got, want := field(t, out, "body"), "redacted: the user was deleted"; got != want {
			t.Fatalf("body = %q, want %q", got, want)
		}
		if strings.Contains(out, "first_name") {
			t.Fatalf("a redacted event shows its payload:\n%s", out)
		}
	})

	t.Run("DeadLetter", func(t *testing.T) {
		out := l.mustRun(t, 0, nil, "events", "show", "msg_04")
		if got, want := field(t, out, "outcome"), "dead_letter"; got != want {
			t.Errorf("outcome = %q, want %q", got, want)
		}
		if got := field(t, out, "error"); got == "" {
			t.Error("a dead letter shows no error")
		}
		for _, want := range []string{`"id": 42`, "clerksync events replay msg_04"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("JSON", func(t *testing.T) {
		// The flag may follow the id.
		out := l.mustRun(t, 0, nil, "events", "show", "msg_02", "--json")
		got := decodeLines(t, out)
		if len(got) != 1 {
			t.Fatalf("events show --json printed %d lines:\n%s", len(got), out)
		}
		stored := l.event(t, "msg_02")
		if !bytes.Equal(got[0].Body, stored.Body) || got[0].Outcome != "applied" || got[0].Action != "updated" || got[0].EventTime == nil {
			t.Fatalf("events show --json = %+v, want the stored body and fields", got[0])
		}
	})

	t.Run("JSONNotJSONBody", func(t *testing.T) {
		l.mustDeadLetter(t, "msg_08", "user.updated", []byte("{not json"))
		got := decodeLines(t, l.mustRun(t, 0, nil, "events", "show", "--json", "msg_08"))
		if got[0].Body != nil || got[0].BodyText != "{not json" {
			t.Fatalf("body = %q, body_text = %q; want the text kept as a string", got[0].Body, got[0].BodyText)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		out := l.mustRun(t, 1, nil, "events", "show", "msg_gone")
		if !strings.Contains(out, "no event msg_gone in the log (ids are kept for 30 days)") {
			t.Fatalf("output = %q", out)
		}
		// The retention named is the configured one.
		l2 := &eventLog{testServer: l.testServer, env: map[string]string{"DATABASE_URL": l.env["DATABASE_URL"], "CLERKSYNC_EVENT_RETENTION": "60d"}}
		if out := l2.mustRun(t, 1, nil, "events", "show", "msg_gone"); !strings.Contains(out, "ids are kept for 60 days") {
			t.Fatalf("output = %q", out)
		}
	})
}

func TestEvents_Replay(t *testing.T) {
	t.Parallel()
	l := mustSeedEventLog(t)

	t.Run("FixedDeadLetter", func(t *testing.T) {
		if p := l.profile(t, cleoID); p != nil {
			t.Fatalf("profile of a dead letter's user exists before the replay: %+v", p)
		}
		out := l.mustRun(t, 0, nil, "events", "replay", "msg_07")
		for _, want := range []string{"msg_07", "dead_letter → applied (created)", "Replayed 1 event: 1 applied."} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		p := l.profile(t, cleoID)
		if p == nil || p.FirstName != "Cleo" || p.Email != "ada@example.com" {
			t.Fatalf("profile after the replay = %+v", p)
		}
		e := l.event(t, "msg_07")
		got := listed{e.ID, e.Type, e.Kind.String(), e.ObjectID, e.UserID, e.Outcome.String(), e.Action.String(), e.Redacted, e.Attempts}
		if diff := cmp.Diff(listed{"msg_07", "user.created", "user", cleoID, cleoID, "applied", "created", false, 2}, got); diff != "" {
			t.Fatalf("entry after the replay (-want +got):\n%s", diff)
		}
		if e.Error != "" {
			t.Fatalf("the replayed entry keeps its error %q", e.Error)
		}
	})

	t.Run("StillBad", func(t *testing.T) {
		code, stdout, stderr := l.run(t, nil, "events", "replay", "msg_04")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
		}
		e := l.event(t, "msg_04")
		if !strings.Contains(stdout, "dead_letter → still a dead letter: "+e.Error) {
			t.Errorf("stdout lacks what became of msg_04 with its error %q:\n%s", e.Error, stdout)
		}
		if !strings.Contains(stderr, "1 replayed event is still a dead letter") {
			t.Errorf("stderr = %q", stderr)
		}
		if got, want := e.Attempts, 2; got != want || e.Outcome != clerksync.OutcomeDeadLetter || !bytes.Equal(e.Body, undecodable) {
			t.Fatalf("entry after the replay = %+v, want a dead letter with its body and 2 attempts", e)
		}
	})

	t.Run("Redacted", func(t *testing.T) {
		out := l.mustRun(t, 1, nil, "events", "replay", "msg_05")
		if !strings.Contains(out, "refused: redacted: the user was deleted") {
			t.Fatalf("output = %q", out)
		}
		if got, want := l.event(t, "msg_05").Attempts, 1; got != want {
			t.Fatalf("a refused replay counted an attempt: %d", got)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		out := l.mustRun(t, 1, nil, "events", "replay", "msg_gone")
		if !strings.Contains(out, "no event msg_gone in the log (ids are kept for 30 days)") {
			t.Fatalf("output = %q", out)
		}
	})

	t.Run("AppliedAgain", func(t *testing.T) {
		// Replaying an event that was applied changes nothing but its count.
		out := l.mustRun(t, 0, nil, "events", "replay", "msg_01", "msg_02")
		for _, want := range []string{"msg_01", "applied → stale: a newer version is already stored", "msg_02", "applied → applied (unchanged)"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if got, want := l.profile(t, adaID).FirstName, "Augusta"; got != want {
			t.Fatalf("first name = %q, want %q", got, want)
		}
	})
}

func TestEvents_ReplayDeadLetters(t *testing.T) {
	t.Parallel()
	l := mustSeedEventLog(t)
	v3 := time.UnixMilli(1_700_000_001_000).Add(time.Hour)
	const erinID = "user_2eventsErinAAAAAAAAAAAAAAAA"
	// A fixable update of Ada; a fixable creation of Erin, who is deleted before the
	// replay; an undecodable delivery about Bob, already deleted (so redacted at once).
	l.mustDeadLetter(t, "msg_08", "user.updated", clerkfake.WebhookEvent("user.updated", user(adaID, "Countess", v3), time.Now()))
	l.mustDeadLetter(t, "msg_09", "user.created", clerkfake.WebhookEvent("user.created", user(erinID, "Erin", v3), time.Now()))
	wantAnswer(t, l.send(t, "msg_10", "user.deleted", user(erinID, "Erin", v3)), 200, "applied", "deleted")
	if _, err := l.store.Apply(context.Background(), []clerksync.Change{{
		Op: clerksync.OpDeadLetter, Source: clerksync.SourceWebhook, EventID: "msg_11", EventType: "user.updated",
		UserID: bobID, Body: []byte(`{"type":"user.updated","data":{"id":"` + bobID + `","updated_at":"soon"}}`), Error: "updated_at is not a number",
	}}); err != nil {
		t.Fatal(err)
	}

	// Only the dead letters of one type: msg_08 applies, msg_04 stays, msg_07 waits.
	code, stdout, stderr := l.run(t, nil, "events", "replay", "--dead-letters", "--type", "user.updated")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (msg_04 is still a dead letter)\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"msg_08", "dead_letter → applied (updated)", "msg_04", "still a dead letter", "msg_11", "skipped: redacted"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "msg_07") {
		t.Errorf("--type user.updated replayed msg_07 (user.created):\n%s", stdout)
	}
	if got, want := l.profile(t, adaID).FirstName, "Countess"; got != want {
		t.Fatalf("first name after the replay = %q, want %q", got, want)
	}
	if got := l.event(t, "msg_07").Attempts; got != 1 {
		t.Fatalf("msg_07 was replayed (%d attempts)", got)
	}

	// Every dead letter, oldest first.
	code, stdout, stderr = l.run(t, nil, "events", "replay", "--dead-letters")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	var order []string
	for line := range strings.Lines(stdout) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "msg_") {
			order = append(order, f[0])
		}
	}
	if diff := cmp.Diff([]string{"msg_04", "msg_07", "msg_09", "msg_11"}, order); diff != "" {
		t.Errorf("replayed (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		"dead_letter → applied (created)", "dead_letter → stale: it is deleted",
		"Replayed 3 events: 1 applied, 1 stale, 1 still a dead letter; 1 skipped (redacted).",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if p := l.profile(t, erinID); p != nil {
		t.Fatalf("the replay brought a deleted user back: %+v", p)
	}
	// The replay learned whose delivery msg_09 was, and that user is gone.
	if e := l.event(t, "msg_09"); e.Outcome != clerksync.OutcomeStale || !e.Redacted || e.Body != nil || e.UserID != erinID {
		t.Fatalf("msg_09 after the replay = %+v, want stale and redacted", e)
	}

	// Dead letters of a type that has none.
	if out := l.mustRun(t, 0, nil, "events", "replay", "--dead-letters", "--type", "session.created"); !strings.Contains(out, "No dead letters of type session.created to replay.") {
		t.Fatalf("output = %q", out)
	}
}

func TestEvents_Prune(t *testing.T) {
	t.Parallel()
	l := mustSeedEventLog(t)
	at := func(d time.Duration) func() time.Time {
		return func() time.Time { return time.Now().Add(d) }
	}
	const day = 24 * time.Hour
	left := func(t *testing.T) []string {
		t.Helper()
		return ids(decodeLines(t, l.mustRun(t, 0, nil, "events", "list", "--json")))
	}
	all := []string{"msg_07", "msg_06", "msg_05", "msg_04", "msg_03", "msg_02", "msg_01"}

	// Ten days on, every entry is inside the 30-day retention.
	if out := l.mustRun(t, 0, at(10*day), "events", "prune"); !strings.Contains(out, "Deleted 0 entries received before") {
		t.Fatalf("output = %q", out)
	}
	// The configured retention is the default of --older-than.
	l2 := &eventLog{testServer: l.testServer, env: map[string]string{"DATABASE_URL": l.env["DATABASE_URL"], "CLERKSYNC_EVENT_RETENTION": "60d"}}
	if out := l2.mustRun(t, 0, at(31*day), "events", "prune"); !strings.Contains(out, "Deleted 0 entries") || !strings.Contains(out, "older than 60 days") {
		t.Fatalf("output = %q", out)
	}
	if diff := cmp.Diff(all, left(t)); diff != "" {
		t.Fatalf("entries inside the retention were pruned (-want +got):\n%s", diff)
	}

	// A dry run counts and deletes nothing.
	out := l.mustRun(t, 0, at(31*day), "events", "prune", "--dry-run")
	for _, want := range []string{"Would delete 5 entries received before", "older than 30 days): 4 applied, 1 ignored.", "Kept 2 dead letters"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if diff := cmp.Diff(all, left(t)); diff != "" {
		t.Fatalf("a dry run deleted entries (-want +got):\n%s", diff)
	}

	// Thirty-one days on, everything goes but the dead letters, which wait for a replay.
	out = l.mustRun(t, 0, at(31*day), "events", "prune")
	if !strings.Contains(out, "Deleted 5 entries") || !strings.Contains(out, "Kept 2 dead letters") {
		t.Fatalf("output = %q", out)
	}
	if diff := cmp.Diff([]string{"msg_07", "msg_04"}, left(t)); diff != "" {
		t.Fatalf("entries left (-want +got):\n%s", diff)
	}
	// Pruning the log forgets no profile and no deletion.
	if l.profile(t, adaID) == nil {
		t.Fatal("pruning deleted a profile")
	}
	if deleted, err := l.store.Deleted(context.Background(), clerksync.UserKey(bobID)); err != nil || !deleted {
		t.Fatalf("Deleted(bob) = %v, %v after pruning; want the tombstone kept", deleted, err)
	}

	out = l.mustRun(t, 0, at(31*day), "events", "prune", "--older-than", "30d", "--include-dead-letters")
	if !strings.Contains(out, "Deleted 2 entries") {
		t.Fatalf("output = %q", out)
	}
	if out := l.mustRun(t, 0, nil, "events", "list"); !strings.Contains(out, "The event log is empty.") {
		t.Fatalf("events list after pruning everything = %q", out)
	}
}

func TestEvents_UsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	env := map[string]string{"DATABASE_URL": "sqlite:" + missing}
	for _, tt := range []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"NoSubcommand", []string{"events"}, 2, []string{"needs a subcommand: list, show, replay or prune", "Subcommands:"}},
		{"UnknownSubcommand", []string{"events", "purge"}, 2, []string{`unknown events subcommand "purge"`}},
		{"Help", []string{"events", "help"}, 0, []string{"list", "show", "replay", "prune"}},
		{"SubcommandHelp", []string{"events", "replay", "-h"}, 0, []string{"Usage: clerksync events replay", "-dead-letters"}},
		{"ShowWithoutID", []string{"events", "show"}, 2, []string{"exactly one SVIX_ID"}},
		{"ShowTwoIDs", []string{"events", "show", "msg_1", "msg_2"}, 2, []string{"exactly one SVIX_ID"}},
		{"ReplayNothing", []string{"events", "replay"}, 2, []string{"needs SVIX_IDs or --dead-letters"}},
		{"ReplayBoth", []string{"events", "replay", "msg_1", "--dead-letters"}, 2, []string{"not both"}},
		{"ReplayTypeWithoutDeadLetters", []string{"events", "replay", "msg_1", "--type", "user.updated"}, 2, []string{"--type selects among dead letters"}},
		{"ListArgument", []string{"events", "list", "dead_letter"}, 2, []string{"takes no arguments"}},
		{"ListLimit", []string{"events", "list", "--limit", "5000"}, 2, []string{"--limit 5000 is out of range"}},
		{"PruneTooShort", []string{"events", "prune", "--older-than", "24h"}, 2, []string{"--older-than 24h is too short", "27.6 hours", "at least 2 days"}},
		{"PruneNotADuration", []string{"events", "prune", "--older-than", "a month"}, 2, []string{`--older-than "a month" is not a duration`}},
		{"BadFlag", []string{"events", "list", "--nope"}, 2, []string{"flag provided but not defined: -nope"}},
		{"MissingDatabase", []string{"events", "list"}, 1, []string{"no database at sqlite:" + missing, "DATABASE_URL"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runMain(t, env, nil, tt.args...)
			out := stdout + stderr
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
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("events created the database it did not find (stat: %v)", err)
	}
}

// By default only dead letters keep their body: the user's data is in profiles already.
func TestEvents_BodiesKeptForDeadLettersOnly(t *testing.T) {
	t.Parallel()
	s := MustRunServe(t, nil)
	wantAnswer(t, s.send(t, "msg_kept_1", "user.created", user(adaID, "Ada", time.UnixMilli(1_700_000_001_000))), 200, "applied", "created")
	bad := []byte(`{"type":"user.updated","data":{"id":42}}`)
	if a := deliver(t, s.URL, "/api/webhooks/clerk", testSecret, "msg_kept_2", time.Now(), bad); a.Body["outcome"] != "dead_letter" {
		t.Fatalf("undecodable delivery answered %v", a.Body)
	}
	applied, err := s.store.Event(context.Background(), "msg_kept_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(applied.Body) != 0 || applied.Redacted {
		t.Fatalf("applied event kept a body of %d bytes (redacted %v), want none", len(applied.Body), applied.Redacted)
	}
	dead, err := s.store.Event(context.Background(), "msg_kept_2")
	if err != nil {
		t.Fatal(err)
	}
	if string(dead.Body) != string(bad) {
		t.Fatalf("dead letter body = %q, want the body as received", dead.Body)
	}
}
