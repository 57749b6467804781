package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/storetest"
)

// TestReplicas_FeedReaderMissesNothing runs three `clerksync serve` processes on one
// PostgreSQL schema and fires webhooks of users and organizations at them
// concurrently, while a reader in this process follows the changes feed by its
// cursor, as an application does. On PostgreSQL a later seq could commit before an
// earlier one; the reader must still skip none: the seqs it read are exactly 1 to the
// last, and replaying them gives the tables.
func TestReplicas_FeedReaderMissesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three servers; skipped with -short")
	}
	t.Parallel()
	pgtest.Admin(t) // skips t when PostgreSQL does not answer
	events, _ := userHistory(newRand(t), "feedreader", 40)
	events = append(events, orgEvents("feedreader", 8)...)
	rng := newRand(t)
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })

	replicas, schema := startPGReplicas(t, 3)
	store := pgtest.Open(t, schema)

	// The reader: pages of a few entries, as fast as it can, until told to stop and
	// the feed holds nothing more.
	var (
		read    []clerksync.FeedEntry
		stop    atomic.Bool
		readErr error
		reader  sync.WaitGroup
	)
	reader.Go(func() {
		var after int64
		for {
			page, err := store.Changes(context.Background(), clerksync.FeedFilter{After: after, Limit: 5})
			if err != nil {
				readErr = err
				return
			}
			read = append(read, page...)
			if len(page) > 0 {
				after = page[len(page)-1].Seq
				continue
			}
			if stop.Load() {
				return
			}
			time.Sleep(time.Millisecond)
		}
	})

	work := make(chan event)
	var senders sync.WaitGroup
	var failures atomic.Int64
	for w := range 12 {
		senders.Go(func() {
			for ev := range work {
				r := replicas[(w+len(ev.id))%len(replicas)]
				if d := post(r.URL, ev.id, ev.body); d.Err != nil || d.Status != http.StatusOK {
					failures.Add(1)
					t.Errorf("%s to %s: %v %d", ev.id, r.name, d.Err, d.Status)
				}
			}
		})
	}
	for _, ev := range events {
		work <- ev
	}
	close(work)
	senders.Wait()
	for _, r := range replicas {
		r.stop(t)
	}
	stop.Store(true)
	reader.Wait()
	if readErr != nil {
		t.Fatalf("the reader failed: %v", readErr)
	}
	if failures.Load() > 0 {
		t.Fatalf("replica logs:\n%s", allLogs(replicas))
	}

	last, err := store.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(read)) != last {
		t.Errorf("the reader read %d entries; the last seq is %d", len(read), last)
	}
	for i, e := range read {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d read has seq %d, want %d: an entry was skipped or read twice", i, e.Seq, i+1)
		}
	}
	storetest.CheckFeedMatchesTables(t, store, read)
	types := map[string]int{}
	for _, e := range read {
		types[e.Type]++
	}
	t.Logf("%d webhooks to 3 replicas; the reader followed %d entries: %v", len(events), len(read), fmt.Sprint(types))
}
