package svixsig

import (
	"errors"
	"fmt"
)

// The errors Verify and VerifyParts return. Callers branch on them with errors.Is; the
// returned error may wrap one of them with details for the log (how far off a
// timestamp is), which must never be sent back to the caller of the webhook
// endpoint.
//
// The mapping to HTTP answers is:
//
//   - ErrMissingHeaders, ErrInvalidTimestamp: 400 Bad Request (see IsBadRequest). The
//     request is malformed rather than forged: Svix never sends one like it.
//   - ErrTimestampTooOld, ErrTimestampTooNew, ErrNoMatchingSignature: 401 Unauthorized.
var (
	// ErrMissingHeaders means that the id, the timestamp or the signature header is
	// absent or empty, under both the svix-* and the webhook-* names.
	ErrMissingHeaders = errors.New("svixsig: missing svix-id, svix-timestamp or svix-signature header")
	// ErrInvalidTimestamp means that the timestamp header is not a decimal integer of
	// seconds since the Unix epoch.
	ErrInvalidTimestamp = errors.New("svixsig: timestamp header is not an integer of seconds")
	// ErrTimestampTooOld means that the timestamp is further in the past than the
	// tolerance allows: a replay of an old delivery, or a clock far behind.
	ErrTimestampTooOld = errors.New("svixsig: timestamp too old")
	// ErrTimestampTooNew means that the timestamp is further in the future than the
	// tolerance allows: a clock far ahead.
	ErrTimestampTooNew = errors.New("svixsig: timestamp too new")
	// ErrNoMatchingSignature means that no v1 entry of the signature header matches the
	// content under any configured secret: a wrong secret, a forged or altered request,
	// or a signature that is truncated, undecodable or without a version prefix.
	ErrNoMatchingSignature = errors.New("svixsig: no matching signature")
)

// IsBadRequest reports whether err, returned by Verify or VerifyParts, means that the
// request is malformed (ErrMissingHeaders, ErrInvalidTimestamp) and deserves a 400
// answer. Any other non-nil error from Verify means the request is not authentic and
// deserves a 401 answer.
func IsBadRequest(err error) bool {
	return errors.Is(err, ErrMissingHeaders) || errors.Is(err, ErrInvalidTimestamp)
}

// ErrInvalidSecret is matched (with errors.Is) by every error NewVerifier and
// DecodeSecret return for a secret that cannot be used.
var ErrInvalidSecret = errors.New("svixsig: invalid webhook signing secret")

// secretHint says where the right secret is found. It names no value, so that it can
// be shown and logged.
const secretHint = "copy the Signing Secret from the Clerk Dashboard → Webhooks → your endpoint → Signing Secret; it starts with whsec_"

// SecretError is the error for a configured secret that cannot be used. It names the
// secret by its position and never includes the secret itself, so it is safe to log
// and to show to the operator.
type SecretError struct {
	// Position is the 1-based position of the secret in the list given to NewVerifier
	// (1 for DecodeSecret).
	Position int
	// Reason says what is wrong, such as "is not valid base64".
	Reason string
	// Err is the underlying cause (a base64.CorruptInputError, which holds only an
	// offset), or nil.
	Err error
}

// Error returns the reason, the position of the secret and how to fix it.
func (e *SecretError) Error() string {
	return fmt.Sprintf("webhook signing secret #%d %s: %s", e.Position, e.Reason, secretHint)
}

// Is reports whether target is ErrInvalidSecret.
func (e *SecretError) Is(target error) bool { return target == ErrInvalidSecret }

// Unwrap returns the underlying cause, or nil.
func (e *SecretError) Unwrap() error { return e.Err }
