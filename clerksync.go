// Package clerksync holds the domain of clerksync: the changes that Clerk makes to its
// users, the outcome of applying them, and the contract every store fulfils.
//
// Everything that talks to the outside world lives in a package of its own (svixsig,
// clerkdecode, clerkapi, sqlite, postgres, web); cmd/clerksync wires them together. This
// package imports only the standard library.
package clerksync

import (
	"context"
	"encoding/json"
	"time"
)

// Source says how a profile row was last written.
type Source string

// The sources a profile row can come from.
const (
	SourceWebhook  Source = "webhook"  // a Clerk webhook delivered through Svix
	SourceAPI      Source = "api"      // a read of the Clerk Backend API for one user
	SourceBackfill Source = "backfill" // a listing of the Clerk Backend API (backfill, reconcile, poll)
)

// Op is what a Change does.
type Op uint8

// The operations a Change can carry.
const (
	// OpUpsert creates or updates an object (Change.Object), guarded by updated_at and
	// by tombstones (see Decide).
	OpUpsert Op = iota + 1
	// OpDelete removes an object, leaves a tombstone for ever, removes what belongs to
	// it and, for a user, redacts the user's payloads in the event log.
	OpDelete
	// OpIgnore records an authentic event of a type clerksync does not sync.
	OpIgnore
	// OpDeadLetter records an authentic event that could not be used, with its raw body
	// and the reason, so that it can be replayed later.
	OpDeadLetter
)

// String returns the name of op as used in logs.
func (op Op) String() string {
	switch op {
	case OpUpsert:
		return "upsert"
	case OpDelete:
		return "delete"
	case OpIgnore:
		return "ignore"
	case OpDeadLetter:
		return "dead_letter"
	}
	return "unknown"
}

// Change is one thing Clerk says about an object, from a webhook or from the Backend
// API. Every source is turned into Changes and applied by the same engine, so the same
// guards (svix-id, updated_at, tombstones) hold whatever the source.
type Change struct {
	Op     Op
	Source Source

	// EventID is the svix-id of the webhook delivery, stable across retries; empty for
	// changes read from the Backend API, which are not recorded in the event log.
	EventID string
	// EventType is the Clerk event type, such as "user.updated".
	EventType string
	// EventTime is the envelope's timestamp in milliseconds (0 when unknown).
	EventTime int64
	// Body is what the event log keeps of the delivery: the body as received, minus
	// private metadata unless the operator opted in. Nil for Backend API changes.
	Body []byte
	// Error says why an OpDeadLetter event could not be used.
	Error string
	// Replay marks a change that re-applies an event already in the event log (events
	// replay): its svix-id is expected to be known and the log entry is updated.
	Replay bool

	// Kind and ID name the object the change is about: the Object of an upsert, the
	// deleted object of a delete, and for OpIgnore and OpDeadLetter the object the
	// event names, when it names one (recorded in the event log).
	Kind Kind
	ID   string
	// UserID is the user the change concerns, "" for none: the user itself, the member
	// of a membership, the user who accepted an invitation, the user of a session. The
	// event log's copy of the delivery is redacted once that user is deleted.
	UserID string
	// Object is the new state of the object for OpUpsert. For OpDelete it is the
	// object's last state when the event carries it (organizationMembership.deleted
	// carries the whole membership), nil otherwise.
	Object Object
}

// Profile returns the profile an upsert of a user carries, or nil.
func (c *Change) Profile() *Profile {
	p, _ := c.Object.(*Profile)
	return p
}

// Key returns the key of the object the change is about.
func (c *Change) Key() ObjectKey { return ObjectKey{c.Kind, c.ID} }

// UpsertUser returns the change that upserts p from source.
func UpsertUser(p *Profile, source Source) Change { return Upsert(p, source) }

// Upsert returns the change that upserts o from source; UserID is set for users,
// memberships and accepted invitations.
func Upsert(o Object, source Source) Change {
	k := o.ObjectKey()
	c := Change{Op: OpUpsert, Source: source, Kind: k.Kind, ID: k.ID, Object: o}
	switch v := o.(type) {
	case *Profile:
		v.SyncSource = source
		c.UserID = v.UserID
	case *Organization:
		v.SyncSource = source
	case *Membership:
		v.SyncSource = source
		c.UserID = v.UserID
		if v.Organization != nil {
			v.Organization.SyncSource = source
		}
	case *Invitation:
		v.SyncSource = source
		c.UserID = v.UserID
	case *Role:
		v.SyncSource = source
	case *Permission:
		v.SyncSource = source
	}
	return c
}

// Delete returns the change that deletes the object key from source.
func Delete(key ObjectKey, source Source) Change {
	c := Change{Op: OpDelete, Source: source, Kind: key.Kind, ID: key.ID}
	if key.Kind == KindUser {
		c.UserID = key.ID
	}
	return c
}

// DeletePolicy says what a deletion does to an object's row.
type DeletePolicy string

// The deletion policies.
const (
	// DeleteHard removes the row (the default): the tables hold live objects only, and
	// an application's foreign keys with ON DELETE CASCADE remove what refers to it.
	DeleteHard DeletePolicy = "hard"
	// DeleteSoft keeps the row with deleted_at set and its personal columns (email,
	// phone, names, image, metadata, raw) cleared, so that an application's history
	// that refers to it survives.
	DeleteSoft DeletePolicy = "soft"
)

// Profile is one row of the profiles table: what an application joins, searches and
// shows. Empty strings are stored as NULL; timestamps are Clerk's, in milliseconds since
// the Unix epoch, with 0 meaning "none".
type Profile struct {
	UserID         string
	Email          string
	EmailVerified  bool
	Phone          string
	Username       string
	FirstName      string
	LastName       string
	ImageURL       string
	ExternalID     string
	PublicMetadata json.RawMessage
	UnsafeMetadata json.RawMessage
	// PrivateMetadata is kept only when the operator opts in; nil otherwise.
	PrivateMetadata json.RawMessage
	Banned          bool
	Locked          bool
	CreatedAt       int64
	UpdatedAt       int64
	LastSignInAt    int64
	LastActiveAt    int64

	// SyncedAt is when this row was written, set by the store.
	SyncedAt time.Time
	// SyncSource is how this row was written.
	SyncSource Source
	// Raw is the Clerk user object as Clerk sent it, minus private_metadata unless the
	// operator opted in.
	Raw json.RawMessage
}

// Name returns the user's full name as shown in logs and pages ("" when Clerk has none).
func (p *Profile) Name() string {
	switch {
	case p.FirstName == "":
		return p.LastName
	case p.LastName == "":
		return p.FirstName
	}
	return p.FirstName + " " + p.LastName
}

// Outcome is what applying a Change did, as recorded in the event log.
type Outcome uint8

// The outcomes of applying a Change.
const (
	// OutcomeApplied: the change was written (see Result.Action for how).
	OutcomeApplied Outcome = iota + 1
	// OutcomeStale: the change was older than what is stored, or about a deleted
	// object (see Result.Reason); nothing changed.
	OutcomeStale
	// OutcomeDuplicate: the svix-id was seen before; nothing changed.
	OutcomeDuplicate
	// OutcomeIgnored: an event type clerksync does not sync; recorded only.
	OutcomeIgnored
	// OutcomeDeadLetter: an authentic event that could not be used; recorded with its
	// raw body and error for replay.
	OutcomeDeadLetter
)

// String returns the outcome's name as stored in the event log.
func (o Outcome) String() string {
	switch o {
	case OutcomeApplied:
		return "applied"
	case OutcomeStale:
		return "stale"
	case OutcomeDuplicate:
		return "duplicate"
	case OutcomeIgnored:
		return "ignored"
	case OutcomeDeadLetter:
		return "dead_letter"
	}
	return "unknown"
}

// ParseOutcome returns the Outcome named s, or false if s names none.
func ParseOutcome(s string) (Outcome, bool) {
	for o := OutcomeApplied; o <= OutcomeDeadLetter; o++ {
		if o.String() == s {
			return o, true
		}
	}
	return 0, false
}

// Action is what an applied change did to its object's table.
type Action uint8

// The actions an applied change can take.
const (
	ActionNone      Action = iota // nothing (stale, duplicate, ignored, dead letter)
	ActionCreated                 // a new row
	ActionUpdated                 // a newer version replaced the row
	ActionUnchanged               // the same version was written again (synced_at refreshed)
	ActionDeleted                 // the row was removed and a tombstone left
)

// String returns the action's name as used in logs and summaries.
func (a Action) String() string {
	switch a {
	case ActionNone:
		return "none"
	case ActionCreated:
		return "created"
	case ActionUpdated:
		return "updated"
	case ActionUnchanged:
		return "unchanged"
	case ActionDeleted:
		return "deleted"
	}
	return "unknown"
}

// ParseAction returns the Action named s, or false if s names none.
func ParseAction(s string) (Action, bool) {
	for a := ActionNone; a <= ActionDeleted; a++ {
		if a.String() == s {
			return a, true
		}
	}
	return 0, false
}

// Result is the outcome of one Change.
type Result struct {
	Outcome Outcome
	Action  Action
	// Reason says why a stale change was stale.
	Reason Reason
	// Error is set for OutcomeDeadLetter: why the change could not be used. A change
	// the store could not apply (a poison change) is recorded as a dead letter instead
	// of failing the changes it was batched with.
	Error string
}

// Event is one entry of the event log: a webhook delivery and what became of it.
type Event struct {
	ID   string // svix-id
	Type string
	// Kind and ObjectID name the object the event is about (0 and "" when it names
	// none, or when it could not be decoded far enough to tell).
	Kind     Kind
	ObjectID string
	// UserID is the user the event concerns (see Change.UserID).
	UserID     string
	Outcome    Outcome
	Action     Action // what an applied event did (ActionNone otherwise)
	Error      string
	EventTime  int64 // envelope timestamp, ms
	ReceivedAt time.Time
	// Body is the delivery as kept (nil when redacted after the user was deleted, or
	// when listing without bodies).
	Body     []byte
	Redacted bool
	// Attempts counts the deliveries of the event and its replays: 1, plus one per
	// redelivery of the same svix-id (each answered as a duplicate) and per replay.
	Attempts int
}

// EventFilter selects entries of the event log, newest first.
type EventFilter struct {
	Outcome  Outcome // 0 for any
	Type     string  // "" for any
	UserID   string  // "" for any
	Kind     Kind    // 0 for any
	ObjectID string  // "" for any
	Before   string  // list entries received before this svix-id ("" from the newest)
	Limit    int     // 0 for a default of 50
}

// ObjectFilter selects live objects of one kind, ordered by id.
type ObjectFilter struct {
	After string // ids after this one ("" from the first)
	Limit int    // 0 for a default of 100, at most MaxPage
	// OrgID selects the memberships or invitations of one organization; UserID the
	// memberships of one user ("" for any).
	OrgID  string
	UserID string
	// CreatedBefore selects objects whose Clerk created_at (ms) is before it (0 for
	// any): what prune compares with a listing that began then.
	CreatedBefore int64
}

// Page sizes of the Store's listings.
const (
	DefaultProfilesPage = 100  // Profiles (and SyncStore.ProfileIDs) when limit is 0
	DefaultEventsPage   = 50   // Events when EventFilter.Limit is 0
	DefaultRunsPage     = 50   // SyncStore.Runs when RunFilter.Limit is 0
	MaxPage             = 1000 // the largest page any listing returns
)

// PageSize returns the page a listing asked for limit returns: def for 0 or less, and
// at most MaxPage.
func PageSize(limit, def int) int {
	switch {
	case limit <= 0:
		return def
	case limit > MaxPage:
		return MaxPage
	}
	return limit
}

// Store keeps profiles, tombstones and the event log in one database. Every store
// passes the conformance suite in package storetest.
type Store interface {
	// Apply applies changes in order, in one transaction, and returns one Result per
	// change. It returns an error only when nothing was committed (the database is
	// unavailable, the context ended); a change that cannot be applied on its own is
	// recorded as a dead letter and does not fail the others.
	Apply(ctx context.Context, changes []Change) ([]Result, error)

	// Profile returns the profile of userID, or an error with code ENOTFOUND.
	Profile(ctx context.Context, userID string) (*Profile, error)
	// Profiles returns up to limit profiles with user_id > after, ordered by user_id.
	Profiles(ctx context.Context, after string, limit int) ([]Profile, error)
	// Deleted reports whether the object key has a tombstone.
	Deleted(ctx context.Context, key ObjectKey) (bool, error)
	// Object returns the live object key (a *Profile, *Organization, …), or an error
	// with code ENOTFOUND.
	Object(ctx context.Context, key ObjectKey) (Object, error)
	// Objects lists the live objects of kind that f selects, ordered by id.
	Objects(ctx context.Context, kind Kind, f ObjectFilter) ([]Object, error)
	// Preview returns what Apply would return for changes, changing nothing: the
	// batch runs in a transaction that is rolled back.
	Preview(ctx context.Context, changes []Change) ([]Result, error)

	// Events lists the event log.
	Events(ctx context.Context, f EventFilter) ([]Event, error)
	// Event returns one entry of the event log with its body, or ENOTFOUND.
	Event(ctx context.Context, id string) (*Event, error)
	// PruneEvents deletes event log entries received before t and returns how many.
	// Dead letters are kept unless includeDeadLetters is set.
	PruneEvents(ctx context.Context, before time.Time, includeDeadLetters bool) (int, error)

	// Ping reports whether the database answers; it returns an error with code
	// EUNAVAILABLE when it does not.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}

// PipelinedStore is a Store whose commits can be made durable after the fact. The
// engine uses it to run the next batch's statements while the previous batch waits for
// the disk, and to make several batches durable with one sync: it calls
// ApplyCommitted, hands the batch to a syncer, and answers the batch's callers only
// once Sync has returned.
type PipelinedStore interface {
	Store
	// ApplyCommitted is Apply without waiting for durability: the changes are
	// committed and visible, but a power cut may still lose them until Sync returns.
	ApplyCommitted(ctx context.Context, changes []Change) ([]Result, error)
	// Sync makes every batch ApplyCommitted has returned durable. An error means they
	// may not be: the store refuses further work (code EUNAVAILABLE) until reopened.
	Sync() error
}

// FeedFilter selects entries of the changes feed, in seq order.
type FeedFilter struct {
	// After is the seq of the last entry the reader has seen (0 from the start).
	After int64
	// Limit is how many entries to return at most (0 for a default of 100, at most
	// MaxPage).
	Limit int
	// Types selects entries by type: each a type ("profile.created"), a kind's
	// entries ("membership.*") or "*"; none for every entry.
	Types []string
	// ObjectID selects the entries of one object ("" for every object).
	ObjectID string
}

// DefaultFeedPage is the page FeedStore.Changes returns when FeedFilter.Limit is 0.
const DefaultFeedPage = 100

// FeedStore keeps the changes feed, which Apply records, and where each forwarding
// endpoint is in it. The sqlite and postgres stores implement it.
type FeedStore interface {
	// Changes returns the entries f selects, in seq order. A reader that asks for
	// the entries after the last seq it saw never misses one: an entry with a later
	// seq is never returned before every entry with an earlier seq can be.
	Changes(ctx context.Context, f FeedFilter) ([]FeedEntry, error)
	// LastSeq returns the seq of the newest entry Changes may return, 0 when none.
	LastSeq(ctx context.Context) (int64, error)
	// ForwardPosition returns the seq up to which endpoint has acknowledged every
	// entry, and false when the endpoint has no position yet.
	ForwardPosition(ctx context.Context, endpoint string) (int64, bool, error)
	// SetForwardPosition records endpoint's position.
	SetForwardPosition(ctx context.Context, endpoint string, seq int64) error
	// ForwardPositions returns the position of every endpoint that has one.
	ForwardPositions(ctx context.Context) (map[string]int64, error)
	// PruneChanges deletes the entries recorded before t whose seq is at most upTo
	// and returns how many it deleted. It deletes from the start of the feed, in seq
	// order, and stops at the first entry recorded at t or later: an older entry after
	// it (a writer's clock stepped back) waits for the next prune. It never deletes the
	// newest entry, so that a seq is never given twice.
	PruneChanges(ctx context.Context, before time.Time, upTo int64) (int, error)
}
