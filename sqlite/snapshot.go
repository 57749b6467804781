package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

// The statements that read what a batch depends on (clerksync.Keys). Lists of ids are
// bound as one JSON array and read back with json_each, so that each is one statement
// whatever the batch's size.
const (
	// sqlDataVersion changes when another connection has committed (see knownObjects).
	sqlDataVersion = `PRAGMA data_version`

	sqlSeen = `SELECT svix_id FROM clerksync_events WHERE svix_id IN (SELECT value FROM json_each(?))`

	sqlTombstoned = `SELECT object_id FROM clerksync_tombstones
WHERE kind = ? AND object_id IN (SELECT value FROM json_each(?))`

	sqlSlotTombstones = `SELECT object_id, slot, created_at FROM clerksync_tombstones
WHERE kind = ? AND slot IN (SELECT value FROM json_each(?))`
)

// Per table, the statements that read live rows: by id (with whether the id has a
// tombstone), by slot, and by parent.
type tableReads struct {
	byID     string
	bySlot   string
	byParent [3]string // indexed by parent kind: user, organization
}

var reads = func() map[clerksync.Kind]*tableReads {
	m := make(map[clerksync.Kind]*tableReads)
	for _, t := range clerksync.Tables() {
		r := &tableReads{}
		cols := sqlschema.Columns(t, "t.")
		r.byID = fmt.Sprintf(`SELECT j.value, EXISTS (SELECT 1 FROM clerksync_tombstones tb WHERE tb.kind = '%s' AND tb.object_id = j.value), %s
FROM json_each(?) j LEFT JOIN %s t ON t.%s = j.value AND t.deleted_at IS NULL`, t.Kind, cols, t.Name, t.Key())
		if len(t.Slot) > 0 {
			vals := make([]string, len(t.Slot))
			for i := range t.Slot {
				vals[i] = fmt.Sprintf("json_extract(value, '$[%d]')", i)
			}
			r.bySlot = fmt.Sprintf(`SELECT %s FROM %s t WHERE t.deleted_at IS NULL AND (%s) IN (SELECT %s FROM json_each(?))`,
				cols, t.Name, strings.Join(t.Slot, ", "), strings.Join(vals, ", "))
		}
		for _, parent := range []clerksync.Kind{clerksync.KindUser, clerksync.KindOrganization} {
			if pc := sqlschema.ParentColumns(t, parent); pc != nil {
				r.byParent[parentIndex(parent)] = fmt.Sprintf(`SELECT %s FROM %s t WHERE t.deleted_at IS NULL AND t.%s IN (SELECT value FROM json_each(?))`,
					cols, t.Name, pc[0])
			}
		}
		m[t.Kind] = r
	}
	return m
}()

func parentIndex(k clerksync.Kind) int {
	if k == clerksync.KindUser {
		return 1
	}
	return 2
}

// read reads what keys says the batch depends on into a snapshot, from what the writer
// remembers (known) where it can and from the database otherwise. It returns, besides
// the snapshot, what it read by id from the database, for the writer to remember once
// the batch commits.
func (t *txn) read(keys *clerksync.Keys, known *knownObjects) (*clerksync.Snapshot, map[clerksync.ObjectKey]knownObject, error) {
	snap := clerksync.NewSnapshot()
	var learnt map[clerksync.ObjectKey]knownObject
	if len(keys.EventIDs) > 0 {
		err := t.each(sqlSeen, []any{jsonList(keys.EventIDs)}, func(rows *sql.Rows) error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			snap.AddSeen(id)
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read svix-ids: %w", err)
		}
	}
	for _, k := range clerksync.Kinds {
		tbl := k.Table()
		var missing []string
		for _, id := range keys.IDs[k] {
			if o, ok := known.get(clerksync.ObjectKey{Kind: k, ID: id}); ok {
				o.addTo(snap, k, id)
				continue
			}
			missing = append(missing, id)
		}
		if len(missing) > 0 {
			if learnt == nil {
				learnt = make(map[clerksync.ObjectKey]knownObject, len(missing))
			}
			err := t.each(reads[k].byID, []any{jsonList(missing)}, func(rows *sql.Rows) error {
				var (
					id   string
					dead bool
				)
				row, err := scanRow(rows, tbl, &id, &dead)
				if err != nil {
					return err
				}
				o := knownObject{row: row, deleted: dead}
				o.addTo(snap, k, id)
				learnt[clerksync.ObjectKey{Kind: k, ID: id}] = o
				return nil
			})
			if err != nil {
				return nil, nil, fmt.Errorf("read %s: %w", tbl.Name, err)
			}
		}
		if err := t.readTombstones(snap, k, keys.Tombstones[k], known); err != nil {
			return nil, nil, err
		}
		if len(keys.Slots[k]) > 0 {
			if err := t.readSlots(snap, tbl, keys.Slots[k]); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, parent := range []clerksync.Kind{clerksync.KindUser, clerksync.KindOrganization} {
		ids := keys.Children[parent]
		if len(ids) == 0 {
			continue
		}
		for _, tbl := range clerksync.Tables() {
			q := reads[tbl.Kind].byParent[parentIndex(parent)]
			if q == "" {
				continue
			}
			if err := t.addRows(snap, tbl, q, jsonList(ids)); err != nil {
				return nil, nil, fmt.Errorf("read the %s of deleted objects: %w", tbl.Name, err)
			}
		}
	}
	return snap, learnt, nil
}

// readTombstones reads which of ids, objects of kind k, have a tombstone.
func (t *txn) readTombstones(snap *clerksync.Snapshot, k clerksync.Kind, ids []string, known *knownObjects) error {
	var missing []string
	for _, id := range ids {
		if o, ok := known.get(clerksync.ObjectKey{Kind: k, ID: id}); ok {
			if o.deleted {
				snap.AddTombstone(clerksync.ObjectKey{Kind: k, ID: id}, "", 0)
			}
			continue
		}
		missing = append(missing, id)
	}
	if len(missing) == 0 {
		return nil
	}
	err := t.each(sqlTombstoned, []any{k.String(), jsonList(missing)}, func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		snap.AddTombstone(clerksync.ObjectKey{Kind: k, ID: id}, "", 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read tombstones: %w", err)
	}
	return nil
}

// readSlots reads the live rows holding slots, and for memberships the tombstones of
// the slots.
func (t *txn) readSlots(snap *clerksync.Snapshot, tbl *clerksync.Table, slots [][]string) error {
	list, err := json.Marshal(slots)
	if err != nil {
		return err
	}
	if err := t.addRows(snap, tbl, reads[tbl.Kind].bySlot, string(list)); err != nil {
		return fmt.Errorf("read %s by %s: %w", tbl.Name, strings.Join(tbl.Slot, ", "), err)
	}
	if tbl.Kind != clerksync.KindMembership {
		return nil
	}
	names := make([]string, len(slots))
	for i, s := range slots {
		names[i] = clerksync.SlotString(s)
	}
	err = t.each(sqlSlotTombstones, []any{tbl.Kind.String(), jsonList(names)}, func(rows *sql.Rows) error {
		var (
			id, slot string
			created  sql.NullInt64
		)
		if err := rows.Scan(&id, &slot, &created); err != nil {
			return err
		}
		snap.AddTombstone(clerksync.ObjectKey{Kind: tbl.Kind, ID: id}, slot, created.Int64)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the tombstones of %s: %w", tbl.Name, err)
	}
	return nil
}

// addRows adds to snap the rows of tbl that the query q answers for args.
func (t *txn) addRows(snap *clerksync.Snapshot, tbl *clerksync.Table, q string, args ...any) error {
	return t.each(q, args, func(rows *sql.Rows) error {
		row, err := scanRow(rows, tbl)
		if err != nil {
			return err
		}
		snap.AddRow(tbl.Kind, row)
		return nil
	})
}

// each runs the query q with args and calls fn for each row.
func (t *txn) each(q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := t.query(q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// jsonList returns ids as a JSON array.
func jsonList(ids []string) string {
	b, _ := json.Marshal(ids) // strings always marshal
	return string(b)
}

// scanRow scans the current row of rows: first into before (pointers for the columns
// that come before the table's), then the table's columns as a clerksync.Row. It
// returns a nil Row when the key column is NULL (a LEFT JOIN that found nothing).
func scanRow(rows *sql.Rows, t *clerksync.Table, before ...any) (clerksync.Row, error) {
	return scanRowAround(rows, t, before, nil)
}

// scanRowThen is scanRow for a query whose table columns are followed by more
// (pointers after).
func scanRowThen(rows *sql.Rows, t *clerksync.Table, after ...any) (clerksync.Row, error) {
	return scanRowAround(rows, t, nil, after)
}

func scanRowAround(rows *sql.Rows, t *clerksync.Table, before, after []any) (clerksync.Row, error) {
	vals := make([]any, len(t.Columns))
	dest := make([]any, 0, len(before)+len(vals)+len(after))
	dest = append(dest, before...)
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	dest = append(dest, after...)
	if err := rows.Scan(dest...); err != nil {
		return nil, err
	}
	if vals[0] == nil {
		return nil, nil
	}
	return clerksync.RowFromValues(t, vals)
}
