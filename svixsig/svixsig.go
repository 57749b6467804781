// Package svixsig verifies and produces the signatures of webhook deliveries sent
// through Svix, as Clerk sends them, following the Standard Webhooks specification.
//
// A delivery carries three headers: svix-id, svix-timestamp (seconds since the Unix
// epoch) and svix-signature, a space-separated list of "v1,<base64>" entries. Each v1
// entry is the HMAC-SHA256 of "{id}.{timestamp}.{body}" under the key that the
// endpoint's Signing Secret ("whsec_<base64>") encodes. A delivery is authentic when
// any v1 entry matches under any configured secret (Svix sends several while a secret
// is rotated) and its timestamp is within a tolerance of now in either direction. The
// unbranded webhook-id, webhook-timestamp and webhook-signature headers are accepted
// too.
//
// Verification is on the path of every request, so it allocates nothing per request:
// the HMAC states are pooled per secret and the content is written to them piecewise.
//
// What is accepted is exactly what the reference Go library of Svix
// (github.com/svix/svix-webhooks/go) accepts, which the tests check on random inputs:
// the timestamp is parsed as by strconv.ParseInt and signed in its canonical decimal
// form, an entry's signature ends at its first comma, and the encoded signatures are
// compared, not the decoded ones, so that no second spelling of a signature (other
// padding bits, embedded newlines) is accepted.
package svixsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTolerance is how far the timestamp of a delivery may be from now, in either
// direction, unless WithTolerance says otherwise. It is the value of the Standard
// Webhooks specification and of every Svix library.
const DefaultTolerance = 5 * time.Minute

// Message is what a verified delivery is known by.
type Message struct {
	// ID is the svix-id (or webhook-id) header: the message id, stable across retries.
	ID string
	// Timestamp is the signed timestamp, in UTC, with whole seconds.
	Timestamp time.Time
}

// Option configures a Verifier.
type Option func(*options)

type options struct {
	tolerance time.Duration
	now       func() time.Time
}

// WithTolerance sets how far a delivery's timestamp may be from now, in either
// direction (DefaultTolerance by default). NewVerifier fails if d is not positive.
func WithTolerance(d time.Duration) Option {
	return func(o *options) { o.tolerance = d }
}

// WithClock sets the clock that timestamps are checked against (time.Now by default).
// NewVerifier fails if now is nil.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Verifier checks the signatures of webhook deliveries against one or more secrets. It
// is safe for concurrent use.
type Verifier struct {
	keys      []*verifyKey
	tolerance time.Duration
	now       func() time.Time
}

// verifyKey holds the pooled HMAC states of one secret.
type verifyKey struct {
	pool sync.Pool // of *macState
}

// macState is an HMAC state with the buffers one verification needs, so that none of
// them is allocated per request: a byte slice passed to hash.Hash.Write escapes, so a
// buffer on the stack would be moved to the heap.
type macState struct {
	mac     hash.Hash
	scratch [scratchSize]byte
	sum     [sha256.Size]byte
	want    [encodedSigLen]byte // the expected signature in base64
	got     [encodedSigLen]byte // a candidate signature, copied for the constant-time comparison
}

// NewVerifier returns a Verifier that accepts deliveries signed with any of secrets,
// each a Signing Secret with or without the whsec_ prefix. Several secrets allow a
// rotation without downtime; the same secret given twice is used once. It returns a
// *SecretError (matching ErrInvalidSecret) naming the first secret that cannot be
// decoded by its position, an error matching ErrInvalidSecret if secrets is empty,
// and an error for an invalid option.
func NewVerifier(secrets []string, opts ...Option) (*Verifier, error) {
	o := options{tolerance: DefaultTolerance, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.tolerance <= 0 {
		return nil, fmt.Errorf("new verifier: tolerance %s is not positive", o.tolerance)
	}
	if o.now == nil {
		return nil, errors.New("new verifier: clock is nil")
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("new verifier: no webhook signing secret given (%s): %w", secretHint, ErrInvalidSecret)
	}
	v := &Verifier{tolerance: o.tolerance, now: o.now}
	seen := make(map[string]bool, len(secrets))
	for i, s := range secrets {
		key, err := decodeSecret(i+1, s)
		if err != nil {
			return nil, fmt.Errorf("new verifier: %w", err)
		}
		if seen[string(key)] {
			continue
		}
		seen[string(key)] = true
		k := &verifyKey{}
		k.pool.New = func() any {
			return &macState{mac: hmac.New(sha256.New, key)}
		}
		v.keys = append(v.keys, k)
	}
	return v, nil
}

// Verify checks the signature of a delivery of body with headers h and returns its id
// and timestamp. It reads the svix-id, svix-timestamp and svix-signature headers and,
// if any of them is absent or empty, the webhook-id, webhook-timestamp and
// webhook-signature headers instead. On failure it returns an error matching one of
// ErrMissingHeaders, ErrInvalidTimestamp, ErrTimestampTooOld, ErrTimestampTooNew or
// ErrNoMatchingSignature (see IsBadRequest for the HTTP answer).
func (v *Verifier) Verify(h http.Header, body []byte) (Message, error) {
	id, ts, sig := h.Get(HeaderSvixID), h.Get(HeaderSvixTimestamp), h.Get(HeaderSvixSignature)
	if id == "" || ts == "" || sig == "" {
		id, ts, sig = h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	}
	return v.VerifyParts(id, ts, sig, body)
}

// VerifyParts checks a delivery of body given the values of its id, timestamp and
// signature headers, and returns its id and timestamp. It fails as Verify does.
func (v *Verifier) VerifyParts(id, timestamp, signature string, body []byte) (Message, error) {
	sec, err := v.checkParts(id, timestamp, signature)
	if err != nil {
		return Message{}, err
	}
	for _, k := range v.keys {
		if k.match(id, sec, signature, body) {
			return Message{ID: id, Timestamp: time.Unix(sec, 0).UTC()}, nil
		}
	}
	return Message{}, ErrNoMatchingSignature
}

// Headers are the values of a delivery's id, timestamp and signature headers.
type Headers struct {
	ID, Timestamp, Signature string
}

// CheckHeaders reads the id, timestamp and signature headers of h as Verify does and
// checks all that can be checked without the body: that none is missing and that the
// timestamp is an integer within the tolerance of now. A server calls it before it
// reads the body, so that a request that cannot be authentic costs no body read, then
// VerifyBody. It fails as Verify does, but never with ErrNoMatchingSignature.
func (v *Verifier) CheckHeaders(h http.Header) (Headers, error) {
	hd := Headers{ID: h.Get(HeaderSvixID), Timestamp: h.Get(HeaderSvixTimestamp), Signature: h.Get(HeaderSvixSignature)}
	if hd.ID == "" || hd.Timestamp == "" || hd.Signature == "" {
		hd = Headers{ID: h.Get(HeaderWebhookID), Timestamp: h.Get(HeaderWebhookTimestamp), Signature: h.Get(HeaderWebhookSignature)}
	}
	if _, err := v.checkParts(hd.ID, hd.Timestamp, hd.Signature); err != nil {
		return Headers{}, err
	}
	return hd, nil
}

// VerifyBody checks the signature of body under the headers CheckHeaders returned,
// and the timestamp again (reading the body took time), and returns the delivery's id
// and timestamp. It fails as Verify does.
func (v *Verifier) VerifyBody(hd Headers, body []byte) (Message, error) {
	return v.VerifyParts(hd.ID, hd.Timestamp, hd.Signature, body)
}

// checkParts checks that the headers are present and the timestamp within the
// tolerance, and returns the timestamp in seconds.
func (v *Verifier) checkParts(id, timestamp, signature string) (int64, error) {
	if id == "" || timestamp == "" || signature == "" {
		return 0, ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return 0, ErrInvalidTimestamp
	}
	// These are the expressions of the reference library, so that the edges of the
	// window (nanoseconds on the old side, whole seconds on the new) are the same.
	ts := time.Unix(sec, 0)
	now := v.now()
	if skew := now.Sub(ts); skew > v.tolerance {
		return 0, fmt.Errorf("timestamp %s behind the clock, tolerance %s: %w", skew, v.tolerance, ErrTimestampTooOld)
	}
	if sec > now.Add(v.tolerance).Unix() {
		return 0, fmt.Errorf("timestamp %s ahead of the clock, tolerance %s: %w", ts.Sub(now), v.tolerance, ErrTimestampTooNew)
	}
	return sec, nil
}

// match reports whether any v1 entry of signature is the signature of the content
// under k.
func (k *verifyKey) match(id string, ts int64, signature string, body []byte) bool {
	st := k.pool.Get().(*macState)
	defer k.pool.Put(st)
	st.mac.Reset()
	writeContent(st.mac, st.scratch[:], id, ts, body)
	base64.StdEncoding.Encode(st.want[:], st.mac.Sum(st.sum[:0]))

	matched := false
	for rest := signature; rest != "" && !matched; {
		var entry string
		entry, rest, _ = strings.Cut(rest, " ")
		version, value, ok := strings.Cut(entry, ",")
		if !ok || version != sigVersion {
			continue // not an entry, or a version this package does not know
		}
		value, _, _ = strings.Cut(value, ",")
		// The length of a signature is no secret: every v1 signature has the same.
		if len(value) != len(st.got) {
			continue
		}
		copy(st.got[:], value)
		matched = hmac.Equal(st.got[:], st.want[:])
	}
	return matched
}
