package benchload_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/internal/benchload"
	"github.com/clerksync/clerksync/svixsig"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var at = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newWorkload(t *testing.T, users int) *benchload.Workload {
	t.Helper()
	w, err := benchload.New(benchload.Config{Users: users, Secret: secret, DupShare: 0.05, StaleShare: 0.05,
		Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// The deliveries are what a receiver gets from Clerk: signed with the secret, and
// user.updated events of one of the workload's users, each a version of its own,
// with duplicates that repeat an earlier delivery exactly and versions older than
// one already sent.
func TestDeliveriesAreSignedUserUpdates(t *testing.T) {
	const users, n = 20, 6000
	w := newWorkload(t, users)
	v, err := svixsig.NewVerifier([]string{secret}, svixsig.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	bodies := map[string][]byte{} // by svix-id
	newest := map[string]int64{}  // updated_at, by user
	var dups, stale int
	var d benchload.Delivery
	for range n {
		w.Fill(rng, &d)
		h := http.Header{}
		h.Set(svixsig.HeaderSvixID, d.ID)
		h.Set(svixsig.HeaderSvixTimestamp, strconv.FormatInt(d.Timestamp.Unix(), 10))
		h.Set(svixsig.HeaderSvixSignature, d.Signature)
		if _, err := v.Verify(h, d.Body); err != nil {
			t.Fatalf("delivery %s does not verify: %v", d.ID, err)
		}
		c := clerkdecode.ChangeFromEvent(d.ID, bytes.Clone(d.Body), clerkdecode.Options{})
		if c.Op == clerksync.OpDeadLetter || c.Op == clerksync.OpIgnore || c.EventType != "user.updated" {
			t.Fatalf("delivery %s decodes as %s %q (%s), want a change from user.updated", d.ID, c.Op, c.EventType, c.Error)
		}
		var ev struct {
			Data struct {
				ID        string `json:"id"`
				UpdatedAt int64  `json:"updated_at"`
			} `json:"data"`
		}
		if err := json.Unmarshal(d.Body, &ev); err != nil {
			t.Fatalf("delivery %s: %v", d.ID, err)
		}
		if ev.Data.ID != c.UserID {
			t.Fatalf("delivery %s is about %s, decoded as about %s", d.ID, ev.Data.ID, c.UserID)
		}
		if earlier, ok := bodies[d.ID]; ok {
			dups++
			if !bytes.Equal(earlier, d.Body) {
				t.Fatalf("duplicate %s has another body than its first delivery", d.ID)
			}
			continue
		}
		bodies[d.ID] = bytes.Clone(d.Body)
		if ev.Data.UpdatedAt < newest[c.UserID] {
			stale++
		}
		newest[c.UserID] = max(newest[c.UserID], ev.Data.UpdatedAt)
	}
	if len(newest) != users {
		t.Errorf("deliveries were about %d users, want %d", len(newest), users)
	}
	if dups == 0 || stale == 0 {
		t.Errorf("%d duplicates and %d out-of-order versions in %d deliveries, want some of each", dups, stale, n)
	}
}

// With the same seed and clock, two workloads send the same bytes: the instruction
// counter compares runs that must differ only by the code under test.
func TestSameSeedSameDeliveries(t *testing.T) {
	a, b := newWorkload(t, 50), newWorkload(t, 50)
	ra, rb := rand.New(rand.NewPCG(7, 8)), rand.New(rand.NewPCG(7, 8))
	var da, db benchload.Delivery
	for i := range 500 {
		a.Fill(ra, &da)
		b.Fill(rb, &db)
		if da.ID != db.ID || da.Signature != db.Signature || !bytes.Equal(da.Body, db.Body) {
			t.Fatalf("delivery %d differs: %s and %s", i, da.ID, db.ID)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := benchload.New(benchload.Config{Users: 0, Secret: secret}); err == nil {
		t.Error("New with no users succeeded")
	}
	if _, err := benchload.New(benchload.Config{Users: 1, Secret: "whsec_%%%"}); err == nil {
		t.Error("New with an undecodable secret succeeded")
	}
}
