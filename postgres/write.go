package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

// arrayType returns the array type a column of type c travels as.
func arrayType(c clerksync.ColumnType) string {
	switch c {
	case clerksync.ColBool:
		return "bool[]"
	case clerksync.ColInt, clerksync.ColTime:
		return "bigint[]"
	}
	return "text[]" // text and JSON
}

// fromArray returns the expression that turns u.name, an element of a column's array,
// into the column's value.
func fromArray(c clerksync.Column, name string) string {
	switch c.Type {
	case clerksync.ColTime:
		return "timestamptz 'epoch' + " + name + " * interval '1 millisecond'"
	case clerksync.ColJSON:
		return name + "::jsonb"
	}
	return name
}

// Per table, the statements that write it; each takes a whole batch's rows as arrays.
type tableWrites struct {
	// upsert writes rows (every column and raw): it inserts new ones, revives
	// soft-deleted ones and updates stored ones; the updated_at guard is repeated in
	// the statement, so that the database itself never lets an older version replace a
	// newer one.
	upsert     string
	hardDelete string
	softDelete string
}

var writes = func() map[clerksync.Kind]*tableWrites {
	m := make(map[clerksync.Kind]*tableWrites)
	for _, t := range clerksync.Tables() {
		var args, names, exprs []string
		for i, c := range t.Columns {
			args = append(args, fmt.Sprintf("$%d::%s", i+1, arrayType(c.Type)))
			names = append(names, fmt.Sprintf("c%d", i))
			exprs = append(exprs, fromArray(c, fmt.Sprintf("u.c%d", i)))
		}
		args = append(args, fmt.Sprintf("$%d::text[]", len(t.Columns)+1))
		names = append(names, "raw")
		exprs = append(exprs, "u.raw::jsonb")
		w := &tableWrites{}
		w.upsert = fmt.Sprintf(`INSERT INTO %s AS t (%s, raw)
SELECT %s FROM unnest(%s) AS u(%s)
ON CONFLICT (%s) DO UPDATE SET %s
WHERE t.deleted_at IS NOT NULL OR t.updated_at IS NULL OR t.updated_at <= excluded.updated_at`,
			t.Name, sqlschema.Columns(t, ""), strings.Join(exprs, ", "), strings.Join(args, ", "),
			strings.Join(names, ", "), t.Key(), sqlschema.UpsertSet(t))
		w.hardDelete = fmt.Sprintf(`DELETE FROM %s WHERE %s = ANY($1::text[])`, t.Name, t.Key())
		w.softDelete = fmt.Sprintf(`UPDATE %s SET %s WHERE %s = ANY($2::text[]) AND deleted_at IS NULL`,
			t.Name, sqlschema.SoftDeleteSet(t, "$1"), t.Key())
		m[t.Kind] = w
	}
	return m
}()

const (
	sqlPlaceholders = `INSERT INTO organizations (org_id, synced_at, sync_source)
SELECT u.id, $1, u.source FROM unnest($2::text[], $3::text[]) AS u(id, source)
ON CONFLICT (org_id) DO NOTHING`

	sqlTombstones = `INSERT INTO clerksync_tombstones (kind, object_id, deleted_at, source, event_id, slot, created_at)
SELECT u.kind, u.id, $1, u.source, u.event_id, u.slot, u.created
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS u(kind, id, source, event_id, slot, created)
ON CONFLICT DO NOTHING`

	sqlEvents = `INSERT INTO clerksync_events AS e (` + sqlschema.EventInsertColumns + `)
SELECT u.id, u.type, u.kind, u.object_id, u.user_id, u.outcome, u.action, u.error, u.event_time, $1, u.body, u.redacted
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bytea[], $12::bool[])
    AS u(id, type, kind, object_id, user_id, outcome, action, error, event_time, body, redacted)
ON CONFLICT (svix_id) DO `

	sqlRedeliveries = `UPDATE clerksync_events e SET attempts = e.attempts + d.n
FROM unnest($1::text[], $2::int[]) AS d(id, n) WHERE e.svix_id = d.id`

	sqlRedact = `UPDATE clerksync_events SET body = NULL, redacted = true WHERE user_id = ANY($1::text[]) AND body IS NOT NULL`

	// The feed's entries take their seqs from clerksync_changes_seq, whose row lock is
	// held until the commit (see migration 00006), and tell listeners of the new last
	// seq when the transaction commits.
	sqlFeed = `WITH s AS (
    UPDATE clerksync_changes_seq SET last_seq = last_seq + $1 RETURNING last_seq
), ins AS (
    INSERT INTO clerksync_changes (seq, id, type, object_id, source, event_id, occurred_at, created_at, data, previous)
    SELECT s.last_seq - $1 + u.ord, u.id, u.type, u.object_id, u.source, u.event_id, u.occurred_at, $2, u.data::json, u.previous::json
    FROM s, unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[])
        WITH ORDINALITY AS u(id, type, object_id, source, event_id, occurred_at, data, previous, ord)
)
SELECT last_seq, pg_notify('clerksync_changes', last_seq::text) FROM s`
)

var (
	sqlNewEvents    = sqlEvents + `NOTHING`
	sqlReplayEvents = sqlEvents + `UPDATE SET ` + sqlschema.EventReplaySet("e")
)

// writer writes one batch's plan.
type writer struct {
	store *Store
	batch *batch
	ws    *clerksync.WriteSet
	now   time.Time

	pb *pgx.Batch
	// generic says that the transaction's plan_cache_mode is force_generic_plan (see
	// planFor); begin leaves it at force_custom_plan.
	generic bool
	// checks says, for each queued statement after BEGIN, how to check its result.
	checks []check
}

// check is what a queued statement must do: affect exactly want rows (-1: any), and
// the change to blame for a refusal (-1: none).
type check struct {
	what   string
	want   int
	change int
	feed   bool // the feed's statement, whose row says the last seq
}

func (w *writer) queue(c check, sql string, args ...any) {
	w.planFor(sql)
	w.pb.Queue(sql, args...)
	w.checks = append(w.checks, c)
}

// planFor queues a change of the transaction's plan_cache_mode when the statement sql
// wants the other one. The batch's transaction plans each statement for its values
// (see begin); the inserts from unnest, though, have one plan whatever the values and
// the table sizes (rows come from the arrays, and ON CONFLICT finds its row through
// the key's index), so planning them again for every batch is wasted: generic plans
// for them took 5-9% off the server's CPU per delivery (paired runs). The statements
// that look rows up by id (deletes, redeliveries, redaction) keep custom plans.
func (w *writer) planFor(sql string) {
	generic := genericPlans[sql]
	if generic == w.generic {
		return
	}
	mode := "force_custom_plan"
	if generic {
		mode = "force_generic_plan"
	}
	w.pb.Queue("SET LOCAL plan_cache_mode = " + mode)
	w.checks = append(w.checks, check{what: "set plan_cache_mode", want: -1, change: -1})
	w.generic = generic
}

// genericPlans are the writes whose plan does not depend on their values: inserts of
// the rows of arrays.
var genericPlans = func() map[string]bool {
	m := map[string]bool{sqlPlaceholders: true, sqlTombstones: true, sqlNewEvents: true, sqlReplayEvents: true, sqlFeed: true}
	for _, w := range writes {
		m[w.upsert] = true
	}
	return m
}()

// send sends the batch's writes as one pipeline and checks their results, then, when
// every write did what the plan said, commits (or rolls back a preview). The COMMIT
// is not part of the pipeline: a write that affected other rows than planned is not
// an error to the server, which would go on and commit it. It returns the index of the
// change whose write the database refused (-1 for none) with the error.
func (w *writer) send(ctx context.Context, conn *pgxpool.Conn) (int, error) {
	w.pb = &pgx.Batch{}
	w.queueObjects()
	w.queueTombstones()
	w.queueEvents()
	w.queueFeed()
	if refused, err := w.run(ctx, conn); err != nil {
		return refused, err
	}
	end := "COMMIT"
	if w.batch.dryRun {
		end = "ROLLBACK"
	}
	if _, err := conn.Exec(ctx, end); err != nil {
		return -1, fmt.Errorf("%s: %w", strings.ToLower(end), err)
	}
	return -1, nil
}

// run sends the queued writes and checks each one's result.
func (w *writer) run(ctx context.Context, conn *pgxpool.Conn) (int, error) {
	if w.pb.Len() == 0 {
		return -1, nil
	}
	br := conn.SendBatch(ctx, w.pb)
	defer br.Close()
	for _, c := range w.checks {
		if c.feed {
			var seq int64
			var notified any
			if err := br.QueryRow().Scan(&seq, &notified); err != nil {
				return -1, fmt.Errorf("%s: %w", c.what, err)
			}
			first := seq - int64(len(w.ws.Feed)) + 1
			for i := range w.ws.Feed {
				w.ws.Feed[i].Seq = first + int64(i)
			}
			continue
		}
		tag, err := br.Exec()
		if err != nil {
			if _, refused := refusedChange(err); refused && c.change >= 0 {
				return c.change, err
			}
			return -1, fmt.Errorf("%s: %w", c.what, err)
		}
		if c.want >= 0 && tag.RowsAffected() != int64(c.want) {
			return -1, fmt.Errorf("%s: %w (%d rows, want %d)", c.what, errGuard, tag.RowsAffected(), c.want)
		}
	}
	return -1, br.Close()
}

// groups returns the writes of ws.Objects split by statement, each group's writes in
// the order they come: removals of children before their parents, then placeholders,
// then rows, parents before children. Careful gives every write a group of its own.
func (w *writer) groups() [][]*clerksync.ObjectWrite {
	type groupKey struct {
		kind clerksync.Kind
		op   int // 0 remove, 1 placeholder, 2 row
	}
	var order []groupKey
	byKey := make(map[groupKey][]*clerksync.ObjectWrite)
	for i := range w.ws.Objects {
		o := &w.ws.Objects[i]
		k := groupKey{o.Key.Kind, 2}
		switch {
		case o.Row == nil:
			k.op = 0
		case o.Placeholder:
			k.op = 1
		}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], o)
	}
	slices.SortStableFunc(order, func(a, b groupKey) int {
		if a.op != b.op {
			return a.op - b.op
		}
		if a.op == 0 {
			return int(b.kind) - int(a.kind) // children first
		}
		return int(a.kind) - int(b.kind)
	})
	var out [][]*clerksync.ObjectWrite
	for _, k := range order {
		g := byKey[k]
		if w.batch.careful {
			for _, o := range g {
				out = append(out, []*clerksync.ObjectWrite{o})
			}
			continue
		}
		out = append(out, g)
	}
	return out
}

// blame returns the change to blame for a refusal of group g: its only write's, when
// it has one write.
func blame(g []*clerksync.ObjectWrite) int {
	if len(g) == 1 {
		return g[0].Change
	}
	return -1
}

func (w *writer) queueObjects() {
	for _, g := range w.groups() {
		first := g[0]
		t := first.Key.Kind.Table()
		tw := writes[first.Key.Kind]
		ids := make(stringArray, len(g))
		for i, o := range g {
			ids[i] = o.Key.ID
		}
		switch {
		case first.Row == nil && w.store.softDelete:
			w.queue(check{what: "soft-delete from " + t.Name, want: len(g), change: blame(g)}, tw.softDelete, w.now, ids)
		case first.Row == nil:
			w.queue(check{what: "delete from " + t.Name, want: len(g), change: blame(g)}, tw.hardDelete, ids)
		case first.Placeholder:
			sources := make(stringArray, len(g))
			for i, o := range g {
				sources[i] = clerksync.RowText(o.Row[t.Col("sync_source")])
			}
			w.queue(check{what: "write placeholder organizations", want: -1, change: blame(g)}, sqlPlaceholders, w.now, ids, sources)
		default:
			args := make([]any, 0, len(t.Columns)+1)
			for i, c := range t.Columns {
				args = append(args, column(c, g, i))
			}
			raws := make(textArray, len(g))
			for j, o := range g {
				raws[j] = jsonText(o.Raw)
			}
			args = append(args, raws)
			w.queue(check{what: "write " + t.Name, want: len(g), change: blame(g)}, tw.upsert, args...)
		}
	}
}

// column returns column i of the rows of g as an array for pgx. Its elements are
// values, not pointers, so that a batch's arrays take one allocation each.
func column(c clerksync.Column, g []*clerksync.ObjectWrite, i int) any {
	switch c.Type {
	case clerksync.ColBool:
		out := make([]bool, len(g))
		for j, o := range g {
			out[j] = clerksync.RowBool(o.Row[i])
		}
		return out
	case clerksync.ColInt, clerksync.ColTime:
		out := make(int8Array, len(g))
		for j, o := range g {
			out[j].Int64, out[j].Valid = o.Row[i].(int64)
		}
		return out
	case clerksync.ColJSON:
		out := make(textArray, len(g))
		for j, o := range g {
			out[j] = jsonText(clerksync.RowJSON(o.Row[i]))
		}
		return out
	}
	out := make(textArray, len(g))
	for j, o := range g {
		out[j].String, out[j].Valid = o.Row[i].(string)
	}
	return out
}

// jsonText returns a JSON document as text for the server to parse (so that the
// server, not the client, refuses a malformed one), NULL when empty. The string shares
// m's bytes instead of copying ~4 KB per change: pgx copies them into the message it
// sends, and m is not modified while Apply runs.
func jsonText(m json.RawMessage) pgtype.Text {
	if len(m) == 0 {
		return pgtype.Text{}
	}
	return pgtype.Text{String: unsafe.String(&m[0], len(m)), Valid: true}
}

// text returns s, NULL when "".
func text(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

// millis returns ms, NULL when 0.
func millis(ms int64) pgtype.Int8 { return pgtype.Int8{Int64: ms, Valid: ms != 0} }

func (w *writer) queueTombstones() {
	ts := w.ws.Tombstones
	if len(ts) == 0 {
		return
	}
	groups := [][]clerksync.Tombstone{ts}
	if w.batch.careful {
		groups = groups[:0]
		for i := range ts {
			groups = append(groups, ts[i:i+1])
		}
	}
	for _, g := range groups {
		kinds, ids, sources, events, slots := make(stringArray, len(g)), make(stringArray, len(g)), make(stringArray, len(g)), make(textArray, len(g)), make(textArray, len(g))
		created := make(int8Array, len(g))
		for i, t := range g {
			kinds[i], ids[i], sources[i] = t.Key.Kind.String(), t.Key.ID, string(t.Source)
			events[i], slots[i], created[i] = text(t.EventID), text(t.Slot), millis(t.CreatedAt)
		}
		change := -1
		if len(g) == 1 {
			change = g[0].Change
		}
		w.queue(check{what: "write tombstones", want: -1, change: change}, sqlTombstones, w.now, kinds, ids, sources, events, slots, created)
	}
}

func (w *writer) queueEvents() {
	var fresh, replays []clerksync.EventWrite
	for _, e := range w.ws.Events {
		if w.batch.lost[e.Change] {
			continue
		}
		if w.batch.Changes[e.Change].Replay {
			replays = append(replays, e)
		} else {
			fresh = append(fresh, e)
		}
	}
	for _, set := range []struct {
		events []clerksync.EventWrite
		sql    string
		check  bool
	}{{fresh, sqlNewEvents, true}, {replays, sqlReplayEvents, false}} {
		groups := [][]clerksync.EventWrite{set.events}
		if w.batch.careful {
			groups = groups[:0]
			for i := range set.events {
				groups = append(groups, set.events[i:i+1])
			}
		}
		for _, g := range groups {
			if len(g) == 0 {
				continue
			}
			w.queueEventGroup(g, set.sql, set.check)
		}
	}
	if len(w.ws.Redeliveries) > 0 {
		ids := make(stringArray, 0, len(w.ws.Redeliveries))
		ns := make([]int32, 0, len(w.ws.Redeliveries))
		for id, n := range w.ws.Redeliveries {
			ids = append(ids, id)
			ns = append(ns, int32(n))
		}
		w.queue(check{what: "count redeliveries", want: len(ids), change: -1}, sqlRedeliveries, ids, ns)
	}
	if len(w.ws.Redact) > 0 {
		w.queue(check{what: "redact events", want: -1, change: -1}, sqlRedact, w.ws.Redact)
	}
}

func (w *writer) queueEventGroup(g []clerksync.EventWrite, sql string, exact bool) {
	n := len(g)
	ids, types, outcomes, actions := make(stringArray, n), make(stringArray, n), make(stringArray, n), make(stringArray, n)
	kinds, objects, users, errs := make(textArray, n), make(textArray, n), make(textArray, n), make(textArray, n)
	times := make(int8Array, n)
	bodies := make([][]byte, n)
	redacted := make([]bool, n)
	for i, e := range g {
		c := &w.batch.Changes[e.Change]
		ids[i], types[i] = c.EventID, c.EventType
		if c.Kind.Valid() {
			kinds[i] = text(c.Kind.String())
		}
		objects[i], users[i] = text(c.ID), text(c.UserID)
		outcomes[i], actions[i], errs[i] = e.Result.Outcome.String(), e.Result.Action.String(), text(e.Result.Error)
		times[i] = millis(c.EventTime)
		if !e.Redacted && len(c.Body) > 0 {
			bodies[i] = c.Body
		}
		redacted[i] = e.Redacted
	}
	want := -1
	if exact {
		want = n // a svix-id recorded meanwhile by a writer without the locks
	}
	change := -1
	if n == 1 {
		change = g[0].Change
	}
	w.queue(check{what: "record events", want: want, change: change}, sql,
		w.now, ids, types, kinds, objects, users, outcomes, actions, errs, times, bodies, redacted)
}

func (w *writer) queueFeed() {
	f := w.ws.Feed
	if len(f) == 0 {
		return
	}
	n := len(f)
	ids, types, objects, sources := make(stringArray, n), make(stringArray, n), make(stringArray, n), make(stringArray, n)
	events, data, previous := make(textArray, n), make(textArray, n), make(textArray, n)
	occurred := make(int64Array, n)
	for i := range f {
		e := &f[i]
		ids[i], types[i], objects[i], sources[i] = e.ID, e.Type, e.ObjectID, string(e.Source)
		events[i], occurred[i] = text(e.EventID), e.OccurredAt
		data[i], previous[i] = jsonText(e.Data), jsonText(e.Previous)
	}
	w.queue(check{what: "record the changes feed", want: -1, change: -1, feed: true}, sqlFeed,
		n, w.now, ids, types, objects, sources, events, occurred, data, previous)
}
