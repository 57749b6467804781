package clerkapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkfake"
)

// objectIDs returns the ids of raw objects.
func objectIDs(tb testing.TB, raws []json.RawMessage) []string {
	tb.Helper()
	ids, err := clerkfake.ObjectIDs(raws)
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

// orgFixture is a fake with users and organizations.
func orgFixture(tb testing.TB, orgs, memberships int) *fixture {
	tb.Helper()
	f := newFixture(tb, clerkfake.WithRateLimit(0, 0), clerkfake.WithSeed(11))
	if err := f.fake.Seed(50); err != nil {
		tb.Fatal(err)
	}
	if err := f.fake.SeedOrganizations(orgs, memberships); err != nil {
		tb.Fatal(err)
	}
	return f
}

func TestListOrganizations(t *testing.T) {
	t.Parallel()
	f := orgFixture(t, 23, 0)
	c := f.client(t, func(cfg *clerkapi.Config) { cfg.RateLimit = -1 })
	ctx := context.Background()

	var got []string
	for offset := 0; ; {
		page, err := c.ListOrganizations(ctx, clerkapi.PageParams{Limit: 10, Offset: offset, OrderBy: "+created_at"})
		if err != nil {
			t.Fatal(err)
		}
		if page.TotalCount != 23 {
			t.Fatalf("total_count = %d, want 23", page.TotalCount)
		}
		got = append(got, objectIDs(t, page.Data)...)
		offset += len(page.Data)
		if len(page.Data) < 10 {
			break
		}
	}
	var want []string
	for _, o := range f.fake.Organizations() {
		want = append(want, o.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("organizations oldest first (-want +got):\n%s", diff)
	}
	if got, want := f.fake.Requests("GET /v1/organizations"), 3; got != want {
		t.Fatalf("%d requests, want %d", got, want)
	}

	// Parameters Clerk would refuse are refused before any request.
	for _, p := range []clerkapi.PageParams{{Limit: 501}, {Offset: -1}, {OrderBy: "updated_at"}, {OrderBy: "+-created_at"}} {
		if _, err := c.ListOrganizations(ctx, p); clerksync.ErrorCode(err) != clerksync.EINVALID {
			t.Fatalf("ListOrganizations(%+v) = %v, want EINVALID", p, err)
		}
	}
	if got := f.fake.Requests("GET /v1/organizations"); got != 3 {
		t.Fatalf("refused parameters sent requests: %d", got)
	}
}

func TestGetOrganization(t *testing.T) {
	t.Parallel()
	f := orgFixture(t, 2, 0)
	c := f.client(t, nil)
	ctx := context.Background()
	org := f.fake.Organizations()[0]

	raw, err := c.GetOrganization(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(org)
	if diff := cmp.Diff(string(want), string(raw)); diff != "" {
		t.Fatalf("organization (-want +got):\n%s", diff)
	}

	if err := f.fake.DeleteOrganization(org.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetOrganization(ctx, org.ID)
	mustCode(t, err, clerksync.ENOTFOUND)
	if got := apiError(t, err).Code; got != "resource_not_found" {
		t.Fatalf("code = %q", got)
	}
	// The memberships of a deleted organization are not found either.
	_, err = c.ListOrganizationMemberships(ctx, org.ID, clerkapi.PageParams{})
	mustCode(t, err, clerksync.ENOTFOUND)
	_, err = c.ListOrganizationInvitations(ctx, org.ID, clerkapi.PageParams{})
	mustCode(t, err, clerksync.ENOTFOUND)

	_, err = c.GetOrganization(ctx, "user_2g7np7Hrk0SN6kj5EDMLDaKNL0X")
	mustCode(t, err, clerksync.EINVALID)
	_, err = c.GetOrganization(ctx, "org_a/../users")
	mustCode(t, err, clerksync.EINVALID)
}

func TestOrganizationLists(t *testing.T) {
	t.Parallel()
	f := orgFixture(t, 3, 12)
	c := f.client(t, nil)
	ctx := context.Background()
	org := f.fake.Organizations()[1]
	members := f.fake.Memberships(org.ID)
	if _, err := f.fake.Invite(org.ID, "new@example.com", "org:admin", ""); err != nil {
		t.Fatal(err)
	}

	page, err := c.ListOrganizationMemberships(ctx, org.ID, clerkapi.PageParams{Limit: 500, OrderBy: "+created_at"})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range members {
		want = append(want, m.ID)
	}
	if diff := cmp.Diff(want, objectIDs(t, page.Data)); diff != "" || page.TotalCount != len(members) {
		t.Fatalf("memberships (-want +got):\n%s (total %d)", diff, page.TotalCount)
	}

	invs, err := c.ListOrganizationInvitations(ctx, org.ID, clerkapi.PageParams{Limit: 500})
	if err != nil || invs.TotalCount != 1 {
		t.Fatalf("invitations = %+v, %v", invs, err)
	}

	user := members[0].PublicUserData.UserID
	mine, err := c.ListUserMemberships(ctx, user, clerkapi.PageParams{Limit: 500})
	if err != nil || mine.TotalCount != len(f.fake.UserMemberships(user)) || mine.TotalCount == 0 {
		t.Fatalf("memberships of %s = %+v, %v", user, mine, err)
	}
	if _, err := c.ListUserMemberships(ctx, user, clerkapi.PageParams{OrderBy: "created_at"}); clerksync.ErrorCode(err) != clerksync.EINVALID {
		t.Fatalf("ordering a user's memberships: %v, want EINVALID", err)
	}

	roles, err := c.ListRoles(ctx, clerkapi.PageParams{Limit: 100})
	if err != nil || roles.TotalCount != 2 {
		t.Fatalf("roles = %+v, %v", roles, err)
	}
	perms, err := c.ListPermissions(ctx, clerkapi.PageParams{Limit: 100, OrderBy: "-created_at"})
	if err != nil || perms.TotalCount != 6 {
		t.Fatalf("permissions = %+v, %v", perms, err)
	}
}

func TestOrganizationListsRetryAndClassify(t *testing.T) {
	t.Parallel()
	f := orgFixture(t, 2, 0)
	ctx := context.Background()

	// A server error is retried, as for users.
	f.fake.FailNext(2, http.StatusServiceUnavailable)
	page, err := f.client(t, nil).ListOrganizations(ctx, clerkapi.PageParams{Limit: 10})
	if err != nil || page.TotalCount != 2 {
		t.Fatalf("after two 503s: %+v, %v", page, err)
	}
	if got := f.fake.Requests("GET /v1/organizations"); got != 3 {
		t.Fatalf("%d requests, want 3", got)
	}

	// A wrong key is a configuration error; so is a 404 for a list without an id.
	bad := f.client(t, func(cfg *clerkapi.Config) { cfg.SecretKey = "sk_test_wrong" })
	_, err = bad.ListRoles(ctx, clerkapi.PageParams{})
	mustCode(t, err, clerksync.ECONFIG)
	wrongPath := f.client(t, func(cfg *clerkapi.Config) { cfg.BaseURL = f.srv.URL + "/v2" })
	_, err = wrongPath.ListOrganizations(ctx, clerkapi.PageParams{})
	mustCode(t, err, clerksync.ECONFIG)
}
