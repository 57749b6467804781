package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/storetest"
)

// mustOpen opens the store at path and closes it when t ends.
func mustOpen(t *testing.T, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// TestPragmas checks the settings durability rests on, on the connections the store
// really uses.
func TestPragmas(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, filepath.Join(t.TempDir(), "clerksync.db"))

	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for _, tt := range []struct {
		name string
		db   *sql.DB
		want string
	}{
		{"journal_mode", s.w, "wal"},
		// NORMAL: Apply fsyncs the WAL itself, outside the write lock (walSyncer).
		{"synchronous", s.w, "1"},
		// The writer never checkpoints; the checkpointer does, syncing fully.
		{"wal_autocheckpoint", s.w, "0"},
		{"page_size", s.w, "8192"},
		{"synchronous", s.ckpt.db, "2"},
		{"foreign_keys", s.w, "1"},
		{"busy_timeout", s.w, "5000"},
		{"journal_mode", s.r, "wal"},
		{"busy_timeout", s.r, "5000"},
		{"query_only", s.r, "1"},
	} {
		if got := pragma(tt.db, tt.name); got != tt.want {
			t.Errorf("PRAGMA %s = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got, want := s.w.Stats().MaxOpenConnections, 1; got != want {
		t.Errorf("writer pool allows %d connections, want %d", got, want)
	}
}

// The WAL file Apply fsyncs is the one SQLite writes, and stays so after batches.
func TestWALSyncerHoldsTheLiveWAL(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "wal.db")
	s := mustOpen(t, path)
	for i := range 3 {
		p := storetest.NewProfile(fmt.Sprintf("user_%d", i), 1_700_000_000_000)
		if _, err := s.Apply(context.Background(), []clerksync.Change{storetest.Upsert(fmt.Sprintf("msg_%d", i), p)}); err != nil {
			t.Fatal(err)
		}
	}
	held, err := s.wal.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	current, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(held, current) {
		t.Fatal("the store fsyncs a file that is not the database's WAL")
	}
	if held.Size() == 0 {
		t.Fatal("the WAL is empty after three batches: commits did not go through it")
	}
}

// Under a steady stream of batches the WAL starts over from its beginning instead of
// growing with every commit: a checkpoint beside the writer never finds every frame
// copied, so the writer has to finish it between two batches (topUpCheckpoint).
func TestWALStartsOverUnderSteadyWrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "steady.db")
	s := mustOpen(t, path, func(s *Store) { s.checkpointInterval, s.restartFrames = 5*time.Millisecond, 16 })
	const batches = 1500
	ctx := context.Background()
	for i := range batches {
		p := storetest.NewProfile(fmt.Sprintf("user_%d", i%200), 1_700_000_000_000+int64(i))
		if _, err := s.Apply(ctx, []clerksync.Change{storetest.Upsert(fmt.Sprintf("msg_%d", i), p)}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(10 * time.Millisecond) // let the checkpointer tick, however loaded the machine
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// Every commit appends at least three 8 KiB frames (a page of profiles, of the event
	// log and of the changes feed): a WAL that never started over would hold them all.
	if grown := 3 * int64(batches) * filePageSize; fi.Size() > grown/4 {
		t.Fatalf("the WAL is %d bytes after %d batches: it did not start over (a WAL that never does would be at least %d)",
			fi.Size(), batches, grown)
	}
	// And nothing was lost on the way.
	for i := range 200 {
		if _, err := s.Profile(ctx, fmt.Sprintf("user_%d", i)); err != nil {
			t.Fatalf("user_%d: %v", i, err)
		}
	}
}

// TestIdleStoreSkipsCheckpoints checks that the checkpointer, which ticks often, stops
// touching the disk once it has copied everything and nothing new is committed, and
// starts again with the next commit, whatever wrote it.
func TestIdleStoreSkipsCheckpoints(t *testing.T) {
	t.Parallel()
	const tick = 2 * time.Millisecond
	s := mustOpen(t, filepath.Join(t.TempDir(), "idle.db"), func(s *Store) { s.checkpointInterval = tick })
	c := s.ckpt
	// caughtUp waits until a checkpoint has run since after, and then until the
	// checkpointer skips a tick: from then on it is idle, and returns the checkpoints run.
	caughtUp := func(after int64) int64 {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for c.runs.Load() <= after {
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint ran after %d", after)
			}
			time.Sleep(tick)
		}
		for skips := c.skips.Load(); c.skips.Load() == skips; time.Sleep(tick) {
			if time.Now().After(deadline) {
				t.Fatalf("the checkpointer never went idle (%d run)", c.runs.Load())
			}
		}
		return c.runs.Load()
	}

	storetest.MustApply(t, s, storetest.Upsert("msg_1", storetest.NewProfile("user_idle", 1_000)))
	n := caughtUp(0)
	time.Sleep(50 * tick)
	if got := c.runs.Load(); got != n {
		t.Fatalf("%d checkpoints ran while nothing was committed", got-n)
	}

	storetest.MustApply(t, s, storetest.Upsert("msg_2", storetest.NewProfile("user_idle", 2_000)))
	n = caughtUp(n)

	// Writes other than batches (a poll's checkpoint, a lease, a run) count too: the
	// checkpoint is also what fsyncs them.
	if err := s.SetCheckpoint(context.Background(), "poll", "cursor"); err != nil {
		t.Fatal(err)
	}
	caughtUp(n)
}

// errAfter is a context that reports no error for its first n calls of Err, and
// context.Canceled from then on: a caller giving up in the middle of a batch.
type errAfter struct {
	context.Context
	n int
}

func (c *errAfter) Err() error {
	if c.n > 0 {
		c.n--
		return nil
	}
	return context.Canceled
}

// TestRolledBackBatchIsForgotten checks that what a batch wrote is remembered only once
// it commits: a batch abandoned after writing a user leaves the writer knowing nothing
// of it, nor of anyone else.
func TestRolledBackBatchIsForgotten(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, filepath.Join(t.TempDir(), "clerksync.db"))

	storetest.MustApply(t, s, storetest.Upsert("msg_known", storetest.NewProfile("user_known", 1_000)))
	if _, ok := s.known.objects[clerksync.UserKey("user_known")]; !ok {
		t.Fatal("the writer does not remember the user of a committed batch")
	}

	// Err is asked before the batch and before each change: the batch writes user_rb
	// version 5000, then gives up before the second change.
	ctx := &errAfter{Context: context.Background(), n: 2}
	v5 := storetest.Upsert("msg_v5", storetest.NewProfile("user_rb", 5_000))
	other := storetest.Upsert("msg_other", storetest.NewProfile("user_other", 5_000))
	if _, err := s.Apply(ctx, []clerksync.Change{v5, other}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a context ending mid-batch = %v, want context.Canceled", err)
	}
	if _, ok := s.known.objects[clerksync.UserKey("user_rb")]; ok {
		t.Fatal("the writer remembers a user from a batch that rolled back")
	}
	if n := len(s.known.objects); n != 0 {
		t.Fatalf("after a failed batch the writer still remembers %d users, want none", n)
	}

	v4 := storetest.Upsert("msg_v4", storetest.NewProfile("user_rb", 4_000))
	got := storetest.MustApply(t, s, v4, v5)
	want := []clerksync.Result{
		{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionCreated},
		{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionUpdated},
	}
	if got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("results after the rollback = %+v, want %+v", got, want)
	}
	if u, ok := s.known.objects[clerksync.UserKey("user_rb")]; !ok || u.row == nil || clerksync.RowInt(u.row[clerksync.KindUser.Table().Col("updated_at")]) != 5_000 {
		t.Errorf("after a committed batch the writer knows user_rb as %+v (known %v), want version 5000", u, ok)
	}
}

// TestWriterForgetsOnNewConnection checks that the writer's memory of users belongs to
// its connection: PRAGMA data_version only compares commits seen by one connection, so
// when the pool replaces the writer's connection (after an interrupted statement, say),
// what was remembered cannot be trusted, whatever the new connection's count says.
func TestWriterForgetsOnNewConnection(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clerksync.db")
	a := mustOpen(t, path)
	b := mustOpen(t, path)

	storetest.MustApply(t, a, storetest.Upsert("msg_1", storetest.NewProfile("user_nc", 1_000)))
	// The pool drops a's writer connection at its next use and opens another one.
	a.w.SetConnMaxLifetime(time.Nanosecond)
	time.Sleep(time.Millisecond)
	storetest.MustApply(t, b, storetest.Upsert("msg_2", storetest.NewProfile("user_nc", 3_000)))

	got := storetest.MustApply(t, a, storetest.Upsert("msg_3", storetest.NewProfile("user_nc", 2_000)))
	if want := (clerksync.Result{Outcome: clerksync.OutcomeStale, Reason: clerksync.ReasonOlder}); got[0] != want {
		t.Fatalf("an older version after another writer's newer one: %+v, want %+v", got[0], want)
	}
}
