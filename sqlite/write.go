package sqlite

import (
	"encoding/json"
	"fmt"
	"strings"
	"unsafe"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

// The statements that write a batch's plan (clerksync.WriteSet).
const (
	sqlInsertEvent = `INSERT INTO clerksync_events (` + sqlschema.EventInsertColumns + `)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

	// A replayed svix-id updates its entry (sqlschema.EventReplaySet).
	sqlReplayEvent = sqlInsertEvent + `
ON CONFLICT (svix_id) DO UPDATE SET
    `

	sqlRedeliveries = `UPDATE clerksync_events SET attempts = attempts + ? WHERE svix_id = ?`

	sqlRedact = `UPDATE clerksync_events SET body = NULL, redacted = 1 WHERE user_id = ? AND body IS NOT NULL`

	sqlInsertTombstone = `INSERT INTO clerksync_tombstones (kind, object_id, deleted_at, source, event_id, slot, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`


	sqlPlaceholderOrg = `INSERT INTO organizations (org_id, synced_at, sync_source) VALUES (?, ?, ?)
ON CONFLICT (org_id) DO NOTHING`
)

var sqlReplay = sqlReplayEvent + sqlschema.EventReplaySet("clerksync_events")

// feedChunks are the numbers of entries one statement records, largest first: a
// batch's entries go in as few statements as these sizes allow (37 as 16, 16, 4 and
// 1), since a statement's own cost is most of a small row's.
var feedChunks = []int{64, 16, 4, 1}

// sqlInsertFeed[n] records n entries of the changes feed.
var sqlInsertFeed = func() map[int]string {
	m := make(map[int]string, len(feedChunks))
	for _, n := range feedChunks {
		rows := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?),\n", n), ",\n")
		m[n] = "INSERT INTO clerksync_changes (id, type, object_id, source, event_id, occurred_at, created_at, data, previous)\nVALUES " + rows
	}
	return m
}()

// tableWrites are the statements that write one table.
type tableWrites struct {
	insert     string // every column and raw; revives a soft-deleted row
	hardDelete string
	softDelete string
	// updates[mask] updates a stored row, assigning the indexed columns whose bit is
	// set in mask (see updateMask) and every other column. SQLite rewrites an index
	// entry whenever its column is assigned, even to the same value, and every
	// rewritten index page is one more page in the WAL; so an indexed column is
	// assigned only when it changed.
	updates []string
	indexed []int // the indexed columns, by position in Columns
}

var writes = func() map[clerksync.Kind]*tableWrites {
	m := make(map[clerksync.Kind]*tableWrites)
	for _, t := range clerksync.Tables() {
		w := &tableWrites{}
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(t.Columns)+1), ", ")
		w.insert = fmt.Sprintf("INSERT INTO %s (%s, raw) VALUES (%s)\nON CONFLICT (%s) DO UPDATE SET %s",
			t.Name, sqlschema.Columns(t, ""), ph, t.Key(), sqlschema.UpsertSet(t))
		w.hardDelete = fmt.Sprintf("DELETE FROM %s WHERE %s = ?", t.Name, t.Key())
		w.softDelete = fmt.Sprintf("UPDATE %s SET %s WHERE %s = ? AND deleted_at IS NULL", t.Name, sqlschema.SoftDeleteSet(t, "?"), t.Key())
		for i, c := range t.Columns {
			if c.Indexed {
				w.indexed = append(w.indexed, i)
			}
		}
		w.updates = make([]string, 1<<len(w.indexed))
		for mask := range w.updates {
			var set []string
			bit := 0
			for _, c := range t.Columns[1:] {
				if c.Indexed {
					on := mask&(1<<bit) != 0
					bit++
					if !on {
						continue
					}
				}
				set = append(set, c.Name+" = ?")
			}
			set = append(set, "raw = ?")
			// The updated_at guard is repeated in the statement, so that the database
			// itself never lets an older version replace a newer one; a placeholder
			// has none.
			w.updates[mask] = fmt.Sprintf("UPDATE %s SET %s\nWHERE %s = ? AND deleted_at IS NULL AND (updated_at IS NULL OR updated_at <= ?)",
				t.Name, strings.Join(set, ", "), t.Key())
		}
		m[t.Kind] = w
	}
	return m
}()

// write writes the plan ws of batch b. It returns the index of the change whose
// write the database refused (-1 for none) with the error.
func (t *txn) write(ws *clerksync.WriteSet, b *batch) (int, error) {
	now := t.now.UnixMilli()
	for i := range ws.Objects {
		if err := t.writeObject(&ws.Objects[i], now); err != nil {
			return refusal(err, ws.Objects[i].Change)
		}
	}
	for _, tb := range ws.Tombstones {
		_, err := t.exec(sqlInsertTombstone, tb.Key.Kind.String(), tb.Key.ID, now, string(tb.Source),
			text(tb.EventID), text(tb.Slot), millis(tb.CreatedAt))
		if err != nil {
			return refusal(err, tb.Change)
		}
	}
	for _, e := range ws.Events {
		if b.lost[e.Change] {
			continue
		}
		c := &b.Changes[e.Change]
		q := sqlInsertEvent
		if c.Replay {
			q = sqlReplay
		}
		var body any
		if !e.Redacted && len(c.Body) > 0 {
			body = c.Body
		}
		var kind any
		if c.Kind.Valid() {
			kind = c.Kind.String()
		}
		_, err := t.exec(q, c.EventID, c.EventType, kind, text(c.ID), text(c.UserID),
			e.Result.Outcome.String(), e.Result.Action.String(), text(e.Result.Error),
			millis(c.EventTime), now, body, e.Redacted)
		if err != nil {
			return refusal(err, e.Change)
		}
	}
	for id, n := range ws.Redeliveries {
		if _, err := t.exec(sqlRedeliveries, n, id); err != nil {
			return -1, err
		}
	}
	for _, u := range ws.Redact {
		if _, err := t.exec(sqlRedact, u); err != nil {
			return -1, err
		}
	}
	if err := t.writeFeed(ws.Feed, now); err != nil {
		return -1, err
	}
	return -1, nil
}

// writeFeed records the entries feed, in order, and sets their Seq: SQLite gives each
// row of a statement the largest seq plus one, in the order of its VALUES.
func (t *txn) writeFeed(feed []clerksync.FeedEntry, now int64) error {
	args := make([]any, 0, 9*min(len(feed), feedChunks[0]))
	for len(feed) > 0 {
		n := feedChunks[len(feedChunks)-1]
		for _, c := range feedChunks {
			if c <= len(feed) {
				n = c
				break
			}
		}
		args = args[:0]
		for i := range feed[:n] {
			f := &feed[i]
			args = append(args, f.ID, f.Type, f.ObjectID, string(f.Source), text(f.EventID),
				f.OccurredAt, now, jsonText(f.Data), jsonText(f.Previous))
		}
		res, err := t.exec(sqlInsertFeed[n], args...)
		if err != nil {
			return err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for i := range feed[:n] {
			feed[i].Seq = last - int64(n-1-i)
		}
		if t.firstSeq == 0 {
			t.firstSeq = feed[0].Seq
		}
		t.lastSeq = last
		feed = feed[n:]
	}
	return nil
}

// refusal returns change with err when the database refused the change's values, and
// -1 otherwise.
func refusal(err error, change int) (int, error) {
	if refusedChange(err) {
		return change, err
	}
	return -1, err
}

// writeObject writes the final state of one object.
func (t *txn) writeObject(w *clerksync.ObjectWrite, now int64) error {
	tbl := w.Key.Kind.Table()
	tw := writes[w.Key.Kind]
	switch {
	case w.Row == nil && t.store.softDelete:
		_, err := t.exec(tw.softDelete, now, w.Key.ID)
		return err
	case w.Row == nil:
		_, err := t.exec(tw.hardDelete, w.Key.ID)
		return err
	case w.Placeholder:
		st := tbl.Col("sync_source")
		_, err := t.exec(sqlPlaceholderOrg, w.Key.ID, now, w.Row[st])
		return err
	case w.Before == nil:
		args := make([]any, 0, len(w.Row)+1)
		for _, v := range w.Row {
			args = append(args, bind(v))
		}
		args = append(args, jsonText(w.Raw))
		_, err := t.exec(tw.insert, args...)
		return err
	}
	mask := 0
	for bit, i := range tw.indexed {
		if !clerksync.SameValue(tbl.Columns[i], w.Before[i], w.Row[i]) {
			mask |= 1 << bit
		}
	}
	args := make([]any, 0, len(w.Row)+3)
	bit := 0
	for i, c := range tbl.Columns {
		if i == 0 {
			continue
		}
		if c.Indexed {
			on := mask&(1<<bit) != 0
			bit++
			if !on {
				continue
			}
		}
		args = append(args, bind(w.Row[i]))
	}
	args = append(args, jsonText(w.Raw), w.Key.ID, w.Row[tbl.Col("updated_at")])
	res, err := t.exec(tw.updates[mask], args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("update of %s wrote %d rows, want 1", w.Key, n)
	}
	return nil
}

// bind returns a Row value as the driver binds it: JSON as TEXT.
func bind(v any) any {
	if m, ok := v.(json.RawMessage); ok {
		return jsonText(m)
	}
	return v
}

// text returns s for binding, or NULL for "".
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// millis returns ms for binding, or NULL for 0.
func millis(ms int64) any {
	if ms == 0 {
		return nil
	}
	return ms
}

// jsonText returns a JSON document as TEXT, or NULL when there is none. The string
// shares m's bytes instead of copying ~4 KB per write: the driver copies them into
// SQLite when it binds the statement, and m is not modified while Apply runs.
func jsonText(m []byte) any {
	if len(m) == 0 {
		return nil
	}
	return unsafe.String(&m[0], len(m))
}
