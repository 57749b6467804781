package clerksync

// This file holds the rules of the design, written once: what a change comes to over
// what the database holds. Stores read the state a change depends on, call Plan (which
// calls Decide for each change of a batch) and write what it says; they make no
// decisions of their own.

// Reason says why a change was stale: why it changed nothing.
type Reason uint8

// The reasons a change can be stale.
const (
	ReasonNone Reason = iota
	// ReasonOlder: a newer version of the object is stored (its updated_at is later).
	ReasonOlder
	// ReasonDeleted: the object is deleted, for ever.
	ReasonDeleted
	// ReasonOrganizationDeleted: the organization of a membership or invitation is
	// deleted, and everything of it with it.
	ReasonOrganizationDeleted
	// ReasonUserDeleted: the user of a membership is deleted.
	ReasonUserDeleted
	// ReasonSuperseded: a newer object holds the same place (the same user's later
	// membership of the same organization, or a later role with the same key).
	ReasonSuperseded
)

var reasonNames = [...]string{
	ReasonNone:                "",
	ReasonOlder:               "older",
	ReasonDeleted:             "deleted",
	ReasonOrganizationDeleted: "organization_deleted",
	ReasonUserDeleted:         "user_deleted",
	ReasonSuperseded:          "superseded",
}

// String returns the reason's name as shown in logs and summaries ("" for none).
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Explain says in words why a change stale for reason r changed nothing.
func (r Reason) Explain() string {
	switch r {
	case ReasonOlder:
		return "a newer version is already stored"
	case ReasonDeleted:
		return "it is deleted"
	case ReasonOrganizationDeleted:
		return "its organization is deleted"
	case ReasonUserDeleted:
		return "its user is deleted"
	case ReasonSuperseded:
		return "a newer one has taken its place"
	}
	return "a newer version or a deletion is already stored"
}

// Stored is what the database holds of one object.
type Stored struct {
	// Row is the object's live row, nil when there is none.
	Row Row
	// Deleted says the object has a tombstone: it is gone for ever.
	Deleted bool
}

// Live reports whether the object has a live row.
func (s Stored) Live() bool { return s.Row != nil }

// Placeholder reports whether the live row is a placeholder: an organization known
// only by its id, because an invitation named it before Clerk's organization.created
// arrived. Any version of the object replaces a placeholder.
func (s Stored) Placeholder(t *Table) bool { return s.Row != nil && s.Row[t.updatedAt()] == nil }

// version returns the stored updated_at, 0 for none or a placeholder.
func (s Stored) version(t *Table) int64 {
	if s.Row == nil {
		return 0
	}
	return RowInt(s.Row[t.updatedAt()])
}

// Rival is the newest other object in the slot of an object: the place (organization
// and user, or key) that only one live object holds at a time.
type Rival struct {
	Key       ObjectKey
	CreatedAt int64
	// Live says the rival has a live row; otherwise it has a tombstone.
	Live bool
}

// newerThan reports whether the rival came after an object created at createdAt
// with id: Clerk's created_at, then the id to break a tie.
func (r *Rival) newerThan(createdAt int64, id string) bool {
	return r.CreatedAt > createdAt || (r.CreatedAt == createdAt && r.Key.ID > id)
}

// State is everything the decision about one change depends on.
type State struct {
	// Seen says the change's svix-id is in the event log already and the change is
	// not a replay: it is a duplicate delivery.
	Seen bool
	// Self is the object the change is about.
	Self Stored
	// Org is, for a membership or an invitation, its organization.
	Org Stored
	// UserDeleted says, for a membership, that its user is deleted.
	UserDeleted bool
	// Rival is, for an upsert of an object that holds a slot, the newest other object
	// of that slot; nil when there is none.
	Rival *Rival
}

// Decision is what a change comes to: its Result and the writes it calls for.
type Decision struct {
	Result Result
	// Put writes the change's object: an insert (Result.Action created) or an update.
	Put bool
	// PutOrg writes the organization a membership carries (its own updated_at guard
	// passed), with OrgAction created, updated or unchanged.
	PutOrg    bool
	OrgAction Action
	// Placeholder writes a placeholder for the organization of an invitation, which
	// is not stored yet: the invitation must not wait for it.
	Placeholder bool
	// Remove removes the object's row, if it has one, and leaves its tombstone.
	Remove bool
	// Cascade removes the live objects that belong to the removed one: an
	// organization's memberships and invitations, a user's memberships.
	Cascade bool
	// Redact redacts the event log's copies of the deleted user's deliveries.
	Redact bool
	// Unseat removes the rival's live row: the object takes its slot. For a membership
	// the rival is gone for ever (a tombstone); a role or permission may come back
	// under another key.
	Unseat bool
}

// Decide returns what change c comes to over the state st read for it. It is the
// one place where the rules of the design are written:
//
//   - a delivery whose svix-id was seen changes nothing (duplicate);
//   - an upsert applies only if its updated_at is at least the stored one (stale
//     older otherwise); the same version is written again (unchanged);
//   - a deleted object never comes back: a delete leaves a tombstone, and nothing
//     tombstoned is written again, whatever arrives later or arrived earlier;
//   - nothing of a deleted organization comes back: its memberships and invitations
//     go with it, and a later or earlier event of them changes nothing;
//   - a deleted user's memberships go with the user and never come back;
//   - a membership carries its organization and upserts it too, with the same guard,
//     unless the organization is deleted; an invitation of an organization not
//     stored yet stores a placeholder for it, so that it is not lost or refused;
//   - one live membership per organization and user: the one with the newest
//     created_at is live, and the older one is gone for ever, whatever the order of
//     arrival; likewise one live role or permission per key.
//
// A change that is not valid (see Change.Validate) must not reach Decide: Plan records
// it as a dead letter instead.
func Decide(c *Change, st *State) Decision {
	var d Decision
	switch {
	case st.Seen:
		d.Result = Result{Outcome: OutcomeDuplicate}
		return d
	case c.Op == OpIgnore:
		d.Result = Result{Outcome: OutcomeIgnored}
		return d
	case c.Op == OpDeadLetter:
		d.Result = Result{Outcome: OutcomeDeadLetter, Error: c.Error}
		return d
	}

	t := c.Kind.Table()
	// A membership upserts the organization it carries, whatever becomes of the
	// membership itself, unless the organization is deleted.
	if m, ok := c.Object.(*Membership); ok && m.Organization != nil && !st.Org.Deleted {
		_, updated := m.Organization.Versions()
		d.OrgAction = guard(KindOrganization.Table(), st.Org, updated)
		d.PutOrg = d.OrgAction != ActionNone
	}

	if c.Op == OpDelete {
		if st.Self.Deleted {
			d.Result = stale(ReasonDeleted)
			return d
		}
		d.Result = Result{Outcome: OutcomeApplied, Action: ActionDeleted}
		d.Remove = true
		d.Cascade = c.Kind == KindUser || c.Kind == KindOrganization
		d.Redact = c.Kind == KindUser
		return d
	}

	// OpUpsert.
	created, updated := c.Object.Versions()
	switch {
	case st.Self.Deleted:
		d.Result = stale(ReasonDeleted)
		return d
	case t.Parent != "" && st.Org.Deleted:
		d.Result = stale(ReasonOrganizationDeleted)
		return d
	case c.Kind == KindMembership && st.UserDeleted:
		d.Result = stale(ReasonUserDeleted)
		return d
	case st.Rival != nil && st.Rival.newerThan(created, c.ID):
		d.Result = stale(ReasonSuperseded)
		return d
	}
	action := guard(t, st.Self, updated)
	if action == ActionNone {
		d.Result = stale(ReasonOlder)
		return d
	}
	d.Result = Result{Outcome: OutcomeApplied, Action: action}
	d.Put = true
	d.Unseat = st.Rival != nil && st.Rival.Live
	d.Placeholder = t.Parent != "" && !st.Org.Live() && !d.PutOrg
	return d
}

// guard is the updated_at guard: the action of writing a version updated at updated
// over stored, or ActionNone when the stored version is newer.
func guard(t *Table, stored Stored, updated int64) Action {
	switch v := stored.version(t); {
	case !stored.Live() || stored.Placeholder(t):
		return ActionCreated
	case v > updated:
		return ActionNone
	case v == updated:
		return ActionUnchanged
	default:
		return ActionUpdated
	}
}

func stale(r Reason) Result { return Result{Outcome: OutcomeStale, Reason: r} }
