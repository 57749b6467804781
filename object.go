package clerksync

import (
	"encoding/json"
	"time"
)

// Object is one Clerk object as clerksync keeps it: a *Profile, *Organization,
// *Membership, *Invitation, *Role or *Permission.
type Object interface {
	// ObjectKey returns the object's kind and id.
	ObjectKey() ObjectKey
	// Versions returns Clerk's created_at and updated_at of the object, in ms.
	Versions() (createdAt, updatedAt int64)
	// AppendRow appends the object's columns to dst in the order of its Table's
	// Columns; synced_at and sync_source are the object's SyncedAt and SyncSource.
	AppendRow(dst Row) Row
	// RawJSON returns the object as Clerk sent it (nil when unknown).
	RawJSON() json.RawMessage
}

var (
	_ Object = (*Profile)(nil)
	_ Object = (*Organization)(nil)
	_ Object = (*Membership)(nil)
	_ Object = (*Invitation)(nil)
	_ Object = (*Role)(nil)
	_ Object = (*Permission)(nil)
)

// Organization is one row of the organizations table.
type Organization struct {
	OrgID     string
	Name      string
	Slug      string
	ImageURL  string
	CreatedBy string
	// MaxAllowedMemberships is Clerk's limit on members, 0 for none.
	MaxAllowedMemberships int64
	PublicMetadata        json.RawMessage
	// PrivateMetadata is kept only when the operator opts in; nil otherwise.
	PrivateMetadata json.RawMessage
	CreatedAt       int64
	UpdatedAt       int64
	SyncedAt        time.Time
	SyncSource      Source
	Raw             json.RawMessage
}

// Membership is one row of organization_memberships: a user's membership of an
// organization, with its role.
type Membership struct {
	MembershipID string
	OrgID        string
	UserID       string
	// Role is the role's key, such as "org:admin"; RoleName its name.
	Role     string
	RoleName string
	// Permissions is the JSON array of the permission keys the role grants.
	Permissions     json.RawMessage
	PublicMetadata  json.RawMessage
	PrivateMetadata json.RawMessage
	CreatedAt       int64
	UpdatedAt       int64
	SyncedAt        time.Time
	SyncSource      Source
	Raw             json.RawMessage

	// Organization is the organization the membership carries, as Clerk sends it in
	// membership events and listings; nil when it came without one. It is upserted
	// with the membership. Not a column.
	Organization *Organization
	// Member is what Clerk tells of the user (public_user_data); not a column.
	Member MemberInfo
}

// MemberInfo is the public data of a member that Clerk sends with a membership.
type MemberInfo struct {
	Identifier string // the email address, phone number or username the user signs in with
	FirstName  string
	LastName   string
	ImageURL   string
}

// Invitation is one row of organization_invitations.
type Invitation struct {
	InvitationID string
	OrgID        string
	Email        string
	Role         string
	RoleName     string
	// Status is pending, accepted, revoked or expired.
	Status string
	// UserID is the user who accepted the invitation ("" until then).
	UserID          string
	PublicMetadata  json.RawMessage
	PrivateMetadata json.RawMessage
	ExpiresAt       int64
	CreatedAt       int64
	UpdatedAt       int64
	SyncedAt        time.Time
	SyncSource      Source
	Raw             json.RawMessage
}

// Role is one row of organization_roles.
type Role struct {
	RoleID      string
	Key         string
	Name        string
	Description string
	// Permissions is the JSON array of the keys of the role's permissions.
	Permissions json.RawMessage
	CreatedAt   int64
	UpdatedAt   int64
	SyncedAt    time.Time
	SyncSource  Source
	Raw         json.RawMessage
}

// Permission is one row of organization_permissions.
type Permission struct {
	PermissionID string
	Key          string
	Name         string
	Description  string
	// Type is system or user.
	Type       string
	CreatedAt  int64
	UpdatedAt  int64
	SyncedAt   time.Time
	SyncSource Source
	Raw        json.RawMessage
}

// appendTail appends the values of the columns every table ends with (see tail):
// created_at, updated_at, synced_at (NULL when zero) and sync_source.
func appendTail(dst Row, createdAt, updatedAt int64, syncedAt time.Time, source Source) Row {
	var synced any
	if !syncedAt.IsZero() {
		synced = syncedAt.UnixMilli()
	}
	return append(dst, Millis(createdAt), Millis(updatedAt), synced, Text(string(source)))
}

// ObjectKey returns the user's key.
func (p *Profile) ObjectKey() ObjectKey { return ObjectKey{KindUser, p.UserID} }

// Versions returns the user's created_at and updated_at.
func (p *Profile) Versions() (int64, int64) { return p.CreatedAt, p.UpdatedAt }

// RawJSON returns the user object as Clerk sent it.
func (p *Profile) RawJSON() json.RawMessage { return p.Raw }

// AppendRow appends the columns of profiles.
func (p *Profile) AppendRow(dst Row) Row {
	dst = append(dst,
		p.UserID, Text(p.Email), p.EmailVerified, Text(p.Phone), Text(p.Username),
		Text(p.FirstName), Text(p.LastName), Text(p.ImageURL), Text(p.ExternalID),
		JSON(p.PublicMetadata), JSON(p.UnsafeMetadata), JSON(p.PrivateMetadata),
		p.Banned, p.Locked, Millis(p.LastSignInAt), Millis(p.LastActiveAt),
	)
	return appendTail(dst, p.CreatedAt, p.UpdatedAt, p.SyncedAt, p.SyncSource)
}

// ObjectKey returns the organization's key.
func (o *Organization) ObjectKey() ObjectKey { return ObjectKey{KindOrganization, o.OrgID} }

// Versions returns the organization's created_at and updated_at.
func (o *Organization) Versions() (int64, int64) { return o.CreatedAt, o.UpdatedAt }

// RawJSON returns the organization as Clerk sent it.
func (o *Organization) RawJSON() json.RawMessage { return o.Raw }

// AppendRow appends the columns of organizations.
func (o *Organization) AppendRow(dst Row) Row {
	var max any
	if o.MaxAllowedMemberships != 0 {
		max = o.MaxAllowedMemberships
	}
	dst = append(dst,
		o.OrgID, Text(o.Name), Text(o.Slug), Text(o.ImageURL), Text(o.CreatedBy), max,
		JSON(o.PublicMetadata), JSON(o.PrivateMetadata),
	)
	return appendTail(dst, o.CreatedAt, o.UpdatedAt, o.SyncedAt, o.SyncSource)
}

// ObjectKey returns the membership's key.
func (m *Membership) ObjectKey() ObjectKey { return ObjectKey{KindMembership, m.MembershipID} }

// Versions returns the membership's created_at and updated_at.
func (m *Membership) Versions() (int64, int64) { return m.CreatedAt, m.UpdatedAt }

// RawJSON returns the membership as Clerk sent it.
func (m *Membership) RawJSON() json.RawMessage { return m.Raw }

// AppendRow appends the columns of organization_memberships.
func (m *Membership) AppendRow(dst Row) Row {
	dst = append(dst,
		m.MembershipID, Text(m.OrgID), Text(m.UserID), Text(m.Role), Text(m.RoleName),
		JSON(m.Permissions), JSON(m.PublicMetadata), JSON(m.PrivateMetadata),
	)
	return appendTail(dst, m.CreatedAt, m.UpdatedAt, m.SyncedAt, m.SyncSource)
}

// ObjectKey returns the invitation's key.
func (i *Invitation) ObjectKey() ObjectKey { return ObjectKey{KindInvitation, i.InvitationID} }

// Versions returns the invitation's created_at and updated_at.
func (i *Invitation) Versions() (int64, int64) { return i.CreatedAt, i.UpdatedAt }

// RawJSON returns the invitation as Clerk sent it.
func (i *Invitation) RawJSON() json.RawMessage { return i.Raw }

// AppendRow appends the columns of organization_invitations.
func (i *Invitation) AppendRow(dst Row) Row {
	dst = append(dst,
		i.InvitationID, Text(i.OrgID), Text(i.Email), Text(i.Role), Text(i.RoleName), Text(i.Status),
		Text(i.UserID), JSON(i.PublicMetadata), JSON(i.PrivateMetadata), Millis(i.ExpiresAt),
	)
	return appendTail(dst, i.CreatedAt, i.UpdatedAt, i.SyncedAt, i.SyncSource)
}

// ObjectKey returns the role's key.
func (r *Role) ObjectKey() ObjectKey { return ObjectKey{KindRole, r.RoleID} }

// Versions returns the role's created_at and updated_at.
func (r *Role) Versions() (int64, int64) { return r.CreatedAt, r.UpdatedAt }

// RawJSON returns the role as Clerk sent it.
func (r *Role) RawJSON() json.RawMessage { return r.Raw }

// AppendRow appends the columns of organization_roles.
func (r *Role) AppendRow(dst Row) Row {
	dst = append(dst,
		r.RoleID, Text(r.Key), Text(r.Name), Text(r.Description), JSON(r.Permissions),
	)
	return appendTail(dst, r.CreatedAt, r.UpdatedAt, r.SyncedAt, r.SyncSource)
}

// ObjectKey returns the permission's key.
func (p *Permission) ObjectKey() ObjectKey { return ObjectKey{KindPermission, p.PermissionID} }

// Versions returns the permission's created_at and updated_at.
func (p *Permission) Versions() (int64, int64) { return p.CreatedAt, p.UpdatedAt }

// RawJSON returns the permission as Clerk sent it.
func (p *Permission) RawJSON() json.RawMessage { return p.Raw }

// AppendRow appends the columns of organization_permissions.
func (p *Permission) AppendRow(dst Row) Row {
	dst = append(dst,
		p.PermissionID, Text(p.Key), Text(p.Name), Text(p.Description), Text(p.Type),
	)
	return appendTail(dst, p.CreatedAt, p.UpdatedAt, p.SyncedAt, p.SyncSource)
}

// ObjectFromRow returns the object of kind k whose columns are row (in the order of
// k's Table) and whose raw column is raw.
func ObjectFromRow(k Kind, row Row, raw json.RawMessage) Object {
	synced := func(i int) time.Time {
		if ms := RowInt(row[i]); ms != 0 {
			return time.UnixMilli(ms).UTC()
		}
		return time.Time{}
	}
	t := k.Table()
	created, updated := RowInt(row[t.createdAt()]), RowInt(row[t.updatedAt()])
	syncedAt, source := synced(t.syncedAt()), Source(RowText(row[t.syncSource()]))
	switch k {
	case KindUser:
		return &Profile{
			UserID: RowText(row[0]), Email: RowText(row[1]), EmailVerified: RowBool(row[2]),
			Phone: RowText(row[3]), Username: RowText(row[4]), FirstName: RowText(row[5]),
			LastName: RowText(row[6]), ImageURL: RowText(row[7]), ExternalID: RowText(row[8]),
			PublicMetadata: RowJSON(row[9]), UnsafeMetadata: RowJSON(row[10]), PrivateMetadata: RowJSON(row[11]),
			Banned: RowBool(row[12]), Locked: RowBool(row[13]),
			LastSignInAt: RowInt(row[14]), LastActiveAt: RowInt(row[15]),
			CreatedAt: created, UpdatedAt: updated, SyncedAt: syncedAt, SyncSource: source, Raw: raw,
		}
	case KindOrganization:
		return &Organization{
			OrgID: RowText(row[0]), Name: RowText(row[1]), Slug: RowText(row[2]), ImageURL: RowText(row[3]),
			CreatedBy: RowText(row[4]), MaxAllowedMemberships: RowInt(row[5]),
			PublicMetadata: RowJSON(row[6]), PrivateMetadata: RowJSON(row[7]),
			CreatedAt: created, UpdatedAt: updated, SyncedAt: syncedAt, SyncSource: source, Raw: raw,
		}
	case KindMembership:
		return &Membership{
			MembershipID: RowText(row[0]), OrgID: RowText(row[1]), UserID: RowText(row[2]),
			Role: RowText(row[3]), RoleName: RowText(row[4]), Permissions: RowJSON(row[5]),
			PublicMetadata: RowJSON(row[6]), PrivateMetadata: RowJSON(row[7]),
			CreatedAt: created, UpdatedAt: updated, SyncedAt: syncedAt, SyncSource: source, Raw: raw,
		}
	case KindInvitation:
		return &Invitation{
			InvitationID: RowText(row[0]), OrgID: RowText(row[1]), Email: RowText(row[2]),
			Role: RowText(row[3]), RoleName: RowText(row[4]), Status: RowText(row[5]), UserID: RowText(row[6]),
			PublicMetadata: RowJSON(row[7]), PrivateMetadata: RowJSON(row[8]), ExpiresAt: RowInt(row[9]),
			CreatedAt: created, UpdatedAt: updated, SyncedAt: syncedAt, SyncSource: source, Raw: raw,
		}
	case KindRole:
		return &Role{
			RoleID: RowText(row[0]), Key: RowText(row[1]), Name: RowText(row[2]),
			Description: RowText(row[3]), Permissions: RowJSON(row[4]),
			CreatedAt: created, UpdatedAt: updated, SyncedAt: syncedAt, SyncSource: source, Raw: raw,
		}
	case KindPermission:
		return &Permission{
			PermissionID: RowText(row[0]), Key: RowText(row[1]), Name: RowText(row[2]),
			Description: RowText(row[3]), Type: RowText(row[4]),
			CreatedAt: created, UpdatedAt: updated, SyncedAt: syncedAt, SyncSource: source, Raw: raw,
		}
	}
	return nil
}
