package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/sqlschema"
)

// The statements that read what a batch depends on (clerksync.Keys), each for a whole
// batch: lists travel as arrays.
const (
	sqlSeen = `SELECT svix_id FROM clerksync_events WHERE svix_id = ANY($1::text[])`

	sqlTombstoned = `SELECT object_id FROM clerksync_tombstones WHERE kind = $1 AND object_id = ANY($2::text[])`

	sqlSlotTombstones = `SELECT object_id, slot, created_at FROM clerksync_tombstones
WHERE kind = $1 AND slot = ANY($2::text[])`
)

// selectColumns returns the select list that reads t's Columns as clerksync.Row
// values: timestamps as milliseconds, JSON as text.
func selectColumns(t *clerksync.Table, prefix string) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		switch c.Type {
		case clerksync.ColTime:
			cols[i] = fmt.Sprintf("(extract(epoch FROM %s%s) * 1000)::bigint", prefix, c.Name)
		case clerksync.ColJSON:
			cols[i] = prefix + c.Name + "::text"
		default:
			cols[i] = prefix + c.Name
		}
	}
	return strings.Join(cols, ", ")
}

// Per table, the statements that read live rows: by id (with whether the id has a
// tombstone), by slot, and by parent.
type tableReads struct {
	byID     string
	bySlot   string
	byParent map[clerksync.Kind]string
}

var reads = func() map[clerksync.Kind]*tableReads {
	m := make(map[clerksync.Kind]*tableReads)
	for _, t := range clerksync.Tables() {
		r := &tableReads{byParent: make(map[clerksync.Kind]string)}
		cols := selectColumns(t, "t.")
		r.byID = fmt.Sprintf(`SELECT j.id, EXISTS (SELECT 1 FROM clerksync_tombstones tb WHERE tb.kind = '%s' AND tb.object_id = j.id), %s
FROM unnest($1::text[]) AS j(id) LEFT JOIN %s t ON t.%s = j.id AND t.deleted_at IS NULL`, t.Kind, cols, t.Name, t.Key())
		if len(t.Slot) > 0 {
			arrays := make([]string, len(t.Slot))
			for i := range t.Slot {
				arrays[i] = fmt.Sprintf("$%d::text[]", i+1)
			}
			r.bySlot = fmt.Sprintf(`SELECT %s FROM %s t WHERE t.deleted_at IS NULL AND (%s) IN (SELECT * FROM unnest(%s))`,
				cols, t.Name, "t."+strings.Join(t.Slot, ", t."), strings.Join(arrays, ", "))
		}
		for _, parent := range []clerksync.Kind{clerksync.KindUser, clerksync.KindOrganization} {
			if pc := sqlschema.ParentColumns(t, parent); pc != nil {
				r.byParent[parent] = fmt.Sprintf(`SELECT %s FROM %s t WHERE t.deleted_at IS NULL AND t.%s = ANY($1::text[])`, cols, t.Name, pc[0])
			}
		}
		m[t.Kind] = r
	}
	return m
}()

// read begins the batch's transaction, takes its locks and reads what it depends on,
// all in one round trip.
func (s *Store) read(ctx context.Context, conn *pgxpool.Conn, b *batch) (*clerksync.Snapshot, error) {
	keys := b.keys
	snap := clerksync.NewSnapshot()
	pb := &pgx.Batch{}
	begin(pb, b.locks)
	var reads2 []func(pgx.Rows) error // how to read each queued query's rows
	query := func(fn func(pgx.Rows) error, sql string, args ...any) {
		pb.Queue(sql, args...)
		reads2 = append(reads2, fn)
	}
	if len(keys.EventIDs) > 0 {
		query(func(rows pgx.Rows) error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			snap.AddSeen(id)
			return nil
		}, sqlSeen, stringArray(keys.EventIDs))
	}
	addRow := func(t *clerksync.Table) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			row, err := scanRow(rows, t, 0)
			if err != nil {
				return err
			}
			snap.AddRow(t.Kind, row)
			return nil
		}
	}
	for _, k := range clerksync.Kinds {
		t := k.Table()
		if ids := keys.IDs[k]; len(ids) > 0 {
			query(func(rows pgx.Rows) error {
				vals, err := rows.Values()
				if err != nil {
					return err
				}
				id, _ := vals[0].(string)
				if dead, _ := vals[1].(bool); dead {
					snap.AddTombstone(clerksync.ObjectKey{Kind: k, ID: id}, "", 0)
				}
				if vals[2] == nil {
					return nil
				}
				row, err := clerksync.RowFromValues(t, vals[2:])
				if err != nil {
					return err
				}
				snap.AddRow(k, row)
				return nil
			}, reads[k].byID, stringArray(ids))
		}
		if ids := keys.Tombstones[k]; len(ids) > 0 {
			query(func(rows pgx.Rows) error {
				var id string
				if err := rows.Scan(&id); err != nil {
					return err
				}
				snap.AddTombstone(clerksync.ObjectKey{Kind: k, ID: id}, "", 0)
				return nil
			}, sqlTombstoned, k.String(), stringArray(ids))
		}
		if slots := keys.Slots[k]; len(slots) > 0 {
			cols := make([]any, len(t.Slot))
			names := make(stringArray, len(slots))
			for i := range t.Slot {
				col := make(stringArray, len(slots))
				for j, s := range slots {
					col[j] = s[i]
				}
				cols[i] = col
			}
			for j, s := range slots {
				names[j] = clerksync.SlotString(s)
			}
			query(addRow(t), reads[k].bySlot, cols...)
			if k == clerksync.KindMembership {
				query(func(rows pgx.Rows) error {
					var (
						id, slot string
						created  *int64
					)
					if err := rows.Scan(&id, &slot, &created); err != nil {
						return err
					}
					var c int64
					if created != nil {
						c = *created
					}
					snap.AddTombstone(clerksync.ObjectKey{Kind: k, ID: id}, slot, c)
					return nil
				}, sqlSlotTombstones, k.String(), names)
			}
		}
	}
	for _, parent := range []clerksync.Kind{clerksync.KindUser, clerksync.KindOrganization} {
		ids := keys.Children[parent]
		if len(ids) == 0 {
			continue
		}
		for _, t := range clerksync.Tables() {
			if q := reads[t.Kind].byParent[parent]; q != "" {
				query(addRow(t), q, stringArray(ids))
			}
		}
	}

	br := conn.SendBatch(ctx, pb)
	defer br.Close()
	for range beginStatements {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	for _, fn := range reads2 {
		rows, err := br.Query()
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			if err := fn(rows); err != nil {
				rows.Close()
				return nil, err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	return snap, nil
}

// scanRow reads the current row's columns from skip on as a row of t.
func scanRow(rows pgx.Rows, t *clerksync.Table, skip int) (clerksync.Row, error) {
	vals, err := rows.Values()
	if err != nil {
		return nil, err
	}
	return clerksync.RowFromValues(t, vals[skip:])
}
