package clerksync

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonEqual reports whether a and b, two well-formed JSON documents, hold the same
// value: objects equal whatever the order of their members (the last of a repeated
// name counts, as encoding/json has it), numbers equal as float64s, strings equal once
// unescaped. It is what json.Unmarshal into any and reflect.DeepEqual say, without
// building either value: PostgreSQL gives back a jsonb column with its members
// reordered and spaced, so every update compares its metadata this way. It reports
// false for a document it cannot read.
func jsonEqual(a, b []byte) bool {
	if len(a) > maxQuickJSON || len(b) > maxQuickJSON {
		var u, v any
		if json.Unmarshal(a, &u) != nil || json.Unmarshal(b, &v) != nil {
			return false
		}
		return reflect.DeepEqual(u, v)
	}
	ra, rb := jsonReader{b: a}, jsonReader{b: b}
	va, ok1 := ra.value()
	vb, ok2 := rb.value()
	if !ok1 || !ok2 || ra.skipSpace() != len(a) || rb.skipSpace() != len(b) {
		return false
	}
	return valueEqual(a, va, b, vb)
}

// maxQuickJSON is the longest document jsonEqual compares in place: it matches the
// members of objects pairwise, which grows with the square of their number, so longer
// ones (metadata is usually a few hundred bytes) are decoded and compared whole.
const maxQuickJSON = 4096

// jsonSpan is a value of a document: where it starts and ends.
type jsonSpan struct{ start, end int }

// jsonReader reads values off a document.
type jsonReader struct {
	b   []byte
	pos int
}

func (r *jsonReader) skipSpace() int {
	for r.pos < len(r.b) {
		switch r.b[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return r.pos
		}
	}
	return r.pos
}

// value reads one value and returns its span.
func (r *jsonReader) value() (jsonSpan, bool) {
	start := r.skipSpace()
	if start >= len(r.b) {
		return jsonSpan{}, false
	}
	switch c := r.b[start]; c {
	case '{', '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		r.pos++
		if r.skipSpace() < len(r.b) && r.b[r.pos] == close {
			r.pos++
			return jsonSpan{start, r.pos}, true
		}
		for {
			if c == '{' {
				if _, ok := r.str(); !ok || r.skipSpace() >= len(r.b) || r.b[r.pos] != ':' {
					return jsonSpan{}, false
				}
				r.pos++
			}
			if _, ok := r.value(); !ok || r.skipSpace() >= len(r.b) {
				return jsonSpan{}, false
			}
			switch r.b[r.pos] {
			case ',':
				r.pos++
			case close:
				r.pos++
				return jsonSpan{start, r.pos}, true
			default:
				return jsonSpan{}, false
			}
		}
	case '"':
		return r.str()
	default:
		for r.pos < len(r.b) {
			switch r.b[r.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return jsonSpan{start, r.pos}, r.pos > start
			}
			r.pos++
		}
		return jsonSpan{start, r.pos}, true
	}
}

// str reads a string and returns its span, quotes included.
func (r *jsonReader) str() (jsonSpan, bool) {
	start := r.skipSpace()
	if start >= len(r.b) || r.b[start] != '"' {
		return jsonSpan{}, false
	}
	for i := start + 1; i < len(r.b); i++ {
		switch r.b[i] {
		case '\\':
			i++
		case '"':
			r.pos = i + 1
			return jsonSpan{start, r.pos}, true
		}
	}
	return jsonSpan{}, false
}

// valueEqual compares the value of a at x with the value of b at y.
func valueEqual(a []byte, x jsonSpan, b []byte, y jsonSpan) bool {
	ca, cb := a[x.start], b[y.start]
	switch {
	case ca == '{' && cb == '{':
		return objectEqual(a, x, b, y)
	case ca == '[' && cb == '[':
		ra, rb := jsonReader{b: a[:x.end], pos: x.start + 1}, jsonReader{b: b[:y.end], pos: y.start + 1}
		for {
			ea, enda := ra.element()
			eb, endb := rb.element()
			if enda || endb {
				return enda == endb
			}
			if !valueEqual(a, ea, b, eb) {
				return false
			}
		}
	case ca == '"' && cb == '"':
		return stringEqual(a[x.start:x.end], b[y.start:y.end])
	case ca == '{' || ca == '[' || ca == '"' || cb == '{' || cb == '[' || cb == '"':
		return false
	}
	// Literals and numbers. A number out of float64's range is not one encoding/json
	// reads, even equal to itself.
	la, lb := a[x.start:x.end], b[y.start:y.end]
	if isLiteral(la) || isLiteral(lb) {
		return bytes.Equal(la, lb)
	}
	fa, err1 := strconv.ParseFloat(string(la), 64)
	fb, err2 := strconv.ParseFloat(string(lb), 64)
	return err1 == nil && err2 == nil && fa == fb
}

func isLiteral(b []byte) bool {
	return string(b) == "true" || string(b) == "false" || string(b) == "null"
}

// element reads the next element of an array being read, or reports its end.
func (r *jsonReader) element() (jsonSpan, bool) {
	if r.skipSpace() < len(r.b) && r.b[r.pos] == ',' {
		r.pos++
	}
	if r.skipSpace() >= len(r.b) || r.b[r.pos] == ']' {
		return jsonSpan{}, true
	}
	v, ok := r.value()
	return v, !ok
}

// member reads the next member of an object being read, or reports its end.
func (r *jsonReader) member() (name, value jsonSpan, end bool) {
	if r.skipSpace() < len(r.b) && r.b[r.pos] == ',' {
		r.pos++
	}
	if r.skipSpace() >= len(r.b) || r.b[r.pos] == '}' {
		return name, value, true
	}
	name, ok := r.str()
	if !ok || r.skipSpace() >= len(r.b) || r.b[r.pos] != ':' {
		return name, value, true
	}
	r.pos++
	value, ok = r.value()
	return name, value, !ok
}

// objectEqual compares two objects member by member: each member of x (its last
// occurrence) must be in y with an equal value, and both must have as many distinct
// names.
func objectEqual(a []byte, x jsonSpan, b []byte, y jsonSpan) bool {
	na, ok := objectMembers(a, x, b, y)
	if !ok {
		return false
	}
	nb, ok := objectMembers(b, y, nil, jsonSpan{})
	return ok && na == nb
}

// objectMembers counts the distinct names of the object of a at x and, when b is not
// nil, checks that the object of b at y holds each with an equal value.
func objectMembers(a []byte, x jsonSpan, b []byte, y jsonSpan) (int, bool) {
	n := 0
	r := jsonReader{b: a[:x.end], pos: x.start + 1}
	for {
		name, value, end := r.member()
		if end {
			return n, true
		}
		if lastMember(a, x, name, r.pos) {
			n++
			if b != nil {
				other, ok := lookup(b, y, a[name.start:name.end])
				if !ok || !valueEqual(a, value, b, other) {
					return n, false
				}
			}
		}
	}
}

// lastMember reports whether the member named at name, read up to pos, is the last of
// that name in the object of a at x.
func lastMember(a []byte, x jsonSpan, name jsonSpan, pos int) bool {
	r := jsonReader{b: a[:x.end], pos: pos}
	for {
		other, _, end := r.member()
		if end {
			return true
		}
		if stringEqual(a[name.start:name.end], a[other.start:other.end]) {
			return false
		}
	}
}

// lookup returns the value of the last member of the object of b at y whose name
// equals name (quoted).
func lookup(b []byte, y jsonSpan, name []byte) (jsonSpan, bool) {
	var found jsonSpan
	ok := false
	r := jsonReader{b: b[:y.end], pos: y.start + 1}
	for {
		n, v, end := r.member()
		if end {
			return found, ok
		}
		if stringEqual(name, b[n.start:n.end]) {
			found, ok = v, true
		}
	}
}

// stringEqual compares two quoted JSON strings once unescaped.
func stringEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	i, j := 1, 1
	for {
		ra, ni, oka := nextRune(a, i)
		rb, nj, okb := nextRune(b, j)
		if !oka || !okb {
			return !oka && !okb && i == len(a)-1 && j == len(b)-1
		}
		if ra != rb {
			return false
		}
		i, j = ni, nj
	}
}

// nextRune decodes the rune of the quoted string s at i, reporting false at its
// closing quote. Invalid UTF-8 and lone surrogates read as U+FFFD, as encoding/json
// reads them.
func nextRune(s []byte, i int) (rune, int, bool) {
	if i >= len(s)-1 {
		return 0, i, false
	}
	if s[i] != '\\' {
		r, size := utf8.DecodeRune(s[i : len(s)-1])
		return r, i + size, true
	}
	if i+1 >= len(s)-1 {
		return utf8.RuneError, len(s) - 1, true
	}
	switch c := s[i+1]; c {
	case 'b':
		return '\b', i + 2, true
	case 'f':
		return '\f', i + 2, true
	case 'n':
		return '\n', i + 2, true
	case 'r':
		return '\r', i + 2, true
	case 't':
		return '\t', i + 2, true
	case 'u':
		r, n := hex4(s, i+2)
		if n < 0 {
			return utf8.RuneError, len(s) - 1, true
		}
		if utf16.IsSurrogate(r) {
			if r2, n2 := hex4(s, n+2); n2 >= 0 && n+1 < len(s) && s[n] == '\\' && s[n+1] == 'u' {
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					return dec, n2, true
				}
			}
			return utf8.RuneError, n, true
		}
		return r, n, true
	default:
		return rune(c), i + 2, true
	}
}

// hex4 reads four hex digits at i; it returns the index after them, or -1.
func hex4(s []byte, i int) (rune, int) {
	if i+4 > len(s) {
		return 0, -1
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, -1
		}
	}
	return r, i + 4
}
