package clerkfake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"
)

// OrganizationParams describes an organization for CreateOrganization. Only Name is
// needed; the id and slug are generated when empty.
type OrganizationParams struct {
	ID   string
	Name string
	// Slug defaults to the name in lower case with dashes.
	Slug string
	// CreatedBy is the id of the user who created the organization: Clerk makes them
	// its first member, an admin (organizationMembership.created follows
	// organization.created). Empty for an organization created through the API.
	CreatedBy             string
	MaxAllowedMemberships int64
	PublicMetadata        json.RawMessage // {} when nil
	PrivateMetadata       json.RawMessage // {} when nil
	// CreatedAt defaults to the server's clock.
	CreatedAt time.Time
}

// rng returns a generator for the next ids, fixed by the server's seed.
func (s *Server) rng() *rand.Rand {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	return newRand(s.store.nextSeed())
}

var slugUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// slugOf returns Clerk's slug for name: lower case, dashes for the rest.
func slugOf(name string) string {
	return strings.Trim(slugUnsafe.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

// ensureRoles gives the instance Clerk's system permissions and default roles, as
// Clerk does when organizations are turned on, at ms. The caller holds mu.
func (st *orgStore) ensureRoles(ms int64, rng *rand.Rand) {
	if len(st.roles) > 0 || len(st.perms) > 0 {
		return
	}
	t := time.UnixMilli(ms)
	byKey := map[string]Permission{}
	for _, p := range systemPermissions {
		perm := &Permission{Object: "permission", ID: newID("perm_", t, rng), Name: p.name, Key: p.key,
			Description: p.description, Type: "system", CreatedAt: ms, UpdatedAt: ms}
		st.perms = append(st.perms, perm)
		st.used[perm.ID] = true
		byKey[p.key] = *perm
	}
	for _, r := range defaultRoles {
		desc := r.description
		role := &Role{Object: "role", ID: newID("role_", t, rng), Name: r.name, Key: r.key, Description: &desc,
			IsCreatorEligible: r.key == "org:admin", CreatedAt: ms, UpdatedAt: ms, Permissions: []Permission{}}
		for _, k := range r.permissions {
			role.Permissions = append(role.Permissions, byKey[k])
		}
		st.roles = append(st.roles, role)
		st.used[role.ID] = true
	}
}

// CreateOrganization creates an organization from p and calls the organization
// hooks with organization.created, then, when p.CreatedBy names a user, with the
// organizationMembership.created of its first member. It returns ErrSlugTaken when
// the slug is in use, ErrUserNotFound for an unknown creator.
func (s *Server) CreateOrganization(p OrganizationParams) (*Organization, error) {
	created := p.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	ms := created.UnixMilli()
	rng := s.rng()
	name := strings.TrimSpace(p.Name)
	if name == "" {
		return nil, fmt.Errorf("create organization: %w: a name is needed", ErrInvalidParams)
	}
	o := Organization{
		Object: "organization", ID: orDefault(p.ID, newID("org_", created, rng)), Name: name,
		Slug: orDefault(p.Slug, slugOf(name)), MaxAllowedMemberships: p.MaxAllowedMemberships,
		AdminDeleteEnabled: true, PublicMetadata: metadataOr(p.PublicMetadata),
		PrivateMetadata: metadataOr(p.PrivateMetadata), CreatedBy: p.CreatedBy,
		CreatedAt: ms, UpdatedAt: ms,
	}
	o.ImageURL = "https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCIsImlpZCI6Imluc18yZzducDdIcmswU042a2o1RURNTERhS05MMFMiLCJyaWQiOiJvcmdfIn0"
	var creator PublicUserData
	if p.CreatedBy != "" {
		var ok bool
		if creator, ok = s.publicUser(p.CreatedBy); !ok {
			return nil, fmt.Errorf("create organization: creator %s: %w", p.CreatedBy, ErrUserNotFound)
		}
	}

	return orgChange(s, func(st *orgStore) (*Organization, []OrgEvent, error) {
		if st.used[o.ID] {
			return nil, nil, fmt.Errorf("create organization %s: %w: the id was used before", o.ID, ErrInvalidParams)
		}
		if _, taken := st.slugs[o.Slug]; taken {
			return nil, nil, fmt.Errorf("create organization: slug %q: %w", o.Slug, ErrSlugTaken)
		}
		st.ensureRoles(ms, rng)
		e := &orgEntry{org: o}
		st.orgs[o.ID] = e
		st.slugs[o.Slug] = o.ID
		st.used[o.ID] = true
		st.order = insertByCreated(st.order, e, func(e *orgEntry) (int64, string) { return e.org.CreatedAt, e.org.ID })
		events := []OrgEvent{{Type: EventOrganizationCreated, ObjectID: o.ID, OrgID: o.ID}}
		var m *Membership
		if p.CreatedBy != "" {
			m = st.newMember(e, creator, "org:admin", ms, rng)
			st.addMember(e, m)
		}
		events[0].Data = e.answer()
		if m != nil {
			events = append(events, OrgEvent{Type: EventMembershipCreated, Data: st.withOrg(m), ObjectID: m.ID, OrgID: o.ID, UserID: creator.UserID})
		}
		return e.answer(), events, nil
	})
}

// orgChange runs f under the lock of the organization store, then, unless f failed,
// calls the organization hooks with the events f returned. It returns what f returned.
func orgChange[T any](s *Server, f func(st *orgStore) (T, []OrgEvent, error)) (T, error) {
	st := s.orgs
	st.mu.Lock()
	v, events, err := f(st)
	st.mu.Unlock()
	if err != nil {
		var zero T
		return zero, err
	}
	s.notifyOrg(events...)
	return v, nil
}

// ErrInvalidParams says the parameters of a change are not acceptable.
var ErrInvalidParams = fmt.Errorf("clerkfake: invalid parameters")

// newMember returns a membership of user in e with role at ms. The caller holds mu.
func (st *orgStore) newMember(e *orgEntry, user PublicUserData, role string, ms int64, rng *rand.Rand) *Membership {
	m := &Membership{
		Object: organizationMembershipType, ID: newID("orgmem_", time.UnixMilli(ms), rng), Role: role,
		PublicMetadata: json.RawMessage(`{}`), PrivateMetadata: json.RawMessage(`{}`), PublicUserData: user,
		CreatedAt: ms, UpdatedAt: ms, Permissions: []string{},
	}
	if r := st.role(role); r != nil {
		m.RoleName, m.Permissions = r.Name, permissionKeys(r)
	}
	return m
}

// publicUser returns what a membership tells of the user id.
func (s *Server) publicUser(id string) (PublicUserData, bool) {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	r, ok := s.store.byID[id]
	if !ok {
		return PublicUserData{}, false
	}
	return r.public, true
}

// UpdateOrganization changes the organization id with f, as the Dashboard would:
// updated_at moves to the current time (at least one millisecond on) unless f set it.
// It calls the hooks with organization.updated and returns the organization, or
// ErrOrganizationNotFound, or ErrSlugTaken.
func (s *Server) UpdateOrganization(id string, f func(*Organization)) (*Organization, error) {
	return orgChange(s, func(st *orgStore) (*Organization, []OrgEvent, error) {
		e := st.orgs[id]
		if e == nil {
			return nil, nil, fmt.Errorf("update organization %s: %w", id, ErrOrganizationNotFound)
		}
		o := e.org
		o.PublicMetadata = slices.Clone(o.PublicMetadata)
		o.PrivateMetadata = slices.Clone(o.PrivateMetadata)
		f(&o)
		o.ID, o.Object = id, "organization"
		if o.Slug != e.org.Slug {
			if other, taken := st.slugs[o.Slug]; taken && other != id {
				return nil, nil, fmt.Errorf("update organization %s: slug %q: %w", id, o.Slug, ErrSlugTaken)
			}
			delete(st.slugs, e.org.Slug)
			st.slugs[o.Slug] = id
		}
		if o.UpdatedAt == e.org.UpdatedAt {
			o.UpdatedAt = max(s.now().UnixMilli(), e.org.UpdatedAt+1)
		}
		o.PublicMetadata, o.PrivateMetadata = metadataOr(o.PublicMetadata), metadataOr(o.PrivateMetadata)
		e.org = o
		answer := e.answer()
		return answer, []OrgEvent{{Type: EventOrganizationUpdated, Data: answer, ObjectID: id, OrgID: id}}, nil
	})
}

// DeleteOrganization deletes the organization id with its memberships and
// invitations, as Clerk does, and calls the hooks with organization.deleted (the only
// event Clerk sends). The id is never used again. It returns ErrOrganizationNotFound
// for an unknown id.
func (s *Server) DeleteOrganization(id string) error {
	_, err := orgChange(s, func(st *orgStore) (struct{}, []OrgEvent, error) {
		e := st.orgs[id]
		if e == nil {
			return struct{}{}, nil, fmt.Errorf("delete organization %s: %w", id, ErrOrganizationNotFound)
		}
		for _, m := range slices.Clone(e.members) {
			st.removeMember(e, m)
		}
		for _, inv := range e.invites {
			delete(st.invites, inv.ID)
		}
		delete(st.orgs, id)
		delete(st.slugs, e.org.Slug)
		st.order = slices.DeleteFunc(st.order, func(x *orgEntry) bool { return x == e })
		return struct{}{}, []OrgEvent{{Type: EventOrganizationDeleted, Data: DeletedOrganization(id, e.org.Slug), ObjectID: id, OrgID: id}}, nil
	})
	return err
}

// AddMember makes the user userID a member of the organization orgID with role
// (org:member when empty) and calls the hooks with organizationMembership.created. It
// returns ErrOrganizationNotFound, ErrUserNotFound, ErrRoleNotFound or
// ErrAlreadyMember.
func (s *Server) AddMember(orgID, userID, role string) (*Membership, error) {
	m, ev, err := s.addMember(orgID, userID, role)
	if err != nil {
		return nil, err
	}
	s.notifyOrg(ev)
	return m, nil
}

func (s *Server) addMember(orgID, userID, role string) (*Membership, OrgEvent, error) {
	if role == "" {
		role = "org:member"
	}
	user, ok := s.publicUser(userID)
	if !ok {
		return nil, OrgEvent{}, fmt.Errorf("add member %s: %w", userID, ErrUserNotFound)
	}
	rng := s.rng()
	ms := s.now().UnixMilli()
	st := s.orgs
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.orgs[orgID]
	switch {
	case e == nil:
		return nil, OrgEvent{}, fmt.Errorf("add member to %s: %w", orgID, ErrOrganizationNotFound)
	case e.byUser[userID] != nil:
		return nil, OrgEvent{}, fmt.Errorf("add %s to %s: %w", userID, orgID, ErrAlreadyMember)
	case st.role(role) == nil:
		return nil, OrgEvent{}, fmt.Errorf("add %s to %s as %q: %w", userID, orgID, role, ErrRoleNotFound)
	}
	m := st.newMember(e, user, role, ms, rng)
	st.addMember(e, m)
	full := st.withOrg(m)
	return full, OrgEvent{Type: EventMembershipCreated, Data: full, ObjectID: m.ID, OrgID: orgID, UserID: userID}, nil
}

// UpdateMember gives the user userID the role role in the organization orgID and
// calls the hooks with organizationMembership.updated. It returns
// ErrOrganizationNotFound, ErrMembershipNotFound or ErrRoleNotFound.
func (s *Server) UpdateMember(orgID, userID, role string) (*Membership, error) {
	return orgChange(s, func(st *orgStore) (*Membership, []OrgEvent, error) {
		e := st.orgs[orgID]
		if e == nil {
			return nil, nil, fmt.Errorf("update member of %s: %w", orgID, ErrOrganizationNotFound)
		}
		old := e.byUser[userID]
		r := st.role(role)
		switch {
		case old == nil:
			return nil, nil, fmt.Errorf("update %s in %s: %w", userID, orgID, ErrMembershipNotFound)
		case r == nil:
			return nil, nil, fmt.Errorf("update %s in %s to %q: %w", userID, orgID, role, ErrRoleNotFound)
		}
		m := *old
		m.Role, m.RoleName, m.Permissions = r.Key, r.Name, permissionKeys(r)
		m.UpdatedAt = max(s.now().UnixMilli(), old.UpdatedAt+1)
		st.replaceMember(e, &m)
		full := st.withOrg(&m)
		return full, []OrgEvent{{Type: EventMembershipUpdated, Data: full, ObjectID: m.ID, OrgID: orgID, UserID: userID}}, nil
	})
}

// RemoveMember removes the user userID from the organization orgID and calls the
// hooks with organizationMembership.deleted, which carries the whole membership. It
// returns ErrOrganizationNotFound or ErrMembershipNotFound.
func (s *Server) RemoveMember(orgID, userID string) (*Membership, error) {
	return orgChange(s, func(st *orgStore) (*Membership, []OrgEvent, error) {
		e := st.orgs[orgID]
		if e == nil {
			return nil, nil, fmt.Errorf("remove member of %s: %w", orgID, ErrOrganizationNotFound)
		}
		m := e.byUser[userID]
		if m == nil {
			return nil, nil, fmt.Errorf("remove %s from %s: %w", userID, orgID, ErrMembershipNotFound)
		}
		full := st.withOrg(m)
		st.removeMember(e, m)
		full.Organization = e.answer()
		return full, []OrgEvent{{Type: EventMembershipDeleted, Data: full, ObjectID: m.ID, OrgID: orgID, UserID: userID}}, nil
	})
}

// dropUserMemberships removes every membership of the deleted user id, silently.
func (s *Server) dropUserMemberships(id string) {
	st := s.orgs
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range st.byUser[id] {
		if e := st.orgs[st.memberOrg[m.ID]]; e != nil {
			st.removeMember(e, m)
		}
	}
}

// Invite invites email to the organization orgID with role (org:member when empty),
// from the user inviterID ("" for the API), and calls the hooks with
// organizationInvitation.created. It returns ErrOrganizationNotFound or
// ErrRoleNotFound.
func (s *Server) Invite(orgID, email, role, inviterID string) (*Invitation, error) {
	if role == "" {
		role = "org:member"
	}
	email = strings.TrimSpace(email)
	if !strings.Contains(email, "@") {
		return nil, fmt.Errorf("invite %q: %w: not an email address", email, ErrInvalidParams)
	}
	var inviter *InviterData
	if inviterID != "" {
		u, ok := s.publicUser(inviterID)
		if !ok {
			return nil, fmt.Errorf("invite from %s: %w", inviterID, ErrUserNotFound)
		}
		inviter = &InviterData{UserID: u.UserID, FirstName: u.FirstName, LastName: u.LastName, ImageURL: u.ImageURL, HasImage: u.HasImage}
		if u.Identifier != nil {
			inviter.Identifier = *u.Identifier
		}
	}
	rng := s.rng()
	now := s.now()
	ms := now.UnixMilli()
	return orgChange(s, func(st *orgStore) (*Invitation, []OrgEvent, error) {
		e := st.orgs[orgID]
		var r *Role
		if e != nil {
			r = st.role(role)
		}
		switch {
		case e == nil:
			return nil, nil, fmt.Errorf("invite to %s: %w", orgID, ErrOrganizationNotFound)
		case r == nil:
			return nil, nil, fmt.Errorf("invite to %s as %q: %w", orgID, role, ErrRoleNotFound)
		}
		expires := now.Add(30 * 24 * time.Hour).UnixMilli()
		inv := &Invitation{
			Object: organizationInvitationType, ID: newID("orginv_", now, rng), EmailAddress: email,
			Role: r.Key, RoleName: r.Name, OrganizationID: orgID, PublicInviterData: inviter, Status: "pending",
			PublicMetadata: json.RawMessage(`{}`), PrivateMetadata: json.RawMessage(`{}`), ExpiresAt: &expires,
			CreatedAt: ms, UpdatedAt: ms,
		}
		if inviter != nil {
			inv.InviterID = &inviter.UserID
		}
		url := "https://accounts.example.com/accept-invitation?token=" + randomToken(rng, 24)
		inv.URL = &url
		e.invites = insertByCreated(e.invites, inv, func(i *Invitation) (int64, string) { return i.CreatedAt, i.ID })
		st.invites[inv.ID] = inv
		st.used[inv.ID] = true
		c := *inv
		return &c, []OrgEvent{{Type: EventInvitationCreated, Data: &c, ObjectID: inv.ID, OrgID: orgID}}, nil
	})
}

// AcceptInvitation accepts the pending invitation id as the user userID: Clerk marks
// it accepted (organizationInvitation.accepted) and makes the user a member with the
// invitation's role (organizationMembership.created), unless they are one already.
// It returns ErrInvitationNotFound or ErrUserNotFound.
func (s *Server) AcceptInvitation(id, userID string) (*Invitation, error) {
	if _, ok := s.publicUser(userID); !ok {
		return nil, fmt.Errorf("accept invitation %s: %w", id, ErrUserNotFound)
	}
	inv, err := s.setInvitationStatus(id, "accepted", userID)
	if err != nil {
		return nil, err
	}
	_, memberEvent, err := s.addMember(inv.OrganizationID, userID, inv.Role)
	events := []OrgEvent{{Type: EventInvitationAccepted, Data: inv, ObjectID: id, OrgID: inv.OrganizationID, UserID: userID}}
	if err == nil {
		events = append(events, memberEvent)
	}
	s.notifyOrg(events...)
	return inv, nil
}

// RevokeInvitation revokes the pending invitation id and calls the hooks with
// organizationInvitation.revoked. It returns ErrInvitationNotFound.
func (s *Server) RevokeInvitation(id string) (*Invitation, error) {
	inv, err := s.setInvitationStatus(id, "revoked", "")
	if err != nil {
		return nil, err
	}
	s.notifyOrg(OrgEvent{Type: EventInvitationRevoked, Data: inv, ObjectID: id, OrgID: inv.OrganizationID})
	return inv, nil
}

// setInvitationStatus moves the pending invitation id to status.
func (s *Server) setInvitationStatus(id, status, userID string) (*Invitation, error) {
	st := s.orgs
	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.invites[id]
	if old == nil || old.Status != "pending" {
		return nil, fmt.Errorf("%s invitation %s: %w", status, id, ErrInvitationNotFound)
	}
	inv := *old
	inv.Status = status
	inv.UpdatedAt = max(s.now().UnixMilli(), old.UpdatedAt+1)
	if userID != "" {
		inv.UserID = &userID
	}
	st.replaceInvite(st.orgs[inv.OrganizationID], &inv)
	c := inv
	return &c, nil
}

// CreateRole creates a role with key (org:…) granting the permissions with the
// given keys, and calls the hooks with role.created. It returns ErrSlugTaken when
// the key is in use and ErrPermissionNotFound for an unknown permission key.
func (s *Server) CreateRole(key, name, description string, permissionKeys []string) (*Role, error) {
	return roleKind.create(s, key, func(st *orgStore, id string, ms int64) (*Role, error) {
		r := &Role{Object: "role", ID: id, Name: name, Key: key, Description: optional(description),
			Permissions: []Permission{}, CreatedAt: ms, UpdatedAt: ms}
		for _, k := range permissionKeys {
			i := indexOfKey(st.perms, k)
			if i < 0 {
				return nil, fmt.Errorf("create role %q: permission %q: %w", key, k, ErrPermissionNotFound)
			}
			r.Permissions = append(r.Permissions, *st.perms[i])
		}
		return r, nil
	})
}

// UpdateRole renames the role with key and calls the hooks with role.updated. It
// returns ErrRoleNotFound.
func (s *Server) UpdateRole(key, name, description string) (*Role, error) {
	return roleKind.update(s, key, func(r *Role) {
		r.Name, r.Description = name, optional(description)
		r.UpdatedAt = max(s.now().UnixMilli(), r.UpdatedAt+1)
	})
}

// DeleteRole deletes the role with key and calls the hooks with role.deleted. It
// returns ErrRoleNotFound.
func (s *Server) DeleteRole(key string) error {
	return roleKind.delete(s, key)
}

// CreatePermission creates a custom permission with key (org:feature:action) and
// calls the hooks with permission.created. It returns ErrSlugTaken when the key is
// in use.
func (s *Server) CreatePermission(key, name, description string) (*Permission, error) {
	return permissionKind.create(s, key, func(_ *orgStore, id string, ms int64) (*Permission, error) {
		return &Permission{Object: "permission", ID: id, Name: name, Key: key, Description: description,
			Type: "custom", CreatedAt: ms, UpdatedAt: ms}, nil
	})
}

// DeletePermission deletes the permission with key and calls the hooks with
// permission.deleted. It returns ErrPermissionNotFound.
func (s *Server) DeletePermission(key string) error {
	return permissionKind.delete(s, key)
}

// keyed is a role or a permission (*T), which the instance finds by key.
type keyed[T any] interface {
	*T
	keyID() (key, id string)
}

func (r *Role) keyID() (key, id string)       { return r.Key, r.ID }
func (p *Permission) keyID() (key, id string) { return p.Key, p.ID }

// indexOfKey returns the index of the element of list with key, or -1.
func indexOfKey[T any, P keyed[T]](list []P, key string) int {
	return slices.IndexFunc(list, func(v P) bool {
		k, _ := v.keyID()
		return k == key
	})
}

// keyedKind is what the fake knows of roles or of permissions: where the store keeps
// them (created ascending), how Clerk names them and their events.
type keyedKind[T any, P keyed[T]] struct {
	name                      string // in errors
	idPrefix                  string
	list                      func(st *orgStore) *[]P
	notFound                  error
	created, updated, deleted string
	// deletedData returns the data of the deleted event of the object id.
	deletedData func(id string) any
}

var (
	roleKind = keyedKind[Role, *Role]{
		name: "role", idPrefix: "role_", list: func(st *orgStore) *[]*Role { return &st.roles }, notFound: ErrRoleNotFound,
		created: EventRoleCreated, updated: EventRoleUpdated, deleted: EventRoleDeleted, deletedData: DeletedRole,
	}
	permissionKind = keyedKind[Permission, *Permission]{
		name: "permission", idPrefix: "perm_", list: func(st *orgStore) *[]*Permission { return &st.perms }, notFound: ErrPermissionNotFound,
		created: EventPermissionCreated, updated: EventPermissionUpdated, deleted: EventPermissionDeleted, deletedData: DeletedPermission,
	}
)

// create stores what build makes of a new id at the current time, unless key is in
// use (ErrSlugTaken), having given the instance Clerk's system permissions and default
// roles first, and calls the hooks with the created event. build runs under the
// store's lock.
func (k keyedKind[T, P]) create(s *Server, key string, build func(st *orgStore, id string, ms int64) (P, error)) (*T, error) {
	rng := s.rng()
	now := s.now()
	ms := now.UnixMilli()
	return orgChange(s, func(st *orgStore) (*T, []OrgEvent, error) {
		st.ensureRoles(ms, rng)
		list := k.list(st)
		if indexOfKey(*list, key) >= 0 {
			return nil, nil, fmt.Errorf("create %s %q: %w", k.name, key, ErrSlugTaken)
		}
		v, err := build(st, newID(k.idPrefix, now, rng), ms)
		if err != nil {
			return nil, nil, err
		}
		*list = append(*list, v)
		_, id := v.keyID()
		st.used[id] = true
		c := *v
		return &c, []OrgEvent{{Type: k.created, Data: &c, ObjectID: id}}, nil
	})
}

// update stores in place of the element with key a copy of it that f changed, and
// calls the hooks with the updated event.
func (k keyedKind[T, P]) update(s *Server, key string, f func(P)) (*T, error) {
	return orgChange(s, func(st *orgStore) (*T, []OrgEvent, error) {
		list := k.list(st)
		i := indexOfKey(*list, key)
		if i < 0 {
			return nil, nil, fmt.Errorf("update %s %q: %w", k.name, key, k.notFound)
		}
		v := *(*list)[i]
		f(&v)
		(*list)[i] = &v
		c := v
		_, id := P(&c).keyID()
		return &c, []OrgEvent{{Type: k.updated, Data: &c, ObjectID: id}}, nil
	})
}

// delete deletes the element with key and calls the hooks with the deleted event.
func (k keyedKind[T, P]) delete(s *Server, key string) error {
	_, err := orgChange(s, func(st *orgStore) (string, []OrgEvent, error) {
		list := k.list(st)
		i := indexOfKey(*list, key)
		if i < 0 {
			return "", nil, fmt.Errorf("delete %s %q: %w", k.name, key, k.notFound)
		}
		_, id := (*list)[i].keyID()
		*list = slices.Delete(*list, i, i+1)
		return id, []OrgEvent{{Type: k.deleted, Data: k.deletedData(id), ObjectID: id}}, nil
	})
	return err
}

// Organization returns the organization whose id or slug is idOrSlug.
func (s *Server) Organization(idOrSlug string) (*Organization, bool) {
	s.orgs.mu.RLock()
	defer s.orgs.mu.RUnlock()
	e := s.orgs.lookup(idOrSlug)
	if e == nil {
		return nil, false
	}
	return e.answer(), true
}

// Organizations returns every organization, oldest first.
func (s *Server) Organizations() []*Organization {
	s.orgs.mu.RLock()
	defer s.orgs.mu.RUnlock()
	out := make([]*Organization, len(s.orgs.order))
	for i, e := range s.orgs.order {
		out[i] = e.answer()
	}
	return out
}

// Memberships returns the memberships of the organization orgID, oldest first, with
// the organization embedded; none for an unknown organization.
func (s *Server) Memberships(orgID string) []*Membership {
	return ofOrg(s.orgs, orgID, func(e *orgEntry) []*Membership {
		out := make([]*Membership, len(e.members))
		for i, m := range e.members {
			out[i] = s.orgs.withOrg(m)
		}
		return out
	})
}

// UserMemberships returns the memberships of the user userID, oldest first.
func (s *Server) UserMemberships(userID string) []*Membership {
	st := s.orgs
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.userMemberships(userID)
}

// userMemberships returns the memberships of userID, oldest first. The caller
// holds mu.
func (st *orgStore) userMemberships(userID string) []*Membership {
	out := make([]*Membership, 0, len(st.byUser[userID]))
	for _, m := range st.byUser[userID] {
		out = append(out, st.withOrg(m))
	}
	slices.SortFunc(out, func(a, b *Membership) int {
		return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Invitations returns the invitations of the organization orgID, oldest first,
// whatever their status.
func (s *Server) Invitations(orgID string) []*Invitation {
	return ofOrg(s.orgs, orgID, func(e *orgEntry) []*Invitation { return copies(e.invites) })
}

// ofOrg returns what f makes of the organization orgID under the store's read lock,
// or nil for an unknown organization.
func ofOrg[T any](st *orgStore, orgID string, f func(e *orgEntry) []T) []T {
	st.mu.RLock()
	defer st.mu.RUnlock()
	e := st.orgs[orgID]
	if e == nil {
		return nil
	}
	return f(e)
}

// Roles returns the instance's roles, oldest first.
func (s *Server) Roles() []*Role {
	s.orgs.mu.RLock()
	defer s.orgs.mu.RUnlock()
	return copies(s.orgs.roles)
}

// Permissions returns the instance's permissions, oldest first.
func (s *Server) Permissions() []*Permission {
	s.orgs.mu.RLock()
	defer s.orgs.mu.RUnlock()
	return copies(s.orgs.perms)
}

// copies returns copies of the values list points to.
func copies[T any](list []*T) []*T {
	out := make([]*T, len(list))
	for i, v := range list {
		c := *v
		out[i] = &c
	}
	return out
}
