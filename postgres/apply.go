package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

// maxRetries bounds how many times a batch is run again after a serialization failure,
// a deadlock or a guard that saw another transaction's write.
const maxRetries = 8

// Each change is one statement that decides and writes in one go: whether the
// svix-id was seen (a replay is expected to have been), whether the user has a
// tombstone, how the stored updated_at compares, then the writes, then the entry of the
// event log. The statement sees the batch's earlier statements, and the batch holds the
// advisory locks of its users, so the decision cannot be overtaken by another batch.
// The last column, ok, says the guards in the writes agreed with the decision; when
// they do not, the batch is run again.
//
// Parameters shared by the three statements:
//
//	$1 svix_id ('' for none)   $2 replay   $3 user_id ('' for none)   $4 type
//	$5 event_time ms (or NULL) $6 body     $7 now
var (
	// st, the first CTE of every statement: dup (the svix-id was seen and this is not
	// a replay) and dead (the user has a tombstone). MATERIALIZED keeps the planner
	// from repeating its lookups wherever plan uses them.
	sqlState = `
WITH st AS MATERIALIZED (
    SELECT
        $1::text <> '' AND NOT $2::bool
            AND EXISTS (SELECT 1 FROM clerksync_events WHERE svix_id = $1::text) AS dup,
        $3::text <> ''
            AND EXISTS (SELECT 1 FROM clerksync_tombstones WHERE user_id = $3::text) AS dead`

	// The entry of the event log; a replayed svix-id updates its entry
	// (sqlschema.EventReplaySet).
	sqlRecord = `
ev AS (
    INSERT INTO clerksync_events AS e
        (svix_id, type, user_id, outcome, action, error, event_time, received_at, body, redacted)
    SELECT $1::text, $4::text, NULLIF($3::text, ''), outcome, action, %s, $5::bigint, $7::timestamptz,
        CASE WHEN redact THEN NULL ELSE $6::bytea END, redact
    FROM plan WHERE $1::text <> '' AND NOT dup
    ON CONFLICT (svix_id) DO UPDATE SET
    ` + sqlschema.EventReplaySet("e") + `
    WHERE $2::bool
    RETURNING 1
)`

	// The entry of a change that has no error (upserts and deletes) and of one that
	// has ($9).
	sqlRecordNoError = fmt.Sprintf(sqlRecord, "NULL::text")
	sqlRecordError   = fmt.Sprintf(sqlRecord, "NULLIF($9::text, '')")

	// $8.. are the profile's columns; $15 is updated_at.
	sqlUpsert = sqlState + `,
        (SELECT updated_at FROM profiles WHERE user_id = $3::text) AS old
),
plan AS (
    SELECT dup, dead AS redact,
        CASE WHEN dup THEN 'duplicate' WHEN dead OR old > $15::timestamptz THEN 'stale' ELSE 'applied' END AS outcome,
        CASE WHEN dup OR dead OR old > $15::timestamptz THEN 'none'
             WHEN old IS NULL THEN 'created'
             WHEN old = $15::timestamptz THEN 'unchanged'
             ELSE 'updated' END AS action
    FROM st
),
up AS (
    INSERT INTO profiles AS p (
        user_id, email, email_verified, phone, username, first_name, last_name, image_url,
        external_id, public_metadata, unsafe_metadata, private_metadata, banned, locked,
        created_at, updated_at, last_sign_in_at, last_active_at, synced_at, sync_source, raw)
    SELECT $3::text, $8::text, $9::bool, $10::text, $11::text, $12::text, $13::text, $16::text,
        $17::text, $18::text::jsonb, $19::text::jsonb, $20::text::jsonb, $21::bool, $22::bool,
        $14::timestamptz, $15::timestamptz, $23::timestamptz, $24::timestamptz, $7::timestamptz, $25::text, $26::text::jsonb
    FROM plan WHERE outcome = 'applied'
    ON CONFLICT (user_id) DO UPDATE SET
    ` + sqlschema.ProfileUpsertSet + `
    WHERE p.updated_at <= excluded.updated_at
    RETURNING 1
),` + sqlRecordNoError + `
SELECT outcome, action,
    (outcome = 'applied') = EXISTS (SELECT 1 FROM up)
    AND ($1::text = '' OR dup OR EXISTS (SELECT 1 FROM ev)) AS ok
FROM plan`

	// $8 is the source of the tombstone.
	sqlDelete = sqlState + `
),
plan AS (
    SELECT dup, true AS redact,
        CASE WHEN dup THEN 'duplicate' WHEN dead THEN 'stale' ELSE 'applied' END AS outcome,
        CASE WHEN dup OR dead THEN 'none' ELSE 'deleted' END AS action
    FROM st
),
tomb AS (
    INSERT INTO clerksync_tombstones (user_id, deleted_at, source, event_id)
    SELECT $3::text, $7::timestamptz, $8::text, NULLIF($1::text, '')
    FROM plan WHERE outcome = 'applied'
    RETURNING 1
),
gone AS (
    DELETE FROM profiles
    WHERE user_id = $3::text AND (SELECT outcome FROM plan) = 'applied'
),
redacted AS (
    UPDATE clerksync_events SET body = NULL, redacted = true
    WHERE user_id = $3::text AND body IS NOT NULL AND svix_id <> $1::text
        AND (SELECT outcome FROM plan) = 'applied'
),` + sqlRecordNoError + `
SELECT outcome, action,
    (outcome = 'applied') = EXISTS (SELECT 1 FROM tomb)
    AND ($1::text = '' OR dup OR EXISTS (SELECT 1 FROM ev)) AS ok
FROM plan`

	// $8 is the outcome (ignored or dead_letter), $9 the error.
	sqlLog = sqlState + `
),
plan AS (
    SELECT dup, dead AS redact,
        CASE WHEN dup THEN 'duplicate' ELSE $8::text END AS outcome,
        'none' AS action
    FROM st
),` + sqlRecordError + `
SELECT outcome, action, dup OR EXISTS (SELECT 1 FROM ev) AS ok
FROM plan`
)

// Apply applies changes in order, in one transaction sent as one pipeline, and returns
// one Result per change. A change that is malformed or that the database refuses on
// its own is recorded as a dead letter and the others are applied: when the server
// refuses a statement, the batch is rolled back and run again with that change as a
// dead letter. (A savepoint per change would not spare the re-run: after an error the
// server skips the rest of the pipeline, so the following changes must be sent again
// anyway; refusals are rare, and the common case keeps its single round trip.) Apply
// returns an error, and commits nothing, when the database is unreachable or ctx ends
// (code EUNAVAILABLE).
func (s *Store) Apply(ctx context.Context, changes []clerksync.Change) ([]clerksync.Result, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("apply batch", err)
	}
	b := &batch{changes: changes, poison: make([]string, len(changes)), lost: make([]bool, len(changes))}
	for i := range changes {
		if err := changes[i].Validate(); err != nil {
			b.poison[i] = clerksync.ErrorMessage(err)
		}
	}
	b.locks = lockKeys(changes)

	for retries := 0; ; {
		now := s.now()
		results, failed, err := s.run(ctx, b, now)
		switch {
		case err == nil:
			return results, nil
		case failed >= 0:
			// The database refused change failed: record it as a dead letter, or, if even
			// that was refused, leave it out.
			if b.poison[failed] == "" {
				pgErr, _ := refusedChange(err)
				b.poison[failed] = fmt.Sprintf("the database refused the change: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
			} else {
				b.lost[failed] = true
			}
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
	changes []clerksync.Change
	poison  []string // why a change is recorded as a dead letter instead ("" to apply it)
	lost    []bool   // a poison change whose dead letter the database refused too
	locks   []int64  // sorted advisory lock keys
}

// errGuard reports a write whose guard disagreed with the statement's decision: some
// other transaction wrote in between, and the batch is run again.
var errGuard = errors.New("a guard of the database disagreed with the batch's decision")

// run sends the batch as one pipeline. It returns the results, or the index of the
// change the database refused (-1 for none) with the error.
func (s *Store) run(ctx context.Context, b *batch, now time.Time) (_ []clerksync.Result, failed int, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, -1, err
	}
	defer conn.Release()

	pb := &pgx.Batch{}
	pb.Queue("BEGIN")
	pb.Queue("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", b.locks)
	queued := make([]int, 0, len(b.changes)) // the change of each queued statement
	for i := range b.changes {
		if b.lost[i] {
			continue
		}
		if queue(pb, &b.changes[i], b.poison[i], now) {
			queued = append(queued, i)
		}
	}
	pb.Queue("COMMIT")

	results := make([]clerksync.Result, len(b.changes))
	for i, p := range b.poison {
		if p != "" {
			results[i] = clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: p}
		}
	}
	failed = -1
	err = func() error {
		br := conn.SendBatch(ctx, pb)
		defer br.Close()
		for range 2 { // BEGIN, locks
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		for _, i := range queued {
			var outcome, action string
			var ok bool
			if err := br.QueryRow().Scan(&outcome, &action, &ok); err != nil {
				if _, refused := refusedChange(err); refused {
					failed = i
				}
				return err
			}
			if !ok {
				return errGuard
			}
			r := &results[i]
			r.Outcome, _ = clerksync.ParseOutcome(outcome)
			r.Action = parseAction(action)
			if r.Outcome == clerksync.OutcomeDeadLetter && r.Error == "" {
				r.Error = b.changes[i].Error
			}
		}
		_, err := br.Exec() // COMMIT
		return err
	}()
	if err != nil {
		rollback(ctx, conn)
		return nil, failed, err
	}
	return results, -1, nil
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

// queue adds c's statement to pb and reports whether it did: a poison change without a
// svix-id has nothing to record.
func queue(pb *pgx.Batch, c *clerksync.Change, poison string, now time.Time) bool {
	common := []any{c.EventID, c.Replay, c.UserID, c.EventType, sqlschema.Millis(c.EventTime), body(c.Body), now}
	switch {
	case poison != "":
		if c.EventID == "" {
			return false
		}
		pb.Queue(sqlLog, append(common, clerksync.OutcomeDeadLetter.String(), poison)...)
	case c.Op == clerksync.OpUpsertUser:
		p := c.Profile
		pb.Queue(sqlUpsert, append(common,
			sqlschema.Text(p.Email), p.EmailVerified, sqlschema.Text(p.Phone), sqlschema.Text(p.Username), sqlschema.Text(p.FirstName), sqlschema.Text(p.LastName), // $8-$13
			timestamp(p.CreatedAt), timestamp(p.UpdatedAt), // $14, $15
			sqlschema.Text(p.ImageURL), sqlschema.Text(p.ExternalID), // $16, $17
			jsonText(p.PublicMetadata), jsonText(p.UnsafeMetadata), jsonText(p.PrivateMetadata), // $18-$20
			p.Banned, p.Locked, // $21, $22
			timestamp(p.LastSignInAt), timestamp(p.LastActiveAt), // $23, $24
			string(c.Source), jsonText(p.Raw), // $25, $26
		)...)
	case c.Op == clerksync.OpDeleteUser:
		pb.Queue(sqlDelete, append(common, string(c.Source))...)
	case c.Op == clerksync.OpIgnore:
		pb.Queue(sqlLog, append(common, clerksync.OutcomeIgnored.String(), "")...)
	default: // OpDeadLetter
		pb.Queue(sqlLog, append(common, clerksync.OutcomeDeadLetter.String(), c.Error)...)
	}
	return true
}

// lockKeys returns the sorted, distinct advisory lock keys of changes: the user of each
// change, or its svix-id when it is about no user. Taking them in sorted order keeps
// concurrent batches from deadlocking on each other.
func lockKeys(changes []clerksync.Change) []int64 {
	keys := make([]int64, 0, len(changes))
	for i := range changes {
		switch c := &changes[i]; {
		case c.UserID != "":
			keys = append(keys, lockKey("user", c.UserID))
		case c.EventID != "":
			keys = append(keys, lockKey("event", c.EventID))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func parseAction(s string) clerksync.Action {
	for a := clerksync.ActionNone; a <= clerksync.ActionDeleted; a++ {
		if a.String() == s {
			return a
		}
	}
	return clerksync.ActionNone
}

// timestamp returns the time of ms since the Unix epoch, or NULL for 0.
func timestamp(ms int64) any {
	if ms == 0 {
		return nil
	}
	return time.UnixMilli(ms).UTC()
}

// jsonText returns a JSON document as text for the server to parse into jsonb (so that
// the server, not the client, refuses a malformed one), or NULL. The string shares m's
// bytes instead of copying ~4 KB per change: pgx copies them into the message it sends,
// and m is not modified while Apply runs.
func jsonText(m []byte) any {
	if len(m) == 0 {
		return nil
	}
	return unsafe.String(&m[0], len(m))
}

// body returns the kept body of a delivery, or NULL.
func body(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
