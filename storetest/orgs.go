package storetest

import (
	"context"
	"testing"

	"github.com/clerksync/clerksync"
)

// The conformance tests of organizations, memberships, invitations, roles and
// permissions: the rules of Decide, as every store applies them.

func key(k clerksync.Kind, id string) clerksync.ObjectKey {
	return clerksync.ObjectKey{Kind: k, ID: id}
}

// MustObject returns the live object key, failing t if there is none.
func MustObject(t testing.TB, s clerksync.Store, k clerksync.ObjectKey) clerksync.Object {
	t.Helper()
	o, err := s.Object(context.Background(), k)
	if err != nil {
		t.Fatalf("Object(%s): %v", k, err)
	}
	return o
}

// wantObject fails t unless the live object of want's key equals want.
func wantObject(t *testing.T, s clerksync.Store, want clerksync.Object) {
	t.Helper()
	if diff := ObjectDiff(want, MustObject(t, s, want.ObjectKey())); diff != "" {
		t.Fatalf("%s (-want +got):\n%s", want.ObjectKey(), diff)
	}
}

// wantGone fails t if k has a live row, or if its tombstone is not tomb.
func wantGone(t *testing.T, s clerksync.Store, k clerksync.ObjectKey, tomb bool) {
	t.Helper()
	ctx := context.Background()
	if o, err := s.Object(ctx, k); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Fatalf("Object(%s) = %+v, %v; want not found", k, o, err)
	}
	if d, err := s.Deleted(ctx, k); err != nil || d != tomb {
		t.Fatalf("Deleted(%s) = %v, %v; want %v", k, d, err, tomb)
	}
}

func stale(r clerksync.Reason) clerksync.Result {
	return clerksync.Result{Outcome: clerksync.OutcomeStale, Reason: r}
}

func testOrganization(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	v1 := NewOrganization("org_acme", start, start)
	v2 := NewOrganization("org_acme", start, start+1000)
	wantResults(t, MustApply(t, s, Event("msg_1", "organization.created", v1)), applied(clerksync.ActionCreated))
	wantResults(t, MustApply(t, s, Event("msg_2", "organization.updated", v2), Event("msg_1b", "organization.updated", v1)),
		applied(clerksync.ActionUpdated), stale(clerksync.ReasonOlder))
	wantObject(t, s, v2)

	e := MustEvent(t, s, "msg_2")
	if e.Kind != clerksync.KindOrganization || e.ObjectID != "org_acme" || e.UserID != "" {
		t.Errorf("event of an organization: kind %v, object %q, user %q; want organization, org_acme, none", e.Kind, e.ObjectID, e.UserID)
	}
	list, err := s.Events(context.Background(), clerksync.EventFilter{Kind: clerksync.KindOrganization, ObjectID: "org_acme"})
	if err != nil || len(list) != 3 {
		t.Errorf("events of org_acme: %d, %v; want 3", len(list), err)
	}
}

func testMembership(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	org := NewOrganization("org_m", start, start)
	m1 := NewMembership("orgmem_1", org, "user_a", "org:member", start+10, start+10)
	// A membership event carries its organization: the organization is created with it.
	wantResults(t, MustApply(t, s, Event("msg_m1", "organizationMembership.created", m1)), applied(clerksync.ActionCreated))
	wantObject(t, s, m1)
	wantObject(t, s, org)
	if e := MustEvent(t, s, "msg_m1"); e.UserID != "user_a" || e.Kind != clerksync.KindMembership {
		t.Errorf("membership event: user %q kind %v; want user_a, membership", e.UserID, e.Kind)
	}

	// A role change; the organization it carries is newer too.
	org2 := NewOrganization("org_m", start, start+20)
	m1b := NewMembership("orgmem_1", org2, "user_a", "org:admin", start+10, start+20)
	wantResults(t, MustApply(t, s, Event("msg_m1b", "organizationMembership.updated", m1b)), applied(clerksync.ActionUpdated))
	wantObject(t, s, m1b)
	wantObject(t, s, org2)
	// An older organization.updated arriving late changes nothing.
	wantResults(t, MustApply(t, s, Event("msg_o_old", "organization.updated", org)), stale(clerksync.ReasonOlder))
	wantObject(t, s, org2)

	// Removed in the Dashboard: gone, and never back.
	wantResults(t, MustApply(t, s, MembershipDeleted("msg_m1_del", m1b, start+30)), applied(clerksync.ActionDeleted))
	wantGone(t, s, key(clerksync.KindMembership, "orgmem_1"), true)
	wantResults(t, MustApply(t, s, Event("msg_m1c", "organizationMembership.updated", NewMembership("orgmem_1", org2, "user_a", "org:admin", start+10, start+40))),
		stale(clerksync.ReasonDeleted))
	wantObject(t, s, org2)

	mine, err := s.Objects(context.Background(), clerksync.KindMembership, clerksync.ObjectFilter{UserID: "user_a"})
	if err != nil || len(mine) != 0 {
		t.Fatalf("memberships of user_a after the removal: %v, %v; want none", mine, err)
	}
}

// testReAdded: the same user added to the same organization again gets a new
// membership id; the one created last is live, whatever order the events arrive in,
// and the older one never comes back.
func testReAdded(t *testing.T, open Opener) {
	org := NewOrganization("org_re", start, start)
	old := NewMembership("orgmem_old", org, "user_re", "org:member", start+10, start+10)
	oldGone := MembershipDeleted("msg_old_del", old, start+20)
	newer := NewMembership("orgmem_new", org, "user_re", "org:admin", start+30, start+30)
	orders := map[string][][]clerksync.Change{
		"InOrder":          {{Event("msg_old", "organizationMembership.created", old)}, {oldGone}, {Event("msg_new", "organizationMembership.created", newer)}},
		"NewerFirst":       {{Event("msg_new", "organizationMembership.created", newer)}, {Event("msg_old", "organizationMembership.created", old)}, {oldGone}},
		"DeleteLost":       {{Event("msg_old", "organizationMembership.created", old)}, {Event("msg_new", "organizationMembership.created", newer)}},
		"OneBatch":         {{Event("msg_old", "organizationMembership.created", old), Event("msg_new", "organizationMembership.created", newer)}},
		"OneBatchReversed": {{Event("msg_new", "organizationMembership.created", newer), Event("msg_old", "organizationMembership.created", old)}},
	}
	for name, batches := range orders {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t, NewClock(Epoch).Now)
			for _, b := range batches {
				MustApply(t, s, b...)
			}
			wantObject(t, s, newer)
			if _, err := s.Object(context.Background(), key(clerksync.KindMembership, "orgmem_old")); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
				t.Fatalf("the older membership is live: %v", err)
			}
			// A late update of the older membership never brings it back.
			late := NewMembership("orgmem_old", org, "user_re", "org:member", start+10, start+15)
			res := MustApply(t, s, Event("msg_old_late", "organizationMembership.updated", late))
			if res[0].Outcome != clerksync.OutcomeStale {
				t.Fatalf("late update of the older membership: %+v, want stale", res[0])
			}
			wantObject(t, s, newer)
		})
	}
}

// testOrganizationDeleted: deleting an organization removes its memberships and
// invitations, and nothing of it comes back, whether it arrives later or arrived earlier.
func testOrganizationDeleted(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	org := NewOrganization("org_d", start, start)
	m := NewMembership("orgmem_d", org, "user_d", "org:member", start+10, start+10)
	inv := NewInvitation("orginv_d", "org_d", "new@example.com", "pending", "", start+20, start+20)
	other := NewMembership("orgmem_other", NewOrganization("org_keep", start, start), "user_d", "org:member", start+10, start+10)
	MustApply(t, s, Event("msg_o", "organization.created", org), Event("msg_m", "organizationMembership.created", m),
		Event("msg_i", "organizationInvitation.created", inv), Event("msg_other", "organizationMembership.created", other))

	wantResults(t, MustApply(t, s, DeleteEvent("msg_del", "organization.deleted", key(clerksync.KindOrganization, "org_d"), start+100)),
		applied(clerksync.ActionDeleted))
	wantGone(t, s, key(clerksync.KindOrganization, "org_d"), true)
	wantGone(t, s, key(clerksync.KindMembership, "orgmem_d"), false)
	wantGone(t, s, key(clerksync.KindInvitation, "orginv_d"), false)
	wantObject(t, s, other)

	// Later and earlier events of the organization and what belonged to it change nothing.
	m2 := NewMembership("orgmem_d2", NewOrganization("org_d", start, start+50), "user_e", "org:member", start+50, start+50)
	res := MustApply(t, s,
		Event("msg_o2", "organization.updated", NewOrganization("org_d", start, start+200)),
		Event("msg_m_up", "organizationMembership.updated", NewMembership("orgmem_d", org, "user_d", "org:admin", start+10, start+60)),
		Event("msg_m2", "organizationMembership.created", m2),
		Event("msg_i2", "organizationInvitation.accepted", NewInvitation("orginv_d", "org_d", "new@example.com", "accepted", "user_e", start+20, start+70)),
	)
	wantResults(t, res, stale(clerksync.ReasonDeleted), stale(clerksync.ReasonOrganizationDeleted),
		stale(clerksync.ReasonOrganizationDeleted), stale(clerksync.ReasonOrganizationDeleted))
	wantGone(t, s, key(clerksync.KindOrganization, "org_d"), true)
	wantGone(t, s, key(clerksync.KindMembership, "orgmem_d2"), false)
	wantGone(t, s, key(clerksync.KindInvitation, "orginv_d"), false)
}

// testDeleteBeforeCreate: a delete may arrive before the create it follows.
func testDeleteBeforeCreate(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	wantResults(t, MustApply(t, s, DeleteEvent("msg_del", "organization.deleted", key(clerksync.KindOrganization, "org_early"), start+100)),
		applied(clerksync.ActionDeleted))
	org := NewOrganization("org_early", start, start)
	res := MustApply(t, s, Event("msg_c", "organization.created", org),
		Event("msg_m", "organizationMembership.created", NewMembership("orgmem_early", org, "user_x", "org:member", start+1, start+1)),
		Event("msg_r", "role.created", NewRole("role_early", "org:early", start, start)),
		DeleteEvent("msg_rdel", "role.deleted", key(clerksync.KindRole, "role_late"), start+5),
		Event("msg_r2", "role.created", NewRole("role_late", "org:late", start, start)),
	)
	wantResults(t, res, stale(clerksync.ReasonDeleted), stale(clerksync.ReasonOrganizationDeleted),
		applied(clerksync.ActionCreated), applied(clerksync.ActionDeleted), stale(clerksync.ReasonDeleted))
	wantGone(t, s, key(clerksync.KindOrganization, "org_early"), true)
	wantGone(t, s, key(clerksync.KindMembership, "orgmem_early"), false)
	wantGone(t, s, key(clerksync.KindRole, "role_late"), true)
}

// testUserDeletedRemovesMemberships: deleting a user removes the user's memberships,
// and a membership of a deleted user never comes back.
func testUserDeletedRemovesMemberships(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	p := NewProfile("user_leaving", start)
	org := NewOrganization("org_u", start, start)
	m := NewMembership("orgmem_u", org, "user_leaving", "org:member", start+10, start+10)
	stays := NewMembership("orgmem_stays", org, "user_stays", "org:member", start+10, start+10)
	MustApply(t, s, Upsert("msg_p", p), Event("msg_m", "organizationMembership.created", m), Event("msg_s", "organizationMembership.created", stays))

	wantResults(t, MustApply(t, s, Delete("msg_del", "user_leaving", start+100)), applied(clerksync.ActionDeleted))
	wantGone(t, s, key(clerksync.KindMembership, "orgmem_u"), false)
	wantObject(t, s, stays)
	wantObject(t, s, org)
	// The membership's event, delivered late, and a new membership of the deleted user.
	res := MustApply(t, s,
		Event("msg_m_up", "organizationMembership.updated", NewMembership("orgmem_u", org, "user_leaving", "org:admin", start+10, start+50)),
		Event("msg_m2", "organizationMembership.created", NewMembership("orgmem_u2", NewOrganization("org_u2", start, start), "user_leaving", "org:member", start+60, start+60)),
	)
	wantResults(t, res, stale(clerksync.ReasonUserDeleted), stale(clerksync.ReasonUserDeleted))
	wantGone(t, s, key(clerksync.KindMembership, "orgmem_u2"), false)
	// The organization a stale membership carried is still upserted: it is Clerk's.
	wantObject(t, s, NewOrganization("org_u2", start, start))
	// The membership event's body names the user: it is redacted with the user's.
	if e := MustEvent(t, s, "msg_m"); e.Body != nil || !e.Redacted {
		t.Errorf("membership event of the deleted user: Body %d bytes, Redacted %v; want redacted", len(e.Body), e.Redacted)
	}
}

// testInvitationBeforeOrganization: an invitation, which carries only the
// organization's id, may arrive before organization.created: it is kept, under a
// placeholder that the organization then fills in.
func testInvitationBeforeOrganization(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	inv := NewInvitation("orginv_early", "org_later", "invitee@example.com", "pending", "", start+10, start+10)
	wantResults(t, MustApply(t, s, Event("msg_i", "organizationInvitation.created", inv)), applied(clerksync.ActionCreated))
	wantObject(t, s, inv)
	ph := MustObject(t, s, key(clerksync.KindOrganization, "org_later")).(*clerksync.Organization)
	if ph.Name != "" || ph.UpdatedAt != 0 {
		t.Fatalf("placeholder organization: %+v; want only its id", ph)
	}
	org := NewOrganization("org_later", start, start)
	wantResults(t, MustApply(t, s, Event("msg_o", "organization.created", org)), applied(clerksync.ActionCreated))
	wantObject(t, s, org)
	wantObject(t, s, inv)
	accepted := NewInvitation("orginv_early", "org_later", "invitee@example.com", "accepted", "user_joined", start+10, start+20)
	wantResults(t, MustApply(t, s, Event("msg_a", "organizationInvitation.accepted", accepted)), applied(clerksync.ActionUpdated))
	wantObject(t, s, accepted)

	// A placeholder is removed with its organization, and an invitation of a deleted
	// organization leaves none.
	MustApply(t, s, Event("msg_i2", "organizationInvitation.created", NewInvitation("orginv_2", "org_never", "x@example.com", "pending", "", start, start)),
		DeleteEvent("msg_d", "organization.deleted", key(clerksync.KindOrganization, "org_never"), start+5))
	wantGone(t, s, key(clerksync.KindOrganization, "org_never"), true)
	wantGone(t, s, key(clerksync.KindInvitation, "orginv_2"), false)
}

// testRolesAndPermissions: roles and permissions follow the same rules, and one live
// role (or permission) holds a key: a newer one with the same key replaces the older.
func testRolesAndPermissions(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	r1 := NewRole("role_1", "org:editor", start, start)
	p1 := NewPermission("perm_1", "org:posts:create", start, start)
	MustApply(t, s, Event("msg_r1", "role.created", r1), Event("msg_p1", "permission.created", p1))
	wantObject(t, s, r1)
	wantObject(t, s, p1)
	r1b := NewRole("role_1", "org:editor", start, start+10)
	wantResults(t, MustApply(t, s, Event("msg_r1b", "role.updated", r1b), Event("msg_r1a", "role.updated", r1)),
		applied(clerksync.ActionUpdated), stale(clerksync.ReasonOlder))
	wantObject(t, s, r1b)

	// The role was deleted and a new one made with its key; its deletion is late.
	r2 := NewRole("role_2", "org:editor", start+100, start+100)
	wantResults(t, MustApply(t, s, Event("msg_r2", "role.created", r2)), applied(clerksync.ActionCreated))
	wantObject(t, s, r2)
	wantGone(t, s, key(clerksync.KindRole, "role_1"), false)
	wantResults(t, MustApply(t, s, Event("msg_r1c", "role.updated", NewRole("role_1", "org:editor", start, start+20))),
		stale(clerksync.ReasonSuperseded))
	wantResults(t, MustApply(t, s, DeleteEvent("msg_r1d", "role.deleted", key(clerksync.KindRole, "role_1"), start+50)),
		applied(clerksync.ActionDeleted))
	wantObject(t, s, r2)

	wantResults(t, MustApply(t, s, DeleteEvent("msg_p1d", "permission.deleted", key(clerksync.KindPermission, "perm_1"), start+60)),
		applied(clerksync.ActionDeleted))
	wantGone(t, s, key(clerksync.KindPermission, "perm_1"), true)
	wantResults(t, MustApply(t, s, Event("msg_p1u", "permission.updated", NewPermission("perm_1", "org:posts:create", start, start+70))),
		stale(clerksync.ReasonDeleted))
}

// testObjects lists objects by organization and user, as the profile page and prune
// do.
func testObjects(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	a := NewOrganization("org_a", start, start)
	b := NewOrganization("org_b", start, start)
	MustApply(t, s,
		Event("msg_1", "organizationMembership.created", NewMembership("orgmem_1", a, "user_1", "org:admin", start, start)),
		Event("msg_2", "organizationMembership.created", NewMembership("orgmem_2", a, "user_2", "org:member", start, start)),
		Event("msg_3", "organizationMembership.created", NewMembership("orgmem_3", b, "user_1", "org:member", start+5000, start+5000)),
	)
	ctx := context.Background()
	ids := func(objs []clerksync.Object, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range objs {
			out = append(out, o.ObjectKey().ID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		f    clerksync.ObjectFilter
		want []string
	}{
		{"All", clerksync.ObjectFilter{}, []string{"orgmem_1", "orgmem_2", "orgmem_3"}},
		{"OfUser", clerksync.ObjectFilter{UserID: "user_1"}, []string{"orgmem_1", "orgmem_3"}},
		{"OfOrganization", clerksync.ObjectFilter{OrgID: "org_a"}, []string{"orgmem_1", "orgmem_2"}},
		{"After", clerksync.ObjectFilter{After: "orgmem_1", Limit: 1}, []string{"orgmem_2"}},
		{"CreatedBefore", clerksync.ObjectFilter{CreatedBefore: start + 1}, []string{"orgmem_1", "orgmem_2"}},
	} {
		got := ids(s.Objects(ctx, clerksync.KindMembership, tt.f))
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}
