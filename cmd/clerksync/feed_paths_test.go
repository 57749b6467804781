package main

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/storetest"
)

// TestFeed_EveryPathMatchesTheTables changes users by every path that writes the
// tables — webhooks, a backfill, a poll, the sync button and a replay of a dead
// letter — one after the other on one database, and after each checks that the
// changes feed, replayed in order, gives exactly the tables, and that the path's
// entries name it as their source.
func TestFeed_EveryPathMatchesTheTables(t *testing.T) {
	t.Parallel()
	for name, db := range map[string]func(t *testing.T) map[string]string{
		"SQLite": func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "clerksync.db")}
		},
		"PostgreSQL": func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": pgtest.URL(), "DATABASE_SCHEMA": pgtest.SchemaName(t, "clerksync_test")}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testFeedPaths(t, db(t))
		})
	}
}

func testFeedPaths(t *testing.T, dbEnv map[string]string) {
	f := startFakeClerk(t)
	if err := f.Seed(12); err != nil {
		t.Fatal(err)
	}
	users := f.Users()
	env := map[string]string{
		"CLERK_SECRET_KEY": f.SecretKey(), "CLERK_API_URL": f.URL, "LOG_LEVEL": "warn",
		"CLERK_WEBHOOK_SECRET": testSecret, "CLERK_JWT_KEY": testIssuer().PublicKeyPEM(),
	}
	for k, v := range dbEnv {
		env[k] = v
	}
	var after int64
	// check compares the feed with the tables, and the entries after the last check
	// with what the path should have recorded.
	check := func(t *testing.T, s clerksync.Store, path string, source clerksync.Source, wantTypes ...string) {
		t.Helper()
		feed := s.(clerksync.FeedStore)
		all := storetest.AllChanges(t, feed, 0)
		storetest.CheckFeedMatchesTables(t, s, all)
		got := map[string]int{}
		for _, e := range storetest.AllChanges(t, feed, after) {
			got[e.Type]++
			if e.Source != source {
				t.Errorf("%s: entry %d (%s %s) has source %s, want %s", path, e.Seq, e.Type, e.ObjectID, e.Source, source)
			}
		}
		for _, typ := range wantTypes {
			if got[typ] == 0 {
				t.Errorf("%s recorded no %s: %v", path, typ, got)
			}
		}
		if len(all) > 0 {
			after = all[len(all)-1].Seq
		}
	}

	// Webhooks: three users created, one of them updated, another deleted.
	s := runServe(t, env, nil, nil, nil)
	for i, u := range users[:3] {
		s.send(t, "msg_create_"+u.ID, "user.created", u)
		if i == 2 {
			deleted := clerkfake.NewUser(clerkfake.UserParams{ID: u.ID})
			s.send(t, "msg_delete_"+u.ID, "user.deleted", deleted)
		}
	}
	renamed := rename(t, f, users[0].ID, "Webhooked")
	s.send(t, "msg_update", "user.updated", renamed)
	check(t, s.store, "the webhooks", clerksync.SourceWebhook, "profile.created", "profile.updated", "profile.deleted")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A backfill: every other user created, one changed since its webhook updated.
	rename(t, f, users[1].ID, "Backfilled")
	if code, stdout, stderr := runMain(t, env, nil, "backfill"); code != 0 {
		t.Fatalf("backfill: exit %d\n%s%s", code, stdout, stderr)
	}
	store := openEnvStore(t, env)
	check(t, store, "the backfill", clerksync.SourceBackfill, "profile.created", "profile.updated")

	// A poll: users changed and created in Clerk since.
	rename(t, f, users[4].ID, "Polled")
	if _, err := f.CreateUser(clerkfake.UserParams{FirstName: "New", LastName: "Poll", Email: "new.poll@example.com"}); err != nil {
		t.Fatal(err)
	}
	ps := mustRunPullServe(t, env, "--poll-every", "1h")
	ps.pass(t, clerksync.RunPoll)
	check(t, store, "the poll", clerksync.SourceBackfill, "profile.created", "profile.updated")

	// The sync button: the signed-in user, changed in Clerk, synced from the API.
	rename(t, f, users[5].ID, "Synced")
	req := mustReq(t, http.MethodPost, ps.URL+"/api/profile/sync")
	req.Header.Set("Authorization", "Bearer "+mint(t, users[5].ID))
	if a := do(t, req); a.Status != http.StatusOK {
		t.Fatalf("POST /api/profile/sync = %d %v", a.Status, a.Body)
	}
	check(t, store, "the sync button", clerksync.SourceAPI, "profile.updated")

	// A replay: a dead letter whose body is fine (a decoder bug since fixed), replayed.
	replayed := rename(t, f, users[6].ID, "Replayed")
	ps.mustDeadLetter(t, "msg_dead", "user.updated", clerkfake.WebhookEvent("user.updated", replayed, time.Now()))
	if code, stdout, stderr := runMain(t, env, nil, "events", "replay", "msg_dead"); code != 0 || !strings.Contains(stdout+stderr, "applied") {
		t.Fatalf("events replay: exit %d\n%s%s", code, stdout, stderr)
	}
	check(t, store, "the replay", clerksync.SourceWebhook, "profile.updated")
	if p := storetest.MustProfile(t, store, users[6].ID); p.FirstName != "Replayed" {
		t.Fatalf("after the replay: %+v", p)
	}
}

// openEnvStore opens the database env names as another process would, closed when t
// ends.
func openEnvStore(t *testing.T, env map[string]string) clerksync.Store {
	t.Helper()
	common := commonFlags{DatabaseURL: env["DATABASE_URL"], Schema: envOr(func(k string) string { return env[k] }, "DATABASE_SCHEMA", "public"), OnDelete: "hard"}
	d, err := common.db()
	if err != nil {
		t.Fatal(err)
	}
	s, err := openStore(context.Background(), d, &common, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
