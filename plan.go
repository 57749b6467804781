package clerksync

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// A store applies a batch of changes in four steps, the same on every database:
//
//  1. NewBatch validates the changes and builds each object's row, once;
//  2. the store reads what Batch.Keys says the batch depends on into a Snapshot
//     (inside the batch's transaction, after taking whatever locks keep it from
//     changing);
//  3. Plan decides every change in order (Decide), over the snapshot and what the
//     batch's earlier changes did, and returns a WriteSet;
//  4. the store writes the WriteSet and commits.
//
// The rules live in Decide and Plan alone; the stores do I/O.

// Batch is a batch of changes prepared for a store: each change validated, and the row
// of each change's object built once for Keys, Plan and the store's own use.
type Batch struct {
	Changes []Change
	// Poison[i], when not "", says why Changes[i] is recorded as a dead letter
	// instead of applied: what Validate found wrong with it, or a refusal of the
	// database the store learnt of and records here before planning again.
	Poison []string
	rows   []Row
}

// NewBatch prepares changes for a store. The changes and their objects must not be
// modified while the batch is in use.
func NewBatch(changes []Change) *Batch {
	b := &Batch{Changes: changes, Poison: make([]string, len(changes)), rows: make([]Row, len(changes))}
	for i := range changes {
		c := &changes[i]
		var row Row
		if c.Object != nil && c.Kind.Valid() && c.Object.ObjectKey().Kind == c.Kind {
			row = c.Object.AppendRow(make(Row, 0, len(c.Kind.Table().Columns)))
		}
		if err := c.validate(row); err != nil {
			b.Poison[i] = ErrorMessage(err)
			continue
		}
		b.rows[i] = row
	}
	return b
}

// Row returns the row of the object change i carries (its synced_at and sync_source
// not set), nil when it carries none or is not valid. The caller must not modify it.
func (b *Batch) Row(i int) Row { return b.rows[i] }

// numKinds sizes the arrays indexed by Kind.
const numKinds = int(KindPermission) + 1

// Keys is what a batch depends on: what a store reads before planning it.
type Keys struct {
	// EventIDs are the svix-ids whose presence in the event log to read.
	EventIDs []string
	// IDs are, per kind, the objects whose live row and tombstone to read.
	IDs [numKinds][]string
	// Tombstones are, per kind, the objects whose tombstone alone to read.
	Tombstones [numKinds][]string
	// Slots are, per kind with a slot, the slots (values of Table.Slot) whose live row
	// to read, and for memberships also the newest tombstone.
	Slots [numKinds][][]string
	// Children are, per parent kind (users and organizations), the objects whose live
	// children to read: the memberships of a user; the memberships and invitations
	// of an organization.
	Children [numKinds][]string
}

// SlotString returns the slot whose values are vals as one string, as tombstones keep
// it.
func SlotString(vals []string) string { return strings.Join(vals, "\x1f") }

// slotOf returns the slot values of row of table t, nil when t has none.
func slotOf(t *Table, row Row) []string {
	if len(t.Slot) == 0 || row == nil {
		return nil
	}
	vals := make([]string, len(t.Slot))
	for i, name := range t.Slot {
		vals[i] = RowText(row[t.Col(name)])
	}
	return vals
}

// Keys returns what the batch depends on.
func (b *Batch) Keys() *Keys {
	changes := b.Changes
	k := &Keys{}
	// What is in which list: 0 svix-ids, 1 user tombstones, 10+kind ids, 20+kind
	// children, 30+kind slots.
	type tagged struct {
		tag byte
		id  string
	}
	seen := make(map[tagged]struct{}, len(changes)*2)
	add := func(list *[]string, tag byte, id string) {
		if id == "" {
			return
		}
		key := tagged{tag, id}
		if _, ok := seen[key]; ok {
			return
		}
		seen[key] = struct{}{}
		*list = append(*list, id)
	}
	for i := range changes {
		c := &changes[i]
		if c.EventID != "" && !c.Replay {
			add(&k.EventIDs, 0, c.EventID)
		}
		if c.UserID != "" {
			add(&k.Tombstones[KindUser], 1, c.UserID)
		}
		if (c.Op != OpUpsert && c.Op != OpDelete) || !c.Kind.Valid() {
			continue
		}
		add(&k.IDs[c.Kind], byte(10+c.Kind), c.ID)
		t := c.Kind.Table()
		if c.Op == OpDelete && (c.Kind == KindUser || c.Kind == KindOrganization) {
			add(&k.Children[c.Kind], byte(20+c.Kind), c.ID)
		}
		row := b.rows[i]
		if row == nil {
			continue
		}
		if t.Parent != "" {
			add(&k.IDs[t.ParentKind], byte(10+t.ParentKind), RowText(row[t.Col(t.Parent)]))
		}
		if vals := slotOf(t, row); vals != nil && c.Op == OpUpsert {
			key := tagged{byte(30 + c.Kind), SlotString(vals)}
			if _, ok := seen[key]; !ok {
				seen[key] = struct{}{}
				k.Slots[c.Kind] = append(k.Slots[c.Kind], vals)
			}
		}
	}
	return k
}

// Snapshot is what a store read for a batch (see Keys): svix-ids seen, live rows and
// tombstones. Add to it with AddSeen, AddRow and AddTombstone, in any order.
type Snapshot struct {
	seen     map[string]bool
	objects  map[ObjectKey]*stored
	slotLive map[slotKey]ObjectKey
	slotTomb map[slotKey]Rival
	children map[ObjectKey]map[ObjectKey]struct{}
}

type slotKey struct {
	kind Kind
	slot string
}

// stored is what is known of one object, before and during a batch.
type stored struct {
	row     Row
	raw     json.RawMessage
	deleted bool

	before  Row  // the row before the batch
	written bool // the batch changed the row
	change  int  // the change that last changed it
	order   int  // when the batch first changed it
	// slot and createdAt are what its tombstone records, when it has one.
	slot      string
	createdAt int64
}

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{
		seen:     make(map[string]bool),
		objects:  make(map[ObjectKey]*stored),
		slotLive: make(map[slotKey]ObjectKey),
		slotTomb: make(map[slotKey]Rival),
		children: make(map[ObjectKey]map[ObjectKey]struct{}),
	}
}

// AddSeen records that the svix-id id is in the event log.
func (s *Snapshot) AddSeen(id string) { s.seen[id] = true }

// AddRow records the live row of an object of kind k (columns in the order of k's
// Table). The snapshot keeps row; the caller must not modify it afterwards.
func (s *Snapshot) AddRow(k Kind, row Row) {
	key := ObjectKey{k, RowText(row[0])}
	o := s.object(key)
	o.row, o.before = row, row
	s.index(key, row)
}

// AddTombstone records that the object key has a tombstone, with the slot and Clerk
// created_at it records ("" and 0 when unknown).
func (s *Snapshot) AddTombstone(key ObjectKey, slot string, createdAt int64) {
	o := s.object(key)
	o.deleted = true
	o.slot, o.createdAt = slot, createdAt
	if slot != "" {
		sk := slotKey{key.Kind, slot}
		r := Rival{Key: key, CreatedAt: createdAt}
		if old, ok := s.slotTomb[sk]; !ok || r.newerThan(old.CreatedAt, old.Key.ID) {
			s.slotTomb[sk] = r
		}
	}
}

func (s *Snapshot) object(key ObjectKey) *stored {
	o := s.objects[key]
	if o == nil {
		o = &stored{change: -1}
		s.objects[key] = o
	}
	return o
}

// index records row, the live row of key, under its slot and its parents.
func (s *Snapshot) index(key ObjectKey, row Row) {
	t := key.Kind.Table()
	if vals := slotOf(t, row); vals != nil {
		s.slotLive[slotKey{key.Kind, SlotString(vals)}] = key
	}
	for _, p := range parents(t, row) {
		set := s.children[p]
		if set == nil {
			set = make(map[ObjectKey]struct{})
			s.children[p] = set
		}
		set[key] = struct{}{}
	}
}

// unindex forgets row, the former live row of key, under its slot and parents.
func (s *Snapshot) unindex(key ObjectKey, row Row) {
	t := key.Kind.Table()
	if vals := slotOf(t, row); vals != nil {
		sk := slotKey{key.Kind, SlotString(vals)}
		if s.slotLive[sk] == key {
			delete(s.slotLive, sk)
		}
	}
	for _, p := range parents(t, row) {
		delete(s.children[p], key)
	}
}

// parents returns the objects a row belongs to: its organization, and for a
// membership its user.
func parents(t *Table, row Row) []ObjectKey {
	if t.Parent == "" {
		return nil
	}
	out := []ObjectKey{{t.ParentKind, RowText(row[t.Col(t.Parent)])}}
	if t.Kind == KindMembership {
		out = append(out, ObjectKey{KindUser, RowText(row[t.Col("user_id")])})
	}
	return out
}

// WriteSet is what a batch writes, as Plan decided it.
type WriteSet struct {
	// Results has one Result per change.
	Results []Result
	// Objects are the objects the batch changed, with their final rows, in the order
	// they were first changed.
	Objects []ObjectWrite
	// Tombstones are the tombstones the batch leaves.
	Tombstones []Tombstone
	// Events are the event log entries to record: one per change with a svix-id that
	// is not a duplicate.
	Events []EventWrite
	// Redeliveries counts, per svix-id already in the event log, the duplicate
	// deliveries of the batch: each adds one to the entry's attempts.
	Redeliveries map[string]int
	// Redact lists the deleted users whose deliveries in the event log are redacted.
	Redact []string
	// Feed are the changes feed's entries, in order; the store gives them their Seq.
	Feed []FeedEntry
}

// ObjectWrite is the final state of one object the batch changed.
type ObjectWrite struct {
	Key ObjectKey
	// Row is the object's row after the batch, nil when it was removed. Raw is its raw
	// column.
	Row Row
	Raw json.RawMessage
	// Before is the row as it was before the batch, nil when there was none.
	Before Row
	// Placeholder says Row is a placeholder (see Stored.Placeholder): it is written
	// only when there is no row yet.
	Placeholder bool
	// Change is the index of the change that wrote the final state: the change to
	// blame when the database refuses the write.
	Change int
}

// Tombstone is a deleted object, kept for ever.
type Tombstone struct {
	Key ObjectKey
	// Slot and CreatedAt say which slot the object held and when Clerk created it,
	// when known: a membership older than a tombstoned one of the same organization
	// and user never comes back.
	Slot      string
	CreatedAt int64
	Source    Source
	EventID   string
	Change    int
}

// EventWrite is one entry of the event log to record.
type EventWrite struct {
	// Change is the index of the change the entry records.
	Change int
	Result Result
	// Redacted says the entry keeps no body: its user is deleted.
	Redacted bool
}

// Plan decides the batch's changes over snap, the state read for b.Keys(), and returns
// what to write. A change with a Poison is recorded as a dead letter (unless it is a
// duplicate) and changes nothing else. now stamps synced_at and the feed's entries.
func Plan(b *Batch, snap *Snapshot, now time.Time) *WriteSet {
	p := planner{rows: b.rows, snap: snap, now: now, nowMs: now.UnixMilli(), ws: &WriteSet{Results: make([]Result, len(b.Changes))}}
	for i := range b.Changes {
		p.change(i, &b.Changes[i], b.Poison[i])
	}
	return p.finish(b.Changes)
}

type planner struct {
	rows  []Row // Batch.rows
	snap  *Snapshot
	now   time.Time
	nowMs int64
	ws    *WriteSet
	order int
	// redacted holds the users the batch deleted.
	redacted map[string]bool
}

func (p *planner) change(i int, c *Change, poison string) {
	ws := p.ws
	seen := c.EventID != "" && !c.Replay && p.snap.seen[c.EventID]
	var d Decision
	switch {
	case seen:
		d.Result = Result{Outcome: OutcomeDuplicate}
	case poison != "":
		d.Result = Result{Outcome: OutcomeDeadLetter, Error: poison}
	default:
		st := p.state(c, p.rows[i])
		d = Decide(c, &st)
		p.apply(i, c, &d)
	}
	ws.Results[i] = d.Result
	switch {
	case c.EventID == "":
	case seen:
		if ws.Redeliveries == nil {
			ws.Redeliveries = make(map[string]int)
		}
		ws.Redeliveries[c.EventID]++
	default:
		ws.Events = append(ws.Events, EventWrite{Change: i, Result: d.Result})
		if !c.Replay {
			p.snap.seen[c.EventID] = true
		}
	}
}

// state returns what c's decision depends on, as the batch has left it so far; row is
// the row of the object c carries.
func (p *planner) state(c *Change, row Row) State {
	var st State
	if c.Op != OpUpsert && c.Op != OpDelete {
		return st
	}
	st.Self = p.stored(c.Key())
	t := c.Kind.Table()
	if t.Parent != "" && row != nil {
		st.Org = p.stored(ObjectKey{t.ParentKind, RowText(row[t.Col(t.Parent)])})
	}
	if c.Kind == KindMembership && row != nil {
		st.UserDeleted = p.stored(ObjectKey{KindUser, RowText(row[t.Col("user_id")])}).Deleted
	}
	if vals := slotOf(t, row); vals != nil && c.Op == OpUpsert {
		sk := slotKey{c.Kind, SlotString(vals)}
		if key, ok := p.snap.slotLive[sk]; ok && key != c.Key() {
			o := p.snap.objects[key]
			st.Rival = &Rival{Key: key, CreatedAt: RowInt(o.row[t.createdAt()]), Live: true}
		}
		if r, ok := p.snap.slotTomb[sk]; ok && t.Kind == KindMembership && r.Key != c.Key() {
			created, _ := c.Object.Versions()
			// A tombstoned rival newer than the object supersedes it; an older one
			// is of no concern.
			if r.newerThan(created, c.ID) && (st.Rival == nil || r.newerThan(st.Rival.CreatedAt, st.Rival.Key.ID)) {
				r := r
				st.Rival = &r
			}
		}
	}
	return st
}

func (p *planner) stored(key ObjectKey) Stored {
	o := p.snap.objects[key]
	if o == nil {
		return Stored{}
	}
	return Stored{Row: o.row, Deleted: o.deleted}
}

// apply carries out decision d of change i on the batch's view of the database,
// recording the writes and the feed's entries.
func (p *planner) apply(i int, c *Change, d *Decision) {
	t := c.Kind.Table()
	if d.PutOrg {
		org := c.Object.(*Membership).Organization
		p.put(i, c, org, nil, d.OrgAction)
	}
	if d.Placeholder {
		row := p.rows[i]
		orgID := RowText(row[t.Col(t.Parent)])
		ot := KindOrganization.Table()
		ph := make(Row, len(ot.Columns))
		ph[0] = orgID
		ph[ot.syncedAt()], ph[ot.syncSource()] = p.nowMs, string(c.Source)
		p.write(i, ObjectKey{KindOrganization, orgID}, ph, nil)
	}
	if d.Unseat {
		p.unseat(i, c)
	}
	if d.Put {
		p.put(i, c, c.Object, p.rows[i], d.Result.Action)
	}
	if d.Remove {
		if d.Cascade {
			p.cascade(i, c, c.Key())
		}
		p.remove(i, c, c.Key(), true)
	}
	if d.Redact {
		if p.redacted == nil {
			p.redacted = make(map[string]bool)
		}
		p.redacted[c.ID] = true
	}
}

// put writes o, whose row is built (nil: to build), whose action is a, and records
// its feed entry.
func (p *planner) put(i int, c *Change, o Object, built Row, a Action) {
	key := o.ObjectKey()
	t := key.Kind.Table()
	row := make(Row, 0, len(t.Columns))
	if built != nil {
		row = append(row, built...)
	} else {
		row = o.AppendRow(row)
	}
	row[t.syncedAt()], row[t.syncSource()] = p.nowMs, string(c.Source)
	before := p.stored(key)
	p.write(i, key, row, o.RawJSON())
	_, updated := o.Versions()
	switch a {
	case ActionCreated:
		p.feed(c, key, ActionCreated, updated, feedData(t, row), nil)
	case ActionUpdated:
		prev := feedPrevious(t, before.Row, row)
		if prev != nil {
			p.feed(c, key, ActionUpdated, updated, feedData(t, row), prev)
		}
	}
}

// unseat removes the live rival of c's object from its slot.
func (p *planner) unseat(i int, c *Change) {
	t := c.Kind.Table()
	key, ok := p.snap.slotLive[slotKey{c.Kind, SlotString(slotOf(t, p.rows[i]))}]
	if !ok || key == c.Key() {
		return
	}
	p.remove(i, c, key, t.Kind == KindMembership)
}

// cascade removes the live children of parent.
func (p *planner) cascade(i int, c *Change, parent ObjectKey) {
	var kids []ObjectKey
	for k := range p.snap.children[parent] {
		kids = append(kids, k)
	}
	// Map order is random; the feed is not.
	sortKeys(kids)
	for _, k := range kids {
		p.remove(i, c, k, false)
	}
}

// remove removes key's live row, if it has one, leaving a tombstone when tomb, and
// records the feed's entry.
func (p *planner) remove(i int, c *Change, key ObjectKey, tomb bool) {
	o := p.snap.object(key)
	t := key.Kind.Table()
	before := o.row
	if before != nil {
		p.write(i, key, nil, nil)
		if !(Stored{Row: before}).Placeholder(t) {
			when := c.EventTime
			if when == 0 {
				when = p.nowMs
			}
			p.feed(c, key, ActionDeleted, when, feedKey(t, key.ID), feedRemoved(t, before))
		}
	}
	if !tomb || o.deleted {
		return
	}
	var slot string
	var created int64
	switch {
	case before != nil:
		if vals := slotOf(t, before); vals != nil {
			slot = SlotString(vals)
		}
		created = RowInt(before[t.createdAt()])
	case p.rows[i] != nil && c.Key() == key:
		row := p.rows[i]
		if vals := slotOf(t, row); vals != nil {
			slot = SlotString(vals)
		}
		created, _ = c.Object.Versions()
	}
	p.snap.AddTombstone(key, slot, created)
	p.ws.Tombstones = append(p.ws.Tombstones, Tombstone{
		Key: key, Slot: slot, CreatedAt: created, Source: c.Source, EventID: c.EventID, Change: i,
	})
}

// write sets key's live row to row (nil to remove it), with raw.
func (p *planner) write(i int, key ObjectKey, row Row, raw json.RawMessage) {
	o := p.snap.object(key)
	if o.row != nil {
		p.snap.unindex(key, o.row)
	}
	if !o.written {
		o.written, o.order = true, p.order
		p.order++
	}
	o.row, o.raw, o.change = row, raw, i
	if row != nil {
		p.snap.index(key, row)
	}
}

func (p *planner) feed(c *Change, key ObjectKey, a Action, occurred int64, data, previous json.RawMessage) {
	p.ws.Feed = append(p.ws.Feed, FeedEntry{
		ID: NewFeedID(p.now), Type: FeedType(key.Kind, a), Kind: key.Kind, ObjectID: key.ID,
		Source: c.Source, EventID: c.EventID, OccurredAt: occurred, CreatedAt: p.now,
		Data: data, Previous: previous,
	})
}

// finish gathers the batch's writes: removals first, so that a new object can take
// the slot of a removed one, then the rows written, parents before children, each
// group in the order the batch first changed them.
func (p *planner) finish(changes []Change) *WriteSet {
	ws := p.ws
	type ordered struct {
		w     ObjectWrite
		order int
	}
	var writes []ordered
	for key, o := range p.snap.objects {
		if !o.written || (o.row == nil && o.before == nil) {
			continue // unchanged, or written and removed again within the batch
		}
		w := ObjectWrite{Key: key, Row: o.row, Raw: o.raw, Before: o.before, Change: o.change}
		w.Placeholder = o.row != nil && o.before == nil && (Stored{Row: o.row}).Placeholder(key.Kind.Table())
		writes = append(writes, ordered{w, o.order})
	}
	rank := func(w *ObjectWrite) int {
		if w.Row == nil {
			return 0
		}
		return int(w.Key.Kind)
	}
	slices.SortFunc(writes, func(a, b ordered) int {
		if c := cmp.Compare(rank(&a.w), rank(&b.w)); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	ws.Objects = make([]ObjectWrite, len(writes))
	for i := range writes {
		ws.Objects[i] = writes[i].w
	}
	for i := range ws.Events {
		e := &ws.Events[i]
		if u := changes[e.Change].UserID; u != "" {
			if o := p.snap.objects[ObjectKey{KindUser, u}]; o != nil {
				e.Redacted = o.deleted
			}
		}
	}
	for u := range p.redacted {
		ws.Redact = append(ws.Redact, u)
	}
	slices.Sort(ws.Redact)
	return ws
}

// sortKeys sorts keys by kind, then id.
func sortKeys(keys []ObjectKey) {
	slices.SortFunc(keys, func(a, b ObjectKey) int {
		if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
