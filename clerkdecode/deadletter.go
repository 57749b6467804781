package clerkdecode

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/clerksync/clerksync"
)

// What the event log keeps of a dead letter whose body is not valid JSON.
//
// A dead letter keeps its body for `events replay` and `events show`, but private
// metadata is kept only when the operator opted in, whatever shape the body is in. A
// body that is not JSON cannot be walked to cut private_metadata out as a valid one
// is, so, unless private metadata is kept:
//
//  1. invalid UTF-8 (the likeliest fault: a byte such as \xff in a name) is replaced
//     by U+FFFD; when that makes the body valid JSON, it is kept so, and its private
//     metadata is cut as in any body;
//  2. otherwise the value of every member named private_metadata is replaced by {},
//     found by a scan that tolerates what is wrong with the body;
//  3. when that scan cannot be sure (a private_metadata value it cannot delimit, or the
//     words private_metadata somewhere else than as a member's name), no body is kept.
//
// The dead letter's error says which of these happened.

// repairedNote, blankedNote and droppedNote end the error of a dead letter whose body
// was changed before it was kept.
const (
	repairedNote = "; kept with invalid UTF-8 replaced by U+FFFD and without private_metadata"
	blankedNote  = "; kept with the values of private_metadata replaced by {}"
	droppedNote  = "; body not kept: it is not JSON and its private_metadata cannot be told apart"
)

// unwalkable returns the dead letter c, whose body is not valid JSON, with the body
// the event log may keep, and the envelope of that body when it is valid JSON now (its
// private metadata is then still to be cut, as for any valid body).
func unwalkable(c clerksync.Change, opt Options) (clerksync.Change, envelope) {
	if opt.KeepPrivateMetadata || len(c.Body) == 0 {
		return c, envelope{}
	}
	if !utf8.Valid(c.Body) {
		fixed := bytes.ToValidUTF8(c.Body, []byte("\uFFFD"))
		if e, _, _ := scanEnvelope(fixed, nil, false, nil); e.walked {
			c.Body = fixed
			c.Error += repairedNote
			return c, e
		}
	}
	blanked, n, ok := blankPrivateMetadata(c.Body)
	switch {
	case !ok:
		c.Body = nil
		c.Error += droppedNote
	case n > 0:
		c.Body = blanked
		c.Error += blankedNote
	}
	return c, envelope{}
}

// privateKey is the member whose values blankPrivateMetadata replaces.
const privateKey = "private_metadata"

// blankPrivateMetadata returns b, which need not be valid JSON, with the value of every
// member named private_metadata replaced by {}, and how many it replaced. It reports
// ok = false when it cannot be sure to have found them all: a value it cannot delimit,
// or the words private_metadata elsewhere than as the name of a member it replaced.
func blankPrivateMetadata(b []byte) (out []byte, n int, ok bool) {
	var values []span
	for i := 0; i < len(b); {
		if b[i] != '"' {
			i++
			continue
		}
		end, closed := looseString(b, i)
		if !closed {
			break // the rest of b is inside a string that never ends
		}
		j := skipSpace(b, end)
		if j >= len(b) || b[j] != ':' || !isKey(b[i:end], privateKey) {
			i = end
			continue
		}
		v := skipSpace(b, j+1)
		vend, ok := looseValue(b, v)
		if !ok {
			return nil, 0, false
		}
		values = append(values, span{v, vend})
		i = vend
	}
	out = b
	if len(values) > 0 {
		out = make([]byte, 0, len(b))
		prev := 0
		for _, s := range values {
			out = append(out, b[prev:s.start]...)
			out = append(out, "{}"...)
			prev = s.end
		}
		out = append(out, b[prev:]...)
	}
	// Each name of a blanked member is left; any other mention (a value, a name the
	// scan misread) may be private metadata the scan did not see.
	if bytes.Count(out, []byte(privateKey)) != len(values) {
		return nil, 0, false
	}
	return out, len(values), true
}

// looseString returns the offset just past the string whose opening quote is at
// b[i], and whether it is closed, whatever the bytes inside it.
func looseString(b []byte, i int) (end int, closed bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return len(b), false
}

// looseValue returns the offset just past the value that starts at b[i]: a string, an
// object or an array with its brackets matched (strings inside skipped), or a scalar
// up to the next delimiter. It reports false when the value does not end.
func looseValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return looseString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, closed := looseString(b, j)
				if !closed {
					return len(b), false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, true
				}
			}
		}
		return len(b), false
	}
	j := i
	for j < len(b) && strings.IndexByte(",}] \t\r\n", b[j]) < 0 {
		j++
	}
	return j, j > i && j < len(b)
}

// skipSpace returns the offset of the first byte at or after i that is not JSON white
// space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// isKey reports whether the quoted string q is name, escapes resolved when they are
// valid.
func isKey(q []byte, name string) bool {
	raw := q[1 : len(q)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	d := dec{b: q}
	s, esc, err := d.str()
	return err == nil && string(text(s, esc)) == name
}
