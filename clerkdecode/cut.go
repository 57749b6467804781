package clerkdecode

// CutKey returns the JSON object obj without its top-level member named key, cut out
// of the bytes: everything else, white space included, is kept as it was. It returns
// obj itself, not a copy, when the object has no such member, and removes every
// occurrence when the key is repeated. Keys are compared after resolving escapes, as
// any JSON decoder would ("private\u005fmetadata" is private_metadata). It returns a
// *DecodeError when obj is not a valid JSON object.
func CutKey(obj []byte, key string) ([]byte, error) {
	d := dec{b: obj}
	cuts, err := d.cutMembers(key, nil)
	if err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	if len(cuts) == 0 {
		return obj, nil
	}
	return cutSpans(obj, cuts), nil
}

// cutMembers walks the object at the current offset and appends to cuts the spans that
// remove its top-level members named key.
func (d *dec) cutMembers(key string, cuts []span) ([]span, error) {
	if _, err := d.open(false); err != nil {
		return cuts, err
	}
	var c cutter
	for n := 0; ; n++ {
		k, more, err := d.member(n)
		if err != nil {
			return cuts, err
		}
		if !more {
			break
		}
		cuts = c.next(d.keyAt, d.comma, cuts)
		if err := d.skip(1); err != nil {
			return cuts, within(err, string(k))
		}
		cuts = c.done(d.i, string(k) == key, cuts)
	}
	return c.close(cuts), nil
}

// cutter works out the spans that remove some members of an object while it is
// walked, so that what is left is still valid JSON: a removed member takes the comma
// before it when a kept member precedes it, and the comma after it otherwise.
//
// For each member, call next as soon as its key is read and done once its value is;
// call close after the closing brace. The spans come out in order and do not overlap.
type cutter struct {
	kept         bool // a kept member was seen
	keyAt, comma int  // of the current member
	pending      bool // a removed member waits for the comma after it
	pendingSpan  span
}

func (c *cutter) next(keyAt, comma int, cuts []span) []span {
	if c.pending {
		cuts = append(cuts, span{c.pendingSpan.start, comma + 1})
		c.pending = false
	}
	c.keyAt, c.comma = keyAt, comma
	return cuts
}

func (c *cutter) done(valueEnd int, remove bool, cuts []span) []span {
	switch {
	case !remove:
		c.kept = true
	case c.kept:
		cuts = append(cuts, span{c.comma, valueEnd})
	default:
		c.pending = true
		c.pendingSpan = span{c.keyAt, valueEnd}
	}
	return cuts
}

func (c *cutter) close(cuts []span) []span {
	if c.pending {
		cuts = append(cuts, c.pendingSpan)
		c.pending = false
	}
	return cuts
}

// cutSpans returns a copy of b without the ordered, disjoint spans cuts.
func cutSpans(b []byte, cuts []span) []byte {
	n := len(b)
	for _, c := range cuts {
		n -= c.end - c.start
	}
	out := make([]byte, 0, n)
	prev := 0
	for _, c := range cuts {
		out = append(out, b[prev:c.start]...)
		prev = c.end
	}
	return append(out, b[prev:]...)
}

// remap returns where the offset pos of b lies in cutSpans(b, cuts); pos must not lie
// inside a cut.
func remap(cuts []span, pos int) int {
	shift := 0
	for _, c := range cuts {
		if c.end > pos {
			break
		}
		shift += c.end - c.start
	}
	return pos - shift
}
