package svixsig_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clerksync/clerksync/svixsig"
)

// vector is one known-answer vector of testdata/vectors.json.
type vector struct {
	Name       string `json:"name"`
	Source     string `json:"source"`
	Secret     string `json:"secret"`
	ID         string `json:"id"`
	Timestamp  int64  `json:"timestamp"`
	Body       string `json:"body"`
	BodyRepeat *struct {
		Text  string `json:"text"`
		Count int    `json:"count"`
	} `json:"body_repeat"`
	Signature string `json:"signature"`
	Valid     bool   `json:"valid"`
}

// body returns the vector's body, expanding body_repeat.
func (v vector) body() []byte {
	if v.BodyRepeat != nil {
		return []byte(strings.Repeat(v.BodyRepeat.Text, v.BodyRepeat.Count))
	}
	return []byte(v.Body)
}

// LoadVectors returns the vectors of testdata/vectors.json.
func LoadVectors(tb testing.TB) []vector {
	tb.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		tb.Fatal(err)
	}
	var file struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		tb.Fatalf("decode vectors: %v", err)
	}
	if len(file.Vectors) == 0 {
		tb.Fatal("no vectors in testdata/vectors.json")
	}
	return file.Vectors
}

// MustDecodeSecret returns the key of secret.
func MustDecodeSecret(tb testing.TB, secret string) []byte {
	tb.Helper()
	key, err := svixsig.DecodeSecret(secret)
	if err != nil {
		tb.Fatalf("decode secret: %v", err)
	}
	return key
}

// MustNewVerifier returns a Verifier for secrets whose clock always says now.
func MustNewVerifier(tb testing.TB, now time.Time, secrets ...string) *svixsig.Verifier {
	tb.Helper()
	v, err := svixsig.NewVerifier(secrets, svixsig.WithClock(func() time.Time { return now }))
	if err != nil {
		tb.Fatalf("new verifier: %v", err)
	}
	return v
}

func TestKnownAnswerVectors(t *testing.T) {
	t.Parallel()
	for _, vec := range LoadVectors(t) {
		t.Run(vec.Name, func(t *testing.T) {
			t.Parallel()
			body := vec.body()
			ts := time.Unix(vec.Timestamp, 0)
			key := MustDecodeSecret(t, vec.Secret)

			if vec.Valid && !strings.Contains(vec.Signature, " ") {
				if got, want := svixsig.Sign(key, vec.ID, ts, body), vec.Signature; got != want {
					t.Fatalf("Sign = %q, want %q (%s)", got, want, vec.Source)
				}
			}

			// The same secret with and without its prefix.
			for _, secret := range []string{vec.Secret, strings.TrimPrefix(vec.Secret, svixsig.SecretPrefix)} {
				v := MustNewVerifier(t, ts, secret)
				msg, err := v.VerifyParts(vec.ID, strconv.FormatInt(vec.Timestamp, 10), vec.Signature, body)
				if vec.Valid {
					if err != nil {
						t.Fatalf("VerifyParts with secret %q: %v (%s)", secret, err, vec.Source)
					}
					if got, want := msg.ID, vec.ID; got != want {
						t.Fatalf("ID = %q, want %q", got, want)
					}
					if got, want := msg.Timestamp, ts; !got.Equal(want) || got.Location() != time.UTC {
						t.Fatalf("Timestamp = %v, want %v in UTC", got, want)
					}
				} else if !errors.Is(err, svixsig.ErrNoMatchingSignature) {
					t.Fatalf("VerifyParts with secret %q: err = %v, want ErrNoMatchingSignature (%s)", secret, err, vec.Source)
				}
			}
		})
	}
}

// TestSignMatchesPlainHMAC checks Sign against the definition, computed without the
// piecewise writes, for ids on both sides of the internal buffer size.
func TestSignMatchesPlainHMAC(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789")
	body := []byte(`{"data":{"id":"user_1"},"type":"user.created"}`)
	for _, n := range []int{0, 1, 27, 105, 106, 107, 127, 128, 129, 1000} {
		id := strings.Repeat("m", n)
		for _, sec := range []int64{0, 1, -1, 1614265330, 1<<62 + 7, -1 << 62} {
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(id + "." + strconv.FormatInt(sec, 10) + "." + string(body)))
			want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
			if got := svixsig.Sign(key, id, time.Unix(sec, 0), body); got != want {
				t.Fatalf("Sign(id of %d bytes, ts %d) = %q, want %q", n, sec, got, want)
			}
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_2pCb1DBmCZMNzvGGfMtgM8aVQ1x"
	)
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC"},"object":"event","type":"user.updated"}`)
	key := MustDecodeSecret(t, secret)
	otherKey := MustDecodeSecret(t, "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
	sig := svixsig.Sign(key, id, now, body)
	bare := strings.TrimPrefix(sig, "v1,")
	wrong := svixsig.Sign(otherKey, id, now, body)
	tsHeader := strconv.FormatInt(now.Unix(), 10)

	// svixHeaders returns the three svix-* headers; a blank value leaves one out.
	svixHeaders := func(id, ts, sig string) http.Header {
		h := http.Header{}
		for name, value := range map[string]string{"svix-id": id, "svix-timestamp": ts, "svix-signature": sig} {
			if value != "" {
				h.Set(name, value)
			}
		}
		return h
	}
	// signedAt returns headers for a delivery signed at now+d.
	signedAt := func(d time.Duration) http.Header {
		ts := now.Add(d)
		return svixHeaders(id, strconv.FormatInt(ts.Unix(), 10), svixsig.Sign(key, id, ts, body))
	}
	// otherEncoding returns s, a base64 signature, with the unused low bits of its last
	// character set: it decodes to the same bytes with a lenient decoder.
	otherEncoding := func(s string) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		i := strings.IndexByte(s, '=') - 1
		c := strings.IndexByte(alphabet, s[i])
		return s[:i] + string(alphabet[c|1]) + s[i+1:]
	}

	tests := []struct {
		name    string
		header  http.Header
		body    []byte
		wantErr error
	}{
		{name: "Valid", header: svixHeaders(id, tsHeader, sig)},
		{name: "ValidUnbranded", header: http.Header{
			"Webhook-Id": {id}, "Webhook-Timestamp": {tsHeader}, "Webhook-Signature": {sig},
		}},
		{name: "IncompleteSvixHeadersFallBackToUnbranded", header: http.Header{
			"Svix-Id": {id}, "Svix-Signature": {wrong},
			"Webhook-Id": {id}, "Webhook-Timestamp": {tsHeader}, "Webhook-Signature": {sig},
		}},
		{name: "SvixHeadersWinOverUnbranded", header: http.Header{
			"Svix-Id": {id}, "Svix-Timestamp": {tsHeader}, "Svix-Signature": {wrong},
			"Webhook-Id": {id}, "Webhook-Timestamp": {tsHeader}, "Webhook-Signature": {sig},
		}, wantErr: svixsig.ErrNoMatchingSignature},
		{name: "WrongSignature", header: svixHeaders(id, tsHeader, wrong), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "TruncatedSignature", header: svixHeaders(id, tsHeader, sig[:len(sig)-1]), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "TruncatedToVersion", header: svixHeaders(id, tsHeader, "v1,"), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "NoVersionPrefix", header: svixHeaders(id, tsHeader, bare), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "UppercaseVersion", header: svixHeaders(id, tsHeader, "V1,"+bare), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "OnlyUnknownVersions", header: svixHeaders(id, tsHeader, "v1a,"+bare+" v2,"+bare), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "UnknownVersionsSkipped", header: svixHeaders(id, tsHeader, "v1a,"+bare+" v2,"+bare+" "+sig)},
		{name: "OnlyLastEntryMatches", header: svixHeaders(id, tsHeader, wrong+" v1,"+otherEncoding(bare)+" "+sig)},
		{name: "FirstEntryMatches", header: svixHeaders(id, tsHeader, sig+" "+wrong)},
		{name: "SeveralSpacesBetweenEntries", header: svixHeaders(id, tsHeader, wrong+"   "+sig+" ")},
		{name: "OtherBase64SpellingOfSignature", header: svixHeaders(id, tsHeader, "v1,"+otherEncoding(bare)), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "UnpaddedSignature", header: svixHeaders(id, tsHeader, strings.TrimRight(sig, "=")), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "URLSafeAlphabet", header: svixHeaders(id, tsHeader, "v1,"+strings.NewReplacer("+", "-", "/", "_").Replace(bare)), wantErr: svixsig.ErrNoMatchingSignature},
		// The reference library reads an entry's signature up to the next comma.
		{name: "FieldAfterSignatureIgnored", header: svixHeaders(id, tsHeader, sig+",extra")},
		{name: "BodyAltered", header: svixHeaders(id, tsHeader, sig), body: append([]byte(" "), body...), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "IDAltered", header: svixHeaders(id+"x", tsHeader, sig), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "TimestampAltered", header: svixHeaders(id, strconv.FormatInt(now.Unix()+1, 10), sig), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "TimestampWithPlusSign", header: svixHeaders(id, "+"+tsHeader, sig)},
		{name: "TimestampWithLeadingZero", header: svixHeaders(id, "0"+tsHeader, sig)},
		{name: "TimestampTooOld", header: signedAt(-301 * time.Second), wantErr: svixsig.ErrTimestampTooOld},
		{name: "TimestampTooNew", header: signedAt(301 * time.Second), wantErr: svixsig.ErrTimestampTooNew},
		{name: "TimestampOldestAccepted", header: signedAt(-300 * time.Second)},
		{name: "TimestampNewestAccepted", header: signedAt(300 * time.Second)},
		{name: "TimestampFarPast", header: signedAt(-10 * 365 * 24 * time.Hour), wantErr: svixsig.ErrTimestampTooOld},
		{name: "TimestampNegative", header: svixHeaders(id, "-1", sig), wantErr: svixsig.ErrTimestampTooOld},
		{name: "TimestampNonNumeric", header: svixHeaders(id, "yesterday", sig), wantErr: svixsig.ErrInvalidTimestamp},
		{name: "TimestampMilliseconds", header: svixHeaders(id, strconv.FormatInt(now.UnixMilli(), 10), sig), wantErr: svixsig.ErrTimestampTooNew},
		{name: "TimestampFraction", header: svixHeaders(id, tsHeader+".5", sig), wantErr: svixsig.ErrInvalidTimestamp},
		{name: "TimestampOverflow", header: svixHeaders(id, "99999999999999999999", sig), wantErr: svixsig.ErrInvalidTimestamp},
		{name: "MissingID", header: svixHeaders("", tsHeader, sig), wantErr: svixsig.ErrMissingHeaders},
		{name: "MissingTimestamp", header: svixHeaders(id, "", sig), wantErr: svixsig.ErrMissingHeaders},
		{name: "MissingSignature", header: svixHeaders(id, tsHeader, ""), wantErr: svixsig.ErrMissingHeaders},
		{name: "BlankSignature", header: http.Header{"Svix-Id": {id}, "Svix-Timestamp": {tsHeader}, "Svix-Signature": {""}}, wantErr: svixsig.ErrMissingHeaders},
		{name: "NoHeaders", header: http.Header{}, wantErr: svixsig.ErrMissingHeaders},
		{name: "SpaceOnlySignature", header: svixHeaders(id, tsHeader, " "), wantErr: svixsig.ErrNoMatchingSignature},
	}
	v := MustNewVerifier(t, now, secret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := body
			if tt.body != nil {
				b = tt.body
			}
			msg, err := v.Verify(tt.header, b)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got, want := msg.ID, id; got != want {
					t.Fatalf("ID = %q, want %q", got, want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify: err = %v, want %v", err, tt.wantErr)
			}
			if got, want := msg, (svixsig.Message{}); got != want {
				t.Fatalf("Verify returned %+v with an error", got)
			}
			wantBad := errors.Is(tt.wantErr, svixsig.ErrMissingHeaders) || errors.Is(tt.wantErr, svixsig.ErrInvalidTimestamp)
			if got := svixsig.IsBadRequest(err); got != wantBad {
				t.Fatalf("IsBadRequest(%v) = %t, want %t", err, got, wantBad)
			}
		})
	}
}

func TestVerifyTolerance(t *testing.T) {
	t.Parallel()
	key := MustDecodeSecret(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	body := []byte("{}")
	signed := time.Unix(1_700_000_000, 0)
	sig := svixsig.Sign(key, "msg_1", signed, body)

	tests := []struct {
		name      string
		tolerance time.Duration
		now       time.Time
		wantErr   error
	}{
		{name: "DefaultJustInsidePast", now: signed.Add(5 * time.Minute)},
		{name: "DefaultJustOutsidePast", now: signed.Add(5*time.Minute + time.Nanosecond), wantErr: svixsig.ErrTimestampTooOld},
		{name: "DefaultJustInsideFuture", now: signed.Add(-5*time.Minute + time.Nanosecond)},
		{name: "DefaultExactlyToleranceAhead", now: signed.Add(-5 * time.Minute)},
		{name: "DefaultJustOutsideFuture", now: signed.Add(-5*time.Minute - time.Second), wantErr: svixsig.ErrTimestampTooNew},
		{name: "WiderToleranceAcceptsOld", tolerance: 10 * time.Minute, now: signed.Add(9 * time.Minute)},
		{name: "WiderToleranceAcceptsNew", tolerance: 10 * time.Minute, now: signed.Add(-9 * time.Minute)},
		{name: "NarrowerToleranceRejectsOld", tolerance: 30 * time.Second, now: signed.Add(31 * time.Second), wantErr: svixsig.ErrTimestampTooOld},
		{name: "NarrowerToleranceRejectsNew", tolerance: 30 * time.Second, now: signed.Add(-31 * time.Second), wantErr: svixsig.ErrTimestampTooNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := []svixsig.Option{svixsig.WithClock(func() time.Time { return tt.now })}
			if tt.tolerance != 0 {
				opts = append(opts, svixsig.WithTolerance(tt.tolerance))
			}
			v, err := svixsig.NewVerifier([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.VerifyParts("msg_1", strconv.FormatInt(signed.Unix(), 10), sig, body)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("VerifyParts: err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyRotation(t *testing.T) {
	t.Parallel()
	const (
		oldSecret   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		newSecret   = "C2FVsBQIhrscChlQIMV+b5sSYspob7oD" // bare base64 is accepted too
		otherSecret = "whsec_dGhpcyBpcyBub3QgYSBjb25maWd1cmVkIGtleQ=="
	)
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"user.created"}`)
	sign := func(secret string) string { return svixsig.Sign(MustDecodeSecret(t, secret), "msg_r", now, body) }
	ts := strconv.FormatInt(now.Unix(), 10)

	tests := []struct {
		name    string
		secrets []string
		header  string
		wantErr error
	}{
		{name: "FirstSecretMatches", secrets: []string{oldSecret, newSecret}, header: sign(oldSecret)},
		{name: "SecondSecretMatches", secrets: []string{oldSecret, newSecret}, header: sign(newSecret)},
		{name: "BothEntriesSent", secrets: []string{newSecret}, header: sign(oldSecret) + " " + sign(newSecret)},
		{name: "NeitherMatches", secrets: []string{oldSecret, newSecret}, header: sign(otherSecret), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "RetiredSecretRejected", secrets: []string{newSecret}, header: sign(oldSecret), wantErr: svixsig.ErrNoMatchingSignature},
		{name: "DuplicateSecrets", secrets: []string{oldSecret, strings.TrimPrefix(oldSecret, "whsec_")}, header: sign(oldSecret)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := MustNewVerifier(t, now, tt.secrets...)
			_, err := v.VerifyParts("msg_r", ts, tt.header, body)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("VerifyParts: err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewVerifierSecrets(t *testing.T) {
	t.Parallel()
	const good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	tests := []struct {
		name         string
		secrets      []string
		wantPosition int // 0: no error
	}{
		{name: "Prefixed", secrets: []string{good}},
		{name: "Bare", secrets: []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		{name: "SurroundingWhiteSpace", secrets: []string{" " + good + "\n"}},
		{name: "Empty", secrets: []string{""}, wantPosition: 1},
		{name: "PrefixOnly", secrets: []string{"whsec_"}, wantPosition: 1},
		{name: "NotBase64", secrets: []string{"whsec_not*base64*at*all"}, wantPosition: 1},
		{name: "URLSafeBase64", secrets: []string{"whsec_-_-_"}, wantPosition: 1},
		{name: "ClerkSecretKey", secrets: []string{"sk_test_Zm9vYmFyYmF6cXV4"}, wantPosition: 1},
		{name: "ClerkPublishableKey", secrets: []string{"pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"}, wantPosition: 1},
		{name: "SecondOfTwoInvalid", secrets: []string{good, "whsec_%%%%"}, wantPosition: 2},
		{name: "ThirdOfThreeEmpty", secrets: []string{good, good, "  "}, wantPosition: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := svixsig.NewVerifier(tt.secrets)
			if tt.wantPosition == 0 {
				if err != nil {
					t.Fatalf("NewVerifier: %v", err)
				}
				return
			}
			if !errors.Is(err, svixsig.ErrInvalidSecret) {
				t.Fatalf("NewVerifier: err = %v, want ErrInvalidSecret", err)
			}
			var se *svixsig.SecretError
			if !errors.As(err, &se) {
				t.Fatalf("NewVerifier: err = %v (%T), want a *SecretError", err, err)
			}
			if got, want := se.Position, tt.wantPosition; got != want {
				t.Fatalf("Position = %d, want %d", got, want)
			}
			msg := err.Error()
			for _, want := range []string{"#" + strconv.Itoa(tt.wantPosition), "Clerk Dashboard", "Signing Secret", "whsec_"} {
				if !strings.Contains(msg, want) {
					t.Fatalf("error %q does not mention %q", msg, want)
				}
			}
			// The message must not leak the secret; check the part after any
			// well-known prefix, which is the sensitive part.
			bad := strings.TrimSpace(tt.secrets[tt.wantPosition-1])
			for _, p := range []string{"whsec_", "sk_test_", "pk_live_"} {
				bad = strings.TrimPrefix(bad, p)
			}
			if bad != "" && strings.Contains(msg, bad) {
				t.Fatalf("error %q contains the secret", msg)
			}
		})
	}
}

func TestNewVerifierOptions(t *testing.T) {
	t.Parallel()
	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	tests := []struct {
		name    string
		secrets []string
		opts    []svixsig.Option
		wantErr bool
	}{
		{name: "Defaults", secrets: secrets},
		{name: "NoSecrets", wantErr: true},
		{name: "ZeroTolerance", secrets: secrets, opts: []svixsig.Option{svixsig.WithTolerance(0)}, wantErr: true},
		{name: "NegativeTolerance", secrets: secrets, opts: []svixsig.Option{svixsig.WithTolerance(-time.Second)}, wantErr: true},
		{name: "NilClock", secrets: secrets, opts: []svixsig.Option{svixsig.WithClock(nil)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := svixsig.NewVerifier(tt.secrets, tt.opts...)
			if got, want := err != nil, tt.wantErr; got != want {
				t.Fatalf("NewVerifier: err = %v, want an error: %t", err, want)
			}
			if (v == nil) == (err == nil) {
				t.Fatalf("NewVerifier returned %v and %v", v, err)
			}
		})
	}
	if _, err := svixsig.NewVerifier(nil); !errors.Is(err, svixsig.ErrInvalidSecret) {
		t.Fatalf("NewVerifier(nil): err = %v, want ErrInvalidSecret", err)
	}
}

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	secret := svixsig.GenerateSecret()
	if !strings.HasPrefix(secret, svixsig.SecretPrefix) {
		t.Fatalf("GenerateSecret = %q, want the whsec_ prefix", secret)
	}
	key := MustDecodeSecret(t, secret)
	if got, want := len(key), 24; got != want {
		t.Fatalf("generated key has %d bytes, want %d", got, want)
	}
	if other := svixsig.GenerateSecret(); other == secret {
		t.Fatal("GenerateSecret returned the same secret twice")
	}
	now := time.Unix(1_700_000_000, 999_000_000)
	body := []byte(`{"type":"user.deleted"}`)
	h := http.Header{}
	svixsig.SetHeaders(h, key, "msg_set", now, body)
	if got, want := h.Get("svix-timestamp"), "1700000000"; got != want {
		t.Fatalf("svix-timestamp = %q, want %q", got, want)
	}
	msg, err := MustNewVerifier(t, now, secret).Verify(h, body)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := svixsig.Message{ID: "msg_set", Timestamp: time.Unix(1_700_000_000, 0).UTC()}
	if msg != want {
		t.Fatalf("Verify = %+v, want %+v", msg, want)
	}
}

func TestVerifyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool items on purpose, which allocates")
	}
	now := time.Unix(1_700_000_000, 0)
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key := MustDecodeSecret(t, secret)
	body := []byte(strings.Repeat(`{"k":"v"}`, 300))
	v := MustNewVerifier(t, now, "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", secret)
	h := http.Header{}
	svixsig.SetHeaders(h, key, "msg_"+strings.Repeat("x", 200), now, body) // an id longer than the buffer
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(h, body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Verify allocates %.1f times per call, want 0", allocs)
	}
	h.Set("svix-signature", "v1,"+strings.Repeat("A", 43)+"=")
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(h, body); !errors.Is(err, svixsig.ErrNoMatchingSignature) {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a failed Verify allocates %.1f times per call, want 0", allocs)
	}
}
