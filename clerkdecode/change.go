package clerkdecode

import (
	"encoding/json"
	"strings"

	"github.com/clerksync/clerksync"
)

// ChangeFromEvent turns the body of an authentic webhook delivery, whose svix-id is
// svixID, into the Change to apply. It never fails:
//
//   - user.created and user.updated become an OpUpsert of the decoded Profile, and
//     user.deleted an OpDelete of the user;
//   - organization.*, organizationMembership.*, organizationInvitation.*, role.* and
//     permission.* become an OpUpsert of the decoded object, or an OpDelete (a deleted
//     membership carries its last state);
//   - a session event that carries its user (session.created, .ended, …) becomes an
//     OpUpsert of that user, which heals a user.updated that went missing;
//   - any other type becomes OpIgnore, with the object it names when it has an obvious
//     one (a user_id, an organization_id, or the id of a user);
//   - a body that cannot be used becomes OpDeadLetter with Error saying why.
//
// Body is what the event log keeps: the body as received, minus the private_metadata of
// data and of a user or organization embedded in it unless opt.KeepPrivateMetadata.
// When there is nothing to cut, Body is body itself; the object's Raw and metadata are
// sub-slices of Body (or of a copy, for the kinds decoded with encoding/json). body
// must not be modified afterwards. A body that is not valid JSON is kept unchanged in
// its dead letter when private metadata is kept; otherwise it is repaired, blanked or
// dropped, as the dead letter's Error says (see unwalkable).
func ChangeFromEvent(svixID string, body []byte, opt Options) clerksync.Change {
	c := clerksync.Change{Source: clerksync.SourceWebhook, EventID: svixID, Body: body}
	keep := opt.KeepPrivateMetadata
	var u user
	var buf [2]span
	e, cuts, err := scanEnvelope(body, &u, keep, buf[:0])
	c.EventType = eventType(e.typ)
	c.EventTime = e.timestamp
	if err != nil {
		return deadLetter(c, e, opt, err)
	}
	d := dec{b: body, i: e.data.start}
	switch {
	case isUpsert(c.EventType):
		if !e.userDone {
			// A type that is not an upsert came before data, and this one after it.
			cuts, e.userErr = d.user(&u, keep, cuts[:0])
		}
		if e.userErr != nil {
			return deadLetter(c, e, opt, within(e.userErr, "data"))
		}
		c.Body = cutSpansIf(body, cuts)
		p := new(clerksync.Profile)
		u.fill(p, c.Body, cuts)
		p.SyncSource = clerksync.SourceWebhook
		c.Op, c.Kind, c.ID, c.UserID, c.Object = clerksync.OpUpsert, clerksync.KindUser, p.UserID, p.UserID, p
	default:
		o, cuts, err := d.data(!keep, nil)
		if err != nil {
			// Not expected: scanEnvelope has walked data already.
			return deadLetter(c, e, opt, within(err, "data"))
		}
		c.Body = cutSpansIf(body, cuts)
		data := c.Body[remap(cuts, e.data.start):remap(cuts, e.data.end)]
		if err := otherEvent(&c, o, data, opt); err != nil {
			c.Body = body
			return deadLetter(c, e, opt, within(err, "data"))
		}
	}
	return c
}

// otherEvent sets c from the data of an event that is not a user upsert.
func otherEvent(c *clerksync.Change, o dataInfo, data []byte, opt Options) error {
	deleted := func(k clerksync.Kind) error {
		if len(o.id) == 0 {
			return &DecodeError{Path: "id", Offset: -1, Reason: "missing or not a string"}
		}
		c.Op, c.Kind, c.ID = clerksync.OpDelete, k, string(o.id)
		return nil
	}
	typ := c.EventType
	var obj clerksync.Object
	var err error
	switch {
	case typ == "user.deleted":
		if err := deleted(clerksync.KindUser); err != nil {
			return err
		}
		c.UserID = c.ID
		return nil
	case typ == "organization.deleted":
		return deleted(clerksync.KindOrganization)
	case typ == "role.deleted":
		return deleted(clerksync.KindRole)
	case typ == "permission.deleted":
		return deleted(clerksync.KindPermission)
	case strings.HasPrefix(typ, "organization."):
		obj, err = DecodeOrganization(data, opt)
	case strings.HasPrefix(typ, "organizationMembership."):
		obj, err = DecodeMembership(data, opt)
	case strings.HasPrefix(typ, "organizationInvitation."):
		obj, err = DecodeInvitation(data, opt)
	case strings.HasPrefix(typ, "role."):
		obj, err = DecodeRole(data)
	case strings.HasPrefix(typ, "permission."):
		obj, err = DecodePermission(data)
	case strings.HasPrefix(typ, "session."):
		var sess struct {
			User json.RawMessage `json:"user"`
		}
		if err := unmarshal(data, &sess); err != nil {
			return err
		}
		if len(sess.User) == 0 || string(sess.User) == "null" {
			ignore(c, o)
			return nil
		}
		if obj, err = DecodeUser(sess.User, opt); err != nil {
			err = within(err, "user")
		}
	default:
		ignore(c, o)
		return nil
	}
	if err != nil {
		return err
	}
	u := clerksync.Upsert(obj, clerksync.SourceWebhook)
	c.Op, c.Kind, c.ID, c.UserID, c.Object = u.Op, u.Kind, u.ID, u.UserID, u.Object
	if typ == "organizationMembership.deleted" {
		c.Op = clerksync.OpDelete
	}
	return nil
}

// ignore makes c an OpIgnore about the object the event's data names, if any.
func ignore(c *clerksync.Change, o dataInfo) {
	c.Op = clerksync.OpIgnore
	c.UserID = string(o.user(false))
	switch {
	case c.UserID != "":
		c.Kind, c.ID = clerksync.KindUser, c.UserID
	case len(o.orgID) > 0:
		c.Kind, c.ID = clerksync.KindOrganization, string(o.orgID)
	}
}

// kindOfType returns the kind of object events of type typ are about, 0 for none.
func kindOfType(typ string) clerksync.Kind {
	prefix := typ
	if i := strings.IndexByte(typ, '.'); i >= 0 {
		prefix = typ[:i]
	}
	switch prefix {
	case "user":
		return clerksync.KindUser
	case "organization":
		return clerksync.KindOrganization
	case "organizationMembership":
		return clerksync.KindMembership
	case "organizationInvitation":
		return clerksync.KindInvitation
	case "role":
		return clerksync.KindRole
	case "permission":
		return clerksync.KindPermission
	}
	return 0
}

// deadLetter returns c as a dead letter for err, with the object it names and the
// private metadata cut when the body is valid JSON with a data object.
func deadLetter(c clerksync.Change, e envelope, opt Options, err error) clerksync.Change {
	c.Op = clerksync.OpDeadLetter
	c.Error = err.Error()
	c.Object = nil
	c.Kind, c.ID, c.UserID = 0, "", ""
	if !e.walked {
		c, e = unwalkable(c, opt)
	}
	if !e.walked || !e.hasData {
		return c
	}
	d := dec{b: c.Body, i: e.data.start}
	o, cuts, werr := d.data(!opt.KeepPrivateMetadata, nil)
	if werr != nil {
		return c
	}
	c.UserID = string(o.user(strings.HasPrefix(c.EventType, "user.")))
	c.Body = cutSpansIf(c.Body, cuts)
	if k := kindOfType(c.EventType); k != 0 && len(o.id) > 0 {
		c.Kind, c.ID = k, string(o.id)
	} else if c.UserID != "" {
		c.Kind, c.ID = clerksync.KindUser, c.UserID
	}
	return c
}

// dataInfo is what the lenient walk of an event's data object found.
type dataInfo struct {
	id, userID, kind, orgID []byte // id, user_id, object and organization_id
}

// user returns the id of the user the data is about: id when the data is a user (or
// isUser says it must be one), user_id otherwise.
func (o dataInfo) user(isUser bool) []byte {
	if isUser || string(o.kind) == "user" {
		return o.id
	}
	return o.userID
}

// data walks the data object of an event at the current offset. It is lenient: id,
// user_id and object are read only when they are strings, anything else is skipped.
// When cut, it appends to cuts the spans that remove the top-level private_metadata
// and that of a user or organization object embedded in data (as session and
// membership events carry).
func (d *dec) data(cut bool, cuts []span) (dataInfo, []span, error) {
	var o dataInfo
	if _, err := d.open(false); err != nil {
		return o, cuts, err
	}
	var c cutter
	for n := 0; ; n++ {
		key, more, err := d.member(n)
		if err != nil {
			return o, cuts, err
		}
		if !more {
			break
		}
		cuts = c.next(d.keyAt, d.comma, cuts)
		var dst *[]byte
		switch string(key) {
		case "id":
			dst = &o.id
		case "user_id":
			dst = &o.userID
		case "object":
			dst = &o.kind
		case "organization_id":
			dst = &o.orgID
		}
		switch {
		case dst != nil && d.next() == '"':
			*dst, err = d.strVal()
		case cut && (string(key) == "user" || string(key) == "organization") && d.next() == '{':
			cuts, err = d.cutMembers("private_metadata", cuts)
		default:
			err = d.skip(1)
		}
		if err != nil {
			return o, cuts, within(err, string(key))
		}
		cuts = c.done(d.i, cut && string(key) == "private_metadata", cuts)
	}
	return o, c.close(cuts), nil
}
