package clerksync

import (
	"context"
	"time"
)

// RunKind is what a pull from the Clerk Backend API was.
type RunKind string

// The kinds of pull runs recorded in the database.
const (
	RunBackfill  RunKind = "backfill"  // clerksync backfill: every user, once
	RunReconcile RunKind = "reconcile" // the periodic full pass of serve
	RunPoll      RunKind = "poll"      // a poll of the users changed since the checkpoint
	RunPrune     RunKind = "prune"     // deleting local users Clerk no longer has
)

// Valid reports whether k is one of the kinds above.
func (k RunKind) Valid() bool {
	switch k {
	case RunBackfill, RunReconcile, RunPoll, RunPrune:
		return true
	}
	return false
}

// RunStatus is the state of a pull run.
type RunStatus string

// The states of a pull run.
const (
	RunRunning     RunStatus = "running"
	RunSucceeded   RunStatus = "succeeded"
	RunFailed      RunStatus = "failed"
	RunInterrupted RunStatus = "interrupted" // stopped on request (Ctrl-C, shutdown)
)

// Valid reports whether s is one of the states above.
func (s RunStatus) Valid() bool {
	switch s {
	case RunRunning, RunSucceeded, RunFailed, RunInterrupted:
		return true
	}
	return false
}

// RunCounts counts what a pull run did to users.
type RunCounts struct {
	// Seen counts the users Clerk listed (for a prune: the users checked one by one).
	Seen int64
	// Created, Updated and Unchanged count applied upserts by action.
	Created   int64
	Updated   int64
	Unchanged int64
	// Deleted counts users deleted locally because Clerk answered 404 for them.
	Deleted int64
	// Stale counts users whose stored version was newer than the one read (a webhook
	// got there first).
	Stale int64
	// Skipped counts users not written because they have a tombstone: deleted after
	// Clerk listed them.
	Skipped int64
	// Invalid counts users that could not be decoded or stored.
	Invalid int64
}

// Add adds o to c.
func (c *RunCounts) Add(o RunCounts) {
	c.Seen += o.Seen
	c.Created += o.Created
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.Deleted += o.Deleted
	c.Stale += o.Stale
	c.Skipped += o.Skipped
	c.Invalid += o.Invalid
}

// Changed returns how many users the run wrote a new version of or deleted.
func (c RunCounts) Changed() int64 { return c.Created + c.Updated + c.Deleted }

// SyncRun is one recorded pull from the Clerk Backend API: a backfill, a reconcile,
// a poll or a prune, kept in the table clerksync_sync_runs.
type SyncRun struct {
	ID     int64
	Kind   RunKind
	Status RunStatus
	// StartedAt is when the run began; UpdatedAt when it last recorded progress;
	// FinishedAt when it ended (zero while running). A run left running with an old
	// UpdatedAt belongs to a process that died.
	StartedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
	Counts     RunCounts
	// Error says why a failed run failed.
	Error string
}

// RunFilter selects pull runs, newest first.
type RunFilter struct {
	Kind   RunKind   // "" for any
	Status RunStatus // "" for any
	Limit  int       // 0 for a default of 50
}

// SyncStore keeps what pulling from the Clerk Backend API needs beside the profiles:
// the record of runs, checkpoints (the poll's high-water mark), leases (so that one
// replica at a time polls or reconciles) and the ids prune compares with Clerk's.
// The sqlite and postgres stores implement it.
type SyncStore interface {
	// StartRun records a new run of kind with status running and returns it. It
	// returns an error with code EINVALID for an unknown kind.
	StartRun(ctx context.Context, kind RunKind) (*SyncRun, error)
	// UpdateRun records the progress of a running run (its counts).
	UpdateRun(ctx context.Context, run *SyncRun) error
	// FinishRun records run's final status, counts and error, with FinishedAt set to
	// the store's clock (and copied into run). It returns an error with code
	// EINVALID when run.Status is running, and ENOTFOUND for an unknown run.
	FinishRun(ctx context.Context, run *SyncRun) error
	// Run returns one run, or an error with code ENOTFOUND.
	Run(ctx context.Context, id int64) (*SyncRun, error)
	// Runs lists runs newest first.
	Runs(ctx context.Context, f RunFilter) ([]SyncRun, error)
	// PruneRuns deletes the records of runs that finished before t and returns how
	// many. The latest successful run of each kind is kept whatever its age: the
	// schedule of reconciles counts from it.
	PruneRuns(ctx context.Context, before time.Time) (int, error)

	// Checkpoint returns the value stored under key, or an error with code ENOTFOUND.
	Checkpoint(ctx context.Context, key string) (string, error)
	// SetCheckpoint stores value under key, replacing any earlier value.
	SetCheckpoint(ctx context.Context, key, value string) error

	// AcquireLease takes or renews the lease name for holder until ttl from the
	// store's clock, and reports whether holder has it: false when another holder's
	// lease has not expired.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives up holder's lease name; it does nothing when holder does
	// not hold it.
	ReleaseLease(ctx context.Context, name, holder string) error

	// ProfileIDs returns up to limit user ids of profiles with user_id > after whose
	// Clerk created_at (ms) is before createdBefore, ordered by user_id.
	ProfileIDs(ctx context.Context, after string, createdBefore int64, limit int) ([]string, error)
}
