package clerkfake

import (
	"encoding/json"
	"fmt"
	"time"
)

// Organization is a Clerk organization. Marshalled with encoding/json it gives the
// same JSON as GET /v1/organizations/{organization_id} and the data of
// organization.created and organization.updated, field for field and in Clerk's order.
type Organization struct {
	Object                               string          `json:"object"`
	ID                                   string          `json:"id"`
	Name                                 string          `json:"name"`
	Slug                                 string          `json:"slug"`
	ImageURL                             string          `json:"image_url"`
	HasImage                             bool            `json:"has_image"`
	MembersCount                         int             `json:"members_count"`
	MissingMemberWithElevatedPermissions bool            `json:"missing_member_with_elevated_permissions"`
	PendingInvitationsCount              int             `json:"pending_invitations_count"`
	MaxAllowedMemberships                int64           `json:"max_allowed_memberships"`
	AdminDeleteEnabled                   bool            `json:"admin_delete_enabled"`
	PublicMetadata                       json.RawMessage `json:"public_metadata"`
	PrivateMetadata                      json.RawMessage `json:"private_metadata"`
	CreatedBy                            string          `json:"created_by"`
	CreatedAt                            int64           `json:"created_at"`
	UpdatedAt                            int64           `json:"updated_at"`
}

// Membership is a Clerk organization membership: the data of organizationMembership
// events (deleted included, which carries the whole membership) and an element of
// the Backend API's lists of memberships, with the organization and the member's
// public data embedded as Clerk sends them.
type Membership struct {
	Object          string          `json:"object"`
	ID              string          `json:"id"`
	Role            string          `json:"role"`
	RoleName        string          `json:"role_name"`
	Permissions     []string        `json:"permissions"`
	PublicMetadata  json.RawMessage `json:"public_metadata"`
	PrivateMetadata json.RawMessage `json:"private_metadata"`
	Organization    *Organization   `json:"organization"`
	PublicUserData  PublicUserData  `json:"public_user_data"`
	CreatedAt       int64           `json:"created_at"`
	UpdatedAt       int64           `json:"updated_at"`
}

// PublicUserData is what a membership tells of its user.
type PublicUserData struct {
	UserID          string  `json:"user_id"`
	FirstName       *string `json:"first_name"`
	LastName        *string `json:"last_name"`
	ProfileImageURL string  `json:"profile_image_url"`
	ImageURL        string  `json:"image_url"`
	HasImage        bool    `json:"has_image"`
	Identifier      *string `json:"identifier"`
	Username        *string `json:"username"`
}

// Invitation is a Clerk organization invitation: the data of organizationInvitation
// events and an element of GET /v1/organizations/{organization_id}/invitations.
type Invitation struct {
	Object            string          `json:"object"`
	ID                string          `json:"id"`
	EmailAddress      string          `json:"email_address"`
	Role              string          `json:"role"`
	RoleName          string          `json:"role_name"`
	OrganizationID    string          `json:"organization_id"`
	InviterID         *string         `json:"inviter_id"`
	PublicInviterData *InviterData    `json:"public_inviter_data"`
	Status            string          `json:"status"`
	PublicMetadata    json.RawMessage `json:"public_metadata"`
	PrivateMetadata   json.RawMessage `json:"private_metadata"`
	URL               *string         `json:"url"`
	// UserID is the user who accepted the invitation; Clerk sends it only then.
	UserID    *string `json:"user_id,omitempty"`
	ExpiresAt *int64  `json:"expires_at"`
	CreatedAt int64   `json:"created_at"`
	UpdatedAt int64   `json:"updated_at"`
}

// InviterData is what an invitation tells of the user who sent it.
type InviterData struct {
	UserID     string  `json:"user_id"`
	FirstName  *string `json:"first_name"`
	LastName   *string `json:"last_name"`
	ImageURL   string  `json:"image_url"`
	HasImage   bool    `json:"has_image"`
	Identifier string  `json:"identifier"`
}

// Role is a Clerk organization role, with the permissions it grants.
type Role struct {
	Object            string       `json:"object"`
	ID                string       `json:"id"`
	Name              string       `json:"name"`
	Key               string       `json:"key"`
	Description       *string      `json:"description"`
	IsCreatorEligible bool         `json:"is_creator_eligible"`
	Permissions       []Permission `json:"permissions"`
	CreatedAt         int64        `json:"created_at"`
	UpdatedAt         int64        `json:"updated_at"`
}

// Permission is a Clerk organization permission.
type Permission struct {
	Object      string `json:"object"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Key         string `json:"key"`
	Description string `json:"description"`
	// Type is system for Clerk's own permissions (org:sys_…), custom otherwise.
	Type      string `json:"type"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

// Session is a Clerk session as session events carry it: with the whole user.
type Session struct {
	Object                   string  `json:"object"`
	ID                       string  `json:"id"`
	UserID                   string  `json:"user_id"`
	User                     *User   `json:"user"`
	ClientID                 string  `json:"client_id"`
	Actor                    any     `json:"actor"`
	Status                   string  `json:"status"`
	LastActiveOrganizationID *string `json:"last_active_organization_id"`
	LastActiveAt             int64   `json:"last_active_at"`
	ExpireAt                 int64   `json:"expire_at"`
	AbandonAt                int64   `json:"abandon_at"`
	UpdatedAt                int64   `json:"updated_at"`
	CreatedAt                int64   `json:"created_at"`
}

// The event types Clerk sends about organizations and what belongs to them, and about
// sessions.
const (
	EventOrganizationCreated = "organization.created"
	EventOrganizationUpdated = "organization.updated"
	EventOrganizationDeleted = "organization.deleted"
	EventMembershipCreated   = "organizationMembership.created"
	EventMembershipUpdated   = "organizationMembership.updated"
	EventMembershipDeleted   = "organizationMembership.deleted"
	EventInvitationCreated   = "organizationInvitation.created"
	EventInvitationAccepted  = "organizationInvitation.accepted"
	EventInvitationRevoked   = "organizationInvitation.revoked"
	EventRoleCreated         = "role.created"
	EventRoleUpdated         = "role.updated"
	EventRoleDeleted         = "role.deleted"
	EventPermissionCreated   = "permission.created"
	EventPermissionUpdated   = "permission.updated"
	EventPermissionDeleted   = "permission.deleted"
	EventSessionCreated      = "session.created"
	EventSessionEnded        = "session.ended"
	EventSessionRemoved      = "session.removed"
	EventSessionRevoked      = "session.revoked"
	EventSessionPending      = "session.pending"
)

// The object names of Clerk's organization-side objects.
const (
	deletedOrganizationObject  = "organization"
	deletedRoleObject          = "role"
	deletedPermissionObject    = "permission"
	organizationMembershipType = "organization_membership"
	organizationInvitationType = "organization_invitation"
)

// OrgEvent is a change the fake made to an organization, a membership, an
// invitation, a role or a permission, as Clerk announces it: Data is what the
// webhook carries (a *Organization, *Membership, *Invitation, *Role, *Permission, or
// for organization.deleted, role.deleted and permission.deleted a deleted object).
type OrgEvent struct {
	Type string
	Data any
	// ObjectID is the id of the object the event is about; OrgID its organization
	// and UserID its user, when it has them.
	ObjectID string
	OrgID    string
	UserID   string
}

// deletedObject is the data of organization.deleted, role.deleted and
// permission.deleted.
type deletedObject struct {
	Object  string  `json:"object"`
	ID      string  `json:"id"`
	Slug    *string `json:"slug,omitempty"`
	Deleted bool    `json:"deleted"`
}

// deletedRole is the data of role.deleted, which Clerk writes with a null slug.
type deletedRole struct {
	Object  string  `json:"object"`
	ID      string  `json:"id"`
	Slug    *string `json:"slug"`
	Deleted bool    `json:"deleted"`
}

// DeletedOrganization returns the data of organization.deleted for id and slug.
func DeletedOrganization(id, slug string) any {
	return deletedObject{Object: deletedOrganizationObject, ID: id, Slug: &slug, Deleted: true}
}

// DeletedRole returns the data of role.deleted for id.
func DeletedRole(id string) any {
	return deletedRole{Object: deletedRoleObject, ID: id, Deleted: true}
}

// DeletedPermission returns the data of permission.deleted for id.
func DeletedPermission(id string) any {
	return deletedObject{Object: deletedPermissionObject, ID: id, Deleted: true}
}

// MarshalEvent returns the body Clerk sends for an event of eventType whose data is
// data, at time at: the same envelope as WebhookEvent's. It returns an error when
// data cannot be marshalled (metadata that is not valid JSON).
func MarshalEvent(eventType string, data any, at time.Time) ([]byte, error) {
	body, err := marshalEnvelope(eventType, data, at)
	if err != nil {
		return nil, fmt.Errorf("marshal %s event: %w", eventType, err)
	}
	return body, nil
}

// ObjectIDs returns the ids of the Clerk objects raws, such as the data of a list
// answer. It returns an error when one is not an object with a string id.
func ObjectIDs(raws []json.RawMessage) ([]string, error) {
	out := make([]string, len(raws))
	for i, raw := range raws {
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
		out[i] = head.ID
	}
	return out, nil
}

// NewSession returns a session of u created at created, active, as session events
// carry it; orgID is the session's active organization ("" for none).
func NewSession(u *User, orgID string, created time.Time, seed uint64) *Session {
	rng := newRand(seed)
	ms := created.UnixMilli()
	s := &Session{
		Object: "session", ID: newID("sess_", created, rng), UserID: u.ID, User: u,
		ClientID: newID("client_", created, rng), Status: "active",
		LastActiveAt: ms, ExpireAt: created.Add(7 * 24 * time.Hour).UnixMilli(),
		AbandonAt: created.Add(30 * 24 * time.Hour).UnixMilli(), UpdatedAt: ms, CreatedAt: ms,
	}
	if orgID != "" {
		s.LastActiveOrganizationID = &orgID
	}
	return s
}

// Clerk's system permissions and default roles, which every instance with
// organizations has.
var (
	systemPermissions = []struct{ key, name, description string }{
		{"org:sys_profile:manage", "Manage organization", "Permission to manage an organization."},
		{"org:sys_profile:delete", "Delete organization", "Permission to delete an organization."},
		{"org:sys_memberships:read", "Read members", "Permission to read the members of an organization."},
		{"org:sys_memberships:manage", "Manage members", "Permission to manage the members of an organization."},
		{"org:sys_domains:read", "Read domains", "Permission to read the domains of an organization."},
		{"org:sys_domains:manage", "Manage domains", "Permission to manage the domains of an organization."},
	}
	defaultRoles = []struct {
		key, name, description string
		permissions            []string
	}{
		{"org:admin", "Admin", "Role with elevated permissions in the organization.", []string{
			"org:sys_profile:manage", "org:sys_profile:delete", "org:sys_memberships:read",
			"org:sys_memberships:manage", "org:sys_domains:read", "org:sys_domains:manage"}},
		{"org:member", "Member", "Role with non-elevated permissions in the organization.", []string{
			"org:sys_memberships:read"}},
	}
)
