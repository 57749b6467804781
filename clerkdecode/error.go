package clerkdecode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DecodeError reports a Clerk payload that cannot be decoded: it is not JSON, it does
// not have the expected shape, or it lacks a member a change needs (such as a user's
// updated_at). It names members and byte offsets but never holds payload values, so it
// is safe to log and to keep in the event log.
type DecodeError struct {
	// Path names the member at fault, such as "data.updated_at" or
	// "data.email_addresses[1].verification"; empty when the payload as a whole is at fault.
	Path string
	// Offset is the byte offset in the decoded input where decoding stopped, or -1 when
	// the error is about a member that is missing.
	Offset int
	// Reason says what is wrong, such as "missing" or "want a string, got a number".
	Reason string
}

// Error returns the path, the reason and, when known, the offset.
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("clerk payload: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Offset >= 0 {
		b.WriteString(" at offset ")
		b.WriteString(strconv.Itoa(e.Offset))
	}
	return b.String()
}

// missing returns the error for a required member that is absent.
func missing(path string) *DecodeError {
	return &DecodeError{Path: path, Offset: -1, Reason: "missing"}
}

// within returns err with name prepended to its path: the error happened inside the
// member (or array element, when name starts with '[') called name.
func within(err error, name string) error {
	var e *DecodeError
	if !errors.As(err, &e) {
		return fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case e.Path == "":
		e.Path = name
	case e.Path[0] == '[':
		e.Path = name + e.Path
	default:
		e.Path = name + "." + e.Path
	}
	return e
}

// index returns the path element of the i-th element of an array.
func index(i int) string {
	return "[" + strconv.Itoa(i) + "]"
}
