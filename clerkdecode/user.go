package clerkdecode

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/clerksync/clerksync"
)

// Options says what to keep of what Clerk sends.
type Options struct {
	// KeepPrivateMetadata keeps users' private_metadata in Profile.PrivateMetadata, in
	// Profile.Raw and in the event log. Off by default: private metadata is where
	// applications put what the user must not see, and it should not be copied around
	// unless the operator asks for it.
	KeepPrivateMetadata bool
}

// DecodeUser decodes a Clerk user object (the data of a user.created or user.updated
// event, or an answer of GET /v1/users/{id}) into a Profile. The profile's email,
// email_verified and phone come from the entries whose id is primary_email_address_id
// and primary_phone_number_id; null or missing metadata becomes {}; image_url falls back
// to the legacy profile_image_url; unknown members are ignored. SyncSource and SyncedAt
// are left for the caller to set.
//
// Raw and the metadata are sub-slices of data, which must not be modified afterwards,
// unless private_metadata had to be cut out: then they share one new buffer.
//
// DecodeUser returns a *DecodeError when data is not a JSON object, a member has the
// wrong type, id is missing or empty, or updated_at is missing, null or zero (an upsert
// cannot be ordered without it).
func DecodeUser(data []byte, opt Options) (*clerksync.Profile, error) {
	d := dec{b: data}
	var u user
	var buf [2]span
	cuts, err := d.user(&u, opt.KeepPrivateMetadata, buf[:0])
	if err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	p := new(clerksync.Profile)
	u.fill(p, cutSpansIf(data, cuts), cuts)
	return p, nil
}

// DecodeUsers decodes the JSON array of user objects that GET /v1/users answers, each
// as DecodeUser does. The profiles' Raw are sub-slices of arr, or of one new buffer
// when private metadata had to be cut out. It returns a *DecodeError, whose path starts
// with the index of the user at fault, when arr is not an array of valid users.
func DecodeUsers(arr []byte, opt Options) ([]*clerksync.Profile, error) {
	var users []user
	var cuts []span
	d := dec{b: arr}
	err := d.array(func(d *dec) error {
		var u user
		var err error
		if cuts, err = d.user(&u, opt.KeepPrivateMetadata, cuts); err != nil {
			return err
		}
		users = append(users, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	buf := cutSpansIf(arr, cuts)
	profiles := make([]clerksync.Profile, len(users))
	out := make([]*clerksync.Profile, len(users))
	for i := range users {
		users[i].fill(&profiles[i], buf, cuts)
		out[i] = &profiles[i]
	}
	return out, nil
}

// DecodeDeletedUser returns the id of the user that the data of a user.deleted event
// ({"object":"user","id":…,"deleted":true,"external_id":…}) is about. It returns a
// *DecodeError when data is not a JSON object or has no id.
func DecodeDeletedUser(data []byte) (id string, err error) {
	d := dec{b: data}
	o, _, err := d.data(false, nil)
	if err != nil {
		return "", err
	}
	if err := d.end(); err != nil {
		return "", err
	}
	if len(o.id) == 0 {
		return "", &DecodeError{Path: "id", Offset: -1, Reason: "missing or not a string"}
	}
	return string(o.id), nil
}

// user is what the walk of a user object found, as offsets into and slices of the
// payload: nothing is copied until the profile is filled in.
type user struct {
	obj span

	id, username, firstName, lastName, imageURL, profileImageURL, externalID []byte

	primaryEmailID, primaryPhoneID []byte
	emails, phones                 span // the arrays; end 0 when absent or null
	email, phone                   contact

	public, unsafe, private          span
	hasPublic, hasUnsafe, hasPrivate bool
	// deep says a metadata document is nested deeper than MaxMetadataDepth: its
	// contents are cut, so that it is kept as {} (see MaxMetadataDepth).
	publicDeep, unsafeDeep, privateDeep bool

	banned, locked                                   bool
	createdAt, updatedAt, lastSignInAt, lastActiveAt int64

	// keep says private_metadata is kept rather than cut out.
	keep bool
	// nuls are the offsets of the user's \u0000 escapes (see nulReplacement).
	nuls []int
}

// contact is what was picked from email_addresses or phone_numbers.
type contact struct {
	value       []byte // the address or number
	verified    bool
	found       bool   // the entry was found
	tried       bool   // the array was searched for searchedFor
	searchedFor []byte // the primary id the array was searched for
}

// user walks the user object at the current offset into u, which it resets first.
// Unless keep, it appends to cuts the spans that remove the top-level
// private_metadata.
func (d *dec) user(u *user, keep bool, cuts []span) ([]span, error) {
	*u = user{keep: keep}
	nuls := len(d.nuls)
	d.ws()
	u.obj.start = d.i
	if _, err := d.open(false); err != nil {
		return cuts, err
	}
	var c cutter
	for n := 0; ; n++ {
		key, more, err := d.member(n)
		if err != nil {
			return cuts, err
		}
		if !more {
			break
		}
		cuts = c.next(d.keyAt, d.comma, cuts)
		remove := false
		switch string(key) {
		case "id":
			u.id, err = d.strVal()
		case "username":
			u.username, err = d.strVal()
		case "first_name":
			u.firstName, err = d.strVal()
		case "last_name":
			u.lastName, err = d.strVal()
		case "image_url":
			u.imageURL, err = d.strVal()
		case "profile_image_url":
			u.profileImageURL, err = d.strVal()
		case "external_id":
			u.externalID, err = d.strVal()
		case "primary_email_address_id":
			u.primaryEmailID, err = d.strVal()
		case "primary_phone_number_id":
			u.primaryPhoneID, err = d.strVal()
		case "email_addresses":
			u.emails, err = d.contacts(&u.email, u.primaryEmailID, "email_address")
		case "phone_numbers":
			u.phones, err = d.contacts(&u.phone, u.primaryPhoneID, "phone_number")
		case "public_metadata":
			u.public, u.hasPublic, u.publicDeep, cuts, err = d.meta(cuts)
		case "unsafe_metadata":
			u.unsafe, u.hasUnsafe, u.unsafeDeep, cuts, err = d.meta(cuts)
		case "private_metadata":
			if keep {
				u.private, u.hasPrivate, u.privateDeep, cuts, err = d.meta(cuts)
			} else {
				err = d.skip(1)
				remove = true
			}
		case "banned":
			u.banned, err = d.boolVal()
		case "locked":
			u.locked, err = d.boolVal()
		case "created_at":
			u.createdAt, err = d.intVal()
		case "updated_at":
			u.updatedAt, err = d.intVal()
		case "last_sign_in_at":
			u.lastSignInAt, err = d.intVal()
		case "last_active_at":
			u.lastActiveAt, err = d.intVal()
		default:
			err = d.skip(1)
		}
		if err != nil {
			return cuts, within(err, string(key))
		}
		cuts = c.done(d.i, remove, cuts)
	}
	cuts = c.close(cuts)
	u.obj.end = d.i
	if len(d.nuls) > nuls {
		u.nuls = d.nuls[nuls:]
		cuts = markNULs(cuts, u.nuls)
	}

	// A primary id may come after its array (Clerk's own examples sort keys): search
	// the array again, now that the id is known.
	if err := d.repick(&u.email, u.emails, u.primaryEmailID, "email_address"); err != nil {
		return cuts, within(err, "email_addresses")
	}
	if err := d.repick(&u.phone, u.phones, u.primaryPhoneID, "phone_number"); err != nil {
		return cuts, within(err, "phone_numbers")
	}

	if len(u.id) == 0 {
		return cuts, &DecodeError{Path: "id", Offset: -1, Reason: "missing or empty"}
	}
	if u.updatedAt == 0 {
		return cuts, &DecodeError{Path: "updated_at", Offset: -1, Reason: "missing, null or zero: the change cannot be ordered"}
	}
	return cuts, nil
}

// MaxMetadataDepth is how deeply a user's metadata document (public, unsafe or, when
// kept, private) may nest arrays and objects. A document nested deeper is not kept as
// given: it is stored as {} in its column and in the user object (Profile.Raw and the
// event body), and the rest of the user is applied as usual.
//
// The rule is that no user can be frozen by what the user controls. unsafe_metadata is
// written from the browser, and Clerk bounds metadata by size (8 KB), not by depth: 8 KB
// nest a few thousand levels, while SQLite's json_valid gives up past 1,000 levels (the
// schema checks metadata with it) and PostgreSQL's parser past 10,000. A document either store could refuse would
// turn every later update of that user, an administrator's ban included, into a dead
// letter on that store. 100 levels is far beyond any real metadata and far within
// both stores.
const MaxMetadataDepth = 100

// meta reads a metadata value; null counts as absent. When the value nests deeper
// than MaxMetadataDepth, deep is set and the span that empties it is appended to cuts,
// which must end before the value.
func (d *dec) meta(cuts []span) (s span, present, deep bool, _ []span, err error) {
	d.deepest = 0
	s, null, err := d.raw(1)
	if err == nil && d.deepest > MaxMetadataDepth {
		deep = true
		cuts = append(cuts, span{s.start + 1, s.end - 1})
	}
	return s, !null, deep, cuts, err
}

// contacts walks the array of email_addresses (valueKey "email_address") or
// phone_numbers ("phone_number") at the current offset and returns its span. When
// primaryID is known, c gets the value of the entry whose id it is.
func (d *dec) contacts(c *contact, primaryID []byte, valueKey string) (span, error) {
	*c = contact{}
	d.ws()
	s := span{start: d.i}
	null, err := d.openArray()
	if err != nil || null {
		return span{}, err
	}
	c.tried = len(primaryID) > 0
	c.searchedFor = primaryID
	for n := 0; ; n++ {
		more, err := d.elem(n)
		if err != nil {
			return span{}, err
		}
		if !more {
			break
		}
		id, value, verified, err := d.contact(valueKey)
		if err != nil {
			return span{}, within(err, index(n))
		}
		if c.tried && !c.found && bytes.Equal(id, primaryID) {
			c.value, c.verified, c.found = value, verified, true
		}
	}
	s.end = d.i
	return s, nil
}

// repick searches the array at s again when the primary id it was searched for is not
// the final one.
func (d *dec) repick(c *contact, s span, primaryID []byte, valueKey string) error {
	switch {
	case len(primaryID) == 0:
		*c = contact{}
		return nil
	case s.end == 0, c.tried && bytes.Equal(c.searchedFor, primaryID):
		return nil
	}
	again := dec{b: d.b, i: s.start}
	_, err := again.contacts(c, primaryID, valueKey)
	return err
}

// contact walks one entry of email_addresses or phone_numbers; null entries are
// skipped.
func (d *dec) contact(valueKey string) (id, value []byte, verified bool, err error) {
	null, err := d.open(true)
	if err != nil || null {
		return nil, nil, false, err
	}
	for n := 0; ; n++ {
		key, more, err := d.member(n)
		if err != nil {
			return nil, nil, false, err
		}
		if !more {
			return id, value, verified, nil
		}
		switch string(key) {
		case "id":
			id, err = d.strVal()
		case valueKey:
			value, err = d.strVal()
		case "verification":
			verified, err = d.verified()
		default:
			err = d.skip(3)
		}
		if err != nil {
			return nil, nil, false, within(err, string(key))
		}
	}
}

// verified walks a verification object (or null) and reports whether its status is
// "verified". Its object member, which names the strategy, is not needed.
func (d *dec) verified() (bool, error) {
	null, err := d.open(true)
	if err != nil || null {
		return false, err
	}
	verified := false
	for n := 0; ; n++ {
		key, more, err := d.member(n)
		if err != nil {
			return false, err
		}
		if !more {
			return verified, nil
		}
		if string(key) == "status" {
			var status []byte
			status, err = d.strVal()
			verified = string(status) == "verified"
		} else {
			err = d.skip(4)
		}
		if err != nil {
			return false, within(err, string(key))
		}
	}
}

// fill sets p from u. buf is the walked payload with cuts (in offsets of the walked
// payload) cut out; Raw and the metadata are sub-slices of buf. The strings share one
// allocation.
func (u *user) fill(p *clerksync.Profile, buf []byte, cuts []span) {
	image := u.imageURL
	if len(image) == 0 {
		image = u.profileImageURL
	}
	fields := [...][]byte{u.id, u.email.value, u.phone.value, u.username, u.firstName, u.lastName, image, u.externalID}
	if len(u.nuls) > 0 {
		replaceNULs(buf, cuts, u.nuls, fields[:])
	}
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, f := range fields {
		sb.Write(f)
	}
	all := sb.String()
	var strs [len(fields)]string
	off := 0
	for i, f := range fields {
		strs[i] = all[off : off+len(f)]
		off += len(f)
	}

	*p = clerksync.Profile{
		UserID:        strs[0],
		Email:         strs[1],
		EmailVerified: u.email.verified,
		Phone:         strs[2],
		Username:      strs[3],
		FirstName:     strs[4],
		LastName:      strs[5],
		ImageURL:      strs[6],
		ExternalID:    strs[7],
		Banned:        u.banned,
		Locked:        u.locked,
		CreatedAt:     u.createdAt,
		UpdatedAt:     u.updatedAt,
		LastSignInAt:  u.lastSignInAt,
		LastActiveAt:  u.lastActiveAt,
	}
	sub := func(s span) json.RawMessage {
		return json.RawMessage(buf[remap(cuts, s.start):remap(cuts, s.end):remap(cuts, s.end)])
	}
	meta := func(s span, present, deep bool) json.RawMessage {
		if !present {
			return emptyObject()
		}
		m := sub(s)
		if deep && m[0] == '[' {
			// An emptied array, in buf, which has cuts and so is a copy: metadata
			// documents are objects, and a replaced one is {} wherever it is kept.
			m[0], m[1] = '{', '}'
		}
		return m
	}
	p.Raw = sub(u.obj)
	p.PublicMetadata = meta(u.public, u.hasPublic, u.publicDeep)
	p.UnsafeMetadata = meta(u.unsafe, u.hasUnsafe, u.unsafeDeep)
	if u.keep {
		p.PrivateMetadata = meta(u.private, u.hasPrivate, u.privateDeep)
	}
}

// emptyObject returns a new {}, stored for null or missing metadata so that
// applications can always query the column as a JSON object.
func emptyObject() json.RawMessage {
	return json.RawMessage{'{', '}'}
}

// cutSpansIf returns b without cuts, or b itself when there are none.
func cutSpansIf(b []byte, cuts []span) []byte {
	if len(cuts) == 0 {
		return b
	}
	return cutSpans(b, cuts)
}

// SplitArray returns the elements of a JSON array as sub-slices of arr, without
// decoding or copying them, so that a caller can decode each on its own (the users of
// a page of GET /v1/users, where one user in an unexpected shape must not hold up the
// others). It validates the whole array and returns a *DecodeError when arr is not one.
func SplitArray(arr []byte) ([][]byte, error) {
	var out [][]byte
	d := dec{b: arr}
	err := d.array(func(d *dec) error {
		s, _, err := d.raw(1)
		out = append(out, arr[s.start:s.end:s.end])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// array walks the JSON array that is the whole of d's input, calling each at the start
// of every element; each must consume the element. An error of each is given the
// element's index in its path.
func (d *dec) array(each func(*dec) error) error {
	null, err := d.openArray()
	if err != nil {
		return err
	}
	if null {
		return &DecodeError{Offset: 0, Reason: "want an array, got null"}
	}
	for n := 0; ; n++ {
		more, err := d.elem(n)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if err := each(d); err != nil {
			return within(err, index(n))
		}
	}
	return d.end()
}
