package main

import (
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// connectError is a failure to reach PostgreSQL, said once. pgx tries every address of
// the host, and each twice under the default sslmode=prefer (with TLS, then without),
// and its error lists every attempt: the same cause two or four times, each line
// naming the address twice. connectError keeps each distinct cause once; it unwraps
// to the original error, so callers still branch on its code.
type connectError struct {
	msg string
	err error
}

func (e *connectError) Error() string { return e.msg }
func (e *connectError) Unwrap() error { return e.err }

// describeConnectError returns err said once as a *connectError when it is pgx's
// connection failure, and nil otherwise. d names the database (its password hidden).
func describeConnectError(d DB, err error) error {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return nil
	}
	attempts := []error{ce.Unwrap()}
	if joined, ok := ce.Unwrap().(interface{ Unwrap() []error }); ok {
		attempts = joined.Unwrap()
	}
	var (
		causes []string
		seen   = make(map[string]bool)
		hint   = "check DATABASE_URL and that PostgreSQL is running and reachable from here"
	)
	for _, a := range attempts {
		cause, h := attemptCause(a)
		if h != "" {
			hint = h
		}
		if !seen[cause] {
			seen[cause] = true
			causes = append(causes, cause)
		}
	}
	return &connectError{
		msg: "cannot connect to PostgreSQL at " + d.String() + ": " + strings.Join(causes, "; ") + " (" + hint + ")",
		err: err,
	}
}

// attemptCause says why one connection attempt failed and, where the cause says it,
// what to do about it.
func attemptCause(err error) (cause, hint string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			hint = "check the user name and the password in DATABASE_URL"
		case "3D000":
			hint = "create the database (such as createdb NAME) or correct its name in DATABASE_URL"
		}
		return pgErr.Error(), hint
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "cannot look up the host " + dnsErr.Name + ": " + dnsErr.Err, "check the host name in DATABASE_URL"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Error(), ""
	}
	return err.Error(), ""
}
