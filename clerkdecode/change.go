package clerkdecode

import (
	"strings"

	"github.com/clerksync/clerksync"
)

// ChangeFromEvent turns the body of an authentic webhook delivery, whose svix-id is
// svixID, into the Change to apply. It never fails: user.created and user.updated
// become OpUpsertUser with the decoded Profile, user.deleted becomes OpDeleteUser, any
// other type becomes OpIgnore (with the user id of the data when it has an obvious one:
// user_id, or id when the object is a user), and a body that cannot be used becomes
// OpDeadLetter with Error saying why.
//
// Body is what the event log keeps: the body as received, minus data.private_metadata
// (and the private_metadata of a user embedded in data, as session events carry) unless
// opt.KeepPrivateMetadata. When there is nothing to cut, Body is body itself; the
// profile's Raw and metadata are sub-slices of Body. body must not be modified
// afterwards. A body that is not valid JSON is kept unchanged in its dead letter when
// private metadata is kept; otherwise it is repaired, blanked or dropped, as the
// dead letter's Error says (see unwalkable).
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
		c.Op, c.UserID, c.Profile = clerksync.OpUpsertUser, p.UserID, p
	case c.EventType == "user.deleted":
		o, cuts, err := d.data(!keep, nil)
		if err == nil && len(o.id) == 0 {
			err = &DecodeError{Path: "id", Offset: -1, Reason: "missing or not a string"}
		}
		if err != nil {
			return deadLetter(c, e, opt, within(err, "data"))
		}
		c.Op, c.UserID, c.Body = clerksync.OpDeleteUser, string(o.id), cutSpansIf(body, cuts)
	default:
		o, cuts, err := d.data(!keep, nil)
		if err != nil {
			// Not expected: scanEnvelope has walked data already.
			return deadLetter(c, e, opt, within(err, "data"))
		}
		c.Op, c.UserID, c.Body = clerksync.OpIgnore, string(o.user(false)), cutSpansIf(body, cuts)
	}
	return c
}

// deadLetter returns c as a dead letter for err, with the user id and the private
// metadata cut when the body is valid JSON with a data object (see unwalkable for a
// body that is not).
func deadLetter(c clerksync.Change, e envelope, opt Options, err error) clerksync.Change {
	c.Op = clerksync.OpDeadLetter
	c.Error = err.Error()
	c.Profile = nil
	c.UserID = ""
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
	return c
}

// dataInfo is what the lenient walk of an event's data object found.
type dataInfo struct {
	id, userID, kind []byte // id, user_id and object
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
// and that of a user object embedded in data (as session events carry).
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
		}
		switch {
		case dst != nil && d.next() == '"':
			*dst, err = d.strVal()
		case cut && string(key) == "user" && d.next() == '{':
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
