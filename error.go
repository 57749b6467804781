package clerksync

import (
	"errors"
	"fmt"
)

// Error codes that callers branch on.
const (
	ENOTFOUND     = "not_found"    // no such user, event or run
	EINVALID      = "invalid"      // bad input: a flag, a setting, a payload
	EUNAVAILABLE  = "unavailable"  // transient: database or Clerk down; retry later
	EOVERLOADED   = "overloaded"   // the write queue is full; retry later
	ECONFIG       = "config"       // the service is not configured for this
	EINTERNAL     = "internal"     // a bug
	EUNAUTHORIZED = "unauthorized" // missing or invalid credentials
)

// Error is an error with a code that callers branch on, a message for the person who
// reads it and, where there is one, a hint that says how to fix it.
type Error struct {
	Code    string
	Message string
	Hint    string
	Err     error // the underlying cause, if any
}

// Error returns the message, the hint and the cause.
func (e *Error) Error() string {
	s := e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, safe to show to
// a caller, or "internal error" for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
