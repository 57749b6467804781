package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/metrics"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
)

// TestChangesByKind applies changes of every kind through an engine wired to the
// metrics as serve wires it, and reads /metrics: each applied change is counted under
// the kind of the object it is about, its source and its action; what changed nothing
// is not counted.
func TestChangesByKind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, eng := newEngine(t)

	const at = 1_716_883_200_000
	org := storetest.NewOrganization("org_acme", at, at)
	orgKey := clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: org.OrgID}
	batches := [][]clerksync.Change{
		{
			storetest.Upsert("msg_u1", storetest.NewProfile("user_a", at)),
			storetest.Event("msg_o1", "organization.created", org),
			storetest.Event("msg_m1", "organizationMembership.created", storetest.NewMembership("orgmem_a", org, "user_a", "org:admin", at+1, at+1)),
			storetest.Event("msg_i1", "organizationInvitation.created", storetest.NewInvitation("orginv_b", org.OrgID, "b@example.com", "pending", "", at+2, at+2)),
			storetest.Event("msg_r1", "role.created", storetest.NewRole("role_admin", "org:admin", at, at)),
			storetest.Event("msg_p1", "permission.created", storetest.NewPermission("perm_read", "org:posts:read", at, at)),
		},
		{
			storetest.Event("msg_o2", "organization.updated", storetest.NewOrganization(org.OrgID, at, at+5)),
			// Older than what is stored: stale, not counted.
			storetest.Event("msg_o1b", "organization.updated", org),
			clerksync.Upsert(storetest.NewOrganization("org_pulled", at, at), clerksync.SourceBackfill),
		},
		{storetest.DeleteEvent("msg_o3", "organization.deleted", orgKey, at+10)},
		// Deleted for ever: stale, not counted.
		{storetest.Event("msg_o4", "organization.updated", storetest.NewOrganization(org.OrgID, at, at+20))},
	}
	for _, b := range batches {
		if _, err := eng.ApplyWait(ctx, b...); err != nil {
			t.Fatal(err)
		}
	}

	got := scrape(t, m, "clerksync_changes_total{")
	want := []string{
		`clerksync_changes_total{action="created",kind="invitation",source="webhook"} 1`,
		`clerksync_changes_total{action="created",kind="membership",source="webhook"} 1`,
		`clerksync_changes_total{action="created",kind="organization",source="backfill"} 1`,
		`clerksync_changes_total{action="created",kind="organization",source="webhook"} 1`,
		`clerksync_changes_total{action="created",kind="permission",source="webhook"} 1`,
		`clerksync_changes_total{action="created",kind="role",source="webhook"} 1`,
		`clerksync_changes_total{action="created",kind="user",source="webhook"} 1`,
		`clerksync_changes_total{action="deleted",kind="organization",source="webhook"} 1`,
		`clerksync_changes_total{action="updated",kind="organization",source="webhook"} 1`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("clerksync_changes_total (-want +got):\n%s", diff)
	}
}

// TestRepairs: what a listing of the Backend API (reconcile, poll, backfill) changed is
// counted as a repair, by kind and action; what it found already in place, and what a
// webhook or a read of one object (Sync User Data) changed, is not.
func TestRepairs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, eng := newEngine(t)
	const at = 1_716_883_200_000
	listed := func(o clerksync.Object) clerksync.Change { return clerksync.Upsert(o, clerksync.SourceBackfill) }
	org := storetest.NewOrganization("org_missed", at, at)
	batches := [][]clerksync.Change{
		{
			listed(org),
			clerksync.UpsertUser(storetest.NewProfile("user_missed", at), clerksync.SourceBackfill),
			storetest.Upsert("msg_u", storetest.NewProfile("user_hooked", at)),
			clerksync.UpsertUser(storetest.NewProfile("user_synced", at), clerksync.SourceAPI),
		},
		// Already in place: unchanged, not a repair.
		{listed(org), clerksync.UpsertUser(storetest.NewProfile("user_hooked", at), clerksync.SourceBackfill)},
		{
			listed(storetest.NewOrganization(org.OrgID, at, at+5)),
			clerksync.Delete(clerksync.UserKey("user_hooked"), clerksync.SourceBackfill),
		},
	}
	for _, b := range batches {
		if _, err := eng.ApplyWait(ctx, b...); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		`clerksync_repairs_total{action="created",kind="organization"} 1`,
		`clerksync_repairs_total{action="created",kind="user"} 1`,
		`clerksync_repairs_total{action="deleted",kind="user"} 1`,
		`clerksync_repairs_total{action="updated",kind="organization"} 1`,
	}
	if diff := cmp.Diff(want, scrape(t, m, "clerksync_repairs_total{")); diff != "" {
		t.Fatalf("clerksync_repairs_total (-want +got):\n%s", diff)
	}
}

// newEngine returns metrics and an engine over a new SQLite store, wired as serve
// wires them.
func newEngine(t *testing.T) (*metrics.Metrics, *engine.Engine) {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "clerksync.db"))
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	eng := engine.New(store, engine.Config{OnBatch: m.ObserveBatch, OnApplied: m.ObserveApplied})
	t.Cleanup(func() {
		if err := eng.Close(); err != nil {
			t.Error(err)
		}
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	return m, eng
}

// scrape returns the lines of m's /metrics that start with prefix.
func scrape(t *testing.T, m *metrics.Metrics, prefix string) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, prefix) {
			got = append(got, strings.TrimSpace(line))
		}
	}
	return got
}
