package clerkdecode

// Envelope is the outside of a webhook body: what happened, when, and the object it
// happened to.
type Envelope struct {
	// Type is the event type, such as "user.updated".
	Type string
	// InstanceID is the Clerk instance that sent the event ("" when absent).
	InstanceID string
	// Timestamp is when the event happened, in milliseconds since the Unix epoch (0
	// when absent). Clerk sends seconds or milliseconds; seconds are converted.
	Timestamp int64
	// Data is the event's data object, a sub-slice of the body.
	Data []byte
}

// DecodeEnvelope decodes the envelope of a webhook body. Members other than type,
// instance_id, timestamp and data are ignored. It returns a *DecodeError when body is
// not a JSON object, when type is missing or empty, when data is missing or not an
// object, or when a member it reads has the wrong type.
func DecodeEnvelope(body []byte) (Envelope, error) {
	e, _, err := scanEnvelope(body, nil, false, nil)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{
		Type:       eventType(e.typ),
		InstanceID: string(e.instanceID),
		Timestamp:  e.timestamp,
		Data:       body[e.data.start:e.data.end:e.data.end],
	}, nil
}

// envelope is what scanEnvelope found.
type envelope struct {
	typ, instanceID []byte
	timestamp       int64 // ms
	data            span
	hasData         bool
	// walked says the whole body was walked: it is valid JSON, and data, if found,
	// can be walked again without error.
	walked bool

	// userDone says data was walked as a user, into the user given to scanEnvelope,
	// with userErr the result.
	userDone bool
	userErr  error
}

// secondsBefore is the timestamp below which the envelope's timestamp is taken as
// seconds: 10^12 ms is 2001-09-09, 10^12 s is thirty thousand years away.
const secondsBefore = 1_000_000_000_000

// scanEnvelope walks body. On error it returns what it found before the error.
//
// When u is not nil, data is walked as a user into u, with cuts appended to as d.user
// does, unless a type that is not a user upsert came before it: one pass over the body
// instead of two. Clerk's deliveries put data first, before type, so the walk is a
// guess that the event is about a user; for any other event its result is ignored and
// the caller walks data again.
func scanEnvelope(body []byte, u *user, keep bool, cuts []span) (envelope, []span, error) {
	var e envelope
	d := dec{b: body}
	if _, err := d.open(false); err != nil {
		return e, cuts, err
	}
	base := len(cuts)
	for n := 0; ; n++ {
		key, more, err := d.member(n)
		if err != nil {
			return e, cuts, err
		}
		if !more {
			break
		}
		switch string(key) {
		case "type":
			e.typ, err = d.strVal()
		case "instance_id":
			e.instanceID, err = d.strVal()
		case "timestamp":
			e.timestamp, err = d.intVal()
			if e.timestamp < secondsBefore {
				e.timestamp *= 1000
			}
		case "data":
			e.hasData, e.userDone, e.userErr = false, false, nil
			if d.next() != '{' {
				err = d.typeErr("an object")
				break
			}
			e.data.start = d.i
			if u != nil && (len(e.typ) == 0 || isUpsert(string(e.typ))) {
				cuts, e.userErr = d.user(u, keep, cuts[:base])
				e.userDone = true
				if e.userErr != nil {
					// The user is unusable; whether the body is valid JSON is
					// still to be found out.
					cuts = cuts[:base]
					d.i = e.data.start
					err = d.skip(1)
				}
			} else {
				err = d.skip(1)
			}
			e.data.end = d.i
			e.hasData = err == nil
		default:
			err = d.skip(1)
		}
		if err != nil {
			return e, cuts, within(err, string(key))
		}
	}
	if err := d.end(); err != nil {
		return e, cuts, err
	}
	e.walked = true
	if len(e.typ) == 0 {
		return e, cuts, &DecodeError{Path: "type", Offset: -1, Reason: "missing or empty"}
	}
	if !e.hasData {
		return e, cuts, missing("data")
	}
	return e, cuts, nil
}

// isUpsert reports whether events of type typ carry a user to upsert.
func isUpsert(typ string) bool {
	return typ == "user.created" || typ == "user.updated"
}

// eventType returns the type as a string, without allocating for the types Clerk
// sends most.
func eventType(b []byte) string {
	switch string(b) {
	case "user.created":
		return "user.created"
	case "user.updated":
		return "user.updated"
	case "user.deleted":
		return "user.deleted"
	case "session.created":
		return "session.created"
	case "session.ended":
		return "session.ended"
	case "session.removed":
		return "session.removed"
	case "session.revoked":
		return "session.revoked"
	case "session.pending":
		return "session.pending"
	case "email.created":
		return "email.created"
	case "sms.created":
		return "sms.created"
	}
	return string(b)
}
