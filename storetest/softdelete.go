package storetest

import (
	"context"
	"testing"

	"github.com/clerksync/clerksync"
)

// RunSoftDelete runs the conformance tests of the soft-delete policy
// (clerksync.DeleteSoft) against the stores open returns, which must be opened with
// it: a deleted object's row stays, with deleted_at set and its personal columns
// cleared, and every rule holds as with hard deletes.
func RunSoftDelete(t *testing.T, open Opener, deletedAt func(t *testing.T, s clerksync.Store, key clerksync.ObjectKey) (bool, map[string]any)) {
	t.Helper()
	t.Run("User", func(t *testing.T) {
		t.Parallel()
		s := open(t, NewClock(Epoch).Now)
		p := NewProfile("user_soft", start)
		MustApply(t, s, Upsert("msg_1", p))
		wantResults(t, MustApply(t, s, Delete("msg_del", p.UserID, start+10)), applied(clerksync.ActionDeleted))
		wantGone(t, s, clerksync.UserKey(p.UserID), true)
		kept, cols := deletedAt(t, s, clerksync.UserKey(p.UserID))
		if !kept {
			t.Fatal("the soft-deleted row is not in the table")
		}
		for _, c := range []string{"email", "phone", "first_name", "last_name", "image_url", "public_metadata", "unsafe_metadata", "raw"} {
			if cols[c] != nil {
				t.Errorf("soft-deleted row keeps %s = %v", c, cols[c])
			}
		}
		if cols["user_id"] != p.UserID || cols["deleted_at"] == nil {
			t.Errorf("soft-deleted row: %v; want its id and deleted_at", cols)
		}
		// Nothing brings it back, and a later delete changes nothing.
		later := NewProfile(p.UserID, start+100)
		wantResults(t, MustApply(t, s, Upsert("msg_2", later), Delete("msg_del2", p.UserID, start+200)),
			staleDeleted, staleDeleted)
		wantGone(t, s, clerksync.UserKey(p.UserID), true)
		if ps, err := s.Profiles(context.Background(), "", 10); err != nil || len(ps) != 0 {
			t.Fatalf("Profiles lists %d rows, %v; want none (soft-deleted rows are not live)", len(ps), err)
		}
		if f, ok := s.(clerksync.FeedStore); ok {
			entries := AllChanges(t, f, 0)
			if len(entries) != 2 || entries[1].Type != "profile.deleted" {
				t.Fatalf("feed = %v; want created, deleted", types(entries))
			}
		}
	})
	t.Run("OrganizationCascade", func(t *testing.T) {
		t.Parallel()
		s := open(t, NewClock(Epoch).Now)
		org := NewOrganization("org_soft", start, start)
		m := NewMembership("orgmem_soft", org, "user_m", "org:admin", start, start)
		inv := NewInvitation("orginv_soft", "org_soft", "x@example.com", "pending", "", start, start)
		MustApply(t, s, Event("msg_m", "organizationMembership.created", m), Event("msg_i", "organizationInvitation.created", inv))
		MustApply(t, s, DeleteEvent("msg_d", "organization.deleted", key(clerksync.KindOrganization, "org_soft"), start+10))
		for _, k := range []clerksync.ObjectKey{key(clerksync.KindMembership, "orgmem_soft"), key(clerksync.KindInvitation, "orginv_soft")} {
			wantGone(t, s, k, false)
			if kept, cols := deletedAt(t, s, k); !kept || cols["deleted_at"] == nil || cols["raw"] != nil {
				t.Errorf("%s after its organization's soft deletion: kept %v, %v", k, kept, cols)
			}
		}
		if _, cols := deletedAt(t, s, key(clerksync.KindInvitation, "orginv_soft")); cols["email"] != nil {
			t.Errorf("the soft-deleted invitation keeps its email: %v", cols["email"])
		}
		// The same user can join another organization; a membership of the deleted one
		// stays gone.
		res := MustApply(t, s,
			Event("msg_m2", "organizationMembership.created", NewMembership("orgmem_soft2", NewOrganization("org_other", start, start), "user_m", "org:member", start+20, start+20)),
			Event("msg_m3", "organizationMembership.created", NewMembership("orgmem_soft3", org, "user_m", "org:member", start+30, start+30)))
		wantResults(t, res, applied(clerksync.ActionCreated), stale(clerksync.ReasonOrganizationDeleted))
	})
	t.Run("RoleKeyReused", func(t *testing.T) {
		t.Parallel()
		s := open(t, NewClock(Epoch).Now)
		MustApply(t, s, Event("msg_r1", "role.created", NewRole("role_s1", "org:soft", start, start)))
		MustApply(t, s, DeleteEvent("msg_r1d", "role.deleted", key(clerksync.KindRole, "role_s1"), start+5))
		// The key of a soft-deleted role is free for a new one.
		r2 := NewRole("role_s2", "org:soft", start+10, start+10)
		wantResults(t, MustApply(t, s, Event("msg_r2", "role.created", r2)), applied(clerksync.ActionCreated))
		wantObject(t, s, r2)
	})
}
