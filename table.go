package clerksync

import (
	"encoding/json"
	"fmt"
)

// ColumnType is how a column's value is kept.
type ColumnType uint8

// The types of the synced tables' columns. A Row holds, per type: ColText a string,
// ColBool a bool, ColInt an int64, ColTime an int64 of milliseconds since the Unix
// epoch (timestamptz on PostgreSQL), ColJSON a json.RawMessage (jsonb on PostgreSQL);
// or nil for NULL, except ColBool, which is never NULL.
const (
	ColText ColumnType = iota + 1
	ColBool
	ColInt
	ColTime
	ColJSON
)

// Column is one column of a synced table.
type Column struct {
	Name string
	Type ColumnType
	// Indexed says the column has an index: a store may leave it out of an update
	// that does not change it (SQLite rewrites an index entry whenever its column is
	// assigned).
	Indexed bool
	// Personal says the column holds personal data, cleared when the object is
	// soft-deleted.
	Personal bool
}

// Row is the values of one row of a synced table, in the order of its Table's
// Columns (see ColumnType for the values of each type).
type Row []any

// Table describes the table a kind of object is kept in. Every table has, besides
// Columns, a raw column (the object as Clerk sent it, jsonb on PostgreSQL, never part
// of a Row) and a deleted_at column (set by the soft-delete policy).
type Table struct {
	Kind Kind
	// Name is the table's name, such as "profiles".
	Name string
	// Columns are the table's columns but raw and deleted_at: the key first, then the
	// object's own, then created_at and updated_at, then synced_at and sync_source.
	Columns []Column
	// Slot names the columns no two live objects of the table share (an organization
	// and a user for memberships, the key for roles): when a new object takes the
	// slot of an older one, the older one is gone. Empty for tables without one.
	Slot []string
	// Parent names the column that refers to a parent object (org_id), and
	// ParentKind its kind; the object goes with its parent.
	Parent     string
	ParentKind Kind

	index map[string]int
}

// Key returns the name of the table's primary key column.
func (t *Table) Key() string { return t.Columns[0].Name }

// Col returns the index of column name in Columns, or -1.
func (t *Table) Col(name string) int {
	if i, ok := t.index[name]; ok {
		return i
	}
	return -1
}

// The positions of the columns every table ends with.
func (t *Table) createdAt() int  { return len(t.Columns) - 4 }
func (t *Table) updatedAt() int  { return len(t.Columns) - 3 }
func (t *Table) syncedAt() int   { return len(t.Columns) - 2 }
func (t *Table) syncSource() int { return len(t.Columns) - 1 }

// Table returns the table objects of kind k are kept in, or nil for an invalid kind.
func (k Kind) Table() *Table {
	if !k.Valid() {
		return nil
	}
	return tables[k]
}

// Tables lists the synced tables, parents first.
func Tables() []*Table {
	out := make([]*Table, 0, len(Kinds))
	for _, k := range Kinds {
		out = append(out, k.Table())
	}
	return out
}

func col(name string, t ColumnType) Column { return Column{Name: name, Type: t} }
func personal(c Column) Column             { c.Personal = true; return c }
func indexed(c Column) Column              { c.Indexed = true; return c }

// tail is the columns every table ends with.
var tail = []Column{
	col("created_at", ColTime), col("updated_at", ColTime),
	col("synced_at", ColTime), col("sync_source", ColText),
}

func newTable(k Kind, name string, cols []Column) *Table {
	t := &Table{Kind: k, Name: name, Columns: append(cols, tail...), index: make(map[string]int)}
	for i, c := range t.Columns {
		t.index[c.Name] = i
	}
	return t
}

var tables = func() [KindPermission + 1]*Table {
	var ts [KindPermission + 1]*Table
	ts[KindUser] = newTable(KindUser, "profiles", []Column{
		col("user_id", ColText),
		indexed(personal(col("email", ColText))),
		col("email_verified", ColBool),
		personal(col("phone", ColText)),
		indexed(personal(col("username", ColText))),
		personal(col("first_name", ColText)),
		personal(col("last_name", ColText)),
		personal(col("image_url", ColText)),
		indexed(col("external_id", ColText)),
		personal(col("public_metadata", ColJSON)),
		personal(col("unsafe_metadata", ColJSON)),
		personal(col("private_metadata", ColJSON)),
		col("banned", ColBool),
		col("locked", ColBool),
		// created_at and updated_at come from tail; profiles has two more of Clerk's
		// timestamps, kept before them.
		col("last_sign_in_at", ColTime),
		col("last_active_at", ColTime),
	})
	ts[KindOrganization] = newTable(KindOrganization, "organizations", []Column{
		col("org_id", ColText),
		col("name", ColText),
		indexed(col("slug", ColText)),
		col("image_url", ColText),
		col("created_by", ColText),
		col("max_allowed_memberships", ColInt),
		personal(col("public_metadata", ColJSON)),
		personal(col("private_metadata", ColJSON)),
	})
	ms := newTable(KindMembership, "organization_memberships", []Column{
		col("membership_id", ColText),
		indexed(col("org_id", ColText)),
		indexed(col("user_id", ColText)),
		col("role", ColText),
		col("role_name", ColText),
		col("permissions", ColJSON),
		personal(col("public_metadata", ColJSON)),
		personal(col("private_metadata", ColJSON)),
	})
	ms.Slot, ms.Parent, ms.ParentKind = []string{"org_id", "user_id"}, "org_id", KindOrganization
	ts[KindMembership] = ms
	inv := newTable(KindInvitation, "organization_invitations", []Column{
		col("invitation_id", ColText),
		indexed(col("org_id", ColText)),
		indexed(personal(col("email", ColText))),
		col("role", ColText),
		col("role_name", ColText),
		col("status", ColText),
		indexed(col("user_id", ColText)),
		personal(col("public_metadata", ColJSON)),
		personal(col("private_metadata", ColJSON)),
		col("expires_at", ColTime),
	})
	inv.Parent, inv.ParentKind = "org_id", KindOrganization
	ts[KindInvitation] = inv
	roles := newTable(KindRole, "organization_roles", []Column{
		col("role_id", ColText),
		indexed(col("key", ColText)),
		col("name", ColText),
		col("description", ColText),
		col("permissions", ColJSON),
	})
	roles.Slot = []string{"key"}
	ts[KindRole] = roles
	perms := newTable(KindPermission, "organization_permissions", []Column{
		col("permission_id", ColText),
		indexed(col("key", ColText)),
		col("name", ColText),
		col("description", ColText),
		col("type", ColText),
	})
	perms.Slot = []string{"key"}
	ts[KindPermission] = perms
	return ts
}()

// Text returns s as a Row value: nil (NULL) for "". The stores keep absent strings as
// NULL so that applications can query IS NULL.
func Text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Millis returns ms as a Row value: nil (NULL) for 0, Clerk's "never".
func Millis(ms int64) any {
	if ms == 0 {
		return nil
	}
	return ms
}

// JSON returns m as a Row value: nil (NULL) when empty.
func JSON(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return m
}

// RowText returns the string value of v, "" for NULL.
func RowText(v any) string { s, _ := v.(string); return s }

// RowInt returns the integer (or milliseconds) value of v, 0 for NULL.
func RowInt(v any) int64 { n, _ := v.(int64); return n }

// RowBool returns the value of a boolean column.
func RowBool(v any) bool { b, _ := v.(bool); return b }

// RowJSON returns the JSON value of v, nil for NULL.
func RowJSON(v any) json.RawMessage { m, _ := v.(json.RawMessage); return m }

// RowFromValues turns the values a database driver scanned for t's Columns into a Row,
// in place: text as a string or bytes, booleans as bool or 0/1, integers and times as
// int64 (milliseconds), JSON as text or bytes; NULL is nil, and false for a boolean.
// vals may hold more values than t has columns; the rest are ignored.
func RowFromValues(t *Table, vals []any) (Row, error) {
	if len(vals) < len(t.Columns) {
		return nil, fmt.Errorf("%s: %d columns read, want %d", t.Name, len(vals), len(t.Columns))
	}
	row := Row(vals[:len(t.Columns)])
	for i, c := range t.Columns {
		v := vals[i]
		if v == nil {
			if c.Type == ColBool {
				row[i] = false
			}
			continue
		}
		want := ""
		switch c.Type {
		case ColText:
			switch x := v.(type) {
			case string:
			case []byte:
				row[i] = string(x)
			default:
				want = "text"
			}
		case ColBool:
			switch x := v.(type) {
			case bool:
			case int64:
				row[i] = x != 0
			default:
				want = "a boolean"
			}
		case ColInt, ColTime:
			if _, ok := v.(int64); !ok {
				want = "an integer"
			}
		case ColJSON:
			switch x := v.(type) {
			case string:
				row[i] = json.RawMessage(x)
			case []byte:
				row[i] = json.RawMessage(x)
			default:
				want = "JSON text"
			}
		}
		if want != "" {
			return nil, fmt.Errorf("%s.%s holds %T, want %s", t.Name, c.Name, v, want)
		}
	}
	return row, nil
}
