package clerkdecode_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

// TestChangeFromEventOrganizations decodes every organization, membership,
// invitation, role and permission example of Clerk's webhook specification.
func TestChangeFromEventOrganizations(t *testing.T) {
	t.Parallel()
	ignore := cmpopts.IgnoreFields(clerksync.Organization{}, "Raw")
	tests := []struct {
		file   string
		op     clerksync.Op
		userID string
		want   clerksync.Object // Raw is checked apart
	}{
		{"organization.created", clerksync.OpUpsert, "", &clerksync.Organization{
			OrgID: "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S", Name: "Acme Corp", Slug: "acme-corp", ImageURL: "https://img.clerk.com/xxxxxx",
			CreatedBy: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", MaxAllowedMemberships: 5, PublicMetadata: raw(`{}`),
			CreatedAt: 1716883200000, UpdatedAt: 1716883200000, SyncSource: clerksync.SourceWebhook,
		}},
		{"organization.updated", clerksync.OpUpsert, "", &clerksync.Organization{
			OrgID: "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S", Name: "Acme Corp Updated", Slug: "acme-corp-updated", ImageURL: "https://img.clerk.com/yyyyyy",
			CreatedBy: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", MaxAllowedMemberships: 10, PublicMetadata: raw(`{"department":"engineering"}`),
			CreatedAt: 1716883200000, UpdatedAt: 1716883500000, SyncSource: clerksync.SourceWebhook,
		}},
		{"organization.deleted", clerksync.OpDelete, "", nil},
		{"organizationMembership.created", clerksync.OpUpsert, "user_2h8op3Isl1QR7tKu5FGNfaLKEoU", &clerksync.Membership{
			MembershipID: "orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S", OrgID: "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S", UserID: "user_2h8op3Isl1QR7tKu5FGNfaLKEoU",
			Role: "org:member", RoleName: "Member", Permissions: raw(`["org:posts:read","org:posts:write"]`), PublicMetadata: raw(`{}`),
			CreatedAt: 1716883200000, UpdatedAt: 1716883200000, SyncSource: clerksync.SourceWebhook,
			Member: clerksync.MemberInfo{Identifier: "jane.doe@acme.com", FirstName: "Jane", LastName: "Doe", ImageURL: "https://img.clerk.com/yyyyy"},
		}},
		{"organizationMembership.updated", clerksync.OpUpsert, "user_2h8op3Isl1QR7tKu5FGNfaLKEoU", nil},
		{"organizationMembership.deleted", clerksync.OpDelete, "user_2h8op3Isl1QR7tKu5FGNfaLKEoU", nil},
		{"organizationInvitation.created", clerksync.OpUpsert, "", &clerksync.Invitation{
			InvitationID: "orginv_2g7np7Hrk0SN6kj5EDMLDaKNL0S", OrgID: "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S", Email: "jane.doe@acme.com",
			Role: "org:member", RoleName: "Member", Status: "pending", PublicMetadata: raw(`{}`), ExpiresAt: 1717487999000,
			CreatedAt: 1716883200000, UpdatedAt: 1716883200000, SyncSource: clerksync.SourceWebhook,
		}},
		{"organizationInvitation.accepted", clerksync.OpUpsert, "user_2h8op3Isl1QR7tKu5FGNfaLKEoU", nil},
		{"organizationInvitation.revoked", clerksync.OpUpsert, "", nil},
		{"role.created", clerksync.OpUpsert, "", &clerksync.Role{
			RoleID: "role_2g7np7Hrk0SN6kj5EDMLDaKNL0S", Key: "org:content_manager", Name: "Content Manager",
			Description: "Can manage all content in the organization", Permissions: raw(`["org:posts:create"]`),
			CreatedAt: 1716883200000, UpdatedAt: 1716883200000, SyncSource: clerksync.SourceWebhook,
		}},
		{"role.updated", clerksync.OpUpsert, "", nil},
		{"role.deleted", clerksync.OpDelete, "", nil},
		{"permission.created", clerksync.OpUpsert, "", &clerksync.Permission{
			PermissionID: "perm_2g7np7Hrk0SN6kj5EDMLDaKNL0S", Key: "org:posts:create", Name: "Create Posts",
			Description: "Ability to create new posts in the organization", Type: "custom",
			CreatedAt: 1716883200000, UpdatedAt: 1716883200000, SyncSource: clerksync.SourceWebhook,
		}},
		{"permission.updated", clerksync.OpUpsert, "", nil},
		{"permission.deleted", clerksync.OpDelete, "", nil},
	}
	for _, tt := range tests {
		for _, keep := range []bool{false, true} {
			name := tt.file
			if keep {
				name += "/KeepPrivateMetadata"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				body := readFile(t, "openapi/"+tt.file+".json")
				c := clerkdecode.ChangeFromEvent("msg_1", body, clerkdecode.Options{KeepPrivateMetadata: keep})
				if c.Op != tt.op {
					t.Fatalf("Op = %v, want %v (error %q)", c.Op, tt.op, c.Error)
				}
				if err := c.Validate(); err != nil {
					t.Fatalf("the change is not valid: %v", err)
				}
				if c.UserID != tt.userID {
					t.Errorf("UserID = %q, want %q", c.UserID, tt.userID)
				}
				if !c.Kind.Valid() || c.ID == "" {
					t.Fatalf("the change names no object: %v %q", c.Kind, c.ID)
				}
				if bytes.Contains(c.Body, []byte("private_metadata")) != keep && bytes.Contains(body, []byte("private_metadata")) {
					t.Errorf("Body keeps private_metadata = %v, want %v", !keep, keep)
				}
				if c.Object == nil {
					return
				}
				if raw := c.Object.RawJSON(); !json.Valid(raw) || bytes.Contains(raw, []byte("private_metadata")) && !keep {
					t.Errorf("Raw is not valid JSON without private metadata: %s", raw)
				}
				if m, ok := c.Object.(*clerksync.Membership); ok {
					if m.Organization == nil || m.Organization.OrgID != m.OrgID || m.Organization.UpdatedAt == 0 {
						t.Errorf("the membership does not carry its organization: %+v", m.Organization)
					}
					if !keep && m.Organization.PrivateMetadata != nil {
						t.Errorf("the carried organization keeps private metadata: %s", m.Organization.PrivateMetadata)
					}
				}
				if tt.want == nil {
					return
				}
				got := c.Object
				if keep {
					switch v := got.(type) {
					case *clerksync.Organization:
						if v.PrivateMetadata == nil {
							t.Error("PrivateMetadata not kept")
						}
						v.PrivateMetadata = nil
					case *clerksync.Membership:
						v.PrivateMetadata = nil
					case *clerksync.Invitation:
						v.PrivateMetadata = nil
					}
				}
				opts := []cmp.Option{jsonEqual, ignore,
					cmpopts.IgnoreFields(clerksync.Membership{}, "Raw", "Organization"),
					cmpopts.IgnoreFields(clerksync.Invitation{}, "Raw"),
					cmpopts.IgnoreFields(clerksync.Role{}, "Raw"),
					cmpopts.IgnoreFields(clerksync.Permission{}, "Raw")}
				if diff := cmp.Diff(tt.want, got, opts...); diff != "" {
					t.Errorf("object (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// jsonEqual compares JSON documents by meaning.
var jsonEqual = cmp.Transformer("JSON", func(m json.RawMessage) any {
	var v any
	if json.Unmarshal(m, &v) != nil {
		return string(m)
	}
	return v
})

func TestDecodeObjectErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, data, want string
		decode           func([]byte) error
	}{
		{"OrganizationNoID", `{"updated_at":1}`, "id: missing", func(b []byte) error {
			_, err := clerkdecode.DecodeOrganization(b, clerkdecode.Options{})
			return err
		}},
		{"OrganizationNoUpdatedAt", `{"id":"org_1","created_at":1}`, "updated_at: missing", func(b []byte) error {
			_, err := clerkdecode.DecodeOrganization(b, clerkdecode.Options{})
			return err
		}},
		{"OrganizationNameNotString", `{"id":"org_1","updated_at":1,"name":5}`, "name: want a string, got number", func(b []byte) error {
			_, err := clerkdecode.DecodeOrganization(b, clerkdecode.Options{})
			return err
		}},
		{"MembershipNoUser", `{"id":"orgmem_1","updated_at":1,"organization":{"id":"org_1","updated_at":1}}`, "public_user_data.user_id: missing", func(b []byte) error {
			_, err := clerkdecode.DecodeMembership(b, clerkdecode.Options{})
			return err
		}},
		{"MembershipNoOrganization", `{"id":"orgmem_1","updated_at":1,"public_user_data":{"user_id":"user_1"}}`, "organization: missing", func(b []byte) error {
			_, err := clerkdecode.DecodeMembership(b, clerkdecode.Options{})
			return err
		}},
		{"InvitationNoOrganization", `{"id":"orginv_1","updated_at":1}`, "organization_id: missing", func(b []byte) error {
			_, err := clerkdecode.DecodeInvitation(b, clerkdecode.Options{})
			return err
		}},
		{"RoleNoKey", `{"id":"role_1","updated_at":1}`, "key: missing", func(b []byte) error {
			_, err := clerkdecode.DecodeRole(b)
			return err
		}},
		{"NotAnObject", `[1,2]`, "want an object", func(b []byte) error {
			_, err := clerkdecode.DecodeOrganization(b, clerkdecode.Options{})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.decode([]byte(tt.data))
			var de *clerkdecode.DecodeError
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &de) {
				t.Fatalf("error = %v, want a *DecodeError with %q", err, tt.want)
			}
		})
	}
}

// TestDecodeObjectErrorPaths checks that a member of the wrong type is named by its
// path in the payload alone.
func TestDecodeObjectErrorPaths(t *testing.T) {
	t.Parallel()
	keep := clerkdecode.Options{KeepPrivateMetadata: true}
	for _, tt := range []struct {
		name, data, path string
		decode           func([]byte) error
	}{
		{"OrganizationID", `{"id":5,"updated_at":1}`, "id", func(b []byte) error {
			_, err := clerkdecode.DecodeOrganization(b, keep)
			return err
		}},
		{"OrganizationUpdatedAt", `{"id":"org_1","updated_at":"1"}`, "updated_at", func(b []byte) error {
			_, err := clerkdecode.DecodeOrganization(b, keep)
			return err
		}},
		{"MembershipUserID", `{"id":"orgmem_1","updated_at":1,"public_user_data":{"user_id":1}}`, "public_user_data.user_id", func(b []byte) error {
			_, err := clerkdecode.DecodeMembership(b, keep)
			return err
		}},
		{"MembershipOrganizationCreatedAt", `{"id":"orgmem_1","updated_at":1,"public_user_data":{"user_id":"user_1"},"organization":{"id":"org_1","created_at":true,"updated_at":1}}`, "organization.created_at", func(b []byte) error {
			_, err := clerkdecode.DecodeMembership(b, keep)
			return err
		}},
		{"InvitationExpiresAt", `{"id":"orginv_1","updated_at":1,"organization_id":"org_1","expires_at":"soon"}`, "expires_at", func(b []byte) error {
			_, err := clerkdecode.DecodeInvitation(b, keep)
			return err
		}},
		{"RoleKey", `{"id":"role_1","updated_at":1,"key":[]}`, "key", func(b []byte) error {
			_, err := clerkdecode.DecodeRole(b)
			return err
		}},
		{"PermissionCreatedAt", `{"id":"perm_1","updated_at":1,"key":"org:a:b","created_at":{}}`, "created_at", func(b []byte) error {
			_, err := clerkdecode.DecodePermission(b)
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.decode([]byte(tt.data))
			var de *clerkdecode.DecodeError
			if !errors.As(err, &de) || de.Path != tt.path {
				t.Fatalf("error = %v, want a *DecodeError at %q", err, tt.path)
			}
		})
	}
}
