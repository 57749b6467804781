package clerksync

import "time"

// The range of Clerk timestamps clerksync accepts (ms since the Unix epoch): from
// 1900-01-01 to 2200-01-01. A timestamp outside it is not one Clerk made, and stored it
// could freeze the object (an updated_at far in the future makes every later version
// look older) or come back as another date on PostgreSQL (whose timestamps cannot hold
// every int64 of milliseconds); both stores refuse it the same way, as a dead letter.
// created_at and updated_at must also be after the epoch.
var (
	MinTimestamp = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	MaxTimestamp = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
)

// Validate reports whether a store can apply c. It returns an *Error with code
// EINVALID naming the first thing wrong, and nil for a change that is well formed:
//
//   - Op is one of the four operations; a Replay has an EventID;
//   - OpIgnore and OpDeadLetter have an EventID, since they exist only to be recorded;
//   - OpUpsert has a valid Kind, an ID, an Object of that kind and id, a Source, the
//     object's created_at and updated_at set (updated_at orders the versions of an
//     object), every timestamp within Clerk's range (MinTimestamp to MaxTimestamp),
//     the keys a table needs (a membership's organization and user, a role's key),
//     and a raw object that is a JSON object as far as its first and last bytes show
//     (the decoder that produces it validates it whole; stores do not parse it again);
//     a user's UserID is its ID;
//   - OpDelete has a valid Kind, an ID and a Source, and an Object, when it has one,
//     of the same kind and id.
//
// Stores record a change that fails Validate as a dead letter (when it has an EventID)
// instead of applying it, and apply the rest of its batch. What Validate cannot see,
// such as metadata that is not JSON, the database itself refuses, with the same result.
func (c *Change) Validate() error {
	if c.Replay && c.EventID == "" {
		return Errorf(EINVALID, "a replayed change has no event id")
	}
	switch c.Op {
	case OpUpsert:
		if err := c.validateKey(); err != nil {
			return err
		}
		if c.Object == nil {
			return Errorf(EINVALID, "%s upsert of %s has no object", c.Kind, c.ID)
		}
		if err := validateObject(c.Object, c.Key()); err != nil {
			return err
		}
		if c.Kind == KindUser && c.UserID != c.ID {
			return Errorf(EINVALID, "profile of user %q is carried by a change for user %q", c.ID, c.UserID)
		}
		return c.validateSource()
	case OpDelete:
		if err := c.validateKey(); err != nil {
			return err
		}
		if c.Object != nil && c.Object.ObjectKey() != c.Key() {
			return Errorf(EINVALID, "delete of %s carries %s", c.Key(), c.Object.ObjectKey())
		}
		return c.validateSource()
	case OpIgnore, OpDeadLetter:
		if c.EventID == "" {
			return Errorf(EINVALID, "%s change has no event id to record", c.Op)
		}
		return nil
	}
	return Errorf(EINVALID, "unknown operation %d", c.Op)
}

func (c *Change) validateKey() error {
	switch {
	case !c.Kind.Valid():
		return Errorf(EINVALID, "%s of unknown kind %d", c.Op, c.Kind)
	case c.ID == "":
		return Errorf(EINVALID, "%s %s has no id", c.Kind, c.Op)
	}
	return nil
}

// validateObject checks o, which must be the object key.
func validateObject(o Object, key ObjectKey) error {
	if got := o.ObjectKey(); got != key {
		return Errorf(EINVALID, "%s is carried by a change for %s", got, key)
	}
	t := key.Kind.Table()
	created, updated := o.Versions()
	switch {
	case updated <= 0:
		return Errorf(EINVALID, "%s has no updated_at", key)
	case created <= 0:
		return Errorf(EINVALID, "%s has no created_at", key)
	}
	row := o.AppendRow(make(Row, 0, len(t.Columns)))
	for i, c := range t.Columns[:t.syncedAt()] {
		if c.Type != ColTime {
			continue
		}
		if ms, ok := row[i].(int64); ok && (ms < MinTimestamp || ms >= MaxTimestamp) {
			return Errorf(EINVALID, "%s has %s %d, outside the range of Clerk's timestamps", key, c.Name, ms)
		}
	}
	for _, name := range append(append([]string(nil), t.Slot...), t.Parent) {
		if name != "" && RowText(row[t.Col(name)]) == "" {
			return Errorf(EINVALID, "%s has no %s", key, name)
		}
	}
	if raw := o.RawJSON(); len(raw) > 0 && !looksLikeObject(raw) {
		return Errorf(EINVALID, "raw %s object of %s is not a JSON object", key.Kind, key.ID)
	}
	if m, ok := o.(*Membership); ok && m.Organization != nil {
		if m.Organization.OrgID != m.OrgID {
			return Errorf(EINVALID, "%s of organization %q carries organization %q", key, m.OrgID, m.Organization.OrgID)
		}
		if err := validateObject(m.Organization, m.Organization.ObjectKey()); err != nil {
			return err
		}
	}
	return nil
}

func (c *Change) validateSource() error {
	switch c.Source {
	case SourceWebhook, SourceAPI, SourceBackfill:
		return nil
	}
	return Errorf(EINVALID, "change for %s has unknown source %q", c.Key(), c.Source)
}

// looksLikeObject reports whether b, trimmed of JSON white space, starts with { and
// ends with }.
func looksLikeObject(b []byte) bool {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	i, j := 0, len(b)-1
	for i <= j && isSpace(b[i]) {
		i++
	}
	for j >= i && isSpace(b[j]) {
		j--
	}
	return i < j && b[i] == '{' && b[j] == '}'
}
