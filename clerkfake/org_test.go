package clerkfake_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/clerkfake"
)

// orgEvents records the organization events of a server.
type orgEvents struct {
	mu  sync.Mutex
	got []clerkfake.OrgEvent
}

func recordOrgEvents(s *clerkfake.Server) *orgEvents {
	r := &orgEvents{}
	s.OnOrgChange(func(ev clerkfake.OrgEvent) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, ev)
	})
	return r
}

// types returns the types of the events so far and forgets them.
func (r *orgEvents) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.got))
	for i, ev := range r.got {
		out[i] = ev.Type
	}
	r.got = nil
	return out
}

func (r *orgEvents) last() clerkfake.OrgEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1]
}

// list is a list answer of the fake.
type list struct {
	Data       []json.RawMessage `json:"data"`
	TotalCount int               `json:"total_count"`
}

func mustList(tb testing.TB, s *clerkfake.Server, target string) list {
	tb.Helper()
	var l list
	if err := json.Unmarshal(mustOK(tb, call(tb, s, http.MethodGet, target, "")), &l); err != nil {
		tb.Fatalf("GET %s: %v", target, err)
	}
	return l
}

func idsOf(tb testing.TB, raws []json.RawMessage) []string {
	tb.Helper()
	ids, err := clerkfake.ObjectIDs(raws)
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

func mustUser(tb testing.TB, s *clerkfake.Server, first string) *clerkfake.User {
	tb.Helper()
	u, err := s.CreateUser(clerkfake.UserParams{FirstName: first})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func TestOrganizations_Lifecycle(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := clerkfake.New(clerkfake.WithClock(clk.Now), clerkfake.WithSeed(3))
	ada, grace := mustUser(t, s, "Ada"), mustUser(t, s, "Grace")
	events := recordOrgEvents(s)

	org, err := s.CreateOrganization(clerkfake.OrganizationParams{Name: "Acme Inc", CreatedBy: ada.ID})
	if err != nil {
		t.Fatal(err)
	}
	if org.Slug != "acme-inc" || !strings.HasPrefix(org.ID, "org_") || org.MembersCount != 1 {
		t.Fatalf("organization = %+v", org)
	}
	if diff := cmp.Diff([]string{"organization.created", "organizationMembership.created"}, events.types()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}

	// The creator is an admin; the membership carries the organization and the
	// user's public data, and decodes as clerksync decodes Clerk's.
	clk.Advance(time.Second)
	m, err := s.AddMember(org.ID, grace.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(events.last().Data)
	dm, err := clerkdecode.DecodeMembership(raw, clerkdecode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if dm.MembershipID != m.ID || dm.OrgID != org.ID || dm.UserID != grace.ID || dm.Role != "org:member" || dm.RoleName != "Member" ||
		dm.Member.FirstName != "Grace" || string(dm.Permissions) != `["org:sys_memberships:read"]` {
		t.Fatalf("decoded membership = %+v", dm)
	}
	if _, err := s.AddMember(org.ID, grace.ID, "org:admin"); !errors.Is(err, clerkfake.ErrAlreadyMember) {
		t.Fatalf("adding a member twice: %v", err)
	}
	if _, err := s.AddMember(org.ID, "user_nobody", ""); !errors.Is(err, clerkfake.ErrUserNotFound) {
		t.Fatalf("adding an unknown user: %v", err)
	}

	clk.Advance(time.Second)
	up, err := s.UpdateMember(org.ID, grace.ID, "org:admin")
	if err != nil || up.Role != "org:admin" || up.UpdatedAt <= m.UpdatedAt {
		t.Fatalf("UpdateMember = %+v, %v", up, err)
	}
	gone, err := s.RemoveMember(org.ID, grace.ID)
	if err != nil || gone.Organization == nil || gone.Organization.ID != org.ID || gone.ID != m.ID {
		t.Fatalf("RemoveMember = %+v, %v", gone, err)
	}
	if diff := cmp.Diff([]string{"organizationMembership.created", "organizationMembership.updated", "organizationMembership.deleted"}, events.types()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}

	// Invitations: created, accepted (with the membership it makes), revoked.
	inv, err := s.Invite(org.ID, "grace@example.com", "org:admin", ada.ID)
	if err != nil || inv.Status != "pending" || inv.InviterID == nil || *inv.InviterID != ada.ID {
		t.Fatalf("Invite = %+v, %v", inv, err)
	}
	acc, err := s.AcceptInvitation(inv.ID, grace.ID)
	if err != nil || acc.Status != "accepted" || acc.UserID == nil || *acc.UserID != grace.ID {
		t.Fatalf("AcceptInvitation = %+v, %v", acc, err)
	}
	inv2, _ := s.Invite(org.ID, "alan@example.com", "", "")
	if _, err := s.RevokeInvitation(inv2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeInvitation(inv2.ID); !errors.Is(err, clerkfake.ErrInvitationNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	if diff := cmp.Diff([]string{"organizationInvitation.created", "organizationInvitation.accepted", "organizationMembership.created",
		"organizationInvitation.created", "organizationInvitation.revoked"}, events.types()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	invs := mustList(t, s, "/v1/organizations/"+org.ID+"/invitations")
	if invs.TotalCount != 2 {
		t.Fatalf("invitations: %+v", invs)
	}
	if pending := mustList(t, s, "/v1/organizations/"+org.ID+"/invitations?status=pending"); pending.TotalCount != 0 {
		t.Fatalf("pending invitations: %+v", pending)
	}

	// Deleting the organization takes its memberships and invitations with it; only
	// organization.deleted is sent.
	if err := s.DeleteOrganization(org.ID); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"organization.deleted"}, events.types()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	for _, target := range []string{"/v1/organizations/" + org.ID, "/v1/organizations/" + org.ID + "/memberships", "/v1/organizations/" + org.ID + "/invitations"} {
		if a := call(t, s, http.MethodGet, target, ""); a.Status != http.StatusNotFound || !strings.Contains(string(a.Body), "resource_not_found") {
			t.Fatalf("GET %s after the delete: %d %s", target, a.Status, a.Body)
		}
	}
	if got := mustList(t, s, "/v1/users/"+ada.ID+"/organization_memberships"); got.TotalCount != 0 {
		t.Fatalf("memberships of a deleted organization's member: %+v", got)
	}
}

func TestOrganizations_DeletedEventShape(t *testing.T) {
	t.Parallel()
	s := clerkfake.New()
	org, err := s.CreateOrganization(clerkfake.OrganizationParams{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	events := recordOrgEvents(s)
	if err := s.DeleteOrganization(org.ID); err != nil {
		t.Fatal(err)
	}
	body, err := clerkfake.MarshalEvent(clerkfake.EventOrganizationDeleted, events.last().Data, time.UnixMilli(1716883200000))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	want := `{"object":"organization","id":"` + org.ID + `","slug":"acme","deleted":true}`
	if env.Type != "organization.deleted" || string(env.Data) != want {
		t.Fatalf("organization.deleted = %s %s, want data %s", env.Type, env.Data, want)
	}
}

func TestOrganizations_ListPaging(t *testing.T) {
	t.Parallel()
	s := clerkfake.New(clerkfake.WithSeed(5))
	if err := s.Seed(40); err != nil {
		t.Fatal(err)
	}
	if err := s.SeedOrganizations(25, 230); err != nil {
		t.Fatal(err)
	}
	orgs := s.Organizations()
	if len(orgs) != 25 {
		t.Fatalf("%d organizations", len(orgs))
	}
	// Newest first by default; +created_at oldest first; offset and limit page.
	first := mustList(t, s, "/v1/organizations?limit=10")
	if first.TotalCount != 25 || idsOf(t, first.Data)[0] != orgs[24].ID {
		t.Fatalf("default order: total %d, first %s", first.TotalCount, idsOf(t, first.Data)[0])
	}
	var got []string
	for offset := 0; ; offset += 10 {
		page := mustList(t, s, "/v1/organizations?order_by=%2Bcreated_at&limit=10&offset="+strconv.Itoa(offset))
		got = append(got, idsOf(t, page.Data)...)
		if len(page.Data) < 10 {
			break
		}
	}
	want := make([]string, len(orgs))
	for i, o := range orgs {
		want[i] = o.ID
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("paged organizations (-want +got):\n%s", diff)
	}

	// Every organization has its share of the members, each user at most once.
	total := 0
	for _, o := range orgs {
		ms := mustList(t, s, "/v1/organizations/"+o.ID+"/memberships?limit=500")
		seen := map[string]bool{}
		for _, raw := range ms.Data {
			m, err := clerkdecode.DecodeMembership(raw, clerkdecode.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if seen[m.UserID] || m.OrgID != o.ID {
				t.Fatalf("membership %s of %s: user %s twice or wrong organization %s", m.MembershipID, o.ID, m.UserID, m.OrgID)
			}
			seen[m.UserID] = true
		}
		if ms.TotalCount != len(ms.Data) || o.MembersCount != len(ms.Data) {
			t.Fatalf("organization %s: total %d, listed %d, members_count %d", o.ID, ms.TotalCount, len(ms.Data), o.MembersCount)
		}
		total += len(ms.Data)
	}
	if total != 230 {
		t.Fatalf("%d memberships, want 230", total)
	}

	roles := mustList(t, s, "/v1/organization_roles?limit=100")
	perms := mustList(t, s, "/v1/organization_permissions?limit=100")
	if roles.TotalCount != 2 || perms.TotalCount != 6 {
		t.Fatalf("roles %d, permissions %d; want Clerk's 2 and 6", roles.TotalCount, perms.TotalCount)
	}
	for _, raw := range roles.Data {
		if _, err := clerkdecode.DecodeRole(raw); err != nil {
			t.Fatal(err)
		}
	}
	if a := call(t, s, http.MethodGet, "/v1/organizations?order_by=name", ""); a.Status != http.StatusUnprocessableEntity {
		t.Fatalf("order_by=name: %d", a.Status)
	}

	// Deleting a user takes their memberships.
	u := s.Users()[0]
	before := len(s.UserMemberships(u.ID))
	if before == 0 {
		t.Fatal("the first user is in no organization")
	}
	if err := s.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, s, "/v1/users/"+u.ID+"/organization_memberships"); got.TotalCount != 0 {
		t.Fatalf("memberships of a deleted user: %d", got.TotalCount)
	}
}

func TestSeedOrganizationsNeedsUsers(t *testing.T) {
	t.Parallel()
	s := clerkfake.New()
	if err := s.SeedOrganizations(3, 10); err == nil {
		t.Fatal("seeded memberships without users")
	}
}
