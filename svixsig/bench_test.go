package svixsig_test

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerksync/clerksync/svixsig"
)

// benchDelivery returns a verifier and a signed delivery with a 3 KB body, the size of
// a typical Clerk user event.
func benchDelivery(b *testing.B, secrets ...string) (*svixsig.Verifier, http.Header, []byte) {
	b.Helper()
	now := time.Unix(1_700_000_000, 0)
	body := make([]byte, 3<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(' ' + r.IntN(95))
	}
	h := http.Header{}
	svixsig.SetHeaders(h, MustDecodeSecret(b, secrets[len(secrets)-1]), "msg_2pCb1DBmCZMNzvGGfMtgM8aVQ1x", now, body)
	return MustNewVerifier(b, now, secrets...), h, body
}

const (
	benchSecret      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	benchOtherSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

func BenchmarkVerify(b *testing.B) {
	v, h, body := benchDelivery(b, benchSecret)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	v, h, body := benchDelivery(b, benchSecret)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(h, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyRotation measures the worst accepted case during a rotation: the
// second of two secrets matches.
func BenchmarkVerifyRotation(b *testing.B) {
	v, h, body := benchDelivery(b, benchOtherSecret, benchSecret)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyMismatch(b *testing.B) {
	v, h, body := benchDelivery(b, benchSecret)
	h.Set(svixsig.HeaderSvixSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(h, body); !errors.Is(err, svixsig.ErrNoMatchingSignature) {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	key := MustDecodeSecret(b, benchSecret)
	body := make([]byte, 3<<10)
	now := time.Unix(1_700_000_000, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		svixsig.Sign(key, "msg_2pCb1DBmCZMNzvGGfMtgM8aVQ1x", now, body)
	}
}

// BenchmarkVerifySvixReference measures the Svix Go library on the same delivery, for
// comparison.
func BenchmarkVerifySvixReference(b *testing.B) {
	body := make([]byte, 3<<10)
	ref, err := svix.NewWebhook(benchSecret)
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	svixsig.SetHeaders(h, MustDecodeSecret(b, benchSecret), "msg_2pCb1DBmCZMNzvGGfMtgM8aVQ1x", time.Now(), body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ref.Verify(body, h); err != nil {
			b.Fatal(err)
		}
	}
}
