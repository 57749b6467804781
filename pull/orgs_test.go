package pull_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/pull"
)

// onBothStores runs f on a harness over SQLite and one over PostgreSQL.
func onBothStores(t *testing.T, f func(t *testing.T, h *harness)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		f(t, newHarness(t))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		f(t, newHarness(t, withPostgres(t)))
	})
}

// orgSetup gives the fake Clerk users, organizations with members, a custom role
// and permission, and invitations in every status.
func orgSetup(t *testing.T, h *harness, orgs, members int) {
	t.Helper()
	h.seed(t, 40)
	if err := h.Fake.SeedOrganizations(orgs, members); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Fake.CreatePermission("org:posts:create", "Create posts", "Create posts in the organization"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Fake.CreateRole("org:editor", "Editor", "Edits posts", []string{"org:posts:create"}); err != nil {
		t.Fatal(err)
	}
	org := h.Fake.Organizations()[0].ID
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if _, err := h.Fake.Invite(org, email, "org:editor", ""); err != nil {
			t.Fatal(err)
		}
	}
	invs := h.Fake.Invitations(org)
	if _, err := h.Fake.RevokeInvitation(invs[1].ID); err != nil {
		t.Fatal(err)
	}
}

// countLocal returns how many live objects of kind the store has.
func countLocal(t *testing.T, h *harness, kind clerksync.Kind, f clerksync.ObjectFilter) int {
	t.Helper()
	n := 0
	f.Limit = clerksync.MaxPage
	for {
		objs, err := h.Store.Objects(context.Background(), kind, f)
		if err != nil {
			t.Fatal(err)
		}
		n += len(objs)
		if len(objs) < f.Limit {
			return n
		}
		f.After = objs[len(objs)-1].ObjectKey().ID
	}
}

// wantOrgsInSync fails t unless the store holds exactly the organizations and
// memberships of the fake Clerk, at Clerk's versions.
func wantOrgsInSync(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	orgs := h.Fake.Organizations()
	if got := countLocal(t, h, clerksync.KindOrganization, clerksync.ObjectFilter{}); got != len(orgs) {
		t.Fatalf("%d local organizations, Clerk has %d", got, len(orgs))
	}
	members := 0
	for _, o := range orgs {
		got, err := h.Store.Object(ctx, clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: o.ID})
		if err != nil {
			t.Fatalf("organization %s: %v", o.ID, err)
		}
		if _, updated := got.Versions(); updated != o.UpdatedAt {
			t.Fatalf("organization %s at %d, Clerk has %d", o.ID, updated, o.UpdatedAt)
		}
		ms := h.Fake.Memberships(o.ID)
		members += len(ms)
		if got := countLocal(t, h, clerksync.KindMembership, clerksync.ObjectFilter{OrgID: o.ID}); got != len(ms) {
			t.Fatalf("organization %s: %d local memberships, Clerk has %d", o.ID, got, len(ms))
		}
		for _, m := range ms {
			got, err := h.Store.Object(ctx, clerksync.ObjectKey{Kind: clerksync.KindMembership, ID: m.ID})
			if err != nil {
				t.Fatalf("membership %s: %v", m.ID, err)
			}
			if lm := got.(*clerksync.Membership); lm.Role != m.Role || lm.UserID != m.PublicUserData.UserID || lm.UpdatedAt != m.UpdatedAt {
				t.Fatalf("membership %s = %+v, Clerk has %+v", m.ID, lm, m)
			}
		}
	}
	if got := countLocal(t, h, clerksync.KindMembership, clerksync.ObjectFilter{}); got != members {
		t.Fatalf("%d local memberships, Clerk has %d", got, members)
	}
}

func TestBackfill_Organizations(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, h *harness) {
		orgSetup(t, h, 12, 90)
		ctx := context.Background()
		var progress []pull.Progress
		rep, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{PageSize: 5, Progress: func(p pull.Progress) { progress = append(progress, p) }})
		if err != nil {
			t.Fatal(err)
		}
		want := map[clerksync.Kind]clerksync.RunCounts{
			clerksync.KindUser:         {Seen: 40, Created: 40},
			clerksync.KindRole:         {Seen: 3, Created: 3},
			clerksync.KindPermission:   {Seen: 7, Created: 7},
			clerksync.KindOrganization: {Seen: 12, Created: 12},
			clerksync.KindMembership:   {Seen: 90, Created: 90},
			clerksync.KindInvitation:   {Seen: 3, Created: 3},
		}
		got := map[clerksync.Kind]clerksync.RunCounts{}
		var total clerksync.RunCounts
		for k, kr := range rep.Kinds {
			got[k] = kr.Counts
			total.Add(kr.Counts)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("counts per kind (-want +got):\n%s", diff)
		}
		if rep.Run.Counts != total || !rep.Complete {
			t.Fatalf("run counts %+v, want the totals %+v; complete %v", rep.Run.Counts, total, rep.Complete)
		}
		if run := h.run(t, rep.Run.ID); run.Counts != total || run.Status != clerksync.RunSucceeded {
			t.Fatalf("recorded run = %+v", run)
		}
		if got := rep.Kinds[clerksync.KindOrganization]; got.Total != 12 || got.Pages != 3 {
			t.Fatalf("organizations: total %d in %d pages, want 12 in 3", got.Total, got.Pages)
		}
		h.wantInSync(t)
		wantOrgsInSync(t, h)
		if n := countLocal(t, h, clerksync.KindInvitation, clerksync.ObjectFilter{}); n != 3 {
			t.Fatalf("%d invitations stored, want 3 (every status)", n)
		}
		last := progress[len(progress)-1]
		if last.Kind != clerksync.KindOrganization || !last.Done || last.Kinds[clerksync.KindMembership].Seen != 90 {
			t.Fatalf("last progress = %+v", last)
		}
		// Memberships came from the organizations' listings, page by page: each of
		// the 11 organizations of 8 members needs two pages of 5, the last one (of 2)
		// one page.
		if got, want := h.Fake.Requests("GET /v1/organizations/{organization_id}/memberships"), 11*2+1; got != want {
			t.Fatalf("%d membership requests, want %d", got, want)
		}

		// Again: nothing changes.
		rep, err = h.Syncer.Backfill(ctx, pull.BackfillOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c := rep.Run.Counts; c.Unchanged != c.Seen || c.Seen != 155 {
			t.Fatalf("second backfill = %+v, want every object unchanged", c)
		}
	})
}

func TestParseKinds(t *testing.T) {
	t.Parallel()
	o, m, i := clerksync.KindOrganization, clerksync.KindMembership, clerksync.KindInvitation
	for in, want := range map[string][]clerksync.Kind{
		"":                          nil,
		"users":                     {clerksync.KindUser},
		"organizations":             {o, m, i},
		"organizations,memberships": {o, m},
		"Memberships, user":         {m, clerksync.KindUser},
		"roles,permissions,roles":   {clerksync.KindRole, clerksync.KindPermission},
	} {
		got, err := pull.ParseKinds(in)
		if err != nil {
			t.Fatalf("ParseKinds(%q): %v", in, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("ParseKinds(%q) (-want +got):\n%s", in, diff)
		}
	}
	if _, err := pull.ParseKinds("users,teams"); clerksync.ErrorCode(err) != clerksync.EINVALID {
		t.Fatalf("an unknown kind: %v", err)
	}
}

func TestBackfill_OnlySomeKinds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	orgSetup(t, h, 4, 20)
	ctx := context.Background()

	// Memberships alone: the organizations are walked, not imported as such, but
	// each membership carries its organization.
	rep, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{Kinds: []clerksync.Kind{clerksync.KindMembership}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rep.Kinds[clerksync.KindUser]; ok || rep.Kinds[clerksync.KindMembership].Counts.Created != 20 {
		t.Fatalf("kinds = %+v", rep.Kinds)
	}
	if h.Fake.Requests("GET /v1/users") != 0 || h.Fake.Requests("GET /v1/organization_roles") != 0 ||
		h.Fake.Requests("GET /v1/organizations/{organization_id}/invitations") != 0 {
		t.Fatalf("requests for kinds not asked for: %v", h.Fake.RequestCounts())
	}
	if n := countLocal(t, h, clerksync.KindOrganization, clerksync.ObjectFilter{}); n != 4 {
		t.Fatalf("%d organizations stored from their memberships, want 4", n)
	}
	if n := len(h.profiles(t)); n != 0 {
		t.Fatalf("%d profiles stored by a memberships-only backfill", n)
	}

	// Users alone: no organization request at all.
	h.Fake.ResetCounters()
	if _, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{Kinds: []clerksync.Kind{clerksync.KindUser}}); err != nil {
		t.Fatal(err)
	}
	for pattern, n := range h.Fake.RequestCounts() {
		if pattern != "GET /v1/users" && pattern != "GET /v1/users/count" && n > 0 {
			t.Fatalf("a users-only backfill sent %d requests to %s", n, pattern)
		}
	}
}

func TestBackfill_OrganizationsDryRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	orgSetup(t, h, 3, 9)
	rep, err := h.Syncer.Backfill(context.Background(), pull.BackfillOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Kinds[clerksync.KindMembership].Counts; c.Created != 9 {
		t.Fatalf("dry run memberships = %+v", c)
	}
	for _, k := range clerksync.Kinds {
		if n := countLocal(t, h, k, clerksync.ObjectFilter{}); n != 0 {
			t.Fatalf("a dry run stored %d %ss", n, k)
		}
	}
}

func TestPrune_Organizations(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, h *harness) {
		orgSetup(t, h, 30, 120)
		ctx := context.Background()
		if _, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{}); err != nil {
			t.Fatal(err)
		}
		h.Clock.Advance(time.Minute)
		orgs := h.Fake.Organizations()
		// Clerk deletes an organization and removes a member without clerksync
		// hearing of it.
		deleted := orgs[3]
		if err := h.Fake.DeleteOrganization(deleted.ID); err != nil {
			t.Fatal(err)
		}
		kept := orgs[5]
		removed := h.Fake.Memberships(kept.ID)[1]
		if _, err := h.Fake.RemoveMember(kept.ID, removed.PublicUserData.UserID); err != nil {
			t.Fatal(err)
		}
		// The listing skips an organization Clerk still has, as an offset listing does
		// when another is deleted during it: prune must not delete it.
		skipped := orgs[7]
		h.Wrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if r.URL.Path == "/v1/organizations" {
				copyAnswer(w, dropFromList(answer(next, r), skipped.ID))
				return
			}
			next.ServeHTTP(w, r)
		})

		rep, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{Prune: true})
		if err != nil {
			t.Fatal(err)
		}
		ok := rep.Kinds[clerksync.KindOrganization]
		if diff := cmp.Diff([]string{deleted.ID}, ok.Gone); diff != "" || ok.PruneCandidates != 2 {
			t.Fatalf("organizations gone (-want +got):\n%s (candidates %d)", diff, ok.PruneCandidates)
		}
		mk := rep.Kinds[clerksync.KindMembership]
		if diff := cmp.Diff([]string{removed.ID}, mk.Gone); diff != "" {
			t.Fatalf("memberships gone (-want +got):\n%s", diff)
		}
		// One GET per organization candidate: the deleted one and the skipped one.
		if got := h.Fake.Requests("GET /v1/organizations/{organization_id}"); got != 2 {
			t.Fatalf("%d organization lookups, want 2", got)
		}
		for _, k := range []clerksync.ObjectKey{
			{Kind: clerksync.KindOrganization, ID: deleted.ID},
			{Kind: clerksync.KindMembership, ID: removed.ID},
		} {
			if d, err := h.Store.Deleted(ctx, k); err != nil || !d {
				t.Fatalf("Deleted(%s) = %v, %v; want a tombstone", k, d, err)
			}
		}
		if n := countLocal(t, h, clerksync.KindMembership, clerksync.ObjectFilter{OrgID: deleted.ID}); n != 0 {
			t.Fatalf("%d memberships of the deleted organization left", n)
		}
		h.Wrap(nil)
		wantOrgsInSync(t, h)
		if run := h.run(t, rep.Prune.ID); run.Counts.Deleted != 2 || run.Status != clerksync.RunSucceeded {
			t.Fatalf("prune run = %+v, want 2 deletions", run)
		}
	})
}

func TestPrune_RefusesMassMembershipDeletion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	orgSetup(t, h, 2, 40)
	ctx := context.Background()
	if _, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(time.Minute)
	org := h.Fake.Organizations()[0]
	for _, m := range h.Fake.Memberships(org.ID)[:15] {
		if _, err := h.Fake.RemoveMember(org.ID, m.PublicUserData.UserID); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{Prune: true, PruneMax: 5})
	if !errors.Is(err, pull.ErrPruneRefused) {
		t.Fatalf("prune of 15 memberships with a limit of 5: %v", err)
	}
	if n := countLocal(t, h, clerksync.KindMembership, clerksync.ObjectFilter{OrgID: org.ID}); n != 20 {
		t.Fatalf("%d memberships left, want all 20: a refused prune deletes nothing", n)
	}
	if _, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{Prune: true, PruneMax: -1}); err != nil {
		t.Fatal(err)
	}
	wantOrgsInSync(t, h)
}

func TestSyncOrganization(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, h *harness) {
		orgSetup(t, h, 3, 12)
		ctx := context.Background()
		org := h.Fake.Organizations()[0]

		got, err := h.Syncer.SyncOrganization(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Before != nil || got.After == nil || got.Result.Action != clerksync.ActionCreated ||
			got.Memberships.Counts.Created != 4 || got.Invitations.Created != 3 {
			t.Fatalf("first sync = %+v", got)
		}

		h.Clock.Advance(time.Minute)
		m := h.Fake.Memberships(org.ID)[2]
		if _, err := h.Fake.RemoveMember(org.ID, m.PublicUserData.UserID); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Fake.UpdateOrganization(org.ID, func(o *clerkfake.Organization) { o.Name = "Renamed" }); err != nil {
			t.Fatal(err)
		}
		got, err = h.Syncer.SyncOrganization(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Result.Action != clerksync.ActionUpdated || got.After.Name != "Renamed" || !slices.Equal(got.Memberships.Removed, []string{m.ID}) {
			t.Fatalf("sync after changes = %+v", got)
		}

		if err := h.Fake.DeleteOrganization(org.ID); err != nil {
			t.Fatal(err)
		}
		got, err = h.Syncer.SyncOrganization(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Gone || got.After != nil || got.Result.Action != clerksync.ActionDeleted {
			t.Fatalf("sync of a deleted organization = %+v", got)
		}
		if n := countLocal(t, h, clerksync.KindMembership, clerksync.ObjectFilter{OrgID: org.ID}) +
			countLocal(t, h, clerksync.KindInvitation, clerksync.ObjectFilter{OrgID: org.ID}); n != 0 {
			t.Fatalf("%d memberships and invitations of the deleted organization left", n)
		}
		if _, err := h.Syncer.SyncOrganization(ctx, "org_bad/../x"); clerksync.ErrorCode(err) != clerksync.EINVALID {
			t.Fatalf("malformed id: %v", err)
		}
	})
}

func TestSyncUser_Memberships(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed(t, 5)
	ctx := context.Background()
	u := h.Fake.Users()[0]
	var orgs []string
	for _, name := range []string{"Acme", "Globex", "Initech"} {
		o, err := h.Fake.CreateOrganization(clerkfake.OrganizationParams{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Fake.AddMember(o.ID, u.ID, ""); err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o.ID)
	}
	got, err := h.Syncer.SyncUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Memberships == nil || got.Memberships.Counts.Created != 3 || len(got.Memberships.Removed) != 0 {
		t.Fatalf("memberships of the first sync = %+v", got.Memberships)
	}
	h.Clock.Advance(time.Minute)
	gone, err := h.Fake.RemoveMember(orgs[1], u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Fake.UpdateMember(orgs[2], u.ID, "org:admin"); err != nil {
		t.Fatal(err)
	}
	got, err = h.Syncer.SyncUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m := got.Memberships; m.Counts.Updated != 1 || m.Counts.Unchanged != 1 || !slices.Equal(m.Removed, []string{gone.ID}) {
		t.Fatalf("memberships of the second sync = %+v", m)
	}
	if n := countLocal(t, h, clerksync.KindMembership, clerksync.ObjectFilter{UserID: u.ID}); n != 2 {
		t.Fatalf("%d memberships of the user stored, want 2", n)
	}
}

// dropFromList returns a list answer of Clerk's without the object id, with its
// total_count as it was.
func dropFromList(rec *httptest.ResponseRecorder, id string) *httptest.ResponseRecorder {
	var body struct {
		Data       []json.RawMessage `json:"data"`
		TotalCount int               `json:"total_count"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
		return rec
	}
	kept := body.Data[:0]
	for _, raw := range body.Data {
		var head struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &head) == nil && head.ID == id {
			continue
		}
		kept = append(kept, raw)
	}
	body.Data = kept
	out := httptest.NewRecorder()
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			out.Header()[k] = v
		}
	}
	b, _ := json.Marshal(body)
	out.WriteHeader(rec.Code)
	_, _ = out.Write(b)
	return out
}

// TestBackfill_OrganizationsNotEnabled: an instance without organizations answers 403
// organization_not_enabled_in_instance to every organization list; users are still
// imported and synced, and nothing fails.
func TestBackfill_OrganizationsNotEnabled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	noOrgs := clerkfake.New(clerkfake.WithClock(h.Clock.Now), clerkfake.WithRateLimit(0, 0), clerkfake.WithoutOrganizations())
	if err := noOrgs.Seed(12); err != nil {
		t.Fatal(err)
	}
	h.Wrap(func(w http.ResponseWriter, r *http.Request, _ http.Handler) { noOrgs.ServeHTTP(w, r) })

	rep, err := h.Syncer.Backfill(ctx, pull.BackfillOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OrganizationsDisabled || rep.Run.Counts.Created != 12 || rep.Run.Status != clerksync.RunSucceeded {
		t.Fatalf("backfill = %+v (run %+v)", rep, rep.Run)
	}
	if got := noOrgs.Requests("GET /v1/organization_roles"); got != 1 {
		t.Fatalf("%d role requests, want 1", got)
	}
	if n := noOrgs.Requests("GET /v1/organizations"); n != 0 {
		t.Fatalf("%d organization requests after Clerk said organizations are off", n)
	}
	u := noOrgs.Users()[0]
	got, err := h.Syncer.SyncUser(ctx, u.ID)
	if err != nil || got.After == nil || got.Memberships != nil {
		t.Fatalf("SyncUser = %+v, %v", got, err)
	}
	_, err = h.Syncer.SyncOrganization(ctx, "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S")
	if clerksync.ErrorCode(err) != clerksync.ECONFIG || !errors.Is(err, clerkapi.ErrOrganizationsNotEnabled) {
		t.Fatalf("SyncOrganization = %v, want ECONFIG for organizations not enabled", err)
	}
}
