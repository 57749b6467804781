package svixsig_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerksync/clerksync/svixsig"
)

// sigPlaceholder stands, in the fuzzed signature header, for the correct signature
// value (without "v1,"), so that the fuzzer explores headers around a valid entry,
// which it could never forge.
const sigPlaceholder = "$"

// FuzzVerify verifies fuzzed deliveries. The signature header is a template in which
// every "$" is replaced by the correct signature of the content. The clock is set to
// the timestamp, so that every parsable timestamp is within the tolerance.
//
// Properties: Verify never panics; it accepts exactly what the Svix Go library
// (ignoring the timestamp) accepts; an accepted header holds a v1 entry whose value,
// up to the next comma, is the signature of the content; the header Sign makes
// verifies; and Verify agrees with VerifyParts.
//
// Run it with: go test -run='^$' -fuzz=FuzzVerify ./svixsig
func FuzzVerify(f *testing.F) {
	for _, vec := range LoadVectors(f) {
		if vec.BodyRepeat != nil {
			continue // the large bodies make slow seeds; the others cover the shapes
		}
		key := MustDecodeSecret(f, vec.Secret)
		sig := strings.TrimPrefix(svixsig.Sign(key, vec.ID, time.Unix(vec.Timestamp, 0), []byte(vec.Body)), "v1,")
		f.Add(vec.Secret, vec.ID, strconv.FormatInt(vec.Timestamp, 10), strings.ReplaceAll(vec.Signature, sig, sigPlaceholder), []byte(vec.Body))
		f.Add(vec.Secret, vec.ID, strconv.FormatInt(vec.Timestamp, 10), vec.Signature, []byte(vec.Body))
	}
	for _, tmpl := range []string{"v1,$", "v1,$ v1,$", "v2,$ v1a,$", "$", "v1,$,x", "v1,$=", "v1, $", " v1,$ ", "v1,,$", ",$", "v1,$$"} {
		f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", tmpl, []byte(`{"test": 2432232314}`))
	}
	f.Add("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", "+01614265330", "v1,$", []byte{})
	f.Add("whsec_AA==", "", "-1", "v1,$", []byte("x"))

	f.Fuzz(func(t *testing.T, secret, id, ts, tmpl string, body []byte) {
		key, err := svixsig.DecodeSecret(secret)
		if err != nil {
			if !errors.Is(err, svixsig.ErrInvalidSecret) {
				t.Fatalf("DecodeSecret: err = %v, want ErrInvalidSecret", err)
			}
			return
		}
		sec, tsErr := strconv.ParseInt(ts, 10, 64)
		now := time.Unix(sec, 0)
		v, err := svixsig.NewVerifier([]string{secret}, svixsig.WithClock(func() time.Time { return now }))
		if err != nil {
			t.Fatalf("NewVerifier: %v", err)
		}

		// Beyond this the time package's arithmetic overflows (time.Unix documents that
		// not every int64 is a time), so the window check with a clock set there says
		// nothing; with a real clock such timestamps are far outside any window.
		const farOff = 1 << 40
		sane := tsErr == nil && -farOff < sec && sec < farOff

		// The header Sign makes verifies.
		signed := svixsig.Sign(key, id, now, body)
		if sane {
			if _, err := v.VerifyParts(id, strconv.FormatInt(sec, 10), signed, body); (err == nil) != (id != "") {
				t.Fatalf("VerifyParts of a signed delivery with id %q: %v", id, err)
			}
		}

		sig := strings.TrimPrefix(signed, "v1,")
		header := strings.ReplaceAll(tmpl, sigPlaceholder, sig)
		h := http.Header{"Svix-Id": {id}, "Svix-Timestamp": {ts}, "Svix-Signature": {header}}
		msg, err := v.Verify(h, body)
		if _, partsErr := v.VerifyParts(id, ts, header, body); (partsErr == nil) != (err == nil) {
			t.Fatalf("Verify: %v, VerifyParts: %v", err, partsErr)
		}

		ref, refErr := svix.NewWebhook(strings.TrimSpace(secret))
		if refErr != nil {
			t.Fatalf("svix.NewWebhook: %v", refErr)
		}
		refErr = ref.VerifyIgnoringTimestamp(body, h)
		if !sane && (errors.Is(err, svixsig.ErrTimestampTooOld) || errors.Is(err, svixsig.ErrTimestampTooNew)) {
			return
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("Verify: %v, svix: %v (id %q, ts %q, header %q)", err, refErr, id, ts, header)
		}
		if err != nil {
			return
		}
		if tsErr != nil {
			t.Fatalf("Verify accepted the timestamp %q", ts)
		}
		if msg.ID != id || msg.Timestamp.Unix() != sec {
			t.Fatalf("Verify = %+v, want id %q at %d", msg, id, sec)
		}
		found := false
		for _, entry := range strings.Split(header, " ") {
			parts := strings.Split(entry, ",")
			if len(parts) >= 2 && parts[0] == "v1" && parts[1] == sig {
				found = true
			}
		}
		if !found {
			t.Fatalf("Verify accepted %q, which holds no v1 entry %q", header, sig)
		}
	})
}
