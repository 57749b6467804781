package main

import (
	"bytes"
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
// timestamp in a body has, so that the generator can find the user's updated_at and
// write a new version into it without re-encoding anything.
const marker = "1799999999999"

// workload produces signed user.updated deliveries: for a random user its next
// version, except for a share of duplicates (a delivery resent with the same svix-id)
// and of out-of-order versions (older than what was already sent).
type workload struct {
	key       []byte
	templates [][]byte
	offsets   []int // where the marker is in each template
	versions  []atomic.Int64

	dupShare, staleShare float64
	seq                  atomic.Int64
	base                 int64

	mu     sync.Mutex
	recent []sentEvent // a ring of recently sent deliveries, for duplicates
	next   int
}

type sentEvent struct {
	id   string
	user int
	ts   int64
}

func newWorkload(users int, secret string, dupShare, staleShare float64) (*workload, error) {
	key, err := svixsig.DecodeSecret(secret)
	if err != nil {
		return nil, err
	}
	w := &workload{key: key, dupShare: dupShare, staleShare: staleShare,
		versions: make([]atomic.Int64, users), recent: make([]sentEvent, 4096),
		base: time.Now().UnixMilli() - int64(users)*1000}
	ts, _ := strconv.ParseInt(marker, 10, 64)
	for u := range users {
		usr := clerkfake.NewUser(clerkfake.UserParams{
			Seed: uint64(u + 1), ID: fmt.Sprintf("user_2bench%017d", u), Rich: true,
			CreatedAt: time.UnixMilli(1_700_000_000_000), UpdatedAt: time.UnixMilli(ts),
		})
		body := clerkfake.WebhookEvent("user.updated", usr, time.Now())
		at := bytes.Index(body, []byte(`"updated_at":`+marker))
		if at < 0 || bytes.Count(body, []byte(marker)) != 1 {
			return nil, fmt.Errorf("template for user %d has no unique updated_at marker", u)
		}
		w.templates = append(w.templates, body)
		w.offsets = append(w.offsets, at+len(`"updated_at":`))
	}
	return w, nil
}

// bodySize returns the mean size of a delivery's body.
func (w *workload) bodySize() int {
	n := 0
	for _, t := range w.templates {
		n += len(t)
	}
	return n / len(w.templates)
}

// delivery is one request to send.
type delivery struct {
	id  string
	buf []byte
	sig string
	ts  time.Time
}

// fill writes the next delivery into d, reusing d.buf.
func (w *workload) fill(rng *rand.Rand, d *delivery) {
	var ev sentEvent
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
		ev = sentEvent{id: "msg_bench_" + strconv.FormatInt(w.seq.Add(1), 36), user: u, ts: ts}
		w.mu.Lock()
		w.recent[w.next%len(w.recent)] = ev
		w.next++
		w.mu.Unlock()
	}
	t := w.templates[ev.user]
	d.buf = append(d.buf[:0], t...)
	strconv.AppendInt(d.buf[w.offsets[ev.user]:w.offsets[ev.user]], ev.ts, 10)
	d.id = ev.id
	d.ts = time.Now()
	d.sig = svixsig.Sign(w.key, d.id, d.ts, d.buf)
}
