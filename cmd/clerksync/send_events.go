package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/clerksync/clerksync/clerkfake"
)

// sendTypes are the event types send builds a body for, by the object they are
// about.
var sendTypes = []string{
	clerkfake.EventUserCreated, clerkfake.EventUserUpdated, clerkfake.EventUserDeleted,
	clerkfake.EventOrganizationCreated, clerkfake.EventOrganizationUpdated, clerkfake.EventOrganizationDeleted,
	clerkfake.EventMembershipCreated, clerkfake.EventMembershipUpdated, clerkfake.EventMembershipDeleted,
	clerkfake.EventInvitationCreated, clerkfake.EventInvitationAccepted, clerkfake.EventInvitationRevoked,
	clerkfake.EventRoleCreated, clerkfake.EventRoleUpdated, clerkfake.EventRoleDeleted,
	clerkfake.EventPermissionCreated, clerkfake.EventPermissionUpdated, clerkfake.EventPermissionDeleted,
	clerkfake.EventSessionCreated, clerkfake.EventSessionPending, clerkfake.EventSessionEnded,
	clerkfake.EventSessionRemoved, clerkfake.EventSessionRevoked,
}

// seedOf derives a stable seed from parts (ids, keys), so that every event sent for
// one object carries the same generated details unless a flag changes them.
func seedOf(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64() | 1
}

// idFor returns id when given; otherwise an id with prefix fixed by the parts it
// belongs to (so that created, updated and deleted of one membership share one id
// without a flag), or a new one when there are none.
func idFor(id, prefix string, now time.Time, parts ...string) string {
	if id != "" {
		return id
	}
	if len(parts) == 0 {
		return clerkfake.NewID(prefix, now)
	}
	return clerkfake.SeededID(prefix, stableTime(strings.Join(parts, "/")), seedOf(parts...))
}

// stableTime returns a creation time fixed by key: within the year before
// 2025-06-01, so that an object sent with several events keeps its created_at.
func stableTime(key string) time.Time {
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	return base.Add(time.Duration(seedOf(key)%uint64(365*24*time.Hour/time.Millisecond)) * time.Millisecond)
}

// createdAt returns when the object id was created, the same for every event about
// it: the time its id carries (Clerk's ids carry it; a new one carries now), else a
// time fixed by the id.
func createdAt(id string, now time.Time) time.Time {
	if t, ok := clerkfake.IDTime(id); ok && !t.After(now) {
		return t
	}
	if t := stableTime(id); t.Before(now) {
		return t
	}
	return now
}

// checkID refuses an id without the prefix of its kind.
func checkID(flag, id, prefix string) error {
	if id != "" && !strings.HasPrefix(id, prefix) {
		return usagef("--%s %q is not a Clerk id of that kind (they start with %s)", flag, id, prefix)
	}
	return nil
}

// eventData returns the data of an event of c.eventType built from the flags, and the
// object id the event is about.
func (c *SendCommand) eventData(now time.Time) (any, string, error) {
	for _, f := range []struct{ flag, id, prefix string }{
		{"user-id", c.userID, "user_"}, {"org-id", c.orgID, "org_"}, {"membership-id", c.membershipID, "orgmem_"},
		{"invitation-id", c.invitationID, "orginv_"}, {"role-id", c.roleID, "role_"}, {"permission-id", c.permissionID, "perm_"},
		{"session-id", c.sessionID, "sess_"},
	} {
		if err := checkID(f.flag, f.id, f.prefix); err != nil {
			return nil, "", err
		}
	}
	var meta json.RawMessage
	if c.publicMeta != "" {
		if !json.Valid([]byte(c.publicMeta)) {
			return nil, "", usagef("--public-metadata is not valid JSON: %s", c.publicMeta)
		}
		meta = json.RawMessage(c.publicMeta)
	}
	typ := c.eventType
	switch {
	case strings.HasPrefix(typ, "user."):
		u := c.user(typ, now, meta)
		return u, u.ID, nil
	case strings.HasPrefix(typ, "organization."):
		o := c.organization(typ, now, meta)
		if typ == clerkfake.EventOrganizationDeleted {
			return clerkfake.DeletedOrganization(o.ID, o.Slug), o.ID, nil
		}
		return o, o.ID, nil
	case strings.HasPrefix(typ, "organizationMembership."):
		m := c.membership(typ, now, meta)
		return m, m.ID, nil
	case strings.HasPrefix(typ, "organizationInvitation."):
		inv := c.invitation(typ, now, meta)
		return inv, inv.ID, nil
	case strings.HasPrefix(typ, "role."):
		r := c.roleEvent(typ, now)
		if typ == clerkfake.EventRoleDeleted {
			return clerkfake.DeletedRole(r.ID), r.ID, nil
		}
		return r, r.ID, nil
	case strings.HasPrefix(typ, "permission."):
		p := c.permission(typ, now)
		if typ == clerkfake.EventPermissionDeleted {
			return clerkfake.DeletedPermission(p.ID), p.ID, nil
		}
		return p, p.ID, nil
	case strings.HasPrefix(typ, "session."):
		s := c.session(typ, now)
		return s, s.ID, nil
	}
	return nil, "", fmt.Errorf("no builder for %s", typ)
}

// user returns the user the flags describe, updated now.
func (c *SendCommand) user(eventType string, now time.Time, meta json.RawMessage) *clerkfake.User {
	if c.userID == "" {
		c.userID = clerkfake.NewUserID()
	}
	p := clerkfake.UserParams{
		Seed: seedOf(c.userID), ID: c.userID, FirstName: c.firstName, LastName: c.lastName,
		Username: c.username, Email: c.email, Phone: c.phone, ExternalID: c.externalID,
		Rich: true, CreatedAt: createdAt(c.userID, now), UpdatedAt: now, PublicMetadata: meta,
	}
	return clerkfake.NewUser(p)
}

// organization returns the organization the flags describe, updated now.
func (c *SendCommand) organization(eventType string, now time.Time, meta json.RawMessage) *clerkfake.Organization {
	c.orgID = idFor(c.orgID, "org_", now)
	name := c.orgName
	if name == "" {
		name = "Acme " + c.orgID[len(c.orgID)-4:]
	}
	slug := c.slug
	if slug == "" {
		slug = strings.ToLower(strings.NewReplacer(" ", "-").Replace(name))
	}
	created := createdAt(c.orgID, now).UnixMilli()
	if meta == nil || !strings.HasPrefix(eventType, "organization.") {
		meta = json.RawMessage(`{}`)
	}
	return &clerkfake.Organization{
		Object: "organization", ID: c.orgID, Name: name, Slug: slug,
		ImageURL: "https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9", MembersCount: 1, AdminDeleteEnabled: true,
		PublicMetadata: meta, PrivateMetadata: json.RawMessage(`{}`), CreatedBy: c.userID,
		CreatedAt: created, UpdatedAt: max(created, now.UnixMilli()),
	}
}

// roleOf returns the name and permission keys Clerk gives role.
func roleOf(role string) (string, []string) {
	switch role {
	case "org:admin":
		return "Admin", []string{"org:sys_profile:manage", "org:sys_profile:delete", "org:sys_memberships:read",
			"org:sys_memberships:manage", "org:sys_domains:read", "org:sys_domains:manage"}
	case "org:member":
		return "Member", []string{"org:sys_memberships:read"}
	}
	name := strings.TrimPrefix(role, "org:")
	if name == "" {
		return role, []string{}
	}
	return strings.ToUpper(name[:1]) + strings.ReplaceAll(name[1:], "_", " "), []string{}
}

// membership returns the membership of the user in the organization the flags
// describe, with both embedded as Clerk sends them.
func (c *SendCommand) membership(eventType string, now time.Time, meta json.RawMessage) *clerkfake.Membership {
	u := c.user(eventType, now, nil)
	org := c.organization(clerkfake.EventOrganizationUpdated, now, nil)
	org.UpdatedAt = org.CreatedAt // the organization itself did not change
	c.membershipID = idFor(c.membershipID, "orgmem_", now, c.orgID, c.userID)
	role := c.memberRole()
	roleName, perms := roleOf(role)
	created := createdAt(c.membershipID, now).UnixMilli()
	if meta == nil {
		meta = json.RawMessage(`{}`)
	}
	return &clerkfake.Membership{
		Object: "organization_membership", ID: c.membershipID, Role: role, RoleName: roleName, Permissions: perms,
		PublicMetadata: meta, PrivateMetadata: json.RawMessage(`{}`), Organization: org,
		PublicUserData: clerkfake.PublicUserData{
			UserID: u.ID, FirstName: u.FirstName, LastName: u.LastName, ProfileImageURL: u.ImageURL, ImageURL: u.ImageURL,
			HasImage: u.HasImage, Identifier: primaryEmail(u), Username: u.Username,
		},
		CreatedAt: created, UpdatedAt: max(created, now.UnixMilli()),
	}
}

// memberRole returns the role key of a membership or invitation: --role, or
// org:member.
func (c *SendCommand) memberRole() string {
	if c.role == "" {
		return "org:member"
	}
	return c.role
}

func primaryEmail(u *clerkfake.User) *string {
	for _, e := range u.EmailAddresses {
		if u.PrimaryEmailAddressID != nil && e.ID == *u.PrimaryEmailAddressID {
			addr := e.EmailAddress
			return &addr
		}
	}
	return nil
}

// invitation returns the invitation the flags describe, in the status its event
// type says.
func (c *SendCommand) invitation(eventType string, now time.Time, meta json.RawMessage) *clerkfake.Invitation {
	c.orgID = idFor(c.orgID, "org_", now)
	email := c.email
	if email == "" {
		email = "invitee." + strings.ToLower(c.orgID[len(c.orgID)-4:]) + "@example.com"
	}
	c.invitationID = idFor(c.invitationID, "orginv_", now, c.orgID, email)
	role := c.memberRole()
	roleName, _ := roleOf(role)
	created := createdAt(c.invitationID, now)
	expires := created.Add(30 * 24 * time.Hour).UnixMilli()
	url := "https://accounts.example.com/accept-invitation?token=" + c.invitationID[len(c.invitationID)-12:]
	if meta == nil {
		meta = json.RawMessage(`{}`)
	}
	inv := &clerkfake.Invitation{
		Object: "organization_invitation", ID: c.invitationID, EmailAddress: email, Role: role, RoleName: roleName,
		OrganizationID: c.orgID, Status: "pending", PublicMetadata: meta, PrivateMetadata: json.RawMessage(`{}`),
		URL: &url, ExpiresAt: &expires, CreatedAt: created.UnixMilli(), UpdatedAt: max(created.UnixMilli(), now.UnixMilli()),
	}
	switch eventType {
	case clerkfake.EventInvitationAccepted:
		inv.Status = "accepted"
		if c.userID == "" {
			c.userID = clerkfake.NewUserID()
		}
		inv.UserID = &c.userID
	case clerkfake.EventInvitationRevoked:
		inv.Status = "revoked"
	}
	return inv
}

// roleEvent returns the role the flags describe.
func (c *SendCommand) roleEvent(eventType string, now time.Time) *clerkfake.Role {
	key := c.role
	if key == "" {
		key = "org:editor"
	}
	c.roleID = idFor(c.roleID, "role_", now, key)
	name := c.name
	if name == "" {
		name, _ = roleOf(key)
	}
	desc := "Sent by clerksync send"
	created := createdAt(c.roleID, now).UnixMilli()
	r := &clerkfake.Role{Object: "role", ID: c.roleID, Name: name, Key: key, Description: &desc,
		Permissions: []clerkfake.Permission{}, CreatedAt: created, UpdatedAt: max(created, now.UnixMilli())}
	for _, k := range splitList(c.permissions) {
		p := permissionWith(k, "", "", clerkfake.EventPermissionUpdated, now)
		p.UpdatedAt = p.CreatedAt
		r.Permissions = append(r.Permissions, *p)
	}
	return r
}

// permission returns the permission the flags describe.
func (c *SendCommand) permission(eventType string, now time.Time) *clerkfake.Permission {
	key := c.key
	if key == "" {
		key = "org:posts:create"
	}
	p := permissionWith(key, c.permissionID, c.name, eventType, now)
	c.permissionID = p.ID
	return p
}

// permissionWith returns the permission with key (and id and name when given).
func permissionWith(key, id, name, eventType string, now time.Time) *clerkfake.Permission {
	id = idFor(id, "perm_", now, key)
	if name == "" {
		// org:posts:create is "Create posts".
		parts := strings.Split(strings.TrimPrefix(key, "org:"), ":")
		slices.Reverse(parts)
		name = strings.Join(parts, " ")
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	created := createdAt(id, now).UnixMilli()
	return &clerkfake.Permission{Object: "permission", ID: id, Name: name, Key: key,
		Description: "Sent by clerksync send", Type: "custom", CreatedAt: created, UpdatedAt: max(created, now.UnixMilli())}
}

// session returns a session of the user the flags describe, carrying the whole user
// as Clerk's session events do, in the status its event type says.
func (c *SendCommand) session(eventType string, now time.Time) *clerkfake.Session {
	u := c.user(eventType, now, nil)
	s := clerkfake.NewSession(u, c.orgID, now, seedOf(u.ID, c.sessionID))
	if c.sessionID != "" {
		s.ID = c.sessionID
	}
	s.Status = map[string]string{
		clerkfake.EventSessionCreated: "active", clerkfake.EventSessionPending: "pending",
		clerkfake.EventSessionEnded: "ended", clerkfake.EventSessionRemoved: "removed", clerkfake.EventSessionRevoked: "revoked",
	}[eventType]
	return s
}
