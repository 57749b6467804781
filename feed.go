package clerksync

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// FeedEntry is one entry of the changes feed (table clerksync_changes): one real change
// to a synced table, recorded in the same transaction as the change itself. Stale,
// duplicate and unchanged writes record none, so profile.created appears exactly once
// per user whichever path created the row.
type FeedEntry struct {
	// Seq orders the feed: it increases with every entry, and a reader that asks for
	// the entries after the last Seq it saw never misses one.
	Seq int64
	// ID is the entry's stable, unique id ("chg_…"): the webhook-id of its forwarded
	// delivery, for the receiver to act on an entry once.
	ID string
	// Type is the kind's feed name and the action: profile.created, profile.updated,
	// profile.deleted, organization.…, membership.…, invitation.…, role.…, permission.….
	Type string
	// Kind and ObjectID name the object that changed.
	Kind     Kind
	ObjectID string
	// Source is how the change arrived; EventID the svix-id of the webhook that caused
	// it ("" for the Backend API).
	Source  Source
	EventID string
	// OccurredAt is Clerk's updated_at of the object (ms); for a deletion, the time of
	// the event that told of it, or of its discovery.
	OccurredAt int64
	// CreatedAt is when the entry was recorded.
	CreatedAt time.Time
	// Data is the row after the change, a JSON object with the table's column names
	// (all but raw); for a deletion, the object's id alone.
	Data json.RawMessage
	// Previous holds the values before the change of the columns it changed (a
	// deletion: every column), a JSON object; nil for a creation.
	Previous json.RawMessage
}

// Action returns the action of the entry's type: created, updated or deleted.
func (e *FeedEntry) Action() Action {
	for i := len(e.Type) - 1; i >= 0; i-- {
		if e.Type[i] == '.' {
			a, _ := ParseAction(e.Type[i+1:])
			return a
		}
	}
	return ActionNone
}

// FeedType returns the type of a feed entry for an action on an object of kind k,
// such as "profile.created".
func FeedType(k Kind, a Action) string { return k.FeedName() + "." + a.String() }

// FeedTypes lists every type of feed entry.
func FeedTypes() []string {
	var out []string
	for _, k := range Kinds {
		for _, a := range []Action{ActionCreated, ActionUpdated, ActionDeleted} {
			out = append(out, FeedType(k, a))
		}
	}
	return out
}

// MatchFeedType reports whether typ matches pattern: a type ("profile.created"), a
// kind's entries ("profile.*"), or everything ("*").
func MatchFeedType(pattern, typ string) bool {
	switch {
	case pattern == "*" || pattern == typ:
		return true
	case len(pattern) > 2 && pattern[len(pattern)-2:] == ".*":
		p := pattern[:len(pattern)-1] // keeps the dot
		return len(typ) > len(p) && typ[:len(p)] == p
	}
	return false
}

// ValidFeedPattern reports whether pattern matches at least one type of entry.
func ValidFeedPattern(pattern string) bool {
	for _, t := range FeedTypes() {
		if MatchFeedType(pattern, t) {
			return true
		}
	}
	return false
}

// NewFeedID returns a new feed entry id: "chg_" and 26 characters of Crockford base32
// that sort by time (48 bits of milliseconds, then 80 random bits).
func NewFeedID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	out := make([]byte, 4, 4+26)
	copy(out, "chg_")
	// 128 bits as 26 five-bit digits, most significant first (the first digit holds 3).
	var acc uint32
	bits := 2 // the first digit takes the 3 leading bits
	for _, x := range b {
		acc = acc<<8 | uint32(x)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, alphabet[(acc>>uint(bits))&31])
		}
	}
	return string(out)
}

// feedData returns the Data of an entry for row of table t: every column, by name.
func feedData(t *Table, row Row) json.RawMessage {
	b := make([]byte, 0, encodedSize(t.Columns, row))
	b = append(b, '{')
	for i, c := range t.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendColumn(b, c, row[i])
	}
	return append(b, '}')
}

// feedKey returns the Data of a deletion's entry: the object's id alone.
func feedKey(t *Table, id string) json.RawMessage {
	b := make([]byte, 0, 64)
	b = append(b, '{')
	b = appendColumn(b, t.Columns[0], id)
	return append(b, '}')
}

// feedPrevious returns the Previous of an update's entry: the columns whose values
// differ between before and after, with their values before; synced_at and
// sync_source, which every write changes, do not count. It returns nil when no column
// differs.
func feedPrevious(t *Table, before, after Row) json.RawMessage {
	var b []byte
	for i, c := range t.Columns[:t.syncedAt()] {
		if SameValue(c, before[i], after[i]) {
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, 256), '{')
		} else {
			b = append(b, ',')
		}
		b = appendColumn(b, c, before[i])
	}
	if b == nil {
		return nil
	}
	return append(b, '}')
}

// feedRemoved returns the Previous of a deletion's entry: every column of the row as
// it was, but synced_at and sync_source.
func feedRemoved(t *Table, before Row) json.RawMessage {
	b := make([]byte, 0, encodedSize(t.Columns[:t.syncedAt()], before))
	b = append(b, '{')
	for i, c := range t.Columns[:t.syncedAt()] {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendColumn(b, c, before[i])
	}
	return append(b, '}')
}

// SameValue reports whether a and b are the same value of column c. JSON documents
// are the same when they decode to the same value, whatever their spacing and key
// order (PostgreSQL's jsonb does not keep the text it was given).
func SameValue(c Column, a, b any) bool {
	if c.Type != ColJSON {
		return a == b
	}
	x, y := RowJSON(a), RowJSON(b)
	if bytes.Equal(x, y) {
		return (x == nil) == (y == nil)
	}
	if x == nil || y == nil {
		return false
	}
	return jsonEqual(x, y)
}

// encodedSize returns about how many bytes appendColumn takes for the columns cols of
// row, with the braces and commas around them: enough for a row without characters
// to escape, so that building an entry allocates once instead of growing its buffer.
func encodedSize(cols []Column, row Row) int {
	n := 2
	for i, c := range cols {
		n += len(c.Name) + 4
		switch v := row[i].(type) {
		case string:
			n += len(v) + 2
		case json.RawMessage:
			n += len(v) + 4
		default:
			n += 20
		}
	}
	return n
}

// appendColumn appends "name":value.
func appendColumn(b []byte, c Column, v any) []byte {
	b = append(b, '"')
	b = append(b, c.Name...)
	b = append(b, '"', ':')
	return appendValue(b, v)
}

// appendValue appends v, a Row value, as JSON.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case json.RawMessage:
		if len(x) == 0 {
			return append(b, "null"...)
		}
		return append(b, x...)
	}
	// Not a Row value: encode it as encoding/json would.
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

// jsonSafe says which ASCII bytes appendString copies as they are.
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		safe[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return safe
}()

// needsEscapeLook reports whether one of the eight bytes of x may need escaping or be
// part of a multi-byte UTF-8 sequence: a control character, '"', '\\', '<', '>', '&'
// or a byte of 0x80 or more. It may report true for none of them (after one such
// byte), never false for one.
func needsEscapeLook(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(ones*'"'), x^(ones*'\\')
	lt, gt, amp := x^(ones*'<'), x^(ones*'>'), x^(ones*'&')
	return (x|(x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs|
		(lt-ones)&^lt|(gt-ones)&^gt|(amp-ones)&^amp)&highs != 0
}

// appendString appends s as a JSON string, escaping as encoding/json does (HTML
// characters included, so that the feed is safe to embed in a page).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	raw := unsafe.Slice(unsafe.StringData(s), len(s)) // read, never written
	for i := 0; i < len(s); {
		// Eight bytes at a time while none of them needs a closer look.
		for i+8 <= len(raw) && !needsEscapeLook(binary.LittleEndian.Uint64(raw[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// MarshalJSON encodes the entry as the changes feed hands it to applications, in a
// forwarded delivery and in GET /api/changes:
// {"id","seq","type","object_id","source","occurred_at","data","previous"}, with
// occurred_at in milliseconds and previous null for a creation.
func (e FeedEntry) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 160+len(e.Data)+len(e.Previous))
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"object_id":`...)
	b = appendString(b, e.ObjectID)
	b = append(b, `,"source":`...)
	b = appendString(b, string(e.Source))
	b = append(b, `,"occurred_at":`...)
	b = strconv.AppendInt(b, e.OccurredAt, 10)
	b = append(b, `,"data":`...)
	b = appendValue(b, e.Data)
	b = append(b, `,"previous":`...)
	b = appendValue(b, e.Previous)
	return append(b, '}'), nil
}

// UnmarshalJSON decodes an entry encoded by MarshalJSON, as an application receives it.
func (e *FeedEntry) UnmarshalJSON(b []byte) error {
	var v struct {
		ID         string          `json:"id"`
		Seq        int64           `json:"seq"`
		Type       string          `json:"type"`
		ObjectID   string          `json:"object_id"`
		Source     Source          `json:"source"`
		OccurredAt int64           `json:"occurred_at"`
		Data       json.RawMessage `json:"data"`
		Previous   json.RawMessage `json:"previous"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = FeedEntry{ID: v.ID, Seq: v.Seq, Type: v.Type, ObjectID: v.ObjectID, Source: v.Source,
		OccurredAt: v.OccurredAt, Data: v.Data, Previous: v.Previous}
	if string(e.Previous) == "null" {
		e.Previous = nil
	}
	if i := len(e.Type) - len("."+e.Action().String()); i > 0 {
		e.Kind, _ = ParseKind(e.Type[:i])
	}
	return nil
}
