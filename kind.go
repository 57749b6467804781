package clerksync

// Kind is a kind of Clerk object that clerksync keeps in a table of its own.
type Kind uint8

// The kinds of objects clerksync keeps.
const (
	KindUser         Kind = iota + 1 // a user: a row of profiles
	KindOrganization                 // an organization: a row of organizations
	KindMembership                   // a member of an organization: organization_memberships
	KindInvitation                   // an invitation to an organization: organization_invitations
	KindRole                         // an organization role: organization_roles
	KindPermission                   // an organization permission: organization_permissions
)

// Kinds lists every kind, parents before the kinds that refer to them.
var Kinds = []Kind{KindUser, KindOrganization, KindMembership, KindInvitation, KindRole, KindPermission}

var kindNames = [...]string{
	KindUser:         "user",
	KindOrganization: "organization",
	KindMembership:   "membership",
	KindInvitation:   "invitation",
	KindRole:         "role",
	KindPermission:   "permission",
}

// String returns the kind's name as stored in the event log and tombstones ("user",
// "organization", "membership", "invitation", "role", "permission").
func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return ""
}

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool { return k >= KindUser && k <= KindPermission }

// ParseKind returns the Kind named s, or false if s names none. Besides the names
// String returns, it accepts the names of the tables ("profiles", "organizations", …)
// and of the changes feed ("profile").
func ParseKind(s string) (Kind, bool) {
	for _, k := range Kinds {
		if s == k.String() || s == k.Table().Name || s == k.FeedName() {
			return k, true
		}
	}
	return 0, false
}

// FeedName returns the prefix of the kind's entries in the changes feed, such as
// "profile" in profile.created: the name of the row, which for a user is a profile.
func (k Kind) FeedName() string {
	if k == KindUser {
		return "profile"
	}
	return k.String()
}

// ObjectKey names one object: its kind and its Clerk id. Clerk ids carry a prefix
// per kind (user_, org_, orgmem_, orginv_, role_, perm_) and are never reused.
type ObjectKey struct {
	Kind Kind
	ID   string
}

// String returns the key as "kind id".
func (k ObjectKey) String() string { return k.Kind.String() + " " + k.ID }

// UserKey returns the key of the user id.
func UserKey(id string) ObjectKey { return ObjectKey{KindUser, id} }
