package feedhook

import (
	"bytes"
	"encoding/json"
	"fmt"

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

// Fields returns the columns entry e tells of, in the table's column order:
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
