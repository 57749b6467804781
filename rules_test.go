package clerksync_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
)

// row returns the row of o, as a store would have it.
func row(o clerksync.Object) clerksync.Row { return o.AppendRow(nil) }

func org(id string, updated int64) *clerksync.Organization {
	return &clerksync.Organization{OrgID: id, Name: "Acme", CreatedAt: 100, UpdatedAt: updated}
}

func membership(id, orgID, userID string, created, updated int64) *clerksync.Membership {
	return &clerksync.Membership{MembershipID: id, OrgID: orgID, UserID: userID, Role: "org:member",
		CreatedAt: created, UpdatedAt: updated, Organization: org(orgID, 100)}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	user := &clerksync.Profile{UserID: "user_1", CreatedAt: 100, UpdatedAt: 200}
	upsertUser := clerksync.UpsertUser(user, clerksync.SourceWebhook)
	stored := func(updated int64) clerksync.Stored {
		p := *user
		p.UpdatedAt = updated
		return clerksync.Stored{Row: row(&p)}
	}
	placeholder := clerksync.Stored{Row: make(clerksync.Row, len(clerksync.KindOrganization.Table().Columns))}
	m := membership("orgmem_2", "org_1", "user_1", 500, 600)
	upsertMember := clerksync.Upsert(m, clerksync.SourceWebhook)
	inv := clerksync.Upsert(&clerksync.Invitation{InvitationID: "orginv_1", OrgID: "org_1", CreatedAt: 100, UpdatedAt: 200}, clerksync.SourceWebhook)
	applied := func(a clerksync.Action) clerksync.Result {
		return clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: a}
	}
	stale := func(r clerksync.Reason) clerksync.Result {
		return clerksync.Result{Outcome: clerksync.OutcomeStale, Reason: r}
	}
	deleteMember := clerksync.Delete(clerksync.ObjectKey{Kind: clerksync.KindMembership, ID: "orgmem_2"}, clerksync.SourceWebhook)
	deleteMember.Object = membership("orgmem_2", "org_1", "user_1", 500, 600)

	tests := []struct {
		name   string
		change clerksync.Change
		state  clerksync.State
		want   clerksync.Decision
	}{
		{"Duplicate", upsertUser, clerksync.State{Seen: true},
			clerksync.Decision{Result: clerksync.Result{Outcome: clerksync.OutcomeDuplicate}}},
		{"Ignored", clerksync.Change{Op: clerksync.OpIgnore, EventID: "msg"}, clerksync.State{},
			clerksync.Decision{Result: clerksync.Result{Outcome: clerksync.OutcomeIgnored}}},
		{"DeadLetter", clerksync.Change{Op: clerksync.OpDeadLetter, EventID: "msg", Error: "bad"}, clerksync.State{},
			clerksync.Decision{Result: clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: "bad"}}},
		{"Created", upsertUser, clerksync.State{}, clerksync.Decision{Result: applied(clerksync.ActionCreated), Put: true}},
		{"Updated", upsertUser, clerksync.State{Self: stored(150)}, clerksync.Decision{Result: applied(clerksync.ActionUpdated), Put: true}},
		{"SameVersion", upsertUser, clerksync.State{Self: stored(200)}, clerksync.Decision{Result: applied(clerksync.ActionUnchanged), Put: true}},
		{"Older", upsertUser, clerksync.State{Self: stored(300)}, clerksync.Decision{Result: stale(clerksync.ReasonOlder)}},
		{"Deleted", upsertUser, clerksync.State{Self: clerksync.Stored{Deleted: true}}, clerksync.Decision{Result: stale(clerksync.ReasonDeleted)}},
		{"DeleteUser", clerksync.Delete(clerksync.UserKey("user_1"), clerksync.SourceAPI), clerksync.State{Self: stored(200)},
			clerksync.Decision{Result: applied(clerksync.ActionDeleted), Remove: true, Cascade: true, Redact: true}},
		{"DeleteNeverSeen", clerksync.Delete(clerksync.UserKey("user_1"), clerksync.SourceAPI), clerksync.State{},
			clerksync.Decision{Result: applied(clerksync.ActionDeleted), Remove: true, Cascade: true, Redact: true}},
		{"DeleteAgain", clerksync.Delete(clerksync.UserKey("user_1"), clerksync.SourceAPI), clerksync.State{Self: clerksync.Stored{Deleted: true}},
			clerksync.Decision{Result: stale(clerksync.ReasonDeleted)}},
		{"DeleteOrganization", clerksync.Delete(clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: "org_1"}, clerksync.SourceWebhook),
			clerksync.State{Self: clerksync.Stored{Row: row(org("org_1", 100))}},
			clerksync.Decision{Result: applied(clerksync.ActionDeleted), Remove: true, Cascade: true}},
		{"MembershipCreatesItsOrganization", upsertMember, clerksync.State{},
			clerksync.Decision{Result: applied(clerksync.ActionCreated), Put: true, PutOrg: true, OrgAction: clerksync.ActionCreated}},
		{"MembershipOverPlaceholder", upsertMember, clerksync.State{Org: placeholder},
			clerksync.Decision{Result: applied(clerksync.ActionCreated), Put: true, PutOrg: true, OrgAction: clerksync.ActionCreated}},
		{"MembershipCarriesOlderOrganization", upsertMember, clerksync.State{Org: clerksync.Stored{Row: row(org("org_1", 900))}},
			clerksync.Decision{Result: applied(clerksync.ActionCreated), Put: true}},
		{"MembershipOfDeletedOrganization", upsertMember, clerksync.State{Org: clerksync.Stored{Deleted: true}},
			clerksync.Decision{Result: stale(clerksync.ReasonOrganizationDeleted)}},
		{"MembershipOfDeletedUser", upsertMember, clerksync.State{UserDeleted: true, Org: clerksync.Stored{Row: row(org("org_1", 100))}},
			clerksync.Decision{Result: stale(clerksync.ReasonUserDeleted), PutOrg: true, OrgAction: clerksync.ActionUnchanged}},
		{"MembershipSupersededByLive", upsertMember,
			clerksync.State{Org: clerksync.Stored{Row: row(org("org_1", 100))},
				Rival: &clerksync.Rival{Key: clerksync.ObjectKey{Kind: clerksync.KindMembership, ID: "orgmem_3"}, CreatedAt: 700, Live: true}},
			clerksync.Decision{Result: stale(clerksync.ReasonSuperseded), PutOrg: true, OrgAction: clerksync.ActionUnchanged}},
		{"MembershipSupersededByDeleted", upsertMember,
			clerksync.State{Org: clerksync.Stored{Row: row(org("org_1", 100))},
				Rival: &clerksync.Rival{Key: clerksync.ObjectKey{Kind: clerksync.KindMembership, ID: "orgmem_3"}, CreatedAt: 700}},
			clerksync.Decision{Result: stale(clerksync.ReasonSuperseded), PutOrg: true, OrgAction: clerksync.ActionUnchanged}},
		{"MembershipUnseatsOlder", upsertMember,
			clerksync.State{Org: clerksync.Stored{Row: row(org("org_1", 100))},
				Rival: &clerksync.Rival{Key: clerksync.ObjectKey{Kind: clerksync.KindMembership, ID: "orgmem_1"}, CreatedAt: 300, Live: true}},
			clerksync.Decision{Result: applied(clerksync.ActionCreated), Put: true, PutOrg: true, OrgAction: clerksync.ActionUnchanged, Unseat: true}},
		{"MembershipDeletedCarriesOrganization", deleteMember, clerksync.State{Org: clerksync.Stored{Row: row(org("org_1", 50))}},
			clerksync.Decision{Result: applied(clerksync.ActionDeleted), Remove: true, PutOrg: true, OrgAction: clerksync.ActionUpdated}},
		{"InvitationBeforeItsOrganization", inv, clerksync.State{},
			clerksync.Decision{Result: applied(clerksync.ActionCreated), Put: true, Placeholder: true}},
		{"InvitationOfStoredOrganization", inv, clerksync.State{Org: clerksync.Stored{Row: row(org("org_1", 100))}},
			clerksync.Decision{Result: applied(clerksync.ActionCreated), Put: true}},
		{"InvitationOfDeletedOrganization", inv, clerksync.State{Org: clerksync.Stored{Deleted: true}},
			clerksync.Decision{Result: stale(clerksync.ReasonOrganizationDeleted)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.change.Validate(); err != nil && tt.change.Op != clerksync.OpIgnore && tt.change.Op != clerksync.OpDeadLetter {
				t.Fatalf("the test's change is not valid: %v", err)
			}
			got := clerksync.Decide(&tt.change, &tt.state)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReasonExplain(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for r := clerksync.ReasonOlder; r <= clerksync.ReasonSuperseded; r++ {
		if r.String() == "" || r.String() == "unknown" {
			t.Errorf("reason %d has no name", r)
		}
		e := r.Explain()
		if seen[e] {
			t.Errorf("reason %s explained as another: %q", r, e)
		}
		seen[e] = true
	}
}
