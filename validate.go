package clerksync

// Validate reports whether a store can apply c. It returns an *Error with code
// EINVALID naming the first thing wrong, and nil for a change that is well formed:
//
//   - Op is one of the four operations; a Replay has an EventID;
//   - OpIgnore and OpDeadLetter have an EventID, since they exist only to be recorded;
//   - OpUpsertUser has a UserID, a Profile with the same UserID, a Source, and the
//     profile's CreatedAt and UpdatedAt set (UpdatedAt orders the versions of a user);
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
