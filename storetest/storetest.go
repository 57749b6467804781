// Package storetest is the conformance suite every clerksync.Store passes, in the
// manner of riverqueue/river's driver tests: the rules of clerksync's design (svix-id
// idempotency, ordering by updated_at, deletes that win for ever, redaction, dead
// letters, the event log) written once and run against SQLite and PostgreSQL alike.
//
// It also holds helpers that build realistic profiles and changes (NewProfile, Upsert,
// Delete, ...) and a manual Clock, for the tests of the packages above the stores.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
)

// Opener opens a fresh, empty, migrated store whose clock is now, and arranges for it
// to be closed and removed when t ends. It fails t when it cannot.
type Opener func(t *testing.T, now func() time.Time) clerksync.Store

// Run runs the conformance suite against the stores open returns: each subtest opens a
// fresh store, and the subtests run in parallel.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Create", testCreate},
		{"Update", testUpdate},
		{"EqualUpdatedAt", testEqualUpdatedAt},
		{"Older", testOlder},
		{"DuplicateEventID", testDuplicateEventID},
		{"DuplicateInsideBatch", testDuplicateInsideBatch},
		{"TwoVersionsInsideBatch", testTwoVersionsInsideBatch},
		{"APIChange", testAPIChange},
		{"Delete", testDelete},
		{"DeleteNeverSeen", testDeleteNeverSeen},
		{"DeleteTwice", testDeleteTwice},
		{"DeleteInsideBatch", testDeleteInsideBatch},
		{"Ignored", testIgnored},
		{"DeadLetter", testDeadLetter},
		{"OtherEventsAboutStoredUser", testOtherEventsAboutStoredUser},
		{"ReplayDeadLetter", testReplayDeadLetter},
		{"ReplayStillDead", testReplayStillDead},
		{"ReplayUnknownEvent", testReplayUnknownEvent},
		{"Events", testEvents},
		{"EventNotFound", testEventNotFound},
		{"PruneEvents", testPruneEvents},
		{"RoundTrip", testRoundTrip},
		{"EmptyColumns", testEmptyColumns},
		{"Profiles", testProfiles},
		{"ProfileNotFound", testProfileNotFound},
		{"Poison", testPoison},
		{"TimestampRange", testTimestampRange},
		{"CancelledContext", testCancelledContext},
		{"EmptyBatch", testEmptyBatch},
		{"Ping", testPing},
		{"Converge", testConverge},
		{"SyncRuns", testSyncRuns},
		{"PruneRuns", testPruneRuns},
		{"Checkpoint", testCheckpoint},
		{"Lease", testLease},
		{"LeaseRace", testLeaseRace},
		{"ProfileIDs", testProfileIDs},
		{"Organization", testOrganization},
		{"Membership", testMembership},
		{"ReAdded", testReAdded},
		{"OrganizationDeleted", testOrganizationDeleted},
		{"DeleteBeforeCreate", testDeleteBeforeCreate},
		{"UserDeletedRemovesMemberships", testUserDeletedRemovesMemberships},
		{"InvitationBeforeOrganization", testInvitationBeforeOrganization},
		{"RolesAndPermissions", testRolesAndPermissions},
		{"Objects", testObjects},
		{"FeedUser", testFeedUser},
		{"FeedSources", testFeedSources},
		{"FeedCascade", testFeedCascade},
		{"FeedFilter", testFeedFilter},
		{"FeedLargeBatch", testFeedLargeBatch},
		{"ForwardPositions", testForwardPositions},
		{"PruneChanges", testPruneChanges},
		{"PruneChangesWhileWriting", testPruneChangesWhileWriting},
		{"ConvergeOrgs", testConvergeOrgs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// MustApply applies changes to s and returns the results, failing t if Apply fails or
// returns the wrong number of results.
func MustApply(t testing.TB, s clerksync.Store, changes ...clerksync.Change) []clerksync.Result {
	t.Helper()
	res, err := s.Apply(context.Background(), changes)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got, want := len(res), len(changes); got != want {
		t.Fatalf("Apply returned %d results for %d changes", got, want)
	}
	return res
}

// MustProfile returns the profile of userID, failing t if there is none.
func MustProfile(t testing.TB, s clerksync.Store, userID string) *clerksync.Profile {
	t.Helper()
	p, err := s.Profile(context.Background(), userID)
	if err != nil {
		t.Fatalf("Profile(%q): %v", userID, err)
	}
	return p
}

// MustEvent returns the event log entry id, failing t if there is none.
func MustEvent(t testing.TB, s clerksync.Store, id string) *clerksync.Event {
	t.Helper()
	e, err := s.Event(context.Background(), id)
	if err != nil {
		t.Fatalf("Event(%q): %v", id, err)
	}
	return e
}

// wantResults fails t unless got equals want.
func wantResults(t *testing.T, got []clerksync.Result, want ...clerksync.Result) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
}

// wantNoProfile fails t unless s has no profile for userID, with code ENOTFOUND.
func wantNoProfile(t *testing.T, s clerksync.Store, userID string) {
	t.Helper()
	p, err := s.Profile(context.Background(), userID)
	if got, want := clerksync.ErrorCode(err), clerksync.ENOTFOUND; got != want {
		t.Fatalf("Profile(%q) = %+v, %v; want error code %q", userID, p, err, want)
	}
}

// wantDeleted fails t unless s reports userID's tombstone as want.
func wantDeleted(t *testing.T, s clerksync.Store, userID string, want bool) {
	t.Helper()
	got, err := s.Deleted(context.Background(), clerksync.UserKey(userID))
	if err != nil {
		t.Fatalf("Deleted(%q): %v", userID, err)
	}
	if got != want {
		t.Fatalf("Deleted(%q) = %v, want %v", userID, got, want)
	}
}

// wantProfile fails t unless the stored profile of want.UserID has want's Clerk columns.
func wantProfile(t *testing.T, s clerksync.Store, want *clerksync.Profile) *clerksync.Profile {
	t.Helper()
	got := MustProfile(t, s, want.UserID)
	if diff := ProfileDiff(want, got); diff != "" {
		t.Fatalf("profile %s (-want +got):\n%s", want.UserID, diff)
	}
	return got
}

var (
	applied = func(a clerksync.Action) clerksync.Result {
		return clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: a}
	}
	// staleOlder: a newer version is stored; staleDeleted: the object is deleted.
	staleOlder   = clerksync.Result{Outcome: clerksync.OutcomeStale, Reason: clerksync.ReasonOlder}
	staleDeleted = clerksync.Result{Outcome: clerksync.OutcomeStale, Reason: clerksync.ReasonDeleted}
	duplicate    = clerksync.Result{Outcome: clerksync.OutcomeDuplicate}
	ignored      = clerksync.Result{Outcome: clerksync.OutcomeIgnored}
)

// start is the updated_at (ms) of the first versions in the suite.
var start = Epoch.Add(-time.Hour).UnixMilli()

func testCreate(t *testing.T, open Opener) {
	clock := NewClock(Epoch)
	s := open(t, clock.Now)
	p := NewProfile("user_create", start)
	c := Upsert("msg_create", p)

	wantResults(t, MustApply(t, s, c), applied(clerksync.ActionCreated))
	got := wantProfile(t, s, p)
	if got, want := got.SyncedAt, Epoch; !got.Equal(want) {
		t.Fatalf("SyncedAt = %v, want %v", got, want)
	}
	if got, want := got.SyncSource, clerksync.SourceWebhook; got != want {
		t.Fatalf("SyncSource = %q, want %q", got, want)
	}
	wantDeleted(t, s, p.UserID, false)

	want := &clerksync.Event{
		ID: "msg_create", Type: "user.created", Kind: clerksync.KindUser, ObjectID: p.UserID, UserID: p.UserID, Outcome: clerksync.OutcomeApplied,
		Action: clerksync.ActionCreated, EventTime: c.EventTime, ReceivedAt: Epoch, Body: c.Body, Attempts: 1,
	}
	if diff := cmp.Diff(want, MustEvent(t, s, "msg_create")); diff != "" {
		t.Fatalf("event (-want +got):\n%s", diff)
	}
}

func testUpdate(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	v1 := NewProfile("user_update", start)
	v2 := NewProfile("user_update", start+1000)
	v2.CreatedAt = v1.CreatedAt
	v2.Banned, v2.Locked = true, true

	wantResults(t, MustApply(t, s, Upsert("msg_1", v1)), applied(clerksync.ActionCreated))
	wantResults(t, MustApply(t, s, Upsert("msg_2", v2)), applied(clerksync.ActionUpdated))
	wantProfile(t, s, v2)
}

func testEqualUpdatedAt(t *testing.T, open Opener) {
	clock := NewClock(Epoch)
	s := open(t, clock.Now)
	p := NewProfile("user_equal", start)
	MustApply(t, s, Upsert("msg_1", p))

	// The same version read back through the Backend API a minute later.
	later := clock.Advance(time.Minute)
	wantResults(t, MustApply(t, s, APIUpsert(clerksync.SourceAPI, p)), applied(clerksync.ActionUnchanged))
	got := wantProfile(t, s, p)
	if !got.SyncedAt.Equal(later) {
		t.Fatalf("SyncedAt = %v, want %v (refreshed)", got.SyncedAt, later)
	}
	if got, want := got.SyncSource, clerksync.SourceAPI; got != want {
		t.Fatalf("SyncSource = %q, want %q", got, want)
	}
}

func testOlder(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	v1 := NewProfile("user_older", start)
	v2 := NewProfile("user_older", start+1000)
	MustApply(t, s, Upsert("msg_2", v2))

	wantResults(t, MustApply(t, s, Upsert("msg_1", v1)), staleOlder)
	wantProfile(t, s, v2)
	e := MustEvent(t, s, "msg_1")
	if got, want := e.Outcome, clerksync.OutcomeStale; got != want {
		t.Fatalf("event outcome = %v, want %v", got, want)
	}
	if e.Body == nil || e.Redacted {
		t.Fatalf("stale event of a live user: Body %q, Redacted %v; want the body kept", e.Body, e.Redacted)
	}
}

func testDuplicateEventID(t *testing.T, open Opener) {
	clock := NewClock(Epoch)
	s := open(t, clock.Now)
	v1 := NewProfile("user_dup", start)
	c := Upsert("msg_dup", v1)
	MustApply(t, s, c)
	before := MustEvent(t, s, "msg_dup")

	// A redelivery of the same svix-id changes nothing, whatever it carries; the
	// event log counts it.
	clock.Advance(time.Minute)
	v2 := NewProfile("user_dup", start+1000)
	wantResults(t, MustApply(t, s, c, Upsert("msg_dup", v2)), duplicate, duplicate)
	got := wantProfile(t, s, v1)
	if !got.SyncedAt.Equal(Epoch) {
		t.Fatalf("SyncedAt = %v, want %v (untouched)", got.SyncedAt, Epoch)
	}
	before.Attempts += 2
	if diff := cmp.Diff(before, MustEvent(t, s, "msg_dup")); diff != "" {
		t.Fatalf("event after two redeliveries (-want +got):\n%s", diff)
	}
}

func testDuplicateInsideBatch(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	p := NewProfile("user_dupbatch", start)
	c := Upsert("msg_x", p)
	wantResults(t, MustApply(t, s, c, c), applied(clerksync.ActionCreated), duplicate)
	wantProfile(t, s, p)
	if got, want := MustEvent(t, s, "msg_x").Attempts, 2; got != want {
		t.Fatalf("Attempts = %d, want %d", got, want)
	}
}

func testTwoVersionsInsideBatch(t *testing.T, open Opener) {
	tests := []struct {
		name  string
		order []int // indexes into v1, v2
		want  []clerksync.Result
	}{
		{"InOrder", []int{0, 1}, []clerksync.Result{applied(clerksync.ActionCreated), applied(clerksync.ActionUpdated)}},
		{"Reversed", []int{1, 0}, []clerksync.Result{applied(clerksync.ActionCreated), staleOlder}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, NewClock(Epoch).Now)
			v := []*clerksync.Profile{NewProfile("user_two", start), NewProfile("user_two", start+1000)}
			changes := []clerksync.Change{
				Upsert(fmt.Sprintf("msg_%d", tt.order[0]), v[tt.order[0]]),
				Upsert(fmt.Sprintf("msg_%d", tt.order[1]), v[tt.order[1]]),
			}
			wantResults(t, MustApply(t, s, changes...), tt.want...)
			wantProfile(t, s, v[1])
		})
	}
}

func testAPIChange(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	p := NewProfile("user_api", start)
	wantResults(t, MustApply(t, s, APIUpsert(clerksync.SourceBackfill, p)), applied(clerksync.ActionCreated))
	if got, want := wantProfile(t, s, p).SyncSource, clerksync.SourceBackfill; got != want {
		t.Fatalf("SyncSource = %q, want %q", got, want)
	}
	events, err := s.Events(context.Background(), clerksync.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 0 {
		t.Fatalf("Backend API change recorded in the event log: %+v", events)
	}
	// The same version again through the API is unchanged, an older one is stale.
	wantResults(t, MustApply(t, s, APIUpsert(clerksync.SourceAPI, p), APIUpsert(clerksync.SourceAPI, NewProfile("user_api", start-1))),
		applied(clerksync.ActionUnchanged), staleOlder)
}

func testDelete(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	ctx := context.Background()
	const id = "user_delete"
	other := NewProfile("user_other", start)
	MustApply(t, s, Upsert("msg_1", NewProfile(id, start)), Upsert("msg_other", other),
		DeadLetter("msg_dl", "user.updated", id, []byte(`{"data":{"id":"user_delete"`), "unexpected EOF"))

	wantResults(t, MustApply(t, s, Delete("msg_del", id, start+5000)), applied(clerksync.ActionDeleted))
	wantNoProfile(t, s, id)
	wantDeleted(t, s, id, true)
	wantDeleted(t, s, other.UserID, false)
	wantProfile(t, s, other)

	// Deletes win for ever: a later version, even from far in the future, and an
	// earlier one are stale; so is a later API read.
	future := NewProfile(id, start+100*365*86_400_000)
	wantResults(t, MustApply(t, s,
		Upsert("msg_future", future),
		Upsert("msg_0", NewProfile(id, start-1000)),
		APIUpsert(clerksync.SourceAPI, future),
	), staleDeleted, staleDeleted, staleDeleted)
	wantNoProfile(t, s, id)

	// Every payload of the user is redacted, including those that arrived after the
	// delete; other users' are not.
	for _, eid := range []string{"msg_1", "msg_dl", "msg_del", "msg_future", "msg_0"} {
		e := MustEvent(t, s, eid)
		if e.Body != nil || !e.Redacted {
			t.Errorf("event %s of the deleted user: Body %q, Redacted %v; want nil, true", eid, e.Body, e.Redacted)
		}
	}
	if e := MustEvent(t, s, "msg_other"); e.Body == nil || e.Redacted {
		t.Errorf("event of another user: Body %q, Redacted %v; want kept", e.Body, e.Redacted)
	}
	list, err := s.Events(ctx, clerksync.EventFilter{UserID: id})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if !e.Redacted {
			t.Errorf("listed event %s of the deleted user is not marked redacted", e.ID)
		}
	}
	if got, want := MustEvent(t, s, "msg_del").Outcome, clerksync.OutcomeApplied; got != want {
		t.Errorf("delete event outcome = %v, want %v", got, want)
	}
}

func testDeleteNeverSeen(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	wantResults(t, MustApply(t, s, Delete("msg_del", "user_ghost", start)), applied(clerksync.ActionDeleted))
	wantDeleted(t, s, "user_ghost", true)
	wantNoProfile(t, s, "user_ghost")
	// Its creation, delivered late, never brings it back.
	wantResults(t, MustApply(t, s, Upsert("msg_create", NewProfile("user_ghost", start-5000))), staleDeleted)
	wantNoProfile(t, s, "user_ghost")
}

func testDeleteTwice(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	MustApply(t, s, Upsert("msg_1", NewProfile("user_twice", start)))
	wantResults(t, MustApply(t, s,
		Delete("msg_del1", "user_twice", start+1),
		Delete("msg_del2", "user_twice", start+2),
		Delete("msg_del1", "user_twice", start+1),
	), applied(clerksync.ActionDeleted), staleDeleted, duplicate)
	wantDeleted(t, s, "user_twice", true)
}

func testDeleteInsideBatch(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	const id = "user_batchdel"
	wantResults(t, MustApply(t, s,
		Upsert("msg_1", NewProfile(id, start)),
		Delete("msg_del", id, start+500),
		Upsert("msg_2", NewProfile(id, start+1000)),
	), applied(clerksync.ActionCreated), applied(clerksync.ActionDeleted), staleDeleted)
	wantNoProfile(t, s, id)
	for _, eid := range []string{"msg_1", "msg_del", "msg_2"} {
		if e := MustEvent(t, s, eid); e.Body != nil || !e.Redacted {
			t.Errorf("event %s: Body %q, Redacted %v; want redacted", eid, e.Body, e.Redacted)
		}
	}
}

func testIgnored(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	c := Ignore("msg_session", "session.created", start)
	wantResults(t, MustApply(t, s, c, c), ignored, duplicate)
	want := &clerksync.Event{
		ID: "msg_session", Type: "session.created", Outcome: clerksync.OutcomeIgnored,
		EventTime: start, ReceivedAt: Epoch, Body: c.Body, Attempts: 2,
	}
	if diff := cmp.Diff(want, MustEvent(t, s, "msg_session")); diff != "" {
		t.Fatalf("event (-want +got):\n%s", diff)
	}
}

func testDeadLetter(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	body := []byte(`{"type":"user.updated","data":{"id":"user_dl","updated_at":"yesterday"}}`)
	c := DeadLetter("msg_dl", "user.updated", "user_dl", body, "decode user: updated_at is not a number")
	wantResults(t, MustApply(t, s, c), clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: c.Error})
	want := &clerksync.Event{
		ID: "msg_dl", Type: "user.updated", Kind: clerksync.KindUser, ObjectID: "user_dl", UserID: "user_dl", Outcome: clerksync.OutcomeDeadLetter,
		Error: c.Error, ReceivedAt: Epoch, Body: body, Attempts: 1,
	}
	if diff := cmp.Diff(want, MustEvent(t, s, "msg_dl")); diff != "" {
		t.Fatalf("event (-want +got):\n%s", diff)
	}
	wantNoProfile(t, s, "user_dl")
}

// testOtherEventsAboutStoredUser: an event that is not synced and a dead letter, both
// about a user already stored and each delivered twice, leave the profile alone and are
// logged once.
func testOtherEventsAboutStoredUser(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	p := NewProfile("user_other", start)
	MustApply(t, s, Upsert("msg_o1", p))

	ig := Ignore("msg_o2", "session.created", start+1)
	ig.UserID = p.UserID
	body := []byte(`{"type":"user.updated","data":{"id":"user_other","updated_at":"yesterday"}}`)
	dl := DeadLetter("msg_o3", "user.updated", p.UserID, body, "decode user: updated_at is not a number")
	dead := clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: dl.Error}
	wantResults(t, MustApply(t, s, ig, dl), ignored, dead)
	wantResults(t, MustApply(t, s, ig, dl, ig), duplicate, duplicate, duplicate)
	wantProfile(t, s, p)
	for id, want := range map[string]struct {
		outcome  clerksync.Outcome
		attempts int
	}{"msg_o2": {clerksync.OutcomeIgnored, 3}, "msg_o3": {clerksync.OutcomeDeadLetter, 2}} {
		if e := MustEvent(t, s, id); e.Outcome != want.outcome || e.UserID != p.UserID || e.Attempts != want.attempts {
			t.Errorf("event %s: outcome %v, user %q, attempts %d; want %v, %q, %d", id, e.Outcome, e.UserID, e.Attempts, want.outcome, p.UserID, want.attempts)
		}
	}
}

func testReplayDeadLetter(t *testing.T, open Opener) {
	clock := NewClock(Epoch)
	s := open(t, clock.Now)
	p := NewProfile("user_replay", start)
	good := Upsert("msg_r", p)
	MustApply(t, s, DeadLetter("msg_r", "user.created", p.UserID, good.Body, "decoder could not read the user"))

	clock.Advance(time.Hour)
	good.Replay = true
	wantResults(t, MustApply(t, s, good), applied(clerksync.ActionCreated))
	wantProfile(t, s, p)
	e := MustEvent(t, s, "msg_r")
	if got, want := e.Outcome, clerksync.OutcomeApplied; got != want {
		t.Errorf("Outcome = %v, want %v", got, want)
	}
	if got, want := e.Action, clerksync.ActionCreated; got != want {
		t.Errorf("Action = %v, want %v", got, want)
	}
	if got, want := e.Attempts, 2; got != want {
		t.Errorf("Attempts = %d, want %d", got, want)
	}
	if e.Error != "" {
		t.Errorf("Error = %q, want it cleared", e.Error)
	}
	if !e.ReceivedAt.Equal(Epoch) {
		t.Errorf("ReceivedAt = %v, want the first delivery's %v", e.ReceivedAt, Epoch)
	}
	// Replaying again is idempotent for the profile and counted.
	wantResults(t, MustApply(t, s, good), applied(clerksync.ActionUnchanged))
	if got, want := MustEvent(t, s, "msg_r").Attempts, 3; got != want {
		t.Errorf("Attempts = %d, want %d", got, want)
	}
	// A plain redelivery is still a duplicate.
	good.Replay = false
	wantResults(t, MustApply(t, s, good), duplicate)
}

func testReplayStillDead(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	body := []byte(`{"broken":`)
	MustApply(t, s, DeadLetter("msg_x", "user.updated", "", body, "first reason"))
	again := DeadLetter("msg_x", "user.updated", "", body, "second reason")
	again.Replay = true
	wantResults(t, MustApply(t, s, again), clerksync.Result{Outcome: clerksync.OutcomeDeadLetter, Error: "second reason"})
	e := MustEvent(t, s, "msg_x")
	if got, want := e.Error, "second reason"; got != want {
		t.Errorf("Error = %q, want %q", got, want)
	}
	if got, want := e.Attempts, 2; got != want {
		t.Errorf("Attempts = %d, want %d", got, want)
	}
	if got, want := string(e.Body), string(body); got != want {
		t.Errorf("Body = %q, want %q", got, want)
	}
}

func testReplayUnknownEvent(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	c := Upsert("msg_new", NewProfile("user_new", start))
	c.Replay = true
	wantResults(t, MustApply(t, s, c), applied(clerksync.ActionCreated))
	if got, want := MustEvent(t, s, "msg_new").Attempts, 1; got != want {
		t.Errorf("Attempts = %d, want %d", got, want)
	}
}

func testEvents(t *testing.T, open Opener) {
	clock := NewClock(Epoch)
	s := open(t, clock.Now)
	ctx := context.Background()
	// One event per batch, a second apart: msg_01 is the oldest, msg_06 the newest.
	changes := []clerksync.Change{
		Upsert("msg_01", NewProfile("user_a", start)),
		Ignore("msg_02", "session.created", start),
		Upsert("msg_03", NewProfile("user_b", start)),
		DeadLetter("msg_04", "user.updated", "user_a", []byte(`{}`), "bad"),
		Upsert("msg_05", NewProfile("user_a", start-1)), // stale
		Ignore("msg_06", "session.ended", start),
	}
	for _, c := range changes {
		clock.Advance(time.Second)
		MustApply(t, s, c)
	}
	ids := func(events []clerksync.Event) []string {
		var out []string
		for _, e := range events {
			out = append(out, e.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    clerksync.EventFilter
		want []string
	}{
		{"All", clerksync.EventFilter{}, []string{"msg_06", "msg_05", "msg_04", "msg_03", "msg_02", "msg_01"}},
		{"Limit", clerksync.EventFilter{Limit: 2}, []string{"msg_06", "msg_05"}},
		{"Before", clerksync.EventFilter{Before: "msg_05", Limit: 2}, []string{"msg_04", "msg_03"}},
		{"BeforeOldest", clerksync.EventFilter{Before: "msg_01"}, nil},
		{"Outcome", clerksync.EventFilter{Outcome: clerksync.OutcomeIgnored}, []string{"msg_06", "msg_02"}},
		{"DeadLetters", clerksync.EventFilter{Outcome: clerksync.OutcomeDeadLetter}, []string{"msg_04"}},
		{"Type", clerksync.EventFilter{Type: "user.created"}, []string{"msg_05", "msg_03", "msg_01"}},
		{"User", clerksync.EventFilter{UserID: "user_a"}, []string{"msg_05", "msg_04", "msg_01"}},
		{"UserAndOutcome", clerksync.EventFilter{UserID: "user_a", Outcome: clerksync.OutcomeApplied}, []string{"msg_01"}},
		{"UserBefore", clerksync.EventFilter{UserID: "user_a", Before: "msg_05", Limit: 1}, []string{"msg_04"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Events(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Fatalf("Events(%+v) (-want +got):\n%s", tt.f, diff)
			}
			for _, e := range got {
				if e.Body != nil {
					t.Fatalf("Events returned the body of %s; listing leaves bodies out", e.ID)
				}
			}
		})
	}

	t.Run("Fields", func(t *testing.T) {
		got, err := s.Events(ctx, clerksync.EventFilter{Outcome: clerksync.OutcomeDeadLetter})
		if err != nil {
			t.Fatal(err)
		}
		want := []clerksync.Event{{
			ID: "msg_04", Type: "user.updated", Kind: clerksync.KindUser, ObjectID: "user_a", UserID: "user_a",
			Outcome: clerksync.OutcomeDeadLetter, Error: "bad", ReceivedAt: Epoch.Add(4 * time.Second), Attempts: 1,
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})

	t.Run("Paging", func(t *testing.T) {
		var all []string
		f := clerksync.EventFilter{Limit: 4}
		for {
			page, err := s.Events(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, ids(page)...)
			f.Before = page[len(page)-1].ID
		}
		if diff := cmp.Diff([]string{"msg_06", "msg_05", "msg_04", "msg_03", "msg_02", "msg_01"}, all); diff != "" {
			t.Fatalf("pages (-want +got):\n%s", diff)
		}
	})

	t.Run("SameInstant", func(t *testing.T) {
		// A batch shares one received_at; paging still visits each entry once.
		s := open(t, NewClock(Epoch).Now)
		var batch []clerksync.Change
		var want []string
		for i := 9; i >= 0; i-- {
			id := fmt.Sprintf("msg_%02d", i)
			batch = append(batch, Ignore(id, "session.created", start))
			want = append(want, id)
		}
		MustApply(t, s, batch...)
		var all []string
		f := clerksync.EventFilter{Limit: 3}
		for {
			page, err := s.Events(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, ids(page)...)
			f.Before = page[len(page)-1].ID
		}
		if diff := cmp.Diff(want, all); diff != "" {
			t.Fatalf("pages (-want +got):\n%s", diff)
		}
	})
}

func testEventNotFound(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	ctx := context.Background()
	e, err := s.Event(ctx, "msg_missing")
	if got, want := clerksync.ErrorCode(err), clerksync.ENOTFOUND; got != want {
		t.Fatalf("Event = %+v, %v; want code %q", e, err, want)
	}
	list, err := s.Events(ctx, clerksync.EventFilter{Before: "msg_missing"})
	if got, want := clerksync.ErrorCode(err), clerksync.ENOTFOUND; got != want {
		t.Fatalf("Events(Before: unknown) = %+v, %v; want code %q", list, err, want)
	}
}

func testPruneEvents(t *testing.T, open Opener) {
	clock := NewClock(Epoch)
	s := open(t, clock.Now)
	ctx := context.Background()
	MustApply(t, s,
		Upsert("msg_old", NewProfile("user_p", start)),
		DeadLetter("msg_old_dl", "user.updated", "", []byte(`{}`), "bad"),
		Ignore("msg_old_ign", "session.created", start),
	)
	cut := clock.Advance(24 * time.Hour)
	MustApply(t, s,
		Upsert("msg_new", NewProfile("user_p", start+1000)),
		DeadLetter("msg_new_dl", "user.updated", "", []byte(`{}`), "bad"),
	)

	tests := []struct {
		name      string
		before    time.Time
		deadToo   bool
		wantCount int
		wantLeft  []string
	}{
		{"NothingOlder", Epoch, false, 0, []string{"msg_new_dl", "msg_new", "msg_old_ign", "msg_old_dl", "msg_old"}},
		{"KeepsDeadLetters", cut, false, 2, []string{"msg_new_dl", "msg_new", "msg_old_dl"}},
		{"DeadLettersToo", cut, true, 1, []string{"msg_new_dl", "msg_new"}},
		{"Everything", cut.Add(time.Millisecond), true, 2, nil},
	}
	for _, tt := range tests {
		n, err := s.PruneEvents(ctx, tt.before, tt.deadToo)
		if err != nil {
			t.Fatalf("%s: PruneEvents: %v", tt.name, err)
		}
		if n != tt.wantCount {
			t.Errorf("%s: PruneEvents = %d, want %d", tt.name, n, tt.wantCount)
		}
		left, err := s.Events(ctx, clerksync.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range left {
			got = append(got, e.ID)
		}
		if diff := cmp.Diff(tt.wantLeft, got); diff != "" {
			t.Errorf("%s: events left (-want +got):\n%s", tt.name, diff)
		}
	}
	// Pruning the log does not forget the profile.
	MustProfile(t, s, "user_p")
}

func testRoundTrip(t *testing.T, open Opener) {
	clock := NewClock(Epoch.Add(1234 * time.Millisecond))
	s := open(t, clock.Now)
	want := &clerksync.Profile{
		UserID:          "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
		Email:           "john.doe@example.com",
		EmailVerified:   true,
		Phone:           "+15555550100",
		Username:        "johndoe",
		FirstName:       "Jöhn",
		LastName:        "Doe 'O\"Brien' 😀",
		ImageURL:        "https://img.clerk.com/yyyyy",
		ExternalID:      "567772",
		PublicMetadata:  json.RawMessage(`{"department": "engineering", "n": 1.5, "list": [1, "two", null, {"x": true}]}`),
		UnsafeMetadata:  json.RawMessage(`{}`),
		PrivateMetadata: json.RawMessage(`{"stripe_customer": "cus_123"}`),
		Banned:          true,
		Locked:          true,
		CreatedAt:       1716883200000,
		UpdatedAt:       1716883500123,
		LastSignInAt:    1716883400001,
		LastActiveAt:    1716883500999,
		SyncedAt:        clock.Now(),
		SyncSource:      clerksync.SourceBackfill,
	}
	want.Raw = RawUser(want)
	c := APIUpsert(clerksync.SourceBackfill, want)
	MustApply(t, s, c)
	got := MustProfile(t, s, want.UserID)
	if diff := FullProfileDiff(want, got); diff != "" {
		t.Fatalf("profile (-want +got):\n%s", diff)
	}
	if got.SyncedAt.Location() != time.UTC {
		t.Errorf("SyncedAt in %v, want UTC", got.SyncedAt.Location())
	}

	// The listing reads the same columns.
	list, err := s.Profiles(context.Background(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("Profiles returned %d profiles, want 1", len(list))
	}
	if diff := FullProfileDiff(want, &list[0]); diff != "" {
		t.Fatalf("listed profile (-want +got):\n%s", diff)
	}
}

func testEmptyColumns(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	want := &clerksync.Profile{
		UserID:     "user_bare",
		CreatedAt:  1,
		UpdatedAt:  2,
		SyncedAt:   Epoch,
		SyncSource: clerksync.SourceWebhook,
	}
	MustApply(t, s, clerksync.Change{
		Op: clerksync.OpUpsert, Source: clerksync.SourceWebhook, EventID: "msg_bare",
		EventType: "user.created", Kind: clerksync.KindUser, ID: want.UserID, UserID: want.UserID, Object: want,
	})
	got := MustProfile(t, s, want.UserID)
	if diff := FullProfileDiff(want, got); diff != "" {
		t.Fatalf("profile (-want +got):\n%s", diff)
	}
	// Absent JSON stays absent rather than becoming a JSON null.
	for name, m := range map[string]json.RawMessage{
		"PublicMetadata": got.PublicMetadata, "UnsafeMetadata": got.UnsafeMetadata,
		"PrivateMetadata": got.PrivateMetadata, "Raw": got.Raw,
	} {
		if m != nil {
			t.Errorf("%s = %q, want nil", name, m)
		}
	}
	e := MustEvent(t, s, "msg_bare")
	if e.Body != nil || e.EventTime != 0 {
		t.Errorf("event Body = %q, EventTime = %d; want nil, 0", e.Body, e.EventTime)
	}
}

func testProfiles(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	ctx := context.Background()
	var batch []clerksync.Change
	for _, id := range []string{"user_c", "user_a", "user_e", "user_b", "user_d"} {
		batch = append(batch, APIUpsert(clerksync.SourceBackfill, NewProfile(id, start)))
	}
	batch = append(batch, Delete("msg_del", "user_d", start))
	MustApply(t, s, batch...)
	tests := []struct {
		after string
		limit int
		want  []string
	}{
		{"", 0, []string{"user_a", "user_b", "user_c", "user_e"}},
		{"", 2, []string{"user_a", "user_b"}},
		{"user_b", 2, []string{"user_c", "user_e"}},
		{"user_c", 10, []string{"user_e"}},
		{"user_e", 10, nil},
	}
	for _, tt := range tests {
		list, err := s.Profiles(ctx, tt.after, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range list {
			got = append(got, p.UserID)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Profiles(%q, %d) (-want +got):\n%s", tt.after, tt.limit, diff)
		}
	}
}

func testProfileNotFound(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	wantNoProfile(t, s, "user_nobody")
	wantDeleted(t, s, "user_nobody", false)
}

// testTimestampRange: a version stamped outside Clerk's range (far in the future,
// before 1900, or before the epoch for created_at and updated_at) is a dead letter on
// every store. It never freezes the object: the next real version still applies. A
// timestamp just inside the range is kept to the millisecond.
func testTimestampRange(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	p := NewProfile("user_time", start)
	org := NewOrganization("org_time", start, start)
	MustApply(t, s, Upsert("msg_t0", p), Event("msg_o0", "organization.created", org))

	future := *p
	future.UpdatedAt = clerksync.MaxTimestamp + 1
	signIn := *NewProfile(p.UserID, start+1)
	signIn.LastSignInAt = clerksync.MaxTimestamp
	old := *NewProfile(p.UserID, start+2)
	old.LastActiveAt = clerksync.MinTimestamp - 1
	preEpoch := *NewProfile("user_pre", -1000)
	orgFuture := *NewOrganization(org.OrgID, start, start+1)
	orgFuture.CreatedAt = clerksync.MaxTimestamp + 86_400_000
	changes := []clerksync.Change{
		Upsert("msg_t1", &future), Upsert("msg_t2", &signIn), Upsert("msg_t3", &old), Upsert("msg_t4", &preEpoch),
		Event("msg_o1", "organization.updated", &orgFuture),
	}
	for i, r := range MustApply(t, s, changes...) {
		if r.Outcome != clerksync.OutcomeDeadLetter || !strings.Contains(r.Error, "range") && !strings.Contains(r.Error, "no ") {
			t.Errorf("%s: %+v; want a dead letter naming the timestamp", changes[i].EventID, r)
		}
	}
	wantProfile(t, s, p)
	wantObject(t, s, org)
	wantNoProfile(t, s, "user_pre")

	// Not frozen: the next real version applies, and the edges of the range are kept.
	next := NewProfile(p.UserID, start+10)
	next.LastSignInAt = clerksync.MaxTimestamp - 1
	next.LastActiveAt = clerksync.MinTimestamp
	orgNext := NewOrganization(org.OrgID, start, start+10)
	wantResults(t, MustApply(t, s, Upsert("msg_t5", next), Event("msg_o2", "organization.updated", orgNext)),
		applied(clerksync.ActionUpdated), applied(clerksync.ActionUpdated))
	wantProfile(t, s, next)
	wantObject(t, s, orgNext)
}

func testPoison(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)

	mismatch := Upsert("msg_mismatch", NewProfile("user_x", start))
	mismatch.UserID = "user_y"
	noUser := Upsert("msg_nouser", NewProfile("user_z", start))
	noUser.UserID, noUser.ID, noUser.Profile().UserID = "", "", ""
	noProfile := Upsert("msg_noprofile", NewProfile("user_w", start))
	noProfile.Object = nil
	noVersion := Upsert("msg_noversion", NewProfile("user_v", start))
	noVersion.Profile().UpdatedAt = 0
	badJSON := Upsert("msg_badjson", NewProfile("user_j", start))
	badJSON.Profile().PublicMetadata = json.RawMessage(`{"plan":`)
	badRaw := APIUpsert(clerksync.SourceAPI, NewProfile("user_r", start))
	badRaw.Profile().Raw = json.RawMessage(`not json`)
	unknownOp := clerksync.Change{Op: 99, EventID: "msg_op", EventType: "user.updated"}

	good1 := NewProfile("user_good1", start)
	good2 := NewProfile("user_good2", start)
	changes := []clerksync.Change{
		Upsert("msg_good1", good1), mismatch, noUser, noProfile, noVersion, badJSON, badRaw, unknownOp,
		Upsert("msg_good2", good2),
	}
	res := MustApply(t, s, changes...)
	if got, want := res[0], applied(clerksync.ActionCreated); got != want {
		t.Errorf("first good change: %+v, want %+v", got, want)
	}
	if got, want := res[len(res)-1], applied(clerksync.ActionCreated); got != want {
		t.Errorf("last good change: %+v, want %+v", got, want)
	}
	for i, r := range res[1 : len(res)-1] {
		c := changes[i+1]
		if r.Outcome != clerksync.OutcomeDeadLetter || r.Error == "" {
			t.Errorf("poison change %d (%s): %+v, want a dead letter with an error", i+1, c.EventID, r)
			continue
		}
		if c.EventID == "" {
			continue
		}
		e := MustEvent(t, s, c.EventID)
		if e.Outcome != clerksync.OutcomeDeadLetter || e.Error != r.Error || string(e.Body) != string(c.Body) {
			t.Errorf("event of poison change %s: outcome %v, error %q, body %d bytes; want a dead letter with error %q and the body",
				c.EventID, e.Outcome, e.Error, len(e.Body), r.Error)
		}
	}
	wantProfile(t, s, good1)
	wantProfile(t, s, good2)
	for _, id := range []string{"user_x", "user_y", "user_z", "user_w", "user_v", "user_j", "user_r"} {
		wantNoProfile(t, s, id)
	}

	// A poison change of a user is stored as a dead letter, not as the user's version:
	// a valid change of the same user in the same batch still applies.
	fixed := NewProfile("user_j", start)
	res = MustApply(t, s, badJSON, Upsert("msg_fixed", fixed))
	wantResults(t, res[1:], applied(clerksync.ActionCreated))
	if got, want := res[0].Outcome, clerksync.OutcomeDuplicate; got != want {
		t.Errorf("redelivered poison: %v, want %v", got, want)
	}
	wantProfile(t, s, fixed)
}

func testCancelledContext(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := NewProfile("user_cancel", start)
	res, err := s.Apply(ctx, []clerksync.Change{Upsert("msg_c", p), Delete("msg_d", "user_gone", start)})
	if err == nil {
		t.Fatalf("Apply with a cancelled context = %+v, nil; want an error", res)
	}
	if !errors.Is(err, context.Canceled) && clerksync.ErrorCode(err) != clerksync.EUNAVAILABLE {
		t.Errorf("error %v: want context.Canceled or code %q", err, clerksync.EUNAVAILABLE)
	}
	wantNoProfile(t, s, p.UserID)
	wantDeleted(t, s, "user_gone", false)
	if _, err := s.Event(context.Background(), "msg_c"); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Errorf("event of a cancelled batch: %v, want not found", err)
	}
	// The store still works afterwards.
	wantResults(t, MustApply(t, s, Upsert("msg_c", p)), applied(clerksync.ActionCreated))
}

func testEmptyBatch(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	res, err := s.Apply(context.Background(), nil)
	if err != nil || len(res) != 0 {
		t.Fatalf("Apply(nil) = %+v, %v; want no results, no error", res, err)
	}
}

func testPing(t *testing.T, open Opener) {
	s := open(t, NewClock(Epoch).Now)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
