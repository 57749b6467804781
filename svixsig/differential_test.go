package svixsig_test

import (
	"encoding/base64"
	"errors"
	"flag"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerksync/clerksync/svixsig"
)

var (
	diffCases = flag.Int("diff.cases", 20000, "number of random cases of TestDifferentialSvix")
	diffSeed  = flag.Uint64("diff.seed", 0, "seed of TestDifferentialSvix (0: derived from the time)")
)

// svixErrors maps the messages of the reference library's unexported errors to the
// errors of this package. The reference offers nothing else to branch on.
var svixErrors = map[string]error{
	"missing required headers":    svixsig.ErrMissingHeaders,
	"invalid signature headers":   svixsig.ErrInvalidTimestamp,
	"message timestamp too old":   svixsig.ErrTimestampTooOld,
	"message timestamp too new":   svixsig.ErrTimestampTooNew,
	"no matching signature found": svixsig.ErrNoMatchingSignature,
}

// TestDifferentialSvix checks on random deliveries that Verify accepts exactly what
// the Svix Go library accepts, failing for the same reason, and that Sign agrees with
// the library's Sign. The library checks timestamps against the real clock, so both
// use it here, and no random timestamp lies within 10 s of the edges of the tolerance
// window: the outcome cannot depend on when the test runs. The edges themselves are
// covered with an injected clock by TestVerifyTolerance.
func TestDifferentialSvix(t *testing.T) {
	t.Parallel()
	seed := *diffSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -diff.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	counts := map[string]int{}
	for i := range *diffCases {
		c := randomCase(rng)
		counts[c.mutation]++

		ref, err := svix.NewWebhook(c.secrets[len(c.secrets)-1])
		if err != nil {
			t.Fatalf("case %d: svix.NewWebhook: %v", i, err)
		}
		if got, want := svixsig.Sign(c.keys[len(c.keys)-1], c.id, c.signedAt, c.body), mustSvixSign(t, ref, c.id, c.signedAt, c.body); got != want {
			t.Fatalf("case %d: Sign = %q, svix signs %q", i, got, want)
		}

		v, err := svixsig.NewVerifier(c.secrets)
		if err != nil {
			t.Fatalf("case %d: NewVerifier: %v", i, err)
		}
		_, got := v.Verify(c.header, c.body)
		// A delivery is accepted by a set of secrets when one of them accepts it.
		var want error
		for _, s := range c.secrets {
			ref, err := svix.NewWebhook(s)
			if err != nil {
				t.Fatalf("case %d: svix.NewWebhook: %v", i, err)
			}
			if want = ref.Verify(c.body, c.header); want == nil {
				break
			}
		}
		switch {
		case want == nil && got != nil:
			t.Fatalf("case %d (%s): svix accepts, Verify fails: %v\n%s", i, c.mutation, got, c)
		case want != nil && got == nil:
			t.Fatalf("case %d (%s): Verify accepts, svix fails: %v\n%s", i, c.mutation, want, c)
		case want != nil:
			mapped, ok := svixErrors[want.Error()]
			if !ok {
				t.Fatalf("case %d: unknown svix error %q", i, want)
			}
			if !errors.Is(got, mapped) {
				t.Fatalf("case %d (%s): Verify fails with %v, svix with %q\n%s", i, c.mutation, got, want, c)
			}
		}
		if want == nil {
			counts["accepted"]++
		}
	}
	t.Logf("cases per mutation: %v", counts)
	// Guard against a generator that stopped producing the cases that matter.
	if *diffCases >= 5000 {
		if counts["accepted"] < *diffCases/10 {
			t.Fatalf("only %d of %d cases were accepted", counts["accepted"], *diffCases)
		}
		for _, m := range mutations {
			if counts[m.name] == 0 {
				t.Fatalf("mutation %s never drawn", m.name)
			}
		}
	}
}

func mustSvixSign(tb testing.TB, wh *svix.Webhook, id string, ts time.Time, body []byte) string {
	tb.Helper()
	sig, err := wh.Sign(id, ts, body)
	if err != nil {
		tb.Fatalf("svix Sign: %v", err)
	}
	return sig
}

// diffCase is one random delivery.
type diffCase struct {
	secrets  []string // the configured secrets; the last one signs
	keys     [][]byte
	id       string
	signedAt time.Time
	body     []byte
	header   http.Header
	mutation string
}

func (c diffCase) String() string {
	return "secrets " + strings.Join(c.secrets, " ") + "\nid " + strconv.Quote(c.id) +
		"\nsigned at " + strconv.FormatInt(c.signedAt.Unix(), 10) +
		"\nbody " + strconv.Quote(string(c.body)) + "\nheader " + strconv.Quote(headerString(c.header))
}

func headerString(h http.Header) string {
	var b strings.Builder
	for k, vs := range h {
		b.WriteString(k + ": " + strings.Join(vs, "|") + "\n")
	}
	return b.String()
}

// mutation changes the headers of a delivery (id, timestamp, signature header as
// strings) given the correct signature value (without "v1,") and the random source.
type mutation struct {
	name string
	f    func(r *rand.Rand, sig string, id, ts, header *string)
}

var mutations = []mutation{
	{"None", func(r *rand.Rand, sig string, id, ts, header *string) {}},
	{"FlipCharacter", func(r *rand.Rand, sig string, id, ts, header *string) {
		b := []byte(*header)
		i := 3 + r.IntN(len(b)-3)
		b[i] = randomByteFrom(r, base64Alphabet+"=")
		*header = string(b)
	}},
	{"Truncate", func(r *rand.Rand, sig string, id, ts, header *string) {
		*header = (*header)[:r.IntN(len(*header))]
	}},
	{"DropVersion", func(r *rand.Rand, sig string, id, ts, header *string) { *header = sig }},
	{"OtherVersion", func(r *rand.Rand, sig string, id, ts, header *string) {
		*header = []string{"v1a", "v2", "V1", "v0", " v1", "v1 ", ""}[r.IntN(7)] + "," + sig
	}},
	{"AmongOthers", func(r *rand.Rand, sig string, id, ts, header *string) {
		entries := []string{*header}
		for range r.IntN(4) + 1 {
			entries = append(entries, "v1,"+randomBase64Sig(r), "v2,"+sig, randomString(r, 8))
		}
		r.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
		*header = strings.Join(entries, strings.Repeat(" ", r.IntN(3)+1))
	}},
	{"OnlyOthers", func(r *rand.Rand, sig string, id, ts, header *string) {
		*header = "v1," + randomBase64Sig(r) + " v1a," + sig + " v1," + sig[:len(sig)-1]
	}},
	{"ExtraField", func(r *rand.Rand, sig string, id, ts, header *string) {
		*header += "," + randomString(r, 5)
	}},
	{"Reencode", func(r *rand.Rand, sig string, id, ts, header *string) {
		raw, _ := base64.StdEncoding.DecodeString(sig)
		enc := []*base64.Encoding{base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}[r.IntN(3)]
		*header = "v1," + enc.EncodeToString(raw)
	}},
	{"PaddingBits", func(r *rand.Rand, sig string, id, ts, header *string) {
		i := strings.IndexByte(sig, '=') - 1
		c := strings.IndexByte(base64Alphabet, sig[i])
		*header = "v1," + sig[:i] + string(base64Alphabet[c|(1+r.IntN(3))]) + sig[i+1:]
	}},
	{"RandomHeader", func(r *rand.Rand, sig string, id, ts, header *string) {
		*header = randomString(r, r.IntN(100))
	}},
	{"EmptyHeader", func(r *rand.Rand, sig string, id, ts, header *string) { *header = "" }},
	{"EmptyID", func(r *rand.Rand, sig string, id, ts, header *string) { *id = "" }},
	{"OtherID", func(r *rand.Rand, sig string, id, ts, header *string) { *id += "x" }},
	{"EmptyTimestamp", func(r *rand.Rand, sig string, id, ts, header *string) { *ts = "" }},
	{"TimestampPlusOne", func(r *rand.Rand, sig string, id, ts, header *string) {
		n, _ := strconv.ParseInt(*ts, 10, 64)
		*ts = strconv.FormatInt(n+1, 10)
	}},
	{"TimestampSpelling", func(r *rand.Rand, sig string, id, ts, header *string) {
		*ts = []string{"+", "0", "00", " ", "-", "0x"}[r.IntN(6)] + *ts
	}},
	{"TimestampGarbage", func(r *rand.Rand, sig string, id, ts, header *string) {
		*ts = []string{"now", "1e9", "1700000000.0", "99999999999999999999", "-0", randomString(r, 6)}[r.IntN(6)]
	}},
}

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func randomCase(r *rand.Rand) diffCase {
	var c diffCase
	for range 1 + r.IntN(3) {
		key := make([]byte, 1+r.IntN(64))
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		s := base64.StdEncoding.EncodeToString(key)
		if r.IntN(2) == 0 {
			s = svixsig.SecretPrefix + s
		}
		c.secrets = append(c.secrets, s)
		c.keys = append(c.keys, key)
	}
	c.id = "msg_" + randomString(r, r.IntN(40))
	if r.IntN(20) == 0 {
		c.id = randomString(r, 100+r.IntN(300)) // longer than the internal buffer
	}

	// Offsets from now: inside the window, or outside it, never within 10 s of an edge.
	var offset time.Duration
	switch r.IntN(4) {
	case 0, 1:
		offset = time.Duration(r.IntN(2*290+1)-290) * time.Second
	case 2:
		offset = time.Duration(310+r.IntN(100_000)) * time.Second
	default:
		offset = -time.Duration(310+r.IntN(100_000)) * time.Second
	}
	c.signedAt = time.Now().Add(offset)

	c.body = make([]byte, r.IntN(4096))
	for i := range c.body {
		c.body[i] = byte(r.Uint32())
	}

	sig := svixsig.Sign(c.keys[len(c.keys)-1], c.id, c.signedAt, c.body)
	id, ts, header := c.id, strconv.FormatInt(c.signedAt.Unix(), 10), sig
	m := mutations[r.IntN(len(mutations))]
	if r.IntN(3) == 0 {
		m = mutations[0] // more valid deliveries
	}
	m.f(r, strings.TrimPrefix(sig, "v1,"), &id, &ts, &header)
	c.mutation = m.name

	names := []string{"Svix-Id", "Svix-Timestamp", "Svix-Signature"}
	if r.IntN(4) == 0 {
		names = []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}
	}
	c.header = http.Header{}
	for i, value := range []string{id, ts, header} {
		if value != "" || r.IntN(2) == 0 { // a blank header, or none
			c.header[names[i]] = []string{value}
		}
	}
	return c
}

func randomByteFrom(r *rand.Rand, alphabet string) byte { return alphabet[r.IntN(len(alphabet))] }

// randomString returns n random printable ASCII characters, spaces and commas
// included.
func randomString(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(' ' + r.IntN('~'-' '+1))
	}
	return string(b)
}

func randomBase64Sig(r *rand.Rand) string {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)
}
