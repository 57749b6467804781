package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
)

// The conformance tests of the changes feed: one entry per real change, recorded with
// the change.

func mustFeed(t *testing.T, s clerksync.Store) clerksync.FeedStore {
	t.Helper()
	f, ok := s.(clerksync.FeedStore)
	if !ok {
		t.Fatalf("%T does not keep the changes feed (clerksync.FeedStore)", s)
	}
	return f
}

// AllChanges returns every entry of the feed after after, reading it page by page as
// a reader would.
func AllChanges(t testing.TB, f clerksync.FeedStore, after int64) []clerksync.FeedEntry {
	t.Helper()
	var out []clerksync.FeedEntry
	for {
		page, err := f.Changes(context.Background(), clerksync.FeedFilter{After: after, Limit: 7})
		if err != nil {
			t.Fatalf("Changes: %v", err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

func types(entries []clerksync.FeedEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Type + " " + e.ObjectID
	}
	return out
}

// jsonMap decodes a JSON object, failing t when it is not one.
func jsonMap(t *testing.T, m json.RawMessage) map[string]any {
	t.Helper()
	if m == nil {
		return nil
	}
	var v map[string]any
	if err := json.Unmarshal(m, &v); err != nil {
		t.Fatalf("not a JSON object: %s: %v", m, err)
	}
	return v
}

func testFeedUser(t *testing.T, open Opener) {
	clock := NewClock(Epoch)
	s := open(t, clock.Now)
	f := mustFeed(t, s)
	v1 := NewProfile("user_feed", start)
	v2 := NewProfile("user_feed", start+1000)
	v2.CreatedAt = v1.CreatedAt
	v2.FirstName = "Renamed"

	c1 := Upsert("msg_1", v1)
	MustApply(t, s, c1)
	MustApply(t, s, c1)                                          // duplicate: nothing
	MustApply(t, s, APIUpsert(clerksync.SourceBackfill, v1))     // unchanged: nothing
	MustApply(t, s, Upsert("msg_2", v2))                         // updated
	MustApply(t, s, Upsert("msg_1b", v1))                        // stale: nothing
	MustApply(t, s, Delete("msg_del", "user_feed", start+5000))  // deleted
	MustApply(t, s, APIUpsert(clerksync.SourceAPI, v2))          // deleted for ever: nothing
	MustApply(t, s, Delete("msg_del2", "user_feed", start+6000)) // already deleted: nothing

	got := AllChanges(t, f, 0)
	want := []string{"profile.created user_feed", "profile.updated user_feed", "profile.deleted user_feed"}
	if diff := cmp.Diff(want, types(got)); diff != "" {
		t.Fatalf("feed (-want +got):\n%s", diff)
	}
	for i, e := range got {
		if i > 0 && e.Seq <= got[i-1].Seq {
			t.Errorf("seq %d after %d: not increasing", e.Seq, got[i-1].Seq)
		}
		if !strings.HasPrefix(e.ID, "chg_") || e.Source != clerksync.SourceWebhook || e.Kind != clerksync.KindUser {
			t.Errorf("entry %d: id %q source %q kind %v", i, e.ID, e.Source, e.Kind)
		}
	}
	created, updated, deleted := got[0], got[1], got[2]
	if created.EventID != "msg_1" || created.OccurredAt != v1.UpdatedAt || created.Previous != nil {
		t.Errorf("created: event %q occurred %d previous %s", created.EventID, created.OccurredAt, created.Previous)
	}
	data := jsonMap(t, created.Data)
	if data["user_id"] != "user_feed" || data["email"] != v1.Email || data["first_name"] != "Test" {
		t.Errorf("created data = %v", data)
	}
	if _, ok := data["raw"]; ok {
		t.Errorf("created data holds raw")
	}
	prev := jsonMap(t, updated.Previous)
	if prev["first_name"] != "Test" || prev["updated_at"] != float64(v1.UpdatedAt) {
		t.Errorf("updated previous = %v; want first_name Test and updated_at %d", prev, v1.UpdatedAt)
	}
	if _, ok := prev["created_at"]; ok {
		t.Errorf("updated previous holds created_at, which did not change: %v", prev)
	}
	if _, ok := prev["synced_at"]; ok {
		t.Errorf("updated previous holds synced_at: %v", prev)
	}
	if jsonMap(t, updated.Data)["first_name"] != "Renamed" {
		t.Errorf("updated data = %s", updated.Data)
	}
	if d := jsonMap(t, deleted.Data); len(d) != 1 || d["user_id"] != "user_feed" {
		t.Errorf("deleted data = %v; want the id alone", d)
	}
	if p := jsonMap(t, deleted.Previous); p["first_name"] != "Renamed" || p["email"] != v2.Email {
		t.Errorf("deleted previous = %v; want the row as it was", p)
	}
	if deleted.OccurredAt != start+5000 {
		t.Errorf("deleted occurred_at = %d, want the event's time %d", deleted.OccurredAt, start+5000)
	}

	last, err := f.LastSeq(context.Background())
	if err != nil || last != deleted.Seq {
		t.Errorf("LastSeq = %d, %v; want %d", last, err, deleted.Seq)
	}
}

// testFeedSources: a user created by the Backend API is created once in the feed,
// whichever path saw it first; the feed says which.
func testFeedSources(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	f := mustFeed(t, s)
	p := NewProfile("user_api_first", start)
	MustApply(t, s, APIUpsert(clerksync.SourceBackfill, p))
	MustApply(t, s, Upsert("msg_late_create", p)) // the webhook arrives late: unchanged
	got := AllChanges(t, f, 0)
	if len(got) != 1 || got[0].Type != "profile.created" || got[0].Source != clerksync.SourceBackfill || got[0].EventID != "" {
		t.Fatalf("feed = %+v; want one profile.created from the backfill", got)
	}
}

// testFeedCascade: deleting an organization tells of every membership and invitation
// that went with it, before the organization itself.
func testFeedCascade(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	f := mustFeed(t, s)
	org := NewOrganization("org_c", start, start)
	MustApply(t, s, Event("msg_m", "organizationMembership.created", NewMembership("orgmem_c", org, "user_c", "org:member", start, start)),
		Event("msg_i", "organizationInvitation.created", NewInvitation("orginv_c", "org_c", "i@example.com", "pending", "", start, start)))
	after, err := f.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	MustApply(t, s, DeleteEvent("msg_del", "organization.deleted", key(clerksync.KindOrganization, "org_c"), start+10))
	got := AllChanges(t, f, after)
	want := []string{"membership.deleted orgmem_c", "invitation.deleted orginv_c", "organization.deleted org_c"}
	if diff := cmp.Diff(want, types(got)); diff != "" {
		t.Fatalf("feed after the deletion (-want +got):\n%s", diff)
	}
	if p := jsonMap(t, got[0].Previous); p["user_id"] != "user_c" || p["org_id"] != "org_c" {
		t.Errorf("membership.deleted previous = %v; want its user and organization", p)
	}
	before := AllChanges(t, f, 0)
	want = []string{"organization.created org_c", "membership.created orgmem_c", "invitation.created orginv_c"}
	if diff := cmp.Diff(want, types(before[:3])); diff != "" {
		t.Fatalf("feed before the deletion (-want +got):\n%s", diff)
	}
}

// testFeedLargeBatch: one batch of many changes records one entry each, in the order
// of the batch, with consecutive seqs, however a store splits the batch into
// statements; and the next batch's entries follow.
func testFeedLargeBatch(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	f := mustFeed(t, s)
	for round, n := range []int{85, 37, 1} {
		changes := make([]clerksync.Change, n)
		for i := range changes {
			id := fmt.Sprintf("user_big%d_%03d", round, i)
			changes[i] = Upsert("msg_"+id, NewProfile(id, start))
		}
		last, err := f.LastSeq(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		MustApply(t, s, changes...)
		got := AllChanges(t, f, last)
		if len(got) != n {
			t.Fatalf("round %d: %d entries after seq %d, want %d", round, len(got), last, n)
		}
		for i, e := range got {
			if e.Seq != last+int64(i)+1 {
				t.Fatalf("round %d: entry %d has seq %d, want %d", round, i, e.Seq, last+int64(i)+1)
			}
			if want := changes[i].ID; e.ObjectID != want || e.Type != "profile.created" {
				t.Fatalf("round %d: entry %d is %s %s, want profile.created %s", round, i, e.Type, e.ObjectID, want)
			}
		}
	}
}

func testFeedFilter(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	f := mustFeed(t, s)
	org := NewOrganization("org_f", start, start)
	MustApply(t, s, Upsert("msg_u", NewProfile("user_f", start)),
		Event("msg_m", "organizationMembership.created", NewMembership("orgmem_f", org, "user_f", "org:member", start, start)))
	ctx := context.Background()
	for _, tt := range []struct {
		types []string
		want  []string
	}{
		{nil, []string{"profile.created user_f", "organization.created org_f", "membership.created orgmem_f"}},
		{[]string{"*"}, []string{"profile.created user_f", "organization.created org_f", "membership.created orgmem_f"}},
		{[]string{"profile.*"}, []string{"profile.created user_f"}},
		{[]string{"membership.created", "organization.*"}, []string{"organization.created org_f", "membership.created orgmem_f"}},
		{[]string{"role.*"}, nil},
	} {
		got, err := f.Changes(ctx, clerksync.FeedFilter{Types: tt.types})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, types(got), cmp.Comparer(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })); diff != "" {
			t.Errorf("types %v (-want +got):\n%s", tt.types, diff)
		}
	}
	got, err := f.Changes(ctx, clerksync.FeedFilter{ObjectID: "orgmem_f"})
	if err != nil || len(got) != 1 {
		t.Errorf("entries of orgmem_f: %v, %v", types(got), err)
	}
}

func testForwardPositions(t *testing.T, open Opener) {
	clock := NewClock(Epoch)
	s := open(t, clock.Now)
	f := mustFeed(t, s)
	ctx := context.Background()
	if _, ok, err := f.ForwardPosition(ctx, "https://app.example.com/hook"); err != nil || ok {
		t.Fatalf("position of a new endpoint: %v, %v; want none", ok, err)
	}
	if err := f.SetForwardPosition(ctx, "https://app.example.com/hook", 5); err != nil {
		t.Fatal(err)
	}
	if err := f.SetForwardPosition(ctx, "https://app.example.com/hook", 9); err != nil {
		t.Fatal(err)
	}
	if pos, ok, err := f.ForwardPosition(ctx, "https://app.example.com/hook"); err != nil || !ok || pos != 9 {
		t.Fatalf("position = %d, %v, %v; want 9", pos, ok, err)
	}
	all, err := f.ForwardPositions(ctx)
	if err != nil || len(all) != 1 || all["https://app.example.com/hook"] != 9 {
		t.Fatalf("ForwardPositions = %v, %v", all, err)
	}
}

func testPruneChanges(t *testing.T, open Opener) {
	clock := NewClock(Epoch)
	s := open(t, clock.Now)
	f := mustFeed(t, s)
	for i, id := range []string{"user_p1", "user_p2", "user_p3"} {
		clock.Set(Epoch.Add(time.Duration(i) * time.Hour))
		MustApply(t, s, Upsert("msg_"+id, NewProfile(id, start)))
	}
	all := AllChanges(t, f, 0)
	ctx := context.Background()
	// Recorded before 30 minutes past the epoch: only the first goes.
	n, err := f.PruneChanges(ctx, Epoch.Add(30*time.Minute), all[2].Seq)
	if err != nil || n != 1 {
		t.Fatalf("PruneChanges = %d, %v; want 1", n, err)
	}
	// Recorded before 150 minutes, but not past the second entry: the second goes.
	n, err = f.PruneChanges(ctx, Epoch.Add(150*time.Minute), all[1].Seq)
	if err != nil || n != 1 {
		t.Fatalf("PruneChanges = %d, %v; want 1", n, err)
	}
	left := AllChanges(t, f, 0)
	if len(left) != 1 || left[0].ObjectID != "user_p3" {
		t.Fatalf("left: %v", types(left))
	}
	// The newest entry is never pruned, whatever its age: the feed is never emptied,
	// so it never gives a seq again and LastSeq still says where it ends.
	if n, err := f.PruneChanges(ctx, Epoch.Add(24*time.Hour), all[2].Seq); err != nil || n != 0 {
		t.Fatalf("PruneChanges of the newest entry = %d, %v; want 0", n, err)
	}
	if last, err := f.LastSeq(ctx); err != nil || last != all[2].Seq {
		t.Fatalf("LastSeq = %d, %v; want %d", last, err, all[2].Seq)
	}
	MustApply(t, s, Upsert("msg_user_p4", NewProfile("user_p4", start)))
	next := AllChanges(t, f, all[2].Seq)
	if len(next) != 1 || next[0].ObjectID != "user_p4" || next[0].Seq <= all[2].Seq {
		t.Fatalf("after pruning, the next entry is %v; want user_p4's with a seq above %d", next, all[2].Seq)
	}
	// Once a newer entry exists, the old newest goes like any other.
	if n, err := f.PruneChanges(ctx, Epoch.Add(24*time.Hour), next[0].Seq); err != nil || n != 1 {
		t.Fatalf("PruneChanges = %d, %v; want 1", n, err)
	}
}

// testPruneChangesWhileWriting: pruning by age, over and over while changes commit,
// never deletes an entry recorded after the cutoff, not even one committed between the
// moment a prune looks for the newest entry to keep and the moment it deletes. Each
// round starts from an empty feed, where that window is widest.
func testPruneChangesWhileWriting(t *testing.T, open Opener) {
	for round := range 3 {
		clock := NewClock(Epoch)
		s := open(t, clock.Now)
		f := mustFeed(t, s)
		ctx := context.Background()
		stop := make(chan struct{})
		pruned := make(chan int)
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					pruned <- n
					return
				default:
				}
				d, err := f.PruneChanges(ctx, Epoch.Add(-time.Hour), math.MaxInt64)
				if err != nil {
					t.Errorf("PruneChanges: %v", err)
				}
				n += d
			}
		}()
		const writes = 20
		for i := range writes {
			id := fmt.Sprintf("user_prune%d_%d", round, i)
			MustApply(t, s, Upsert("msg_"+id, NewProfile(id, start)))
		}
		close(stop)
		if n := <-pruned; n != 0 {
			t.Fatalf("round %d: pruning entries recorded before %s deleted %d recorded after it", round, Epoch.Add(-time.Hour), n)
		}
		if got := AllChanges(t, f, 0); len(got) != writes {
			t.Fatalf("round %d: %d entries left of %d", round, len(got), writes)
		}
	}
}

// FoldFeed replays entries, in order, into the state they describe: the data of every
// live object by kind and id. It fails t when the entries contradict each other (an
// object created twice, or updated or deleted while not live).
func FoldFeed(t testing.TB, entries []clerksync.FeedEntry) map[clerksync.ObjectKey]map[string]any {
	t.Helper()
	state := make(map[clerksync.ObjectKey]map[string]any)
	for _, e := range entries {
		k := clerksync.ObjectKey{Kind: e.Kind, ID: e.ObjectID}
		var data map[string]any
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatalf("entry %d (%s): data is not a JSON object: %v", e.Seq, e.Type, err)
		}
		_, live := state[k]
		switch e.Action() {
		case clerksync.ActionCreated:
			if live {
				t.Errorf("entry %d: %s of %s, which is live already", e.Seq, e.Type, k)
			}
			state[k] = data
		case clerksync.ActionUpdated:
			if !live {
				t.Errorf("entry %d: %s of %s, which is not live", e.Seq, e.Type, k)
			}
			state[k] = data
		case clerksync.ActionDeleted:
			if !live {
				t.Errorf("entry %d: %s of %s, which is not live", e.Seq, e.Type, k)
			}
			delete(state, k)
		default:
			t.Errorf("entry %d: unknown type %q", e.Seq, e.Type)
		}
	}
	return state
}
