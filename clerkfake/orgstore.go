package clerkfake

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"sync"
)

// Errors of the organization controls.
var (
	// ErrOrganizationNotFound: no organization has the id (or slug).
	ErrOrganizationNotFound = errors.New("clerkfake: organization not found")
	// ErrMembershipNotFound: the user is not a member of the organization.
	ErrMembershipNotFound = errors.New("clerkfake: membership not found")
	// ErrAlreadyMember: the user is a member of the organization already.
	ErrAlreadyMember = errors.New("clerkfake: already a member")
	// ErrInvitationNotFound: no invitation has the id, or it is not pending.
	ErrInvitationNotFound = errors.New("clerkfake: invitation not found or not pending")
	// ErrRoleNotFound: no role has the key (or id).
	ErrRoleNotFound = errors.New("clerkfake: role not found")
	// ErrPermissionNotFound: no permission has the id.
	ErrPermissionNotFound = errors.New("clerkfake: permission not found")
	// ErrSlugTaken: another organization has the slug; or a role or permission the key.
	ErrSlugTaken = errors.New("clerkfake: slug or key taken")
)

// orgEntry is one organization with what belongs to it. The Organization it holds
// has no counts: they are computed when it is answered.
type orgEntry struct {
	org     Organization
	members []*Membership // created ascending; their Organization is nil
	byUser  map[string]*Membership
	invites []*Invitation // created ascending
}

// orgStore keeps organizations, memberships, invitations, roles and permissions.
// Stored values are never changed in place: a change stores a new value, so that a
// listing may marshal what it collected after the lock is let go.
type orgStore struct {
	mu        sync.RWMutex
	orgs      map[string]*orgEntry
	order     []*orgEntry // created ascending
	slugs     map[string]string
	members   map[string]*Membership // by id
	memberOrg map[string]string      // membership id → org id
	byUser    map[string]map[string]*Membership
	invites   map[string]*Invitation
	roles     []*Role // created ascending
	perms     []*Permission
	used      map[string]bool // every id ever given, deleted ones included
}

func newOrgStore() *orgStore {
	return &orgStore{
		orgs:      make(map[string]*orgEntry),
		slugs:     make(map[string]string),
		members:   make(map[string]*Membership),
		memberOrg: make(map[string]string),
		byUser:    make(map[string]map[string]*Membership),
		invites:   make(map[string]*Invitation),
		used:      make(map[string]bool),
	}
}

// lookup returns the organization whose id or slug is idOrSlug. The caller holds mu.
func (st *orgStore) lookup(idOrSlug string) *orgEntry {
	if e, ok := st.orgs[idOrSlug]; ok {
		return e
	}
	if id, ok := st.slugs[idOrSlug]; ok {
		return st.orgs[id]
	}
	return nil
}

// answer returns e's organization with its counts, as Clerk answers it. The caller
// holds mu.
func (e *orgEntry) answer() *Organization {
	o := e.org
	o.MembersCount = len(e.members)
	for _, inv := range e.invites {
		if inv.Status == "pending" {
			o.PendingInvitationsCount++
		}
	}
	return &o
}

// withOrg returns m with its organization embedded, as Clerk sends it. The caller
// holds mu.
func (st *orgStore) withOrg(m *Membership) *Membership {
	c := *m
	if e := st.orgs[st.memberOrg[m.ID]]; e != nil {
		c.Organization = e.answer()
	}
	return &c
}

// role returns the role with key, or nil. The caller holds mu.
func (st *orgStore) role(key string) *Role {
	for _, r := range st.roles {
		if r.Key == key {
			return r
		}
	}
	return nil
}

// permissionKeys returns the keys of what r grants.
func permissionKeys(r *Role) []string {
	keys := make([]string, len(r.Permissions))
	for i, p := range r.Permissions {
		keys[i] = p.Key
	}
	return keys
}

// addMember stores m as a membership of e. The caller holds mu.
func (st *orgStore) addMember(e *orgEntry, m *Membership) {
	e.members = insertByCreated(e.members, m, func(m *Membership) (int64, string) { return m.CreatedAt, m.ID })
	if e.byUser == nil {
		e.byUser = make(map[string]*Membership)
	}
	e.byUser[m.PublicUserData.UserID] = m
	st.members[m.ID] = m
	st.memberOrg[m.ID] = e.org.ID
	u := st.byUser[m.PublicUserData.UserID]
	if u == nil {
		u = make(map[string]*Membership)
		st.byUser[m.PublicUserData.UserID] = u
	}
	u[m.ID] = m
	st.used[m.ID] = true
}

// replaceMember stores next in place of the membership with the same id. The caller
// holds mu.
func (st *orgStore) replaceMember(e *orgEntry, next *Membership) {
	i := slices.IndexFunc(e.members, func(m *Membership) bool { return m.ID == next.ID })
	if i >= 0 {
		e.members[i] = next
	}
	e.byUser[next.PublicUserData.UserID] = next
	st.members[next.ID] = next
	st.byUser[next.PublicUserData.UserID][next.ID] = next
}

// removeMember deletes the membership m of e. The caller holds mu.
func (st *orgStore) removeMember(e *orgEntry, m *Membership) {
	e.members = slices.DeleteFunc(e.members, func(x *Membership) bool { return x.ID == m.ID })
	delete(e.byUser, m.PublicUserData.UserID)
	delete(st.members, m.ID)
	delete(st.memberOrg, m.ID)
	if u := st.byUser[m.PublicUserData.UserID]; u != nil {
		delete(u, m.ID)
		if len(u) == 0 {
			delete(st.byUser, m.PublicUserData.UserID)
		}
	}
}

// replaceInvite stores next in place of the invitation with the same id. The caller
// holds mu.
func (st *orgStore) replaceInvite(e *orgEntry, next *Invitation) {
	if i := slices.IndexFunc(e.invites, func(x *Invitation) bool { return x.ID == next.ID }); i >= 0 {
		e.invites[i] = next
	}
	st.invites[next.ID] = next
}

// insertByCreated inserts v into list, kept ascending by created_at then id.
func insertByCreated[T any](list []T, v T, key func(T) (int64, string)) []T {
	c, id := key(v)
	i, _ := slices.BinarySearchFunc(list, v, func(e T, _ T) int {
		ec, eid := key(e)
		if r := cmp.Compare(ec, c); r != 0 {
			return r
		}
		return cmp.Compare(eid, id)
	})
	return slices.Insert(list, i, v)
}

// pageOf returns the page of list (ascending by creation) that offset and limit
// select, newest first when desc.
func pageOf[T any](list []T, offset, limit int, desc bool) []T {
	n := len(list)
	from := min(n, offset)
	to := min(n, from+limit)
	out := make([]T, 0, to-from)
	for i := from; i < to; i++ {
		if desc {
			out = append(out, list[n-1-i])
		} else {
			out = append(out, list[i])
		}
	}
	return out
}

// listBody marshals a list answer of Clerk's: {"data":[…],"total_count":n}.
func listBody[T any](data []T, total int) ([]byte, error) {
	return json.Marshal(struct {
		Data       []T `json:"data"`
		TotalCount int `json:"total_count"`
	}{data, total})
}

// metadataOr returns m, or {} when it is empty or null.
func metadataOr(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return json.RawMessage(`{}`)
	}
	return m
}
