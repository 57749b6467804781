package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/storetest"
)

// appEndpoint is an application's endpoint for the forwarded feed, in the test
// process: it verifies every delivery with the svix Go library, records the entries it
// acknowledged in the order it acknowledged them, and refuses deliveries while told
// to.
type appEndpoint struct {
	t   testing.TB
	wh  *svix.Webhook
	srv *httptest.Server

	mu       sync.Mutex
	delay    time.Duration // how long each acknowledgement takes
	refusing bool
	attempts map[string]int        // entry id → deliveries
	acked    []clerksync.FeedEntry // in the order acknowledged
	ackedIDs map[string]bool
	refused  int
	badSig   int
}

func newAppEndpoint(t testing.TB) *appEndpoint {
	t.Helper()
	wh, err := svix.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	a := &appEndpoint{t: t, wh: wh, attempts: map[string]int{}, ackedIDs: map[string]bool{}}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

// URL is where serve forwards to.
func (a *appEndpoint) URL() string { return a.srv.URL + "/clerksync/changes" }

func (a *appEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := a.wh.Verify(body, r.Header); err != nil {
		a.mu.Lock()
		a.badSig++
		a.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var e clerksync.FeedEntry
	if err := json.Unmarshal(body, &e); err != nil || e.ID != r.Header.Get("webhook-id") {
		http.Error(w, "not an entry", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	delay := a.delay
	a.mu.Unlock()
	time.Sleep(delay)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attempts[e.ID]++
	if a.refusing {
		a.refused++
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	a.acked = append(a.acked, e)
	a.ackedIDs[e.ID] = true
	w.WriteHeader(http.StatusNoContent)
}

// refuse makes the endpoint answer 503 to every delivery, or stops it.
func (a *appEndpoint) refuse(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refusing = on
}

// counts returns how many distinct entries were acknowledged and how many deliveries
// were refused.
func (a *appEndpoint) counts() (acked, refused int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ackedIDs), a.refused
}

// waitAll waits until every entry of the feed has been acknowledged.
func (a *appEndpoint) waitAll(t testing.TB, feed clerksync.FeedStore, within time.Duration) []clerksync.FeedEntry {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		all := storetest.AllChanges(t, feed, 0)
		a.mu.Lock()
		missing := 0
		for _, e := range all {
			if !a.ackedIDs[e.ID] {
				missing++
			}
		}
		a.mu.Unlock()
		if missing == 0 && len(all) > 0 {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d entries never acknowledged", missing, len(all))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// check fails t unless each entry of want was acknowledged as it is in the feed, each
// object's entries first acknowledged in seq order, and every delivery verified.
func (a *appEndpoint) check(t testing.TB, want []clerksync.FeedEntry) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	first := map[string]clerksync.FeedEntry{}
	last := map[string]int64{}
	for _, e := range a.acked {
		if _, seen := first[e.ID]; seen {
			continue
		}
		first[e.ID] = e
		if e.Seq < last[e.ObjectID] {
			t.Errorf("%s: entry %d first acknowledged after entry %d", e.ObjectID, e.Seq, last[e.ObjectID])
		}
		last[e.ObjectID] = e.Seq
	}
	for _, w := range want {
		got, ok := first[w.ID]
		if !ok {
			t.Errorf("entry %d (%s %s) never acknowledged", w.Seq, w.Type, w.ObjectID)
			continue
		}
		wb, _ := w.MarshalJSON()
		gb, _ := got.MarshalJSON()
		if !bytes.Equal(wb, gb) {
			t.Errorf("entry %d arrived as\n%s\nnot as the feed holds it\n%s", w.Seq, gb, wb)
		}
	}
	if a.badSig > 0 {
		t.Errorf("%d deliveries did not verify with the svix library", a.badSig)
	}
}

// redelivered returns how many entries were delivered more than once.
func (a *appEndpoint) redelivered() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.attempts {
		if c > 1 {
			n++
		}
	}
	return n
}

// orgEvents returns webhook events of organizations in Clerk's order: each created,
// renamed, with members and an invitation; some deleted. Their svix-ids start with
// prefix.
func orgEvents(prefix string, orgs int) []event {
	var events []event
	base := int64(1_750_000_000_000)
	for o := range orgs {
		id := fmt.Sprintf("org_%s%03d", prefix, o)
		org := storetest.NewOrganization(id, base, base)
		ev := func(name string, c clerksync.Change) {
			events = append(events, event{id: fmt.Sprintf("msg_%s_%s", id, name), userID: id, typ: c.EventType, body: c.Body})
		}
		ev("created", storetest.Event("", "organization.created", org))
		ev("updated", storetest.Event("", "organization.updated", storetest.NewOrganization(id, base, base+1000)))
		for m := range 2 {
			mem := storetest.NewMembership(fmt.Sprintf("orgmem_%s_%d", id, m), storetest.NewOrganization(id, base, base+1000),
				fmt.Sprintf("user_member%d", m), "org:member", base+2000, base+2000)
			ev(fmt.Sprintf("member%d", m), storetest.Event("", "organizationMembership.created", mem))
		}
		ev("invited", storetest.Event("", "organizationInvitation.created",
			storetest.NewInvitation("orginv_"+id, id, "invitee@example.com", "pending", "", base+3000, base+3000)))
		if o%3 == 0 {
			ev("deleted", storetest.DeleteEvent("", "organization.deleted", clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: id}, base+9000))
		}
	}
	return events
}
