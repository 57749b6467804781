package clerkfake

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Errors of the test controls.
var (
	// ErrUserNotFound: no user has the id.
	ErrUserNotFound = errors.New("clerkfake: user not found")
	// ErrUserExists: the id belongs, or belonged, to another user; Clerk never reuses
	// an id, even after the user is deleted.
	ErrUserExists = errors.New("clerkfake: user id already used")
	// ErrIdentifierTaken: another user has the email address or the username.
	ErrIdentifierTaken = errors.New("clerkfake: email address or username taken")
)

// record is one stored user: the marshalled object, answered as is, and what the
// indexes and filters need. Records are never changed once stored: a change stores
// a new record, so a listing can keep the bytes it collected after the lock is let
// go.
type record struct {
	id         string
	created    int64
	updated    int64
	raw        []byte
	emails     []string // lower case
	username   string   // lower case
	externalID string
	// public is what a membership of the user tells of it.
	public PublicUserData
}

// sortKey orders records by a timestamp, ties broken by id as Clerk's KSUIDs do.
type sortKey struct {
	ts int64
	id string
}

func compareKeys(a, b sortKey) int {
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

func createdKey(r *record) sortKey { return sortKey{r.created, r.id} }
func updatedKey(r *record) sortKey { return sortKey{r.updated, r.id} }

// store keeps the users with the indexes that let a page of a listing be cut out
// without sorting or marshalling anything.
type store struct {
	mu        sync.RWMutex
	seed      uint64
	draws     uint64 // how many generators nextSeed has handed out
	byID      map[string]*record
	byCreated []*record         // ascending by createdKey
	byUpdated []*record         // ascending by updatedKey
	emails    map[string]string // email address (lower case) → user id
	usernames map[string]string // username (lower case) → user id
	deleted   map[string]int64  // id of a deleted user → its created_at
}

func newStore(seed uint64) *store {
	if seed == 0 {
		seed = newRand(0).Uint64()
	}
	return &store{
		seed:      seed,
		byID:      make(map[string]*record),
		emails:    make(map[string]string),
		usernames: make(map[string]string),
		deleted:   make(map[string]int64),
	}
}

// nextSeed returns the seed of the next generated user or id: a sequence fixed by
// the store's seed. The caller holds mu.
func (st *store) nextSeed() uint64 {
	st.draws++
	return mix(st.seed, st.draws)
}

// mix returns a well-spread 64-bit value from a and b (SplitMix64's finaliser).
func mix(a, b uint64) uint64 {
	z := a + b*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	if z == 0 {
		z = 1
	}
	return z
}

// newRecord marshals u, after giving Clerk's empty values to what u leaves nil.
func newRecord(u *User) (*record, error) {
	normalize(u)
	raw, err := json.Marshal(u)
	if err != nil {
		return nil, fmt.Errorf("marshal user %s: %w", u.ID, err)
	}
	r := &record{id: u.ID, created: u.CreatedAt, updated: u.UpdatedAt, raw: raw}
	for _, e := range u.EmailAddresses {
		r.emails = append(r.emails, strings.ToLower(e.EmailAddress))
	}
	if u.Username != nil {
		r.username = strings.ToLower(*u.Username)
	}
	if u.ExternalID != nil {
		r.externalID = *u.ExternalID
	}
	r.public = PublicUserData{
		UserID: u.ID, FirstName: u.FirstName, LastName: u.LastName, ProfileImageURL: u.ImageURL,
		ImageURL: u.ImageURL, HasImage: u.HasImage, Username: u.Username,
	}
	if len(r.emails) > 0 {
		r.public.Identifier = &u.EmailAddresses[0].EmailAddress
		for _, e := range u.EmailAddresses {
			if u.PrimaryEmailAddressID != nil && e.ID == *u.PrimaryEmailAddressID {
				r.public.Identifier = &e.EmailAddress
			}
		}
	}
	return r, nil
}

// normalize gives the fields of u that Clerk never sends as null their empty value.
func normalize(u *User) {
	if u.Object == "" {
		u.Object = "user"
	}
	for _, m := range []*json.RawMessage{&u.PublicMetadata, &u.PrivateMetadata, &u.UnsafeMetadata} {
		if len(*m) == 0 || string(*m) == "null" {
			*m = json.RawMessage(`{}`)
		}
	}
	u.EmailAddresses = nonNil(u.EmailAddresses)
	u.PhoneNumbers = nonNil(u.PhoneNumbers)
	u.Web3Wallets = nonNil(u.Web3Wallets)
	u.Passkeys = nonNil(u.Passkeys)
	u.ExternalAccounts = nonNil(u.ExternalAccounts)
	u.SAMLAccounts = nonNil(u.SAMLAccounts)
	u.EnterpriseAccounts = nonNil(u.EnterpriseAccounts)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// identifiersFree reports whether r's email addresses and username belong to no
// other user. The caller holds mu.
func (st *store) identifiersFree(r *record) bool {
	for _, e := range r.emails {
		if owner, ok := st.emails[e]; ok && owner != r.id {
			return false
		}
	}
	if r.username != "" {
		if owner, ok := st.usernames[r.username]; ok && owner != r.id {
			return false
		}
	}
	return true
}

func (st *store) indexIdentifiers(r *record) {
	for _, e := range r.emails {
		st.emails[e] = r.id
	}
	if r.username != "" {
		st.usernames[r.username] = r.id
	}
}

func (st *store) unindexIdentifiers(r *record) {
	for _, e := range r.emails {
		delete(st.emails, e)
	}
	if r.username != "" {
		delete(st.usernames, r.username)
	}
}

// insert stores a new user. The caller holds mu.
func (st *store) insert(r *record) error {
	if _, ok := st.byID[r.id]; ok {
		return fmt.Errorf("insert %s: %w", r.id, ErrUserExists)
	}
	if _, ok := st.deleted[r.id]; ok {
		return fmt.Errorf("insert %s: %w", r.id, ErrUserExists)
	}
	if !st.identifiersFree(r) {
		return fmt.Errorf("insert %s: %w", r.id, ErrIdentifierTaken)
	}
	st.byID[r.id] = r
	st.indexIdentifiers(r)
	st.byCreated = insertSorted(st.byCreated, r, createdKey)
	st.byUpdated = insertSorted(st.byUpdated, r, updatedKey)
	return nil
}

// replace stores next in place of the stored old. The caller holds mu.
func (st *store) replace(old, next *record) error {
	st.unindexIdentifiers(old)
	if !st.identifiersFree(next) {
		st.indexIdentifiers(old)
		return fmt.Errorf("update %s: %w", next.id, ErrIdentifierTaken)
	}
	st.indexIdentifiers(next)
	st.byID[next.id] = next
	st.byCreated = replaceSorted(st.byCreated, old, next, createdKey)
	st.byUpdated = replaceSorted(st.byUpdated, old, next, updatedKey)
	return nil
}

// remove deletes the stored r and remembers its id for ever. The caller holds mu.
func (st *store) remove(r *record) {
	st.unindexIdentifiers(r)
	delete(st.byID, r.id)
	st.deleted[r.id] = r.created
	st.byCreated = removeSorted(st.byCreated, r, createdKey)
	st.byUpdated = removeSorted(st.byUpdated, r, updatedKey)
}

// insertSorted inserts r into list, kept ascending by key. Appending is the common
// case: users are created and updated in time order.
func insertSorted(list []*record, r *record, key func(*record) sortKey) []*record {
	k := key(r)
	if n := len(list); n == 0 || compareKeys(key(list[n-1]), k) < 0 {
		return append(list, r)
	}
	i, _ := slices.BinarySearchFunc(list, k, func(e *record, k sortKey) int { return compareKeys(key(e), k) })
	return slices.Insert(list, i, r)
}

// removeSorted removes r from list, kept ascending by key.
func removeSorted(list []*record, r *record, key func(*record) sortKey) []*record {
	i, found := slices.BinarySearchFunc(list, key(r), func(e *record, k sortKey) int { return compareKeys(key(e), k) })
	if !found {
		return list
	}
	return slices.Delete(list, i, i+1)
}

// replaceSorted puts next where old was in list, moving it if its key changed.
func replaceSorted(list []*record, old, next *record, key func(*record) sortKey) []*record {
	if key(old) == key(next) {
		if i, found := slices.BinarySearchFunc(list, key(old), func(e *record, k sortKey) int { return compareKeys(key(e), k) }); found {
			list[i] = next
			return list
		}
	}
	return insertSorted(removeSorted(list, old, key), next, key)
}

// query is what a listing or a count asks for.
type query struct {
	limit     int
	offset    int
	byUpdated bool // order by updated_at instead of created_at
	desc      bool
	after     string // starting_after: the id of the last user of the previous page

	includeIDs, excludeIDs map[string]bool // user_id
	includeExt, excludeExt map[string]bool // external_id
	emails                 map[string]bool // email_address, lower case
	usernames              map[string]bool // username, lower case
}

func (q *query) filtered() bool {
	return q.includeIDs != nil || q.excludeIDs != nil || q.includeExt != nil || q.excludeExt != nil ||
		q.emails != nil || q.usernames != nil
}

func (q *query) match(r *record) bool {
	switch {
	case q.includeIDs != nil && !q.includeIDs[r.id], q.excludeIDs[r.id]:
		return false
	case q.includeExt != nil && !q.includeExt[r.externalID], r.externalID != "" && q.excludeExt[r.externalID]:
		return false
	case q.usernames != nil && !q.usernames[r.username]:
		return false
	}
	if q.emails != nil {
		for _, e := range r.emails {
			if q.emails[e] {
				return true
			}
		}
		return false
	}
	return true
}

// errUnknownCursor: starting_after names no user the store has ever had.
var errUnknownCursor = errors.New("unknown starting_after")

// page returns the marshalled users of one page of q.
func (st *store) page(q *query) ([][]byte, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()

	list := st.byCreated
	key := createdKey
	if q.byUpdated {
		list, key = st.byUpdated, updatedKey
	}
	n := len(list)
	at := func(i int) *record {
		if q.desc {
			return list[n-1-i]
		}
		return list[i]
	}

	start := 0
	if q.after != "" {
		// A cursor stays valid after its user is deleted: the deleted id keeps its
		// place in the order.
		var ck sortKey
		if r, ok := st.byID[q.after]; ok {
			ck = key(r)
		} else if created, ok := st.deleted[q.after]; ok {
			ck = sortKey{created, q.after}
		} else {
			return nil, errUnknownCursor
		}
		cmpTo := func(e *record, k sortKey) int { return compareKeys(key(e), k) }
		i, found := slices.BinarySearchFunc(list, ck, cmpTo)
		if q.desc {
			start = n - i // the records before the cursor, newest first
		} else {
			start = i
			if found {
				start++
			}
		}
	}

	var out [][]byte
	if !q.filtered() {
		from := min(n, start+q.offset)
		to := min(n, from+q.limit)
		out = make([][]byte, 0, to-from)
		for i := from; i < to; i++ {
			out = append(out, at(i).raw)
		}
		return out, nil
	}
	skip := q.offset
	for i := start; i < n && len(out) < q.limit; i++ {
		r := at(i)
		if !q.match(r) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, r.raw)
	}
	return out, nil
}

// count returns how many users match q.
func (st *store) count(q *query) int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if !q.filtered() {
		return len(st.byID)
	}
	n := 0
	for _, r := range st.byCreated {
		if q.match(r) {
			n++
		}
	}
	return n
}
