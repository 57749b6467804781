package main

import (
	"context"
	"strings"
	"testing"

	"github.com/clerksync/clerksync"
)

// TestSend_EveryType sends an organization's whole life with clerksync send: each
// event type is built like Clerk's, signed, accepted and applied.
func TestSend_EveryType(t *testing.T) {
	t.Parallel()
	s := MustRunServe(t, nil)
	send := func(args ...string) string {
		t.Helper()
		m, stdout, stderr := testMain(map[string]string{"CLERK_WEBHOOK_SECRET": testSecret})
		if code := m.exitCode(m.Run(context.Background(), append(append([]string{"send"}, args...), "--to", s.URL+"/api/webhooks/clerk"))); code != 0 {
			t.Fatalf("send %v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		out := stdout.String()
		if !strings.Contains(out, "200 OK") || !strings.Contains(out, `"outcome":"applied"`) {
			t.Fatalf("send %v printed %q", args, out)
		}
		return out
	}
	object := func(k clerksync.Kind, id string) clerksync.Object {
		t.Helper()
		o, err := s.store.Object(context.Background(), clerksync.ObjectKey{Kind: k, ID: id})
		if clerksync.ErrorCode(err) == clerksync.ENOTFOUND {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	const (
		org  = "org_2sendAAAAAAAAAAAAAAAAAAAAAA"
		ada  = "user_2sendAdaAAAAAAAAAAAAAAAAAA"
		role = "role_2sendAAAAAAAAAAAAAAAAAAAAA"
	)

	send("session.created", "--user-id", ada, "--first-name", "Ada", "--org-id", org)
	if p := s.profile(t, ada); p == nil || p.FirstName != "Ada" {
		t.Fatalf("a session event stores the user it carries: %+v", p)
	}
	send("organization.created", "--org-id", org, "--org-name", "Acme Inc", "--user-id", ada, "--public-metadata", `{"tier":"gold"}`)
	if o, _ := object(clerksync.KindOrganization, org).(*clerksync.Organization); o == nil || o.Name != "Acme Inc" || o.Slug != "acme-inc" || string(o.PublicMetadata) != `{"tier":"gold"}` {
		t.Fatalf("organization = %+v", o)
	}
	out := send("organizationMembership.created", "--org-id", org, "--user-id", ada, "--role", "org:admin")
	var memberID string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "orgmem_") {
			memberID = f
		}
	}
	m, _ := object(clerksync.KindMembership, memberID).(*clerksync.Membership)
	if m == nil || m.Role != "org:admin" || m.RoleName != "Admin" || m.UserID != ada || m.OrgID != org {
		t.Fatalf("membership %q = %+v\n%s", memberID, m, out)
	}
	send("organizationMembership.updated", "--org-id", org, "--user-id", ada, "--role", "org:member")
	if m, _ := object(clerksync.KindMembership, memberID).(*clerksync.Membership); m == nil || m.Role != "org:member" {
		t.Fatalf("membership after its update (same id without a flag) = %+v", m)
	}

	out = send("organizationInvitation.created", "--org-id", org, "--email", "grace@example.com")
	var invID string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "orginv_") {
			invID = f
		}
	}
	send("organizationInvitation.accepted", "--org-id", org, "--email", "grace@example.com", "--user-id", "user_2sendGraceAAAAAAAAAAAAAAAA")
	if inv, _ := object(clerksync.KindInvitation, invID).(*clerksync.Invitation); inv == nil || inv.Status != "accepted" || inv.Email != "grace@example.com" {
		t.Fatalf("invitation = %+v", inv)
	}
	send("organizationInvitation.revoked", "--org-id", org, "--email", "alan@example.com")

	send("permission.created", "--key", "org:posts:create")
	send("permission.updated", "--key", "org:posts:create", "--name", "Write posts")
	send("role.created", "--role", "org:editor", "--role-id", role, "--permissions", "org:posts:create")
	send("role.updated", "--role", "org:editor", "--role-id", role, "--name", "Editor in chief", "--permissions", "org:posts:create")
	if r, _ := object(clerksync.KindRole, role).(*clerksync.Role); r == nil || r.Name != "Editor in chief" || string(r.Permissions) != `["org:posts:create"]` {
		t.Fatalf("role = %+v", r)
	}
	send("role.deleted", "--role-id", role)
	if r := object(clerksync.KindRole, role); r != nil {
		t.Fatalf("role after role.deleted = %+v", r)
	}
	send("permission.deleted", "--key", "org:posts:create")
	send("session.ended", "--user-id", ada)

	send("organizationMembership.deleted", "--org-id", org, "--user-id", ada)
	if m := object(clerksync.KindMembership, memberID); m != nil {
		t.Fatalf("membership after organizationMembership.deleted = %+v", m)
	}
	send("organization.deleted", "--org-id", org)
	if o := object(clerksync.KindOrganization, org); o != nil {
		t.Fatalf("organization after organization.deleted = %+v", o)
	}
	if d, err := s.store.Deleted(context.Background(), clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: org}); err != nil || !d {
		t.Fatalf("no tombstone for the deleted organization: %v, %v", d, err)
	}

	m2, _, stderr := testMain(map[string]string{"CLERK_WEBHOOK_SECRET": testSecret})
	if code := m2.exitCode(m2.Run(context.Background(), []string{"send", "organizationDomain.created", "--to", s.URL})); code != 2 ||
		!strings.Contains(stderr.String(), "organizationMembership.created") {
		t.Fatalf("an unknown type: exit %d, %s", code, stderr)
	}
	m3, _, stderr := testMain(map[string]string{"CLERK_WEBHOOK_SECRET": testSecret})
	if code := m3.exitCode(m3.Run(context.Background(), []string{"send", "organization.created", "--org-id", "user_x", "--to", s.URL})); code != 2 ||
		!strings.Contains(stderr.String(), "start with org_") {
		t.Fatalf("a user id as --org-id: exit %d, %s", code, stderr)
	}
}
