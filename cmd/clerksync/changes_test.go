package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/storetest"
)

// feedDB is a database with a feed: a migrated SQLite file (or a PostgreSQL schema)
// and the environment the changes commands need to find it.
type feedDB struct {
	store clerksync.Store
	env   map[string]string
}

func (d *feedDB) feed() clerksync.FeedStore { return d.store.(clerksync.FeedStore) }

// newSQLiteFeed returns a migrated SQLite database opened as another process would.
func newSQLiteFeed(t *testing.T) *feedDB {
	t.Helper()
	path := migratedDB(t)
	return &feedDB{store: openDB(t, path), env: map[string]string{"DATABASE_URL": "sqlite:" + path, "LOG_LEVEL": "warn"}}
}

// newPostgresFeed returns a schema of its own on the test database.
func newPostgresFeed(t *testing.T) *feedDB {
	t.Helper()
	schema := pgtest.SchemaName(t, "clerksync_test")
	return &feedDB{store: pgtest.Open(t, schema), env: map[string]string{
		"DATABASE_URL": pgtest.URL(), "DATABASE_SCHEMA": schema, "LOG_LEVEL": "warn"}}
}

// feedStores runs f on each store.
func feedStores(t *testing.T, f func(t *testing.T, db *feedDB)) {
	for name, open := range map[string]func(*testing.T) *feedDB{"SQLite": newSQLiteFeed, "PostgreSQL": newPostgresFeed} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, open(t))
		})
	}
}

// seedFeed records Ada created then renamed, Bob created then deleted, and an
// organization with Ada's membership, and returns the feed.
func seedFeed(t *testing.T, db *feedDB) []clerksync.FeedEntry {
	t.Helper()
	base := int64(1_750_000_000_000)
	ada1 := storetest.NewProfile("user_ada", base)
	ada2 := storetest.NewProfile("user_ada", base+1000)
	ada2.CreatedAt, ada2.FirstName = ada1.CreatedAt, "Augusta"
	org := storetest.NewOrganization("org_feed", base, base)
	storetest.MustApply(t, db.store, storetest.Upsert("msg_1", ada1))
	storetest.MustApply(t, db.store, storetest.Upsert("msg_2", ada2))
	storetest.MustApply(t, db.store, storetest.Upsert("msg_3", storetest.NewProfile("user_bob", base)))
	storetest.MustApply(t, db.store, storetest.Delete("msg_4", "user_bob", base+2000))
	storetest.MustApply(t, db.store, storetest.Event("msg_5", "organizationMembership.created",
		storetest.NewMembership("orgmem_ada", org, "user_ada", "org:admin", base, base)))
	return storetest.AllChanges(t, db.feed(), 0)
}

// jsonLines decodes the lines of out as feed entries.
func jsonLines(t *testing.T, out string) []clerksync.FeedEntry {
	t.Helper()
	var entries []clerksync.FeedEntry
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e clerksync.FeedEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not a JSON entry: %q: %v", sc.Text(), err)
		}
		entries = append(entries, e)
	}
	return entries
}

// delivered returns entries as a forwarded body holds them: without the recording
// time and the svix-id.
func delivered(entries []clerksync.FeedEntry) []clerksync.FeedEntry {
	out := make([]clerksync.FeedEntry, len(entries))
	for i, e := range entries {
		e.CreatedAt, e.EventID = time.Time{}, ""
		out[i] = e
	}
	return out
}

func mustRunChanges(t *testing.T, env map[string]string, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := runMain(t, env, nil, append([]string{"changes"}, args...)...)
	if code != 0 {
		t.Fatalf("clerksync changes %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout, stderr
}

func TestChanges_List(t *testing.T) {
	t.Parallel()
	feedStores(t, func(t *testing.T, db *feedDB) {
		entries := seedFeed(t, db)
		if len(entries) != 6 {
			t.Fatalf("seeded %d entries, want 6", len(entries))
		}

		// The table: a header, then a line per entry with what it changed.
		out, _ := mustRunChanges(t, db.env, "list")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 1+len(entries) || !strings.HasPrefix(lines[0], "SEQ ") {
			t.Fatalf("list printed %d lines, want a header and %d:\n%s", len(lines), len(entries), out)
		}
		for i, e := range entries {
			fields := strings.Fields(lines[1+i])
			if fields[0] != jsonString(e.Seq) || fields[3] != e.Type || fields[4] != e.ObjectID || fields[5] != "webhook" {
				t.Errorf("line %d = %q, want seq %d, %s of %s from a webhook", i, lines[1+i], e.Seq, e.Type, e.ObjectID)
			}
		}
		if !strings.Contains(lines[2], `first_name: "Test" → "Augusta"`) || strings.Contains(lines[2], "user_id") {
			t.Errorf("the update's line does not show the changed columns alone, before → after: %q", lines[2])
		}
		if !strings.Contains(lines[1], `user_id: "user_ada"; email: "ada.v1750000000000@example.com"; email_verified: true`) ||
			strings.Contains(lines[1], "synced_at") {
			t.Errorf("the creation's line does not show the columns in the table's order: %q", lines[1])
		}
		if !strings.HasSuffix(lines[4], "removed") {
			t.Errorf("the deletion's line = %q", lines[4])
		}

		// JSON lines: the forwarded bodies, exactly.
		out, _ = mustRunChanges(t, db.env, "list", "--json")
		if diff := cmp.Diff(delivered(entries), jsonLines(t, out)); diff != "" {
			t.Errorf("list --json (-want +got):\n%s", diff)
		}
		for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
			body, _ := entries[i].MarshalJSON()
			if line != string(body) {
				t.Errorf("line %d is not the forwarded body:\n%s\n%s", i, line, body)
			}
		}

		// Filters and paging.
		for _, tt := range []struct {
			args []string
			want []clerksync.FeedEntry
		}{
			{[]string{"--type", "profile.deleted"}, entries[3:4]},
			{[]string{"--type", "organization.*,membership.created"}, entries[4:6]},
			{[]string{"--type", "profile.created", "--type", "membership.*"}, []clerksync.FeedEntry{entries[0], entries[2], entries[5]}},
			{[]string{"--object", "user_ada"}, entries[:2]},
			{[]string{"--after", jsonString(entries[4].Seq)}, entries[5:]},
			{[]string{"--limit", "2"}, entries[:2]},
			{[]string{"--after", jsonString(entries[5].Seq)}, nil},
		} {
			out, stderr := mustRunChanges(t, db.env, append([]string{"list", "--json"}, tt.args...)...)
			if diff := cmp.Diff(delivered(tt.want), jsonLines(t, out), cmp.Comparer(func(a, b []clerksync.FeedEntry) bool {
				return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b)
			})); diff != "" {
				t.Errorf("list --json %v (-want +got):\n%s", tt.args, diff)
			}
			if more := strings.Contains(stderr, "--after "+jsonString(entries[1].Seq)); more != (tt.args[0] == "--limit") {
				t.Errorf("list %v: stderr %q", tt.args, stderr)
			}
		}
		if out, _ := mustRunChanges(t, db.env, "list", "--type", "role.*"); !strings.Contains(out, "No entries match.") {
			t.Errorf("list of no entry printed %q", out)
		}
	})
}

// jsonString returns n in decimal.
func jsonString(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestChanges_UsageErrors(t *testing.T) {
	t.Parallel()
	db := newSQLiteFeed(t)
	for _, args := range [][]string{
		{"changes"},
		{"changes", "watch"},
		{"changes", "list", "--type", "users.*"},
		{"changes", "list", "--limit", "0"},
		{"changes", "list", "--after", "-5"},
		{"changes", "list", "user_ada"},
		{"changes", "tail", "--type", "profile.renamed"},
	} {
		code, _, stderr := runMain(t, db.env, nil, args...)
		if code != 2 || !strings.Contains(stderr, "clerksync:") {
			t.Errorf("clerksync %s: exit %d, stderr %q; want 2 and a message", strings.Join(args, " "), code, stderr)
		}
	}
	// A missing database is named, not created.
	missing := filepath.Join(t.TempDir(), "nothing-here.db")
	code, _, stderr := runMain(t, map[string]string{"DATABASE_URL": "sqlite:" + missing}, nil, "changes", "list")
	if code != 1 || !strings.Contains(stderr, "no database at") {
		t.Errorf("changes list on a missing database: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("changes list created %s", missing)
	}
}

// runTail runs changes tail with args until stop is called, which returns the
// command's error; the output so far is in out. It returns once tail has said where
// it starts.
func runTail(t *testing.T, env map[string]string, args ...string) (out *syncBuffer, stop func() error) {
	t.Helper()
	m, stdout, stderr := testMain(env)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&ChangesCommand{Main: m, PollEvery: 10 * time.Millisecond}).Run(ctx, append([]string{"tail"}, args...))
	}()
	stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() {
		_ = stop()
		if t.Failed() {
			t.Logf("tail's stderr:\n%s", stderr)
		}
	})
	waitOutput(t, stderr, "Waiting for changes after seq")
	return stdout, stop
}

// waitOutput waits until out holds want, failing t after a while.
func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the output never showed %q:\n%s", want, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestChanges_Tail(t *testing.T) {
	t.Parallel()
	feedStores(t, func(t *testing.T, db *feedDB) {
		old := seedFeed(t, db)
		// From the newest: what was recorded before is not printed; what comes after is,
		// as it is committed.
		out, stop := runTail(t, db.env, "--json")
		all, stopAll := runTail(t, db.env, "--after", "0", "--type", "profile.*")
		waitOutput(t, all, "user_bob")
		storetest.MustApply(t, db.store, storetest.Upsert("msg_new", storetest.NewProfile("user_cleo", 1_750_000_005_000)))
		waitOutput(t, out, "user_cleo")
		waitOutput(t, all, "user_cleo")
		if err := stop(); err != nil {
			t.Fatalf("tail ended with %v on Ctrl-C, want nil", err)
		}
		if err := stopAll(); err != nil {
			t.Fatalf("tail ended with %v on Ctrl-C, want nil", err)
		}
		got := jsonLines(t, out.String())
		if len(got) != 1 || got[0].ObjectID != "user_cleo" || got[0].Type != "profile.created" || got[0].Seq <= old[len(old)-1].Seq {
			t.Fatalf("tail printed %+v, want the new entry alone", got)
		}
		// --after 0 with a type: the earlier profile entries, then the new one.
		var objects []string
		for _, line := range strings.Split(strings.TrimSpace(all.String()), "\n")[1:] {
			objects = append(objects, strings.Fields(line)[4])
		}
		if diff := cmp.Diff([]string{"user_ada", "user_ada", "user_bob", "user_bob", "user_cleo"}, objects); diff != "" {
			t.Errorf("tail --after 0 --type profile.* (-want +got):\n%s\n%s", diff, all)
		}
	})
}
