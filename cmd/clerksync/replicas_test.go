package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/storetest"
	"github.com/clerksync/clerksync/svixsig"
)

// replica is one `clerksync serve` process.
type replica struct {
	name   string
	cmd    *exec.Cmd
	URL    string        // base URL, known once it listens
	logs   *syncBuffer   // everything it wrote to stderr
	exited chan struct{} // closed when the process has exited
	err    error         // the exit error, valid once exited is closed
}

// startPGReplicas builds clerksync and starts n replicas of serve (startReplicas) on a
// new schema of the PostgreSQL test database, with env besides; it returns them and
// the schema.
func startPGReplicas(tb testing.TB, n int, env ...string) ([]*replica, string) {
	tb.Helper()
	bin := buildBinary(tb)
	schema := pgtest.SchemaName(tb, "clerksync_test")
	env = append([]string{"CLERK_WEBHOOK_SECRET=" + testSecret, "DATABASE_URL=" + pgtest.URL(), "DATABASE_SCHEMA=" + schema}, env...)
	return startReplicas(tb, bin, n, env...), schema
}

// startReplicas starts n `clerksync serve` processes of bin at the same moment, each
// with env, PORT=127.0.0.1:0 and JSON logs at level info, and returns once each of them listens (having opened
// and migrated the database). A process still running when tb ends is killed.
func startReplicas(tb testing.TB, bin string, n int, env ...string) []*replica {
	tb.Helper()
	replicas := make([]*replica, n)
	listening := make(chan int, n)
	for i := range replicas {
		r := &replica{name: fmt.Sprintf("replica %d", i), logs: &syncBuffer{}, exited: make(chan struct{})}
		r.cmd = exec.Command(bin, "serve")
		r.cmd.Env = append(append(os.Environ(), env...), "PORT=127.0.0.1:0", "LOG_FORMAT=json", "LOG_LEVEL=info")
		stderr, err := r.cmd.StderrPipe()
		if err != nil {
			tb.Fatal(err)
		}
		r.cmd.Stdout = r.logs
		replicas[i] = r
		go func() {
			// The address comes from the log line that says it listens.
			sc := bufio.NewScanner(stderr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				line := sc.Bytes()
				_, _ = r.logs.Write(line)
				_, _ = r.logs.Write([]byte{'\n'})
				var l struct{ Msg, Addr string }
				if r.URL == "" && json.Unmarshal(line, &l) == nil && l.Msg == "clerksync listening" {
					r.URL = "http://" + l.Addr
					listening <- i
				}
			}
			_, _ = io.Copy(r.logs, stderr)
			r.err = r.cmd.Wait()
			close(r.exited)
		}()
	}
	// Start them together, so that they also race on creating the schema and migrating.
	start := make(chan struct{})
	var started sync.WaitGroup
	errs := make([]error, n)
	for i, r := range replicas {
		started.Go(func() {
			<-start
			errs[i] = r.cmd.Start()
		})
	}
	close(start)
	started.Wait()
	for i, err := range errs {
		if err != nil {
			tb.Fatalf("start %s: %v", replicas[i].name, err)
		}
	}
	tb.Cleanup(func() {
		for _, r := range replicas {
			select {
			case <-r.exited:
			default:
				_ = r.cmd.Process.Kill()
				<-r.exited
			}
		}
	})
	deadline := time.After(2 * time.Minute)
	for ready := 0; ready < n; {
		select {
		case <-listening:
			ready++
		case <-deadline:
			tb.Fatalf("the replicas did not listen within 2 minutes:\n%s", allLogs(replicas))
		}
		for _, r := range replicas {
			select {
			case <-r.exited:
				tb.Fatalf("%s exited at start: %v\n%s", r.name, r.err, r.logs)
			default:
			}
		}
	}
	return replicas
}

// stop sends SIGTERM and waits for a clean exit.
func (r *replica) stop(tb testing.TB) {
	tb.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatalf("signal %s: %v", r.name, err)
	}
	<-r.exited
	if r.err != nil {
		tb.Errorf("%s did not stop cleanly on SIGTERM: %v\n%s", r.name, r.err, r.logs)
	}
}

func allLogs(replicas []*replica) string {
	var b strings.Builder
	for _, r := range replicas {
		fmt.Fprintf(&b, "--- %s:\n%s", r.name, r.logs)
	}
	return b.String()
}

// delivery is one signed webhook post and its answer.
type delivery struct {
	Status     int
	RetryAfter string
	Outcome    string
	Err        error // the request failed (no answer)
}

// post signs body as svix-id id with the test secret and posts it to the webhook
// route of base, as Svix would, with Svix's 15 s timeout.
func post(base, id string, body []byte) delivery {
	key, err := svixsig.DecodeSecret(testSecret)
	if err != nil {
		return delivery{Err: err}
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/webhooks/clerk", bytes.NewReader(body))
	if err != nil {
		return delivery{Err: err}
	}
	svixsig.SetHeaders(req.Header, key, id, time.Now(), body)
	resp, err := svixClient.Do(req)
	if err != nil {
		return delivery{Err: err}
	}
	defer resp.Body.Close()
	d := delivery{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	var answer struct{ Outcome string }
	raw, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(raw, &answer) == nil {
		d.Outcome = answer.Outcome
	}
	return d
}

// shot is one webhook sent to one replica, or to two at the same moment.
type shot struct {
	id, typ string // svix-id and event type
	body    []byte
	targets []int // indexes of the replicas
}

// aimShot aims a webhook at one random replica of n and, one time in twoIn, at a
// second one too, as Svix's retry of a delivery it believes lost may race the original.
func aimShot(rng *mrand.Rand, n, twoIn int, id, typ string, body []byte) shot {
	a := rng.IntN(n)
	targets := []int{a}
	if rng.IntN(twoIn) == 0 {
		targets = append(targets, (a+1+rng.IntN(n-1))%n)
	}
	return shot{id: id, typ: typ, body: body, targets: targets}
}

// fireShots sends the shots from 12 workers, each to its replicas at the same moment,
// and hands record the answers of each shot, one shot at a time.
func fireShots(replicas []*replica, shots []shot, record func(s shot, answers []delivery)) {
	var mu sync.Mutex
	work := make(chan shot)
	var workers sync.WaitGroup
	for range 12 {
		workers.Go(func() {
			for s := range work {
				answers := make([]delivery, len(s.targets))
				go1 := make(chan struct{})
				var wg sync.WaitGroup
				for i, r := range s.targets {
					wg.Go(func() {
						<-go1
						answers[i] = post(replicas[r].URL, s.id, s.body)
					})
				}
				close(go1)
				wg.Wait()
				mu.Lock()
				record(s, answers)
				mu.Unlock()
			}
		})
	}
	for _, s := range shots {
		work <- s
	}
	close(work)
	workers.Wait()
}

// svixClient gives up on an answer after 15 s, as Svix does.
var svixClient = &http.Client{Timeout: 15 * time.Second}

// event is one webhook of a test's history, in Clerk's order.
type event struct {
	id     string // svix-id
	userID string
	typ    string
	body   []byte
}

// userHistory returns the events of users users, in Clerk's order, each created,
// updated a few times and sometimes deleted, and the expected last first name of each
// live user ("" for a deleted one).
func userHistory(rng *mrand.Rand, prefix string, users int) ([]event, map[string]string) {
	var events []event
	want := make(map[string]string)
	base := time.UnixMilli(1_750_000_000_000)
	for u := range users {
		id := fmt.Sprintf("user_2%s%020d", prefix, u)
		versions := 2 + rng.IntN(4)
		for v := 1; v <= versions; v++ {
			typ := "user.updated"
			if v == 1 {
				typ = "user.created"
			}
			first := fmt.Sprintf("V%d", v)
			at := base.Add(time.Duration(v) * time.Second)
			usr := clerkfake.NewUser(clerkfake.UserParams{
				Seed: seedOf(id), ID: id, FirstName: first, LastName: "Replica", Rich: true,
				CreatedAt: base, UpdatedAt: at,
			})
			events = append(events, event{fmt.Sprintf("msg_%s_v%d", id, v), id, typ, clerkfake.WebhookEvent(typ, usr, at)})
			want[id] = first
		}
		if rng.IntN(3) == 0 {
			at := base.Add(time.Duration(versions+1) * time.Second)
			usr := clerkfake.NewUser(clerkfake.UserParams{ID: id})
			events = append(events, event{"msg_" + id + "_del", id, "user.deleted", clerkfake.WebhookEvent("user.deleted", usr, at)})
			want[id] = ""
		}
	}
	return events, want
}

// TestReplicas_ConvergeOnPostgres runs three `clerksync serve` processes on one
// PostgreSQL schema, started together, and fires a history of creates, updates and
// deletes at them concurrently: each event to a random replica, in random order, some
// to two replicas at the same moment. Every delivery must be answered 200 exactly once
// as not a duplicate, and the database must end as applying the history in Clerk's
// order leaves it, with one event log entry per svix-id.
func TestReplicas_ConvergeOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three servers; skipped with -short")
	}
	t.Parallel()
	admin := pgtest.Admin(t)
	seed := storetest.Seed(t)
	rng := mrand.New(mrand.NewPCG(seed, 0x5eed))
	events, want := userHistory(rng, "replica", 50)

	const n = 3
	replicas, schema := startPGReplicas(t, n,
		// Every body kept, so that the redaction of deleted users' bodies is checked too.
		"CLERKSYNC_EVENT_BODIES=all")

	// Each event goes to one random replica; about a third go to two replicas at the
	// same moment, as Svix's retry of a delivery it believes lost may race the original.
	var shots []shot
	deliveries := make(map[string]int) // svix-id → how many times it is sent
	for _, ev := range events {
		s := aimShot(rng, n, 3, ev.id, ev.typ, ev.body)
		shots = append(shots, s)
		deliveries[ev.id] = len(s.targets)
	}
	rng.Shuffle(len(shots), func(i, j int) { shots[i], shots[j] = shots[j], shots[i] })

	var (
		firsts   = make(map[string][]string) // svix-id → outcomes of the answers that were not duplicates
		failures []string
		sent     int
	)
	fireShots(replicas, shots, func(s shot, answers []delivery) {
		for i, a := range answers {
			sent++
			switch {
			case a.Err != nil:
				failures = append(failures, fmt.Sprintf("%s to %s: %v", s.id, replicas[s.targets[i]].name, a.Err))
			case a.Status != http.StatusOK:
				failures = append(failures, fmt.Sprintf("%s to %s: status %d", s.id, replicas[s.targets[i]].name, a.Status))
			case a.Outcome != "duplicate":
				firsts[s.id] = append(firsts[s.id], a.Outcome)
			}
		}
	})
	for _, f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		t.Fatalf("replica logs:\n%s", allLogs(replicas))
	}
	t.Logf("%d events, %d deliveries to %d replicas", len(events), sent, n)

	for _, ev := range events {
		got := firsts[ev.id]
		if len(got) != 1 {
			t.Errorf("%s: answers that were not duplicates: %v, want exactly one", ev.id, got)
			continue
		}
		if ev.typ == "user.deleted" && got[0] != "applied" {
			t.Errorf("%s: the only delete of %s was answered %s, want applied", ev.id, ev.userID, got[0])
		}
		if got[0] != "applied" && got[0] != "stale" {
			t.Errorf("%s: answered %s, want applied or stale", ev.id, got[0])
		}
	}
	for _, r := range replicas {
		r.stop(t)
	}

	// The reference: the same history applied one event at a time, in Clerk's order.
	ctx := context.Background()
	ref := pgtest.Open(t, pgtest.SchemaName(t, "clerksync_test"))
	for _, ev := range events {
		storetest.MustApply(t, ref, clerkdecode.ChangeFromEvent(ev.id, ev.body, clerkdecode.Options{}))
	}
	got := pgtest.Open(t, schema)
	ignoreSync := cmpopts.IgnoreFields(clerksync.Profile{}, "SyncedAt")
	for userID, first := range want {
		deleted, err := got.Deleted(ctx, clerksync.UserKey(userID))
		if err != nil {
			t.Fatal(err)
		}
		p, err := got.Profile(ctx, userID)
		if first == "" {
			if clerksync.ErrorCode(err) != clerksync.ENOTFOUND || !deleted {
				t.Errorf("%s was deleted, but Profile = %+v, %v and Deleted = %v; want no row and a tombstone", userID, p, err, deleted)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", userID, err)
			continue
		}
		if deleted || p.FirstName != first {
			t.Errorf("%s: first name %q, tombstone %v; want %q and none", userID, p.FirstName, deleted, first)
		}
		refP := storetest.MustProfile(t, ref, userID)
		if diff := cmp.Diff(refP, p, ignoreSync); diff != "" {
			t.Errorf("%s differs from the in-order result (-want +got):\n%s", userID, diff)
		}
	}
	refAll, err := ref.Profiles(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	gotAll, err := got.Profiles(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(refAll, gotAll, ignoreSync); diff != "" {
		t.Errorf("profiles differ from the in-order result (-want +got):\n%s", diff)
	}

	// One event log entry per svix-id, applied once, redacted exactly for deleted users.
	rows, err := admin.Query(ctx, "SELECT svix_id, outcome, attempts, redacted, coalesce(user_id, '') FROM "+
		pgx.Identifier{schema, "clerksync_events"}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		outcome  string
		attempts int
		redacted bool
		userID   string
	}
	logged := make(map[string]entry)
	for rows.Next() {
		var id string
		var e entry
		if err := rows.Scan(&id, &e.outcome, &e.attempts, &e.redacted, &e.userID); err != nil {
			t.Fatal(err)
		}
		if _, dup := logged[id]; dup {
			t.Errorf("event log holds %s twice", id)
		}
		logged[id] = e
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(logged), len(events); got != want {
		t.Errorf("event log holds %d entries, want %d (one per svix-id)", got, want)
	}
	for _, ev := range events {
		e, ok := logged[ev.id]
		switch {
		case !ok:
			t.Errorf("event log lacks %s", ev.id)
		case e.attempts != deliveries[ev.id] || e.userID != ev.userID:
			t.Errorf("event log entry %s = %+v, want %d attempts (its deliveries) about %s", ev.id, e, deliveries[ev.id], ev.userID)
		case len(firsts[ev.id]) == 1 && e.outcome != firsts[ev.id][0]:
			t.Errorf("event log entry %s has outcome %s, but the delivery was answered %s", ev.id, e.outcome, firsts[ev.id][0])
		case e.redacted != (want[ev.userID] == ""):
			t.Errorf("event log entry %s: redacted = %v, want %v", ev.id, e.redacted, want[ev.userID] == "")
		}
	}
}
