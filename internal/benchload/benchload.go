// Package benchload generates the webhook deliveries clerksync's benchmarks send:
// signed user.updated bodies of about 3.8 KB (a user with two emails, a phone and a
// Google account), each the next version of a random user, with a share of duplicates
// (an earlier svix-id resent) and of out-of-order versions (older than what was sent
// before). The load generator of `make bench` sends them over HTTP; the instruction
// counter of `make bench-cpu` feeds them to the webhook path in-process.
package benchload

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/svixsig"
)

// marker is the updated_at every template is generated with: a value no other
// timestamp in a body has, so that Fill can find the user's updated_at and write a new
// version into it without re-encoding anything.
const marker = "1799999999999"

// Config describes a workload.
type Config struct {
	// Users is how many distinct users the events are about.
	Users int
	// Secret is the webhook signing secret (whsec_…) the deliveries are signed with.
	Secret string
	// DupShare is the share of deliveries that resend an earlier svix-id, StaleShare
	// the share that carry an older version of their user than one sent before.
	DupShare, StaleShare float64
	// Now is the clock that stamps the envelopes and the signatures; time.Now when nil.
	// A fixed clock makes every delivery the same from one run to the next.
	Now func() time.Time
}

// Workload produces signed deliveries. It is safe for concurrent use.
type Workload struct {
	key       []byte
	now       func() time.Time
	templates [][]byte
	offsets   []int // where the marker's value starts in each template
	versions  []atomic.Int64

	dupShare, staleShare float64
	seq                  atomic.Int64
	base                 int64

	mu     sync.Mutex
	recent []sent // a ring of recently sent deliveries, for duplicates
	next   int
}

type sent struct {
	id   string
	user int
	ts   int64
}

// New builds the users' templates. It fails when the secret cannot be decoded or
// Users is not positive.
func New(cfg Config) (*Workload, error) {
	if cfg.Users < 1 {
		return nil, errors.New("benchload: at least one user is needed")
	}
	key, err := svixsig.DecodeSecret(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("benchload: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	w := &Workload{key: key, now: now, dupShare: cfg.DupShare, staleShare: cfg.StaleShare,
		versions: make([]atomic.Int64, cfg.Users), recent: make([]sent, 4096),
		base: start.UnixMilli() - int64(cfg.Users)*1000}
	ts, _ := strconv.ParseInt(marker, 10, 64)
	for u := range cfg.Users {
		usr := clerkfake.NewUser(clerkfake.UserParams{
			Seed: uint64(u + 1), ID: fmt.Sprintf("user_2bench%017d", u), Rich: true,
			CreatedAt: time.UnixMilli(1_700_000_000_000), UpdatedAt: time.UnixMilli(ts),
		})
		body := clerkfake.WebhookEvent("user.updated", usr, start)
		at := bytes.Index(body, []byte(`"updated_at":`+marker))
		if at < 0 || bytes.Count(body, []byte(marker)) != 1 {
			return nil, fmt.Errorf("benchload: template for user %d has no unique updated_at marker", u)
		}
		w.templates = append(w.templates, body)
		w.offsets = append(w.offsets, at+len(`"updated_at":`))
	}
	return w, nil
}

// BodySize returns the mean size of a delivery's body in bytes.
func (w *Workload) BodySize() int {
	n := 0
	for _, t := range w.templates {
		n += len(t)
	}
	return n / len(w.templates)
}

// Delivery is one signed webhook delivery: what goes into the svix-id,
// svix-timestamp and svix-signature headers, and the body.
type Delivery struct {
	ID        string
	Timestamp time.Time
	Signature string
	// Body is rewritten by the next Fill into the same Delivery: a caller that keeps
	// it (or something decoded from it) beyond that must copy it or use another
	// Delivery.
	Body []byte
}

// Fill writes the next delivery into d, reusing d.Body. rng decides the user and
// whether the delivery is a duplicate or an older version; with one rng and one
// goroutine, the sequence of deliveries depends only on rng's seed and the clock.
func (w *Workload) Fill(rng *rand.Rand, d *Delivery) {
	var ev sent
	r := rng.Float64()
	switch {
	case r < w.dupShare && w.seq.Load() > int64(len(w.recent)):
		w.mu.Lock()
		ev = w.recent[rng.IntN(len(w.recent))]
		w.mu.Unlock()
	default:
		u := rng.IntN(len(w.templates))
		v := w.versions[u].Add(1)
		ts := w.base + int64(u)*1000 + v*10
		if r < w.dupShare+w.staleShare && v > 2 {
			ts -= 10 * int64(1+rng.IntN(int(v-1))) // an older version, arriving late
		}
		ev = sent{id: "msg_bench_" + strconv.FormatInt(w.seq.Add(1), 36), user: u, ts: ts}
		w.mu.Lock()
		w.recent[w.next%len(w.recent)] = ev
		w.next++
		w.mu.Unlock()
	}
	t := w.templates[ev.user]
	d.Body = append(d.Body[:0], t...)
	strconv.AppendInt(d.Body[w.offsets[ev.user]:w.offsets[ev.user]], ev.ts, 10)
	d.ID = ev.id
	d.Timestamp = w.now()
	d.Signature = svixsig.Sign(w.key, d.ID, d.Timestamp, d.Body)
}
