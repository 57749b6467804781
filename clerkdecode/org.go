package clerkdecode

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/clerksync/clerksync"
)

// Organizations, memberships, invitations, roles and permissions arrive far less often
// than users, so they are decoded with encoding/json rather than walked by hand; what
// is kept of them (raw) is still the payload's own bytes, minus private metadata unless
// the operator opted in.

// objectJSON is what clerksync reads of every Clerk object: its id and timestamps.
type objectJSON struct {
	ID        string `json:"id"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

// metadataJSON is the metadata of an organization, a membership or an invitation.
type metadataJSON struct {
	PublicMetadata  json.RawMessage `json:"public_metadata"`
	PrivateMetadata json.RawMessage `json:"private_metadata"`
}

// public returns the public metadata as stored.
func (m *metadataJSON) public() json.RawMessage { return metadata(m.PublicMetadata) }

// private returns the private metadata as stored when opt keeps it, nil otherwise.
func (m *metadataJSON) private(opt Options) json.RawMessage {
	if !opt.KeepPrivateMetadata {
		return nil
	}
	return metadata(m.PrivateMetadata)
}

// keyedJSON is what clerksync reads of a role or a permission besides its id and
// timestamps and its own members. (It does not embed objectJSON: encoding/json
// allocates for each level of embedding a member is found at.)
type keyedJSON struct {
	Key         *string `json:"key"`
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// orgJSON is what clerksync reads of a Clerk organization.
type orgJSON struct {
	objectJSON
	metadataJSON
	Name                  *string `json:"name"`
	Slug                  *string `json:"slug"`
	ImageURL              *string `json:"image_url"`
	LogoURL               *string `json:"logo_url"`
	CreatedBy             *string `json:"created_by"`
	MaxAllowedMemberships *int64  `json:"max_allowed_memberships"`
}

// memberJSON is what clerksync reads of a Clerk organization membership.
type memberJSON struct {
	objectJSON
	metadataJSON
	Role           *string         `json:"role"`
	RoleName       *string         `json:"role_name"`
	Permissions    json.RawMessage `json:"permissions"`
	Organization   json.RawMessage `json:"organization"`
	PublicUserData *struct {
		UserID          *string `json:"user_id"`
		FirstName       *string `json:"first_name"`
		LastName        *string `json:"last_name"`
		ImageURL        *string `json:"image_url"`
		ProfileImageURL *string `json:"profile_image_url"`
		Identifier      *string `json:"identifier"`
	} `json:"public_user_data"`
}

// invitationJSON is what clerksync reads of a Clerk organization invitation.
type invitationJSON struct {
	objectJSON
	metadataJSON
	EmailAddress   *string `json:"email_address"`
	Role           *string `json:"role"`
	RoleName       *string `json:"role_name"`
	OrganizationID *string `json:"organization_id"`
	Status         *string `json:"status"`
	UserID         *string `json:"user_id"`
	ExpiresAt      *int64  `json:"expires_at"`
}

// roleJSON is what clerksync reads of a Clerk role.
type roleJSON struct {
	objectJSON
	keyedJSON
	// Permissions are permission objects in Clerk's payloads; only their keys are kept.
	Permissions []json.RawMessage `json:"permissions"`
}

// permissionJSON is what clerksync reads of a Clerk permission.
type permissionJSON struct {
	objectJSON
	keyedJSON
	Type *string `json:"type"`
}

// DecodeOrganization decodes a Clerk organization object (the data of an
// organization.created or .updated event, or an answer of the Backend API). Null or
// missing public metadata becomes {}; private_metadata is kept only with
// opt.KeepPrivateMetadata, and cut out of Raw otherwise. It returns a *DecodeError when
// data is not a JSON object of the right shape, or lacks an id or updated_at.
func DecodeOrganization(data []byte, opt Options) (*clerksync.Organization, error) {
	var j orgJSON
	raw, err := decodeKept(data, opt, &j, &j.objectJSON)
	if err != nil {
		return nil, err
	}
	o := &clerksync.Organization{
		OrgID: j.ID, Name: str(j.Name), Slug: str(j.Slug), ImageURL: firstOf(str(j.ImageURL), str(j.LogoURL)),
		CreatedBy: str(j.CreatedBy), PublicMetadata: j.public(), PrivateMetadata: j.private(opt),
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, Raw: raw,
	}
	if j.MaxAllowedMemberships != nil {
		o.MaxAllowedMemberships = *j.MaxAllowedMemberships
	}
	return o, nil
}

// DecodeMembership decodes a Clerk organization membership (the data of an
// organizationMembership event, or an element of the Backend API's list of an
// organization's memberships), with the organization it carries. It returns a
// *DecodeError when data is not a membership of the right shape, or lacks an id,
// updated_at, its organization's id or its user's id.
func DecodeMembership(data []byte, opt Options) (*clerksync.Membership, error) {
	var j memberJSON
	raw, err := decodeKept(data, opt, &j, &j.objectJSON)
	if err != nil {
		return nil, err
	}
	if j.PublicUserData == nil || str(j.PublicUserData.UserID) == "" {
		return nil, missing("public_user_data.user_id")
	}
	if len(j.Organization) == 0 || string(j.Organization) == "null" {
		return nil, missing("organization")
	}
	// The organization's private metadata is cut from raw already unless it is kept.
	org, err := DecodeOrganization(j.Organization, Options{KeepPrivateMetadata: true})
	if err != nil {
		return nil, within(err, "organization")
	}
	if !opt.KeepPrivateMetadata {
		org.PrivateMetadata = nil
	}
	u := j.PublicUserData
	return &clerksync.Membership{
		MembershipID: j.ID, OrgID: org.OrgID, UserID: str(u.UserID), Role: str(j.Role), RoleName: str(j.RoleName),
		Permissions: array(j.Permissions), PublicMetadata: j.public(), PrivateMetadata: j.private(opt),
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, Raw: raw,
		Organization: org,
		Member: clerksync.MemberInfo{
			Identifier: str(u.Identifier), FirstName: str(u.FirstName), LastName: str(u.LastName),
			ImageURL: firstOf(str(u.ImageURL), str(u.ProfileImageURL)),
		},
	}, nil
}

// DecodeInvitation decodes a Clerk organization invitation (the data of an
// organizationInvitation event, or an element of the Backend API's list). It returns a
// *DecodeError when data is not an invitation of the right shape, or lacks an id,
// updated_at or organization_id.
func DecodeInvitation(data []byte, opt Options) (*clerksync.Invitation, error) {
	var j invitationJSON
	raw, err := decodeKept(data, opt, &j, &j.objectJSON)
	if err != nil {
		return nil, err
	}
	if str(j.OrganizationID) == "" {
		return nil, missing("organization_id")
	}
	i := &clerksync.Invitation{
		InvitationID: j.ID, OrgID: str(j.OrganizationID), Email: str(j.EmailAddress), Role: str(j.Role),
		RoleName: str(j.RoleName), Status: str(j.Status), UserID: str(j.UserID),
		PublicMetadata: j.public(), PrivateMetadata: j.private(opt),
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, Raw: raw,
	}
	if j.ExpiresAt != nil {
		i.ExpiresAt = *j.ExpiresAt
	}
	return i, nil
}

// DecodeRole decodes a Clerk role (the data of a role event, or an element of the
// Backend API's list of organization roles); Permissions keeps the keys of its
// permissions. It returns a *DecodeError when data is not a role of the right shape, or
// lacks an id, key or updated_at.
func DecodeRole(data []byte) (*clerksync.Role, error) {
	var j roleJSON
	if err := decodeKeyed(data, &j, &j.objectJSON, &j.keyedJSON); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(j.Permissions))
	for n, p := range j.Permissions {
		var k struct {
			Key *string `json:"key"`
		}
		// Clerk sends permission objects; a bare key is accepted too.
		if err := json.Unmarshal(p, &k); err != nil {
			var s string
			if json.Unmarshal(p, &s) != nil {
				return nil, within(&DecodeError{Offset: -1, Reason: "want a permission object or key"}, "permissions["+strconv.Itoa(n)+"]")
			}
			k.Key = &s
		}
		if str(k.Key) != "" {
			keys = append(keys, *k.Key)
		}
	}
	perms, _ := json.Marshal(keys) // strings always marshal
	return &clerksync.Role{
		RoleID: j.ID, Key: str(j.Key), Name: str(j.Name), Description: str(j.Description),
		Permissions: perms, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, Raw: json.RawMessage(data),
	}, nil
}

// DecodePermission decodes a Clerk permission (the data of a permission event, or an
// element of the Backend API's list). It returns a *DecodeError when data is not a
// permission of the right shape, or lacks an id, key or updated_at.
func DecodePermission(data []byte) (*clerksync.Permission, error) {
	var j permissionJSON
	if err := decodeKeyed(data, &j, &j.objectJSON, &j.keyedJSON); err != nil {
		return nil, err
	}
	return &clerksync.Permission{
		PermissionID: j.ID, Key: str(j.Key), Name: str(j.Name), Description: str(j.Description), Type: str(j.Type),
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, Raw: json.RawMessage(data),
	}, nil
}

// decodeKept decodes into j what is kept of the object data (see keepOf), and checks
// obj, the objectJSON j holds, for the members every object needs. It returns what is
// kept.
func decodeKept(data []byte, opt Options, j any, obj *objectJSON) ([]byte, error) {
	raw, err := keepOf(data, opt)
	if err != nil {
		return nil, err
	}
	if err := unmarshal(raw, j); err != nil {
		return nil, err
	}
	return raw, required(obj.ID, obj.UpdatedAt)
}

// decodeKeyed decodes the role or permission data into j, and checks obj and k, the
// objectJSON and keyedJSON j holds, for the members every role and permission needs.
func decodeKeyed(data []byte, j any, obj *objectJSON, k *keyedJSON) error {
	if err := unmarshal(data, j); err != nil {
		return err
	}
	if err := required(obj.ID, obj.UpdatedAt); err != nil {
		return err
	}
	if str(k.Key) == "" {
		return missing("key")
	}
	return nil
}

// keepOf returns what is kept of the object data: data itself, or, unless
// opt.KeepPrivateMetadata, data without its private metadata (its own, and that of an
// organization or user it carries). It returns a *DecodeError when data is not a JSON
// object.
func keepOf(data []byte, opt Options) ([]byte, error) {
	d := dec{b: data}
	d.ws()
	if d.next() != '{' {
		return nil, d.typeErr("an object")
	}
	_, cuts, err := d.data(!opt.KeepPrivateMetadata, nil)
	if err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return cutSpansIf(data, cuts), nil
}

// unmarshal decodes data into v, turning encoding/json's errors into a *DecodeError
// that names the member at fault but no value.
func unmarshal(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return &DecodeError{Path: memberPath(te.Field), Offset: int(te.Offset), Reason: "want " + typeName(te.Type.Kind().String()) + ", got " + te.Value}
	case errors.As(err, &se):
		return &DecodeError{Offset: int(se.Offset), Reason: "invalid JSON"}
	}
	return &DecodeError{Offset: -1, Reason: "not an object of the expected shape"}
}

// memberPath returns the path of the member an *json.UnmarshalTypeError is about:
// its Field names the structs embedded on the way to the member too (objectJSON,
// keyedJSON, …), which are not members. Their names end in JSON, which no member's does.
func memberPath(field string) string {
	if !strings.Contains(field, "JSON") {
		return field
	}
	path := strings.Split(field, ".")
	path = slices.DeleteFunc(path, func(name string) bool { return strings.HasSuffix(name, "JSON") })
	return strings.Join(path, ".")
}

func typeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int64", "int", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return kind
}

// required checks the members every object needs.
func required(id string, updatedAt int64) error {
	switch {
	case id == "":
		return &DecodeError{Path: "id", Offset: -1, Reason: "missing or empty"}
	case updatedAt == 0:
		return &DecodeError{Path: "updated_at", Offset: -1, Reason: "missing, null or zero: the change cannot be ordered"}
	}
	return nil
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// metadata returns a metadata document as stored: {} for null or missing.
func metadata(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || bytes.Equal(m, []byte("null")) {
		return emptyObject()
	}
	return m
}

// array returns a JSON array as stored: [] for null or missing.
func array(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || bytes.Equal(m, []byte("null")) {
		return json.RawMessage(`[]`)
	}
	return m
}
