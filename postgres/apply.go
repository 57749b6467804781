package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clerksync/clerksync"
)

// maxRetries bounds how many times a batch is run again after a serialization failure,
// a deadlock or a write that found the database other than the batch read it.
const maxRetries = 8

// Apply applies changes in order, in one transaction, and returns one Result per
// change. A batch costs two round trips however many changes it carries: the first
// begins the transaction, takes the advisory locks of every object the batch is about
// (in sorted order, so that concurrent batches never deadlock) and reads what the
// batch depends on; clerksync.Plan then decides every change; the second writes the
// plan with one multi-row statement per table and kind of write, and commits. The
// locks keep what was read from changing before the commit, in this process and in
// every other replica.
//
// A change that is malformed or that the database refuses on its own is recorded as a
// dead letter and the others are applied: when the server refuses a write, the batch
// runs again writing one row per statement, to find the change at fault, and then
// again with that change as a dead letter. Refusals are rare (the decoder has checked
// the values already), so the common case keeps its two round trips. Apply returns
// an error, and commits nothing, when the database is unreachable or ctx ends (code
// EUNAVAILABLE).
func (s *Store) Apply(ctx context.Context, changes []clerksync.Change) ([]clerksync.Result, error) {
	return s.applyBatch(ctx, changes, false)
}

// Preview returns what Apply would return for changes without changing anything: the
// batch runs as Apply runs it, and its transaction is rolled back.
func (s *Store) Preview(ctx context.Context, changes []clerksync.Change) ([]clerksync.Result, error) {
	return s.applyBatch(ctx, changes, true)
}

func (s *Store) applyBatch(ctx context.Context, changes []clerksync.Change, dryRun bool) ([]clerksync.Result, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("apply batch", err)
	}
	b := &batch{Batch: clerksync.NewBatch(changes), lost: make([]bool, len(changes)), dryRun: dryRun}
	b.locks = lockKeys(b.Batch)
	b.keys = b.Keys()

	for retries := 0; ; {
		results, refused, err := s.run(ctx, b)
		switch {
		case err == nil:
			return results, nil
		case refused >= 0:
			// The database refused change refused: record it as a dead letter, or, if even
			// that was refused, leave it out.
			if b.Poison[refused] == "" {
				pgErr, _ := refusedChange(err)
				b.Poison[refused] = fmt.Sprintf("the database refused the change: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
			} else {
				b.lost[refused] = true
			}
			b.careful = false
		case refusedAnywhere(err) && !b.careful:
			// A multi-row statement was refused: run the batch again one row per
			// statement to find the change at fault.
			b.careful = true
		case (retryable(err) || errors.Is(err, errGuard)) && retries < maxRetries:
			retries++
			s.log.DebugContext(ctx, "batch retried", slog.Int("changes", len(changes)), slog.Any("error", err))
		default:
			return nil, classify("apply batch", err)
		}
	}
}

// batch is what Apply knows of its changes across runs.
type batch struct {
	*clerksync.Batch
	lost   []bool  // a poison change whose dead letter the database refused too
	locks  []int64 // sorted advisory lock keys
	keys   *clerksync.Keys
	dryRun bool
	// careful writes one row per statement, so that a refusal names its change.
	careful bool
}

// errGuard reports a write that found the database other than the batch read it (a
// guard in a statement disagreed with the plan): some writer that does not take the
// advisory locks changed it, and the batch is run again.
var errGuard = errors.New("a write found the database other than the batch read it")

// refusedAnywhere reports whether err is a refusal of values (see refusedChange).
func refusedAnywhere(err error) bool {
	_, ok := refusedChange(err)
	return ok
}

// run runs the batch once. It returns the results, or the index of the change whose
// write the database refused (-1 for none) with the error.
func (s *Store) run(ctx context.Context, b *batch) (_ []clerksync.Result, refused int, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, -1, err
	}
	defer conn.Release()
	now := s.now()

	snap, err := s.read(ctx, conn, b)
	if err != nil {
		rollback(ctx, conn)
		return nil, -1, err
	}
	ws := clerksync.Plan(b.Batch, snap, now)
	w := &writer{store: s, batch: b, ws: ws, now: now}
	refused, err = w.send(ctx, conn)
	if err != nil {
		rollback(ctx, conn)
		return nil, refused, err
	}
	for i, lost := range b.lost {
		if lost {
			ws.Results[i] = clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: b.Poison[i]}
		}
	}
	return ws.Results, -1, nil
}

// rollback ends the failed transaction on conn so that the connection can be reused;
// when it cannot, the pool discards the connection on release.
func rollback(ctx context.Context, conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	conn.Exec(ctx, "ROLLBACK") //nolint:errcheck // release destroys a connection left in a transaction
}

// lockKeys returns the sorted, distinct advisory lock keys of changes: every object a
// change reads or writes the state of — the object, its organization, a membership's
// user, the user the change concerns, the slot of a role or permission — or, for a
// change about no object, its svix-id. Two batches that could decide differently for
// seeing each other's writes take a common lock, and taking the locks in sorted order
// keeps concurrent batches from deadlocking on each other.
func lockKeys(b *clerksync.Batch) []int64 {
	keys := make([]int64, 0, len(b.Changes)*2)
	for i := range b.Changes {
		c := &b.Changes[i]
		n := len(keys)
		if c.Kind.Valid() && c.ID != "" {
			keys = append(keys, lockKey(c.Kind.String(), c.ID))
		}
		if c.UserID != "" {
			keys = append(keys, lockKey(clerksync.KindUser.String(), c.UserID))
		}
		if row := b.Row(i); row != nil {
			t := c.Kind.Table()
			if t.Parent != "" {
				keys = append(keys, lockKey(t.ParentKind.String(), clerksync.RowText(row[t.Col(t.Parent)])))
			}
			if c.Kind == clerksync.KindMembership {
				keys = append(keys, lockKey(clerksync.KindUser.String(), clerksync.RowText(row[t.Col("user_id")])))
			} else if len(t.Slot) > 0 {
				keys = append(keys, lockKey("slot "+c.Kind.String(), clerksync.RowText(row[t.Col(t.Slot[0])])))
			}
		}
		if len(keys) == n && c.EventID != "" {
			keys = append(keys, lockKey("event", c.EventID))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// beginStatements is how many statements begin queues.
const beginStatements = 3

// begin queues the start of a batch's transaction: BEGIN, custom plans, and its locks.
//
// The batch's statements are prepared once per connection and run with arrays of ids,
// such as svix_id = ANY($1). Left to itself, PostgreSQL switches a prepared statement
// to a generic plan after a few runs and keeps it: a generic plan made while the event
// log was small scans the whole table for every batch once it is large (more than
// twice the database's CPU per delivery, measured). Planning each run for the values
// and table sizes at hand costs far less than one such scan.
func begin(pb *pgx.Batch, locks []int64) {
	pb.Queue("BEGIN")
	pb.Queue("SET LOCAL plan_cache_mode = force_custom_plan")
	pb.Queue("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", int64Array(locks))
}
