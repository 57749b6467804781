package clerksync

// Validate reports whether a store can apply c. It returns an *Error with code
// EINVALID naming the first thing wrong, and nil for a change that is well formed:
//
//   - Op is one of the four operations; a Replay has an EventID;
//   - OpIgnore and OpDeadLetter have an EventID, since they exist only to be recorded;
//   - OpUpsertUser has a UserID, a Profile with the same UserID, a Source, the
//     profile's CreatedAt and UpdatedAt set (UpdatedAt orders the versions of a user),
//     and a Raw that is a JSON object as far as its first and last bytes show (the
//     decoder that produces it validates it whole; stores do not parse it again);
//   - OpDeleteUser has a UserID and a Source.
//
// Stores record a change that fails Validate as a dead letter (when it has an EventID)
// instead of applying it, and apply the rest of its batch. What Validate cannot see,
// such as metadata that is not JSON, the database itself refuses, with the same result.
func (c *Change) Validate() error {
	if c.Replay && c.EventID == "" {
		return Errorf(EINVALID, "a replayed change has no event id")
	}
	switch c.Op {
	case OpUpsertUser:
		switch {
		case c.UserID == "":
			return Errorf(EINVALID, "user upsert has no user id")
		case c.Profile == nil:
			return Errorf(EINVALID, "user upsert for %s has no profile", c.UserID)
		case c.Profile.UserID != c.UserID:
			return Errorf(EINVALID, "profile of user %q is carried by a change for user %q", c.Profile.UserID, c.UserID)
		case c.Profile.UpdatedAt <= 0:
			return Errorf(EINVALID, "profile of %s has no updated_at", c.UserID)
		case c.Profile.CreatedAt <= 0:
			return Errorf(EINVALID, "profile of %s has no created_at", c.UserID)
		case len(c.Profile.Raw) > 0 && !looksLikeObject(c.Profile.Raw):
			return Errorf(EINVALID, "raw user object of %s is not a JSON object", c.UserID)
		}
		return c.validateSource()
	case OpDeleteUser:
		if c.UserID == "" {
			return Errorf(EINVALID, "user delete has no user id")
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

func (c *Change) validateSource() error {
	switch c.Source {
	case SourceWebhook, SourceAPI, SourceBackfill:
		return nil
	}
	return Errorf(EINVALID, "change for %s has unknown source %q", c.UserID, c.Source)
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
