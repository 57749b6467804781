package storetest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clerksync/clerksync"
)

// NewOrganization returns a realistic organization id at version updatedAt (ms),
// created at createdAt, with a Raw object in Clerk's shape. The values depend only on
// the arguments.
func NewOrganization(id string, createdAt, updatedAt int64) *clerksync.Organization {
	handle := strings.ToLower(strings.TrimPrefix(id, "org_"))
	o := &clerksync.Organization{
		OrgID:                 id,
		Name:                  fmt.Sprintf("Org %s v%d", handle, updatedAt),
		Slug:                  "org-" + handle,
		ImageURL:              "https://img.clerk.com/" + handle,
		CreatedBy:             "user_creator",
		MaxAllowedMemberships: 5,
		PublicMetadata:        json.RawMessage(fmt.Sprintf(`{"plan":"team","v":%d}`, updatedAt%97)),
		CreatedAt:             createdAt,
		UpdatedAt:             updatedAt,
		SyncSource:            clerksync.SourceWebhook,
	}
	o.Raw = mustJSON(map[string]any{
		"object": "organization", "id": o.OrgID, "name": o.Name, "slug": o.Slug, "image_url": o.ImageURL,
		"has_image": true, "members_count": 1, "max_allowed_memberships": o.MaxAllowedMemberships,
		"admin_delete_enabled": true, "public_metadata": o.PublicMetadata, "created_by": o.CreatedBy,
		"created_at": o.CreatedAt, "updated_at": o.UpdatedAt,
	})
	return o
}

// NewMembership returns a realistic membership id of userID in org with role, at
// version updatedAt, created at createdAt, carrying org as Clerk's events do.
func NewMembership(id string, org *clerksync.Organization, userID, role string, createdAt, updatedAt int64) *clerksync.Membership {
	o := *org
	m := &clerksync.Membership{
		MembershipID:   id,
		OrgID:          org.OrgID,
		UserID:         userID,
		Role:           role,
		RoleName:       strings.Title(strings.TrimPrefix(role, "org:")), //nolint:staticcheck // ASCII role names
		Permissions:    json.RawMessage(`["org:sys_profile:read","org:sys_memberships:read"]`),
		PublicMetadata: json.RawMessage(`{}`),
		CreatedAt:      createdAt,
		UpdatedAt:      updatedAt,
		SyncSource:     clerksync.SourceWebhook,
		Organization:   &o,
		Member:         clerksync.MemberInfo{Identifier: userID + "@example.com", FirstName: "Member"},
	}
	m.Raw = mustJSON(map[string]any{
		"object": "organization_membership", "id": m.MembershipID, "role": m.Role, "role_name": m.RoleName,
		"permissions": m.Permissions, "public_metadata": m.PublicMetadata, "organization": json.RawMessage(o.Raw),
		"public_user_data": map[string]any{"user_id": userID, "first_name": "Member", "last_name": nil,
			"image_url": "https://img.clerk.com/" + userID, "has_image": false, "identifier": userID + "@example.com"},
		"created_at": m.CreatedAt, "updated_at": m.UpdatedAt,
	})
	return m
}

// NewInvitation returns a realistic invitation id to orgID for email, with status, at
// version updatedAt, created at createdAt; userID is the user who accepted it, if any.
func NewInvitation(id, orgID, email, status, userID string, createdAt, updatedAt int64) *clerksync.Invitation {
	i := &clerksync.Invitation{
		InvitationID:   id,
		OrgID:          orgID,
		Email:          email,
		Role:           "org:member",
		RoleName:       "Member",
		Status:         status,
		UserID:         userID,
		PublicMetadata: json.RawMessage(`{}`),
		ExpiresAt:      createdAt + 7*86_400_000,
		CreatedAt:      createdAt,
		UpdatedAt:      updatedAt,
		SyncSource:     clerksync.SourceWebhook,
	}
	raw := map[string]any{
		"object": "organization_invitation", "id": i.InvitationID, "email_address": i.Email, "role": i.Role,
		"role_name": i.RoleName, "organization_id": i.OrgID, "status": i.Status, "public_metadata": i.PublicMetadata,
		"url": nil, "expires_at": i.ExpiresAt, "created_at": i.CreatedAt, "updated_at": i.UpdatedAt,
	}
	if userID != "" {
		raw["user_id"] = userID
	}
	i.Raw = mustJSON(raw)
	return i
}

// NewRole returns a realistic role id with key, at version updatedAt, created at
// createdAt.
func NewRole(id, key string, createdAt, updatedAt int64) *clerksync.Role {
	r := &clerksync.Role{
		RoleID:      id,
		Key:         key,
		Name:        fmt.Sprintf("Role %s v%d", key, updatedAt),
		Description: "Can manage content",
		Permissions: json.RawMessage(`["org:posts:create","org:posts:edit"]`),
		CreatedAt:   createdAt,
		UpdatedAt:   updatedAt,
		SyncSource:  clerksync.SourceWebhook,
	}
	r.Raw = mustJSON(map[string]any{
		"object": "role", "id": r.RoleID, "key": r.Key, "name": r.Name, "description": r.Description,
		"is_creator_eligible": false, "permissions": []any{
			map[string]any{"object": "permission", "id": "perm_c", "key": "org:posts:create", "name": "Create", "type": "user"},
			map[string]any{"object": "permission", "id": "perm_e", "key": "org:posts:edit", "name": "Edit", "type": "user"},
		},
		"created_at": r.CreatedAt, "updated_at": r.UpdatedAt,
	})
	return r
}

// NewPermission returns a realistic permission id with key, at version updatedAt,
// created at createdAt.
func NewPermission(id, key string, createdAt, updatedAt int64) *clerksync.Permission {
	p := &clerksync.Permission{
		PermissionID: id,
		Key:          key,
		Name:         fmt.Sprintf("Permission %s v%d", key, updatedAt),
		Description:  "Ability to do it",
		Type:         "user",
		CreatedAt:    createdAt,
		UpdatedAt:    updatedAt,
		SyncSource:   clerksync.SourceWebhook,
	}
	p.Raw = mustJSON(map[string]any{
		"object": "permission", "id": p.PermissionID, "key": p.Key, "name": p.Name,
		"description": p.Description, "type": p.Type, "created_at": p.CreatedAt, "updated_at": p.UpdatedAt,
	})
	return p
}

// Event returns the webhook change that delivers o as event eventID of type typ (such
// as "organizationMembership.updated"), with the event's body in Svix's envelope.
func Event(eventID, typ string, o clerksync.Object) clerksync.Change {
	c := clerksync.Upsert(o, clerksync.SourceWebhook)
	_, updated := o.Versions()
	c.EventID, c.EventType, c.EventTime = eventID, typ, updated
	c.Body = envelope(typ, updated, o.RawJSON())
	return c
}

// DeleteEvent returns the webhook change of type typ (such as "organization.deleted")
// that deletes key, delivered as eventID at eventTime (ms), its data the deleted
// object Clerk sends.
func DeleteEvent(eventID, typ string, key clerksync.ObjectKey, eventTime int64) clerksync.Change {
	c := clerksync.Delete(key, clerksync.SourceWebhook)
	c.EventID, c.EventType, c.EventTime = eventID, typ, eventTime
	c.Body = envelope(typ, eventTime, mustJSON(map[string]any{"object": key.Kind.String(), "id": key.ID, "deleted": true}))
	return c
}

// MembershipDeleted returns the organizationMembership.deleted change for m, which
// carries the whole membership as Clerk's does.
func MembershipDeleted(eventID string, m *clerksync.Membership, eventTime int64) clerksync.Change {
	c := Event(eventID, "organizationMembership.deleted", m)
	c.Op = clerksync.OpDelete
	c.EventTime = eventTime
	return c
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("storetest: marshal: %v", err))
	}
	return b
}

// ObjectDiff returns the differences between two objects in the columns that come
// from Clerk, "" when they are equal: JSON by meaning; SyncedAt, SyncSource, and what
// a membership carries but does not store (its organization, its member's data) are
// not compared.
func ObjectDiff(want, got clerksync.Object) string {
	return cmp.Diff(want, got, jsonValue,
		cmpopts.IgnoreFields(clerksync.Profile{}, "SyncedAt", "SyncSource"),
		cmpopts.IgnoreFields(clerksync.Organization{}, "SyncedAt", "SyncSource"),
		cmpopts.IgnoreFields(clerksync.Membership{}, "SyncedAt", "SyncSource", "Organization", "Member"),
		cmpopts.IgnoreFields(clerksync.Invitation{}, "SyncedAt", "SyncSource"),
		cmpopts.IgnoreFields(clerksync.Role{}, "SyncedAt", "SyncSource"),
		cmpopts.IgnoreFields(clerksync.Permission{}, "SyncedAt", "SyncSource"),
	)
}
