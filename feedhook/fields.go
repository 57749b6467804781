package feedhook

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/clerksync/clerksync"
)

// Field is one column an entry tells of: its value before the change (for an update)
// and after it, as JSON.
type Field struct {
	Name string
	// Before is the value before the change; nil for a creation.
	Before json.RawMessage
	// After is the value after the change; nil for a deletion.
	After json.RawMessage
}

// Fields returns the columns entry e tells of, in the order of the table's columns
// (PostgreSQL's jsonb does not keep the order the entry was written in):
//
//   - profile.created and the like: every column of the new row that is not null;
//   - …updated: the columns that changed, before and after;
//   - …deleted: every column of the row as it was (Before) that was not null.
//
// It returns an error when the entry's data or previous is not a JSON object.
func Fields(e clerksync.FeedEntry) ([]Field, error) {
	data, err := objectFields(e.Data)
	if err != nil {
		return nil, fmt.Errorf("data of %s: %w", e.ID, err)
	}
	prev, err := objectFields(e.Previous)
	if err != nil {
		return nil, fmt.Errorf("previous of %s: %w", e.ID, err)
	}
	if e.Kind.Valid() {
		byColumn(e.Kind.Table(), data)
		byColumn(e.Kind.Table(), prev)
	}
	var out []Field
	switch e.Action() {
	case clerksync.ActionUpdated:
		after := make(map[string]json.RawMessage, len(data))
		for _, f := range data {
			after[f.name] = f.value
		}
		for _, f := range prev {
			out = append(out, Field{Name: f.name, Before: f.value, After: orNull(after[f.name])})
		}
	case clerksync.ActionDeleted:
		for _, f := range prev {
			if !isNull(f.value) {
				out = append(out, Field{Name: f.name, Before: f.value})
			}
		}
	default:
		for _, f := range data {
			if !isNull(f.value) {
				out = append(out, Field{Name: f.name, After: f.value})
			}
		}
	}
	return out, nil
}

type namedValue struct {
	name  string
	value json.RawMessage
}

// objectFields returns the members of a JSON object in their order; none for null or
// empty.
func objectFields(raw json.RawMessage) ([]namedValue, error) {
	if isNull(raw) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []namedValue
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, namedValue{name, v})
	}
	return out, nil
}

// byColumn sorts fields in the order of t's columns, names it lacks last.
func byColumn(t *clerksync.Table, fields []namedValue) {
	index := make(map[string]int, len(t.Columns))
	for i, c := range t.Columns {
		index[c.Name] = i
	}
	pos := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		return len(t.Columns)
	}
	slices.SortStableFunc(fields, func(a, b namedValue) int { return cmp.Compare(pos(a.name), pos(b.name)) })
}

func isNull(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null"
}

func orNull(v json.RawMessage) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	return v
}
