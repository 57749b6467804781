package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
)

// OrgHistory is a random history of what Clerk does to users and organizations, in
// Clerk's order: users created, updated and deleted; organizations created, updated
// and deleted; members added, given other roles, removed and added again (under a new
// membership id); invitations sent, accepted and revoked; roles and permissions
// created, updated, deleted and made again under the same key. Every change is a
// webhook with its own svix-id, as Clerk sends them.
type OrgHistory struct {
	Changes []clerksync.Change
	// Keys are every object the history names.
	Keys []clerksync.ObjectKey
}

// NewOrgHistory returns a random history of steps steps.
func NewOrgHistory(rng *rand.Rand, steps int) *OrgHistory {
	g := &historyGen{rng: rng, now: start, h: &OrgHistory{},
		users: map[string]*clerksync.Profile{}, orgs: map[string]*clerksync.Organization{},
		members: map[[2]string]*clerksync.Membership{}, invites: map[string]*clerksync.Invitation{},
		roles: map[string]*clerksync.Role{}, perms: map[string]*clerksync.Permission{}, keys: map[clerksync.ObjectKey]bool{}}
	for range steps {
		g.step()
	}
	return g.h
}

type historyGen struct {
	rng *rand.Rand
	now int64
	h   *OrgHistory
	n   int // ids made so far

	users   map[string]*clerksync.Profile      // live users
	orgs    map[string]*clerksync.Organization // live organizations
	members map[[2]string]*clerksync.Membership
	invites map[string]*clerksync.Invitation // pending invitations
	roles   map[string]*clerksync.Role       // live roles by key
	perms   map[string]*clerksync.Permission // live permissions by key
	keys    map[clerksync.ObjectKey]bool
}

func (g *historyGen) id(prefix string) string {
	g.n++
	return fmt.Sprintf("%s_%04d", prefix, g.n)
}

func (g *historyGen) emit(c clerksync.Change) {
	c.EventID = fmt.Sprintf("msg_%05d", len(g.h.Changes))
	g.h.Changes = append(g.h.Changes, c)
	if !g.keys[c.Key()] {
		g.keys[c.Key()] = true
		g.h.Keys = append(g.h.Keys, c.Key())
	}
}

// pick returns a random key of m, "" for an empty map; keys are sorted first so that a
// seed always makes the same history.
func pick[K comparable, V any](rng *rand.Rand, m map[K]V, less func(a, b K) bool) (K, bool) {
	var zero K
	if len(m) == 0 {
		return zero, false
	}
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) })
	return keys[rng.IntN(len(keys))], true
}

func lessString(a, b string) bool       { return a < b }
func lessPair(a, b [2]string) bool      { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }
func (g *historyGen) tick() int64       { g.now += 1 + g.rng.Int64N(5_000); return g.now }
func (g *historyGen) chance(n int) bool { return g.rng.IntN(n) == 0 }

func (g *historyGen) step() {
	switch g.rng.IntN(16) {
	case 0, 1: // a new user
		t := g.tick()
		p := randomProfile(g.rng, g.id("user"), t, t)
		g.users[p.UserID] = p
		g.emit(Upsert("", p))
	case 2: // a user changes
		if id, ok := pick(g.rng, g.users, lessString); ok {
			p := randomProfile(g.rng, id, g.users[id].CreatedAt, g.tick())
			g.users[id] = p
			c := Upsert("", p)
			g.emit(c)
		}
	case 3: // a user is deleted, and their memberships with them
		if id, ok := pick(g.rng, g.users, lessString); ok && g.chance(3) {
			delete(g.users, id)
			for k := range g.members {
				if k[1] == id {
					delete(g.members, k)
				}
			}
			g.emit(Delete("", id, g.tick()))
		}
	case 4: // a new organization
		t := g.tick()
		o := NewOrganization(g.id("org"), t, t)
		g.orgs[o.OrgID] = o
		g.emit(Event("", "organization.created", o))
	case 5: // an organization changes
		if id, ok := pick(g.rng, g.orgs, lessString); ok {
			o := NewOrganization(id, g.orgs[id].CreatedAt, g.tick())
			g.orgs[id] = o
			g.emit(Event("", "organization.updated", o))
		}
	case 6: // an organization is deleted, with its memberships and invitations
		if id, ok := pick(g.rng, g.orgs, lessString); ok && g.chance(3) {
			delete(g.orgs, id)
			for k := range g.members {
				if k[0] == id {
					delete(g.members, k)
				}
			}
			for k, i := range g.invites {
				if i.OrgID == id {
					delete(g.invites, k)
				}
			}
			g.emit(DeleteEvent("", "organization.deleted", clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: id}, g.tick()))
		}
	case 7, 8: // a user joins an organization (perhaps again, under a new membership id)
		orgID, ok1 := pick(g.rng, g.orgs, lessString)
		userID, ok2 := pick(g.rng, g.users, lessString)
		if ok1 && ok2 && g.members[[2]string{orgID, userID}] == nil {
			t := g.tick()
			role := "org:member"
			if g.chance(3) {
				role = "org:admin"
			}
			m := NewMembership(g.id("orgmem"), g.orgs[orgID], userID, role, t, t)
			g.members[[2]string{orgID, userID}] = m
			g.emit(Event("", "organizationMembership.created", m))
		}
	case 9: // a member gets another role
		if k, ok := pick(g.rng, g.members, lessPair); ok {
			old := g.members[k]
			role := "org:admin"
			if old.Role == role {
				role = "org:member"
			}
			m := NewMembership(old.MembershipID, g.orgs[k[0]], k[1], role, old.CreatedAt, g.tick())
			g.members[k] = m
			g.emit(Event("", "organizationMembership.updated", m))
		}
	case 10: // a member is removed
		if k, ok := pick(g.rng, g.members, lessPair); ok {
			m := g.members[k]
			delete(g.members, k)
			g.emit(MembershipDeleted("", m, g.tick()))
		}
	case 11: // an invitation
		if orgID, ok := pick(g.rng, g.orgs, lessString); ok {
			t := g.tick()
			i := NewInvitation(g.id("orginv"), orgID, fmt.Sprintf("invitee%d@example.com", g.n), "pending", "", t, t)
			g.invites[i.InvitationID] = i
			g.emit(Event("", "organizationInvitation.created", i))
		}
	case 12: // an invitation is accepted or revoked
		if id, ok := pick(g.rng, g.invites, lessString); ok {
			old := g.invites[id]
			delete(g.invites, id)
			if userID, ok := pick(g.rng, g.users, lessString); ok && g.chance(2) {
				g.emit(Event("", "organizationInvitation.accepted",
					NewInvitation(id, old.OrgID, old.Email, "accepted", userID, old.CreatedAt, g.tick())))
			} else {
				g.emit(Event("", "organizationInvitation.revoked",
					NewInvitation(id, old.OrgID, old.Email, "revoked", "", old.CreatedAt, g.tick())))
			}
		}
	case 13: // a role is made, changed, or deleted; keys come back
		churnKeyed(g, g.roles, "role", "role", fmt.Sprintf("org:role%d", g.rng.IntN(3)), NewRole)
	case 14: // a permission likewise
		churnKeyed(g, g.perms, "permission", "perm", fmt.Sprintf("org:perm%d", g.rng.IntN(3)), NewPermission)
	case 15: // a session of a user, carrying the user as Clerk's session events do
		if id, ok := pick(g.rng, g.users, lessString); ok {
			c := Upsert("", g.users[id])
			c.EventType = "session.created"
			g.emit(c)
		}
	}
}

// churnKeyed makes the object of kind ("role", "permission") under key k of live, with
// an id of idPrefix, when there is none, else deletes it or changes it: a key comes
// back, under a new id, after a delete.
func churnKeyed[T clerksync.Object](g *historyGen, live map[string]T, kind, idPrefix, k string, build func(id, key string, createdAt, updatedAt int64) T) {
	o, ok := live[k]
	switch {
	case !ok:
		t := g.tick()
		o = build(g.id(idPrefix), k, t, t)
		live[k] = o
		g.emit(Event("", kind+".created", o))
	case g.chance(2):
		delete(live, k)
		g.emit(DeleteEvent("", kind+".deleted", o.ObjectKey(), g.tick()))
	default:
		createdAt, _ := o.Versions()
		o = build(o.ObjectKey().ID, k, createdAt, g.tick())
		live[k] = o
		g.emit(Event("", kind+".updated", o))
	}
}

// ConvergeOrgs is the property test of the convergence rule over every kind of object:
// a random OrgHistory delivered out of order, with redeliveries, in random batches, by
// several goroutines at once through stores (which share one database), ends in the
// state that applying the history in Clerk's order, one change at a time, leaves in
// inOrder (a fresh store of the same kind): the same live rows in every table, the same
// tombstones, one event log entry per svix-id, and a changes feed that, replayed,
// gives the rows of the tables.
func ConvergeOrgs(t *testing.T, stores []clerksync.Store, inOrder clerksync.Store, seed uint64) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	h := NewOrgHistory(rng, 400)

	for _, c := range h.Changes {
		MustApply(t, inOrder, c)
	}

	deliveries, batches, firsts := deliverShuffled(t, rng, stores, h.Changes, 30)
	for _, c := range h.Changes {
		if got := firsts[c.EventID]; got != 1 {
			t.Errorf("%s: %d deliveries were not duplicates, want exactly 1", c.EventID, got)
		}
	}
	t.Logf("%d changes, %d deliveries in %d batches, %d objects", len(h.Changes), len(deliveries), batches, len(h.Keys))

	got, want := stores[0], inOrder
	SameState(t, got, want, h.Keys)
	events := 0
	for f := (clerksync.EventFilter{Limit: 500}); ; {
		page, err := got.Events(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		events += len(page)
		f.Before = page[len(page)-1].ID
	}
	if events != len(h.Changes) {
		t.Errorf("the event log holds %d entries, want %d", events, len(h.Changes))
	}
	if fs, ok := got.(clerksync.FeedStore); ok {
		CheckFeedMatchesTables(t, got, AllChanges(t, fs, 0))
	}
}

// SameState fails t unless got holds what want holds: the same live rows in every
// table (Clerk's columns), and the same tombstones of keys.
func SameState(t *testing.T, got, want clerksync.Store, keys []clerksync.ObjectKey) {
	t.Helper()
	ctx := context.Background()
	for _, k := range clerksync.Kinds {
		g, w := allObjects(t, got, k), allObjects(t, want, k)
		for id, wo := range w {
			if diff := ObjectDiff(wo, g[id]); diff != "" {
				t.Errorf("%s %s differs from in-order application (-want +got):\n%s", k, id, diff)
			}
		}
		for id := range g {
			if w[id] == nil {
				t.Errorf("%s %s is live, but not after in-order application", k, id)
			}
		}
	}
	for _, k := range keys {
		dg, err1 := got.Deleted(ctx, k)
		dw, err2 := want.Deleted(ctx, k)
		if err1 != nil || err2 != nil || dg != dw {
			t.Errorf("Deleted(%s) = %v, %v; in order: %v, %v", k, dg, err1, dw, err2)
		}
	}
}

// CheckFeedMatchesTables fails t unless entries, replayed in order (FoldFeed), give
// exactly the live rows of s's tables, column by column (synced_at and sync_source
// aside, which the feed records as they were when each entry was made).
func CheckFeedMatchesTables(t *testing.T, s clerksync.Store, entries []clerksync.FeedEntry) {
	t.Helper()
	folded := FoldFeed(t, entries)
	live := 0
	for _, k := range clerksync.Kinds {
		tbl := k.Table()
		for id, o := range allObjects(t, s, k) {
			live++
			data, ok := folded[clerksync.ObjectKey{Kind: k, ID: id}]
			row := o.AppendRow(nil)
			if ph := (clerksync.Stored{Row: row}); ph.Placeholder(tbl) {
				if ok {
					t.Errorf("the feed tells of %s %s, a placeholder", k, id)
				}
				live--
				continue
			}
			if !ok {
				t.Errorf("%s %s is live, but the feed does not tell of it", k, id)
				continue
			}
			for i, c := range tbl.Columns {
				if c.Name == "synced_at" || c.Name == "sync_source" {
					continue
				}
				if !sameJSON(data[c.Name], row[i]) {
					t.Errorf("%s %s: the feed says %s = %v, the table %v", k, id, c.Name, data[c.Name], row[i])
				}
			}
		}
	}
	if len(folded) != live {
		t.Errorf("the feed tells of %d live objects, the tables hold %d", len(folded), live)
	}
}

// sameJSON reports whether v, decoded from the feed's JSON, is the Row value r.
func sameJSON(v any, r any) bool {
	switch x := r.(type) {
	case nil:
		return v == nil
	case string:
		return v == x
	case bool:
		return v == x
	case int64:
		f, ok := v.(float64)
		return ok && int64(f) == x
	}
	want := mustJSON(r)
	got := mustJSON(v)
	return jsonEqual(want, got)
}

// jsonEqual reports whether two JSON documents decode to the same value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// allObjects returns every live object of kind k, by id.
func allObjects(t testing.TB, s clerksync.Store, k clerksync.Kind) map[string]clerksync.Object {
	t.Helper()
	out := make(map[string]clerksync.Object)
	for after := ""; ; {
		page, err := s.Objects(context.Background(), k, clerksync.ObjectFilter{After: after, Limit: 50})
		if err != nil {
			t.Fatalf("Objects(%s): %v", k, err)
		}
		if len(page) == 0 {
			return out
		}
		for _, o := range page {
			out[o.ObjectKey().ID] = o
		}
		after = page[len(page)-1].ObjectKey().ID
	}
}

// testConvergeOrgs runs ConvergeOrgs on fresh stores with several seeds.
func testConvergeOrgs(t *testing.T, open Opener) {
	eachSeed(t, 3, func(t *testing.T, now func() time.Time, seed uint64) {
		ConvergeOrgs(t, []clerksync.Store{open(t, now)}, open(t, now), seed)
	})
}
