package pull_test

import (
	"context"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/postgres"
	"github.com/clerksync/clerksync/pull"
)

// withPostgres makes the harness store a PostgreSQL store in a schema of its own,
// dropped when the test ends. It skips the test when PostgreSQL does not answer,
// unless CLERKSYNC_REQUIRE_POSTGRES=1 makes that a failure.
func withPostgres(t *testing.T) func(*harnessConfig) {
	t.Helper()
	schema := pgtest.SchemaName(t, "clerksync_pull")
	return func(c *harnessConfig) {
		c.open = func(t *testing.T, now func() time.Time) pullStore {
			return pgtest.Open(t, schema, postgres.WithNow(now))
		}
	}
}

// TestPostgreSQL runs a backfill, a racing webhook, a prune and polls on the
// PostgreSQL store.
func TestPostgreSQL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withPostgres(t))
	h.seed(t, 700)
	ctx := context.Background()

	rep, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Run.Counts.Created != 700 {
		t.Fatalf("counts = %+v", rep.Run.Counts)
	}
	h.wantInSync(t)
	if run := h.run(t, rep.Run.ID); run.Status != clerksync.RunSucceeded || run.Counts != rep.Run.Counts {
		t.Fatalf("recorded run = %+v", run)
	}

	// A webhook's newer version beats the older one a backfill read; a user gone
	// from Clerk is pruned.
	users := h.Fake.Users()
	stale := users[3]
	h.Clock.Advance(time.Second)
	newer := rename(t, h, stale.ID, "Newer")
	h.webhook(t, clerkfake.EventUserUpdated, newer)
	if err := h.Fake.DeleteUser(users[4].ID); err != nil {
		t.Fatal(err)
	}
	oldPage := []*clerkfake.User{stale}
	profiles, err := decodeUsers(oldPage...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Engine.ApplyWait(ctx, clerksync.UpsertUser(profiles[0], clerksync.SourceBackfill))
	if err != nil || res[0].Outcome != clerksync.OutcomeStale {
		t.Fatalf("older version after a newer webhook: %+v, %v", res, err)
	}
	rep, err = h.Syncer.Backfill(ctx, pull.BackfillOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Prune.Counts.Deleted != 1 || rep.Run.Counts.Unchanged != 699 {
		t.Fatalf("backfill with prune: run %+v, prune %+v", rep.Run.Counts, rep.Prune.Counts)
	}
	h.wantInSync(t)

	// Polls: the first reads everything, the next only what changed.
	if _, err := h.Syncer.Poll(ctx, pull.PollOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(time.Minute)
	rename(t, h, users[10].ID, "Polled")
	poll, err := h.Syncer.Poll(ctx, pull.PollOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if poll.First || poll.Counts.Updated != 1 {
		t.Fatalf("poll = %+v", poll)
	}
	h.wantInSync(t)
}
