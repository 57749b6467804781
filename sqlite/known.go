package sqlite

import (
	"database/sql"
	"encoding/json"

	"github.com/clerksync/clerksync"
)

// knownUsers remembers, for the users the writer has recently read or written, what the
// lookup statement would answer about them: whether they have a tombstone, and the
// version and indexed columns of their stored profile. A change about a known user
// then skips the lookup; the event log's primary key alone tells a duplicate delivery
// (see writeKnown). The lookup was the costliest of a change's statements.
//
// Only the writer uses it, under Store.mu. It is right as long as no other connection
// writes the database: before each batch, the writer reads PRAGMA data_version, which
// changes whenever another connection (another clerksync process, or an application
// writing to the file) has committed, and forgets everything when it did. The count
// is the connection's own, so the writer also forgets everything when the pool hands
// it another connection than last time (the pool replaces a connection whose statement
// was interrupted). What a batch learns is kept aside and merged only once the batch
// has committed, so a batch that rolls back leaves nothing behind; a batch that fails
// makes the writer forget everything, so that a mistake cannot fail batch after batch.
// The writer's own connection changes profiles and tombstones only in applyTx, which
// keeps the cache in step; any other write of those tables on it would have to reset it.
type knownUsers struct {
	conn        any   // the writer's driver connection when the entries were last checked
	dataVersion int64 // its data_version then
	users       map[string]knownUser
}

// knownUsersMax bounds how many users are remembered, about 200 bytes each; when a
// batch would go past it, everything is forgotten and the cache fills again.
const knownUsersMax = 1 << 14

// knownUser is what the database holds about one user.
type knownUser struct {
	deleted bool      // the user has a tombstone
	row     storedRow // the stored profile; row.version is not Valid when there is none
}

// reset forgets every user and records the connection and data_version the cache now
// matches.
func (k *knownUsers) reset(conn any, dataVersion int64) {
	k.conn, k.dataVersion = conn, dataVersion
	clear(k.users)
}

// merge keeps what a committed batch learnt.
func (k *knownUsers) merge(learnt map[string]knownUser) {
	if len(learnt) == 0 {
		return
	}
	if k.users == nil {
		k.users = make(map[string]knownUser, len(learnt))
	}
	if len(k.users)+len(learnt) > knownUsersMax {
		clear(k.users)
	}
	for id, u := range learnt {
		k.users[id] = u
	}
}

// known returns what the batch knows of user id: what it has written or read itself,
// else what the store remembers from committed batches.
func (b *batch) known(id string) (knownUser, bool) {
	if id == "" {
		return knownUser{}, false
	}
	if u, ok := b.learnt[id]; ok {
		return u, true
	}
	u, ok := b.cache.users[id]
	return u, ok
}

// prefetch reads, in one statement, the stored state of the users changes are about
// that the writer does not know yet, so that every change of the batch but replays
// takes the path without a lookup (writeKnown).
func (b *batch) prefetch(changes []clerksync.Change) error {
	var ids []string
	seen := make(map[string]struct{})
	for i := range changes {
		c := &changes[i]
		if c.Replay || c.UserID == "" {
			continue
		}
		if _, ok := b.known(c.UserID); ok {
			continue
		}
		if _, ok := seen[c.UserID]; ok {
			continue
		}
		seen[c.UserID] = struct{}{}
		ids = append(ids, c.UserID)
	}
	if len(ids) == 0 {
		return nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	rows, err := b.stmts.prefetch.QueryContext(b.ctx, string(list))
	if err != nil {
		return err
	}
	defer rows.Close()
	if b.learnt == nil {
		b.learnt = make(map[string]knownUser, len(ids))
	}
	for rows.Next() {
		var (
			id string
			u  knownUser
		)
		if err := rows.Scan(&id, &u.deleted, &u.row.version, &u.row.email, &u.row.username, &u.row.externalID); err != nil {
			return err
		}
		b.learnt[id] = u
	}
	return rows.Err()
}

// learn records what the database holds about id once c, with result r, is written
// over what was there before (before).
func (b *batch) learn(c *clerksync.Change, r clerksync.Result, before knownUser) {
	if c.UserID == "" {
		return
	}
	after := before
	if r.Outcome == clerksync.OutcomeApplied {
		switch {
		case r.Action == clerksync.ActionDeleted:
			after = knownUser{deleted: true}
		case c.Op == clerksync.OpUpsertUser:
			p := c.Profile
			after = knownUser{row: storedRow{
				version:    sql.NullInt64{Int64: p.UpdatedAt, Valid: true},
				email:      nullString(p.Email),
				username:   nullString(p.Username),
				externalID: nullString(p.ExternalID),
			}}
		}
	}
	if b.learnt == nil {
		b.learnt = make(map[string]knownUser)
	}
	b.learnt[c.UserID] = after
}

// nullString is s as the database stores it: NULL when empty.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
