package svixsig

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix is the prefix of the Signing Secrets that Svix (and so Clerk) hands out.
// The rest of the secret is the key in standard base64.
const SecretPrefix = "whsec_"

// The header names, in canonical form. Svix sends the svix-* ones; the Standard
// Webhooks specification names the webhook-* ones.
const (
	HeaderSvixID           = "Svix-Id"
	HeaderSvixTimestamp    = "Svix-Timestamp"
	HeaderSvixSignature    = "Svix-Signature"
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
)

// sigVersion is the only signature version this package knows: HMAC-SHA256.
const sigVersion = "v1"

// encodedSigLen is the length of a v1 signature (an HMAC-SHA256) in padded standard
// base64.
const encodedSigLen = (sha256.Size + 2) / 3 * 4

// DecodeSecret returns the HMAC key of a Signing Secret: the standard base64 after the
// optional whsec_ prefix. Surrounding white space is ignored. It returns a
// *SecretError (matching ErrInvalidSecret) with Position 1 if the secret is empty,
// is a Clerk API key, or is not valid base64.
func DecodeSecret(secret string) ([]byte, error) {
	return decodeSecret(1, secret)
}

func decodeSecret(pos int, secret string) ([]byte, error) {
	s := strings.TrimSpace(secret)
	// A Clerk API key pasted in the wrong place is the likeliest mistake; saying so
	// beats "not valid base64". Only the well-known prefix is named, never the value.
	for _, p := range []string{"sk_", "pk_"} {
		if strings.HasPrefix(s, p) {
			return nil, &SecretError{Position: pos, Reason: "is a Clerk API key (" + p + "...), not a webhook Signing Secret"}
		}
	}
	s = strings.TrimPrefix(s, SecretPrefix)
	if s == "" {
		return nil, &SecretError{Position: pos, Reason: "is empty"}
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, &SecretError{Position: pos, Reason: "is not valid base64 after the whsec_ prefix", Err: err}
	}
	if len(key) == 0 {
		return nil, &SecretError{Position: pos, Reason: "is empty"}
	}
	return key, nil
}

// GenerateSecret returns a new random Signing Secret in the whsec_ form, with a
// 24-byte key as Svix generates them. It is meant for development endpoints and
// tests; production secrets come from the Clerk Dashboard.
func GenerateSecret() string {
	key := make([]byte, 24)
	// crypto/rand.Read never fails; it aborts the program if the system cannot
	// provide randomness.
	_, _ = rand.Read(key)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign returns the signature header value ("v1,<base64>") for a delivery of body with
// the given id and timestamp, signed with key (the decoded secret, see DecodeSecret).
// Only the whole seconds of ts are signed, as they are sent.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	var scratch [scratchSize]byte
	mac := hmac.New(sha256.New, key)
	writeContent(mac, scratch[:], id, ts.Unix(), body)
	sum := mac.Sum(scratch[:0])
	out := make([]byte, len(sigVersion)+1+encodedSigLen)
	n := copy(out, sigVersion+",")
	base64.StdEncoding.Encode(out[n:], sum)
	return string(out)
}

// SetHeaders sets the svix-id, svix-timestamp and svix-signature headers of h for a
// delivery of body signed with key, as Svix sends them.
func SetHeaders(h http.Header, key []byte, id string, ts time.Time, body []byte) {
	h.Set(HeaderSvixID, id)
	h.Set(HeaderSvixTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSvixSignature, Sign(key, id, ts, body))
}

// scratchSize is the size of the buffer the signed content's prefix is assembled in;
// ids longer than fit are written in pieces.
const scratchSize = 128

// maxIntLen is the longest decimal int64, with its sign.
const maxIntLen = 20

// writeContent writes the signed content "{id}.{ts}.{body}" to mac, piecewise so that
// the body is never copied. scratch must hold at least maxIntLen+2 bytes.
func writeContent(mac hash.Hash, scratch []byte, id string, ts int64, body []byte) {
	if len(id)+maxIntLen+2 > len(scratch) {
		for rest := id; rest != ""; {
			n := copy(scratch, rest)
			mac.Write(scratch[:n])
			rest = rest[n:]
		}
		id = ""
	}
	b := append(scratch[:0], id...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '.')
	mac.Write(b)
	mac.Write(body)
}
