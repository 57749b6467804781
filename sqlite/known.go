package sqlite

import (
	"github.com/clerksync/clerksync"
)

// knownObjects remembers, for the objects the writer has recently read by id or
// written, what reading them would answer: their live row and whether they have a
// tombstone. A batch about known objects then skips those reads (for a webhook of a
// known user, the only read left is the svix-id's). Reads were the costliest part of a
// change.
//
// Only the writer uses it, under Store.mu. It is right as long as no other connection
// writes the database: before each batch, the writer reads PRAGMA data_version, which
// changes whenever another connection (another clerksync process, or an application
// writing to the file) has committed, and forgets everything when it did. The count
// is the connection's own, so the writer also forgets everything when the pool hands
// it another connection than last time (the pool replaces a connection whose statement
// was interrupted). What a batch reads and writes is merged only once it has
// committed, so a batch that rolls back leaves nothing behind; a batch that fails makes
// the writer forget everything, so that a mistake cannot fail batch after batch. The
// writer's own connection changes the synced tables and tombstones only in applyTx,
// which keeps the cache in step; any other write of those tables on it must reset it.
type knownObjects struct {
	conn        any   // the writer's driver connection when the entries were last checked
	dataVersion int64 // its data_version then
	objects     map[clerksync.ObjectKey]knownObject
}

// knownObjectsMax bounds how many objects are remembered, about 1 KB each; when a batch
// would go past it, everything is forgotten and the cache fills again.
const knownObjectsMax = 1 << 14

// knownObject is what the database holds about one object.
type knownObject struct {
	row     clerksync.Row // the live row, nil when there is none
	deleted bool          // the object has a tombstone
}

// addTo adds o, what is known of the object kind id, to snap.
func (o knownObject) addTo(snap *clerksync.Snapshot, k clerksync.Kind, id string) {
	if o.row != nil {
		snap.AddRow(k, o.row)
	}
	if o.deleted {
		snap.AddTombstone(clerksync.ObjectKey{Kind: k, ID: id}, "", 0)
	}
}

// get returns what is remembered of key.
func (k *knownObjects) get(key clerksync.ObjectKey) (knownObject, bool) {
	o, ok := k.objects[key]
	return o, ok
}

// reset forgets every object and records the connection and data_version the cache now
// matches.
func (k *knownObjects) reset(conn any, dataVersion int64) {
	k.conn, k.dataVersion = conn, dataVersion
	clear(k.objects)
}

// merge keeps what a committed batch read (learnt) and wrote (ws).
func (k *knownObjects) merge(learnt map[clerksync.ObjectKey]knownObject, ws *clerksync.WriteSet) {
	n := len(learnt) + len(ws.Objects) + len(ws.Tombstones)
	if n == 0 {
		return
	}
	if k.objects == nil {
		k.objects = make(map[clerksync.ObjectKey]knownObject, n)
	}
	if len(k.objects)+n > knownObjectsMax {
		clear(k.objects)
	}
	for key, o := range learnt {
		k.objects[key] = o
	}
	for _, w := range ws.Objects {
		if w.Placeholder {
			// Written only if no row was there: what is there is not known.
			delete(k.objects, w.Key)
			continue
		}
		// A live row, or one removed from a live row: either way no tombstone, unless
		// the batch left one (below).
		k.objects[w.Key] = knownObject{row: w.Row}
	}
	for _, t := range ws.Tombstones {
		o := k.objects[t.Key]
		o.row, o.deleted = nil, true
		k.objects[t.Key] = o
	}
}
