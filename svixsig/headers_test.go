package svixsig_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/clerksync/clerksync/svixsig"
)

func TestCheckHeaders(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1_700_000_000, 0)
	v := MustNewVerifier(t, now, secret)
	key := MustDecodeSecret(t, secret)
	body := []byte(`{"type":"user.created","data":{}}`)
	signed := func(ts time.Time) http.Header {
		h := http.Header{}
		svixsig.SetHeaders(h, key, "msg_1", ts, body)
		return h
	}

	for _, tt := range []struct {
		name   string
		header http.Header
		want   error
	}{
		{"None", http.Header{}, svixsig.ErrMissingHeaders},
		{"NoSignature", http.Header{"Svix-Id": {"a"}, "Svix-Timestamp": {"1"}}, svixsig.ErrMissingHeaders},
		{"TimestampNotANumber", http.Header{"Svix-Id": {"a"}, "Svix-Timestamp": {"x"}, "Svix-Signature": {"v1,x"}}, svixsig.ErrInvalidTimestamp},
		{"TimestampOne", http.Header{"Svix-Id": {"a"}, "Svix-Timestamp": {"1"}, "Svix-Signature": {"v1,x"}}, svixsig.ErrTimestampTooOld},
		{"TooOld", signed(now.Add(-6 * time.Minute)), svixsig.ErrTimestampTooOld},
		{"TooNew", signed(now.Add(6 * time.Minute)), svixsig.ErrTimestampTooNew},
		{"Current", signed(now), nil},
		// A wrong signature with a current timestamp passes: only the body can tell.
		{"CurrentWrongSignature", http.Header{"Svix-Id": {"a"}, "Svix-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "Svix-Signature": {"v1,x"}}, nil},
		{"Unbranded", http.Header{"Webhook-Id": {"a"}, "Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "Webhook-Signature": {"v1,x"}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.CheckHeaders(tt.header)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CheckHeaders = %v, want %v", err, tt.want)
			}
		})
	}

	hd, err := v.CheckHeaders(signed(now))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := v.VerifyBody(hd, body)
	if err != nil || msg.ID != "msg_1" || !msg.Timestamp.Equal(now) {
		t.Fatalf("VerifyBody = %+v, %v", msg, err)
	}
	if _, err := v.VerifyBody(hd, []byte(`{}`)); !errors.Is(err, svixsig.ErrNoMatchingSignature) {
		t.Fatalf("VerifyBody of another body = %v, want ErrNoMatchingSignature", err)
	}
}
