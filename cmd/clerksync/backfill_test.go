package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/sqlite"
)

// fakeClerk is a fake Clerk Backend API on a real HTTP server, with rate limits off
// unless the options set them, and a hook in front of it.
type fakeClerk struct {
	*clerkfake.Server
	URL string // the API's address, with /v1

	mu   sync.Mutex
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

func startFakeClerk(tb testing.TB, opts ...clerkfake.Option) *fakeClerk {
	tb.Helper()
	f := &fakeClerk{Server: clerkfake.New(append([]clerkfake.Option{clerkfake.WithRateLimit(0, 0)}, opts...)...)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		wrap := f.wrap
		f.mu.Unlock()
		if wrap != nil {
			wrap(w, r, f.Server)
			return
		}
		f.Server.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	f.URL = srv.URL + "/v1"
	return f
}

// Wrap puts h in front of the fake for every later request.
func (f *fakeClerk) Wrap(h func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wrap = h
}

// env returns the environment of a command that reads this fake into the SQLite
// file dbPath.
func (f *fakeClerk) env(dbPath string) map[string]string {
	return map[string]string{
		"CLERK_SECRET_KEY": f.SecretKey(),
		"CLERK_API_URL":    f.URL,
		"DATABASE_URL":     "sqlite:" + dbPath,
		"LOG_LEVEL":        "warn",
	}
}

func isListing(r *http.Request) bool { return r.Method == http.MethodGet && r.URL.Path == "/v1/users" }

// openDB opens the SQLite file at path beside the command under test, as another
// process would.
func openDB(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// wantSynced fails tb unless every user of f has a profile at Clerk's version in db,
// and db has no other profile.
func wantSynced(tb testing.TB, f *fakeClerk, db clerksync.Store) {
	tb.Helper()
	want := map[string]int64{}
	for _, u := range f.Users() {
		want[u.ID] = u.UpdatedAt
	}
	got := map[string]int64{}
	for after := ""; ; {
		page, err := db.Profiles(context.Background(), after, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range page {
			got[p.UserID] = p.UpdatedAt
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].UserID
	}
	if len(got) != len(want) {
		tb.Fatalf("%d profiles, Clerk has %d users", len(got), len(want))
	}
	for id, v := range want {
		if got[id] != v {
			tb.Fatalf("profile %s at updated_at %d, Clerk has %d", id, got[id], v)
		}
	}
}

func lastRun(tb testing.TB, db *sqlite.Store, kind clerksync.RunKind) clerksync.SyncRun {
	tb.Helper()
	runs, err := db.Runs(context.Background(), clerksync.RunFilter{Kind: kind, Limit: 1})
	if err != nil || len(runs) == 0 {
		tb.Fatalf("no %s run recorded: %v", kind, err)
	}
	return runs[0]
}

func TestBackfillCommand(t *testing.T) {
	t.Parallel()
	f := startFakeClerk(t)
	if err := f.Seed(1200); err != nil {
		t.Fatal(err)
	}
	dbPath := migratedDB(t)
	env := f.env(dbPath)
	env["LOG_LEVEL"] = "info"

	code, stdout, stderr := runMain(t, env, nil, "backfill", "--progress-every", "0")
	if code != 0 {
		t.Fatalf("backfill exited %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"Backfill done: 1,200 of 1,200 users read from Clerk",
		"created           1,200",
		// The count and three pages of users, and the empty lists of roles,
		// permissions and organizations.
		"Clerk API: 7 requests (200: 7)",
		"Recorded as run 1 (succeeded)",
	} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("summary lacks %q:\n%s", want, stdout)
		}
	}
	// stderr is no terminal: progress comes as log lines, one per page here.
	if got := strings.Count(stderr, "msg=progress"); got != 3 {
		t.Fatalf("%d progress lines, want 3:\n%s", got, stderr)
	}
	db := openDB(t, dbPath)
	wantSynced(t, f, db)
	if run := lastRun(t, db, clerksync.RunBackfill); run.Status != clerksync.RunSucceeded || run.Counts.Created != 1200 {
		t.Fatalf("run = %+v", run)
	}

	// Again, with a dry run of a prune after one user left Clerk unseen.
	gone := f.Users()[10].ID
	if err := f.DeleteUser(gone); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runMain(t, env, nil, "backfill", "--prune", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run exited %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"dry run done: nothing was changed", "unchanged         1,199", "would delete " + gone} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("dry run summary lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := db.Profile(context.Background(), gone); err != nil {
		t.Fatalf("a dry run deleted %s: %v", gone, err)
	}

	code, stdout, stderr = runMain(t, env, nil, "backfill", "--prune")
	if code != 0 {
		t.Fatalf("prune exited %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "1 checked with Clerk, 1 deleted") {
		t.Fatalf("prune summary:\n%s", stdout)
	}
	wantSynced(t, f, db)
}

func TestBackfillCommand_ConfigErrors(t *testing.T) {
	t.Parallel()
	dbPath := migratedDB(t)
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"NoSecretKey", map[string]string{"DATABASE_URL": "sqlite:" + dbPath}, nil, "CLERK_SECRET_KEY is not set"},
		{"PublishableKey", map[string]string{"DATABASE_URL": "sqlite:" + dbPath, "CLERK_SECRET_KEY": "pk_test_abc"}, nil, "publishable key"},
		{"BadAPIURL", map[string]string{"DATABASE_URL": "sqlite:" + dbPath, "CLERK_SECRET_KEY": "sk_test_abc", "CLERK_API_URL": "ftp://x"}, nil, "CLERK_API_URL"},
		{"PageTooLarge", map[string]string{"CLERK_SECRET_KEY": "sk_test_abc"}, []string{"--limit-per-page", "501"}, "--limit-per-page 501"},
		{"Arguments", map[string]string{"CLERK_SECRET_KEY": "sk_test_abc"}, []string{"everything"}, "takes no arguments"},
		{"SyncNoUser", map[string]string{"CLERK_SECRET_KEY": "sk_test_abc"}, nil, "sync takes one user id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := "backfill"
			if strings.HasPrefix(tt.name, "Sync") {
				cmd = "sync"
			}
			code, _, stderr := runMain(t, tt.env, nil, append([]string{cmd}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

// TestBackfillCommand_RacingWebhooks runs a backfill beside a running server on the
// same database while webhooks with newer versions (and a deletion) reach the server
// after Clerk answered the backfill's page with the older versions: the newer
// versions win and the deleted user stays deleted.
func TestBackfillCommand_RacingWebhooks(t *testing.T) {
	t.Parallel()
	f := startFakeClerk(t)
	if err := f.Seed(600); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "clerksync.db")
	srv := MustRunServe(t, map[string]string{"DATABASE_URL": "sqlite:" + dbPath, "LOG_LEVEL": "warn"})

	var mu sync.Mutex
	page, updated, deleted := 0, []string{}, []string{}
	f.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !isListing(r) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r) // the page as Clerk has it now
		mu.Lock()
		page++
		p := page
		mu.Unlock()
		if p <= 2 {
			users := f.Users()
			for i := (p - 1) * 200; i < (p-1)*200+30; i += 3 {
				u, err := f.UpdateUser(users[i].ID, func(u *clerkfake.User) {
					name := "Webhook"
					u.FirstName = &name
				})
				if err != nil {
					t.Error(err)
					continue
				}
				wantAnswer(t, srv.send(t, "msg_up_"+u.ID, "user.updated", u), 200, "applied", "created")
				updated = append(updated, u.ID)
			}
			victim := users[(p-1)*200+1]
			if err := f.DeleteUser(victim.ID); err != nil {
				t.Error(err)
			}
			wantAnswer(t, srv.send(t, "msg_del_"+victim.ID, "user.deleted", victim), 200, "applied", "deleted")
			deleted = append(deleted, victim.ID)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})

	env := f.env(dbPath)
	code, stdout, stderr := runMain(t, env, nil, "backfill", "--limit-per-page", "200")
	if code != 0 {
		t.Fatalf("backfill exited %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"stale                20", "skipped               2"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("summary lacks %q:\n%s", want, stdout)
		}
	}
	db := openDB(t, dbPath)
	wantSynced(t, f, db)
	for _, id := range updated {
		if p := srv.profile(t, id); p == nil || p.FirstName != "Webhook" {
			t.Fatalf("profile %s = %+v: the backfill overwrote the webhook's newer version", id, p)
		}
	}
	for _, id := range deleted {
		if p := srv.profile(t, id); p != nil {
			t.Fatalf("deleted user %s came back", id)
		}
	}
}

// TestBackfillCommand_InterruptThenRerun stops a backfill as Ctrl-C would, then runs
// it again to the end.
func TestBackfillCommand_InterruptThenRerun(t *testing.T) {
	t.Parallel()
	f := startFakeClerk(t)
	if err := f.Seed(500); err != nil {
		t.Fatal(err)
	}
	dbPath := migratedDB(t)
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	pages := 0
	f.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if isListing(r) {
			pages++
			if pages == 4 {
				interrupt() // Ctrl-C while the fourth page is on its way
			}
		}
		next.ServeHTTP(w, r)
	})
	m, stdout, stderr := testMain(f.env(dbPath))
	err := m.Run(ctx, []string{"backfill", "--limit-per-page", "100"})
	if code := m.exitCode(err); code != 130 {
		t.Fatalf("interrupted backfill exited %d (%v)\n%s\n%s", code, err, stdout, stderr)
	}
	// The pages applied before Ctrl-C are committed and counted (two or three: the
	// next page is read while one is applied); no more.
	db := openDB(t, dbPath)
	run := lastRun(t, db, clerksync.RunBackfill)
	done := run.Counts.Created
	if run.Status != clerksync.RunInterrupted || (done != 200 && done != 300) || run.Counts.Seen != done {
		t.Fatalf("interrupted run = %+v, want 200 or 300 users created", run)
	}
	out := stdout.String()
	for _, want := range []string{fmt.Sprintf("Backfill interrupted: %d of 500 users", done), "Run clerksync backfill again to finish"} {
		if !strings.Contains(out, want) {
			t.Fatalf("summary of the interrupted run lacks %q:\n%s", want, out)
		}
	}
	if got := len(profileIDs(t, db)); int64(got) != done {
		t.Fatalf("%d profiles after the interrupted run, which counted %d", got, done)
	}

	f.Wrap(nil)
	code, out2, errOut := runMain(t, f.env(dbPath), nil, "backfill", "--limit-per-page", "100")
	if code != 0 {
		t.Fatalf("rerun exited %d\n%s\n%s", code, out2, errOut)
	}
	run = lastRun(t, db, clerksync.RunBackfill)
	if run.Counts.Created != 500-done || run.Counts.Unchanged != done {
		t.Fatalf("rerun counts = %+v, want %d created and %d unchanged", run.Counts, 500-done, done)
	}
	wantSynced(t, f, db)
}

// TestBackfillCommand_DevelopmentRateLimit backfills with Clerk's development limit
// on both sides: the client keeps under it, so Clerk answers no 429.
func TestBackfillCommand_DevelopmentRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the rate limit for a few seconds; skipped with -short")
	}
	t.Parallel()
	f := startFakeClerk(t, clerkfake.WithRateLimit(clerkfake.DevRateLimit, clerkfake.RateWindow))
	if err := f.Seed(1000); err != nil {
		t.Fatal(err)
	}
	dbPath := migratedDB(t)
	start := time.Now()
	code, stdout, stderr := runMain(t, f.env(dbPath), nil, "backfill", "--limit-per-page", "10")
	if code != 0 {
		t.Fatalf("backfill exited %d\n%s\n%s", code, stdout, stderr)
	}
	if got := f.RateLimited(); got != 0 {
		t.Fatalf("Clerk answered 429 %d times, want none:\n%s", got, stdout)
	}
	t.Logf("101 pages and a count under 100 requests / 10 s took %v", time.Since(start).Round(time.Millisecond))
	wantSynced(t, f, openDB(t, dbPath))
}

// profileIDs returns the ids of every stored profile.
func profileIDs(tb testing.TB, db clerksync.Store) []string {
	tb.Helper()
	var ids []string
	for after := ""; ; {
		page, err := db.Profiles(context.Background(), after, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range page {
			ids = append(ids, p.UserID)
		}
		if len(page) < 1000 {
			return ids
		}
		after = page[len(page)-1].UserID
	}
}

// TestBackfillCommand_Organizations imports organizations with their memberships and
// invitations, prints counts per kind, chooses kinds with --only and prunes what
// Clerk deleted.
func TestBackfillCommand_Organizations(t *testing.T) {
	t.Parallel()
	f := startFakeClerk(t)
	if err := f.Seed(30); err != nil {
		t.Fatal(err)
	}
	if err := f.SeedOrganizations(10, 60); err != nil {
		t.Fatal(err)
	}
	orgs := f.Organizations()
	if _, err := f.Invite(orgs[0].ID, "new@example.com", "", ""); err != nil {
		t.Fatal(err)
	}
	dbPath := migratedDB(t)
	env := f.env(dbPath)
	env["LOG_LEVEL"] = "info"

	code, stdout, stderr := runMain(t, env, nil, "backfill", "--progress-every", "0", "--limit-per-page", "4", "--rate-limit", "-1")
	if code != 0 {
		t.Fatalf("backfill exited %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Backfill done: 109 objects read from Clerk") {
		t.Fatalf("summary:\n%s", stdout)
	}
	// Each kind's row: read, created, updated, unchanged, stale, skipped, invalid.
	for kind, want := range map[string]string{
		"users":         "30 of 30 30 0 0 0 0 0",
		"roles":         "2 of 2 2 0 0 0 0 0",
		"permissions":   "6 of 6 6 0 0 0 0 0",
		"organizations": "10 of 10 10 0 0 0 0 0",
		"memberships":   "60 60 0 0 0 0 0",
		"invitations":   "1 1 0 0 0 0 0",
	} {
		if got := tableRow(stdout, kind); got != want {
			t.Fatalf("row of %s = %q, want %q:\n%s", kind, got, want, stdout)
		}
	}
	if !strings.Contains(stderr, "kind=organizations") || !strings.Contains(stderr, "memberships=60") {
		t.Fatalf("no progress line for organizations with their memberships:\n%s", stderr)
	}
	db := openDB(t, dbPath)
	if run := lastRun(t, db, clerksync.RunBackfill); run.Counts.Seen != 109 || run.Counts.Created != 109 {
		t.Fatalf("recorded run = %+v, want the totals of every kind", run)
	}

	// --only users reads no organization.
	f.ResetCounters()
	code, stdout, stderr = runMain(t, env, nil, "backfill", "--only", "users", "--rate-limit", "-1")
	if code != 0 || f.Requests("GET /v1/organizations") != 0 || !strings.Contains(stdout, "30 of 30 users read") {
		t.Fatalf("--only users: exit %d, %d organization requests\n%s\n%s", code, f.Requests("GET /v1/organizations"), stdout, stderr)
	}
	code, _, stderr = runMain(t, env, nil, "backfill", "--only", "users,teams")
	if code != 2 || !strings.Contains(stderr, `"teams" is not a kind of object`) {
		t.Fatalf("--only teams: exit %d, %s", code, stderr)
	}

	// Clerk deletes an organization and removes a member unseen: --prune deletes both.
	gone := orgs[2].ID
	if err := f.DeleteOrganization(gone); err != nil {
		t.Fatal(err)
	}
	removed := f.Memberships(orgs[4].ID)[0]
	if _, err := f.RemoveMember(orgs[4].ID, removed.PublicUserData.UserID); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runMain(t, env, nil, "backfill", "--prune", "--dry-run", "--only", "organizations", "--rate-limit", "-1")
	if code != 0 || !strings.Contains(stdout, "would delete "+gone) || !strings.Contains(stdout, "would delete "+removed.ID) {
		t.Fatalf("dry run of the prune: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, env, nil, "backfill", "--prune", "--only", "organizations", "--rate-limit", "-1")
	if code != 0 {
		t.Fatalf("prune exited %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"Prune organizations: 1 local organizations created before the scan were not in Clerk's listing; 1 checked with Clerk, 1 deleted",
		"Prune memberships: 1 deleted",
	} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("prune summary lacks %q:\n%s", want, stdout)
		}
	}
	for _, k := range []clerksync.ObjectKey{{Kind: clerksync.KindOrganization, ID: gone}, {Kind: clerksync.KindMembership, ID: removed.ID}} {
		if d, err := db.Deleted(context.Background(), k); err != nil || !d {
			t.Fatalf("Deleted(%s) = %v, %v", k, d, err)
		}
	}
}

// tableRow returns the cells of the summary's row of kind, separated by one space.
func tableRow(out, kind string) string {
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[0] == kind {
			return strings.Join(fields[1:], " ")
		}
	}
	return ""
}

func TestBackfillCommand_OrganizationsNotEnabled(t *testing.T) {
	t.Parallel()
	f := startFakeClerk(t, clerkfake.WithoutOrganizations())
	if err := f.Seed(5); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain(t, f.env(migratedDB(t)), nil, "backfill", "--prune", "--rate-limit", "-1")
	if code != 0 {
		t.Fatalf("backfill exited %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"5 of 5 users read", "Organizations: the feature is off in this Clerk instance"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("summary lacks %q:\n%s", want, stdout)
		}
	}
}
