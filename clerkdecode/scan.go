package clerkdecode

import (
	"encoding/binary"
	"math"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoders in this package walk the payload once with a small validating scanner
// instead of encoding/json: they read the dozen members a profile needs, skip the rest
// without building anything, and keep byte offsets so that the stored copies of the
// payload are sub-slices of it. On a 3 KB user.updated, json.Unmarshal into the same
// few fields is several times slower and allocates 26 times where ChangeFromEvent
// allocates 3; json.Valid alone is slower than the whole of ChangeFromEvent
// (BenchmarkBaseline measures both on the machine at hand).
//
// The scanner accepts exactly RFC 8259 JSON in UTF-8: it is as strict as
// encoding/json's json.Valid, and stricter in one way, as it also rejects invalid UTF-8
// (which json.Valid lets through and PostgreSQL would refuse later).

// maxDepth bounds the nesting of arrays and objects, as encoding/json does: a safety
// net for the parser, under PostgreSQL's own limit (its parser takes 10,000 levels
// and gives up before 20,000 with the default max_stack_depth of 2 MB). Metadata has
// a much lower bound of its own, MaxMetadataDepth.
const maxDepth = 10000

// strPlain marks the bytes a string may hold as they are: printable ASCII other than
// the quote and the backslash.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// needsLook reports whether one of the eight bytes of x may be a quote, a backslash, a
// control character or part of a multi-byte UTF-8 sequence. It may report true for
// none of them (after one such byte), never false for one.
func needsLook(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs|x)&highs != 0
}

// span is a range of byte offsets, start inclusive, end exclusive.
type span struct{ start, end int }

// dec is a position in a JSON document being walked.
type dec struct {
	b []byte
	i int

	// keyAt and comma are set by member: the offset of the member's key (its opening
	// quote) and of the comma before it (-1 for the first member).
	keyAt, comma int
	// deepest is the largest depth at which skip opened an array or object; callers
	// that need it reset it first.
	deepest int
	// nuls are the offsets of the \u0000 escapes str has scanned (see nulReplacement).
	nuls []int
}

// syntax returns an error for malformed JSON at the current offset.
func (d *dec) syntax(reason string) *DecodeError {
	return &DecodeError{Offset: d.i, Reason: "invalid JSON: " + reason}
}

// unexpected returns the error for the byte at the current offset, which cannot start
// or continue anything here.
func (d *dec) unexpected() *DecodeError {
	if d.i >= len(d.b) {
		return d.syntax("unexpected end of input")
	}
	return d.syntax("unexpected character")
}

// typeErr returns the error for a value of the wrong type at the current offset.
func (d *dec) typeErr(want string) *DecodeError {
	got := ""
	if d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			got = "a string"
		case c == '{':
			got = "an object"
		case c == '[':
			got = "an array"
		case c == 't' || c == 'f':
			got = "a boolean"
		case c == 'n':
			got = "null"
		case c == '-' || (c >= '0' && c <= '9'):
			got = "a number"
		}
	}
	if got == "" {
		return d.unexpected()
	}
	return &DecodeError{Offset: d.i, Reason: "want " + want + ", got " + got}
}

// ws skips white space.
func (d *dec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and returns the byte at the current offset, 0 at the end.
func (d *dec) next() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// end checks that nothing but white space follows the top-level value.
func (d *dec) end() error {
	d.ws()
	if d.i != len(d.b) {
		return d.syntax("unexpected data after the top-level value")
	}
	return nil
}

// str scans the string whose opening quote is at the current offset and returns the
// bytes between the quotes, still escaped, and whether they hold escapes.
func (d *dec) str() ([]byte, bool, error) {
	b := d.b
	i := d.i + 1
	start := i
	esc := false
	for {
		// Eight bytes at a time while none of them needs a closer look, then one by one.
		for i+8 <= len(b) && !needsLook(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			d.i = i
			return nil, false, d.syntax("unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return b[start:i], esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				d.i = i + 1
				return nil, false, d.syntax("unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					d.i = len(b)
					return nil, false, d.syntax("unterminated string")
				}
				for _, h := range b[i+2 : i+6] {
					if unhex(h) < 0 {
						d.i = i
						return nil, false, d.syntax("invalid \\u escape in string")
					}
				}
				if string(b[i+2:i+6]) == "0000" {
					d.nuls = append(d.nuls, i)
				}
				i += 6
			default:
				d.i = i
				return nil, false, d.syntax("invalid escape in string")
			}
		case c < 0x20:
			d.i = i
			return nil, false, d.syntax("control character in string")
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				d.i = i
				return nil, false, d.syntax("invalid UTF-8 in string")
			}
			i += size
		}
	}
}

// unhex returns the value of the hexadecimal digit c, or -1.
func unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// unquote returns the text of the string s, whose escapes str has checked. Unpaired
// UTF-16 surrogates become U+FFFD, as with encoding/json.
func unquote(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(s[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := unicode.ReplacementChar
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2 = hex4(s[i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
					r = dec
					i += 6
				} else {
					r = unicode.ReplacementChar
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, s[i+1])
		}
		i += 2
	}
	return out
}

// hex4 returns the value of the four hexadecimal digits that start s.
func hex4(s []byte) rune {
	return unhex(s[0])<<12 | unhex(s[1])<<8 | unhex(s[2])<<4 | unhex(s[3])
}

// text returns the text of the string s as scanned by str.
func text(s []byte, esc bool) []byte {
	if esc {
		return unquote(s)
	}
	return s
}

// num scans the number at the current offset.
func (d *dec) num() error {
	b, i := d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		d.i = i
		return d.syntax("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.i = i
			return d.syntax("invalid number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.i = i
			return d.syntax("invalid number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return nil
}

// lit scans the literal word (true, false or null) at the current offset.
func (d *dec) lit(word string) error {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return d.syntax("invalid literal")
	}
	d.i += len(word)
	return nil
}

// skip scans the value that starts at the next non-space byte; depth is the nesting of
// the container holding it.
func (d *dec) skip(depth int) error {
	switch c := d.next(); c {
	case '"':
		_, _, err := d.str()
		return err
	case '{':
		if depth >= maxDepth {
			return d.syntax("nested too deeply")
		}
		d.deepest = max(d.deepest, depth)
		d.i++
		if d.next() == '}' {
			d.i++
			return nil
		}
		for {
			if d.next() != '"' {
				return d.unexpected()
			}
			if _, _, err := d.str(); err != nil {
				return err
			}
			if d.next() != ':' {
				return d.unexpected()
			}
			d.i++
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			switch d.next() {
			case ',':
				d.i++
			case '}':
				d.i++
				return nil
			default:
				return d.unexpected()
			}
		}
	case '[':
		if depth >= maxDepth {
			return d.syntax("nested too deeply")
		}
		d.deepest = max(d.deepest, depth)
		d.i++
		if d.next() == ']' {
			d.i++
			return nil
		}
		for {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			switch d.next() {
			case ',':
				d.i++
			case ']':
				d.i++
				return nil
			default:
				return d.unexpected()
			}
		}
	case 't':
		return d.lit("true")
	case 'f':
		return d.lit("false")
	case 'n':
		return d.lit("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.num()
		}
		return d.unexpected()
	}
}

// open consumes the opening brace of an object. It returns null = true, having
// consumed it, when the value is null and nullOK; any other value is a type error.
func (d *dec) open(nullOK bool) (null bool, err error) {
	switch d.next() {
	case '{':
		d.i++
		return false, nil
	case 'n':
		if nullOK {
			return true, d.lit("null")
		}
	}
	return false, d.typeErr("an object")
}

// member reads the key of the n-th member (from 0) of the object whose opening brace
// open consumed, and the colon after it, leaving the offset at the value. It returns
// more = false, having consumed the closing brace, when the object has no n-th member.
// The key is returned with its escapes resolved; keyAt and comma are set.
func (d *dec) member(n int) (key []byte, more bool, err error) {
	d.comma = -1
	c := d.next()
	if n > 0 {
		switch c {
		case ',':
			d.comma = d.i
			d.i++
			c = d.next()
		case '}':
			d.i++
			return nil, false, nil
		default:
			return nil, false, d.unexpected()
		}
	} else if c == '}' {
		d.i++
		return nil, false, nil
	}
	if c != '"' {
		return nil, false, d.unexpected()
	}
	d.keyAt = d.i
	k, esc, err := d.str()
	if err != nil {
		return nil, false, err
	}
	if d.next() != ':' {
		return nil, false, d.unexpected()
	}
	d.i++
	return text(k, esc), true, nil
}

// openArray consumes the opening bracket of an array, or a null (null = true).
func (d *dec) openArray() (null bool, err error) {
	switch d.next() {
	case '[':
		d.i++
		return false, nil
	case 'n':
		return true, d.lit("null")
	}
	return false, d.typeErr("an array")
}

// elem moves to the n-th element (from 0) of the array whose opening bracket
// openArray consumed. It returns more = false, having consumed the closing bracket,
// when the array has no n-th element.
func (d *dec) elem(n int) (more bool, err error) {
	c := d.next()
	if n == 0 {
		if c == ']' {
			d.i++
			return false, nil
		}
		return true, nil
	}
	switch c {
	case ',':
		d.i++
		return true, nil
	case ']':
		d.i++
		return false, nil
	}
	return false, d.unexpected()
}

// strVal reads a string or null (nil) and returns its text.
func (d *dec) strVal() ([]byte, error) {
	switch d.next() {
	case '"':
		s, esc, err := d.str()
		if err != nil {
			return nil, err
		}
		return text(s, esc), nil
	case 'n':
		return nil, d.lit("null")
	}
	return nil, d.typeErr("a string")
}

// boolVal reads a boolean or null (false).
func (d *dec) boolVal() (bool, error) {
	switch d.next() {
	case 't':
		return true, d.lit("true")
	case 'f':
		return false, d.lit("false")
	case 'n':
		return false, d.lit("null")
	}
	return false, d.typeErr("a boolean")
}

// intVal reads a non-negative integer (such as a timestamp) or null (0).
func (d *dec) intVal() (int64, error) {
	switch c := d.next(); {
	case c == 'n':
		return 0, d.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.i
		if err := d.num(); err != nil {
			return 0, err
		}
		var v int64
		for _, c := range d.b[start:d.i] {
			if c < '0' || c > '9' {
				return 0, &DecodeError{Offset: start, Reason: "want a non-negative integer"}
			}
			if v > (math.MaxInt64-int64(c-'0'))/10 {
				return 0, &DecodeError{Offset: start, Reason: "integer out of range"}
			}
			v = v*10 + int64(c-'0')
		}
		return v, nil
	}
	return 0, d.typeErr("a number")
}

// raw scans any value and returns its span; null is reported as such.
func (d *dec) raw(depth int) (s span, null bool, err error) {
	c := d.next()
	s.start = d.i
	if c == 'n' {
		err = d.lit("null")
		s.end = d.i
		return s, true, err
	}
	err = d.skip(depth)
	s.end = d.i
	return s, false, err
}
