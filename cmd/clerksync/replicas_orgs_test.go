package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"testing"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/storetest"
)

// TestReplicas_ConvergeOrganizationsOnPostgres is the convergence rule across processes,
// over every kind of object: three `clerksync serve` replicas on one PostgreSQL schema
// take a random history of users and organizations — members added, given other roles,
// removed and added again, invitations accepted and revoked, roles and permissions
// remade under the same key, users and organizations deleted — shuffled, some
// deliveries sent to two replicas at once; the schema ends as applying the history in
// Clerk's order does, with one event log entry per svix-id, and a changes feed that,
// replayed, gives the tables.
func TestReplicas_ConvergeOrganizationsOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three servers; skipped with -short")
	}
	t.Parallel()
	pgtest.Admin(t) // skips t when PostgreSQL does not answer
	seed := storetest.Seed(t)
	rng := mrand.New(mrand.NewPCG(seed, 0x0a6))
	h := storetest.NewOrgHistory(rng, 300)

	// In Clerk's order, one delivery at a time, through the same decoder, in a schema
	// of its own.
	inOrder := pgtest.Open(t, pgtest.SchemaName(t, "clerksync_test"))
	for _, c := range h.Changes {
		ch := clerkdecode.ChangeFromEvent(c.EventID, c.Body, clerkdecode.Options{})
		if ch.Op == clerksync.OpDeadLetter {
			t.Fatalf("%s (%s) does not decode: %s", c.EventID, c.EventType, ch.Error)
		}
		storetest.MustApply(t, inOrder, ch)
	}

	const n = 3
	replicas, schema := startPGReplicas(t, n)

	var shots []shot
	for _, c := range h.Changes {
		shots = append(shots, aimShot(rng, n, 4, c.EventID, c.EventType, c.Body))
	}
	rng.Shuffle(len(shots), func(i, j int) { shots[i], shots[j] = shots[j], shots[i] })

	var (
		firsts   = make(map[string]int)
		failures []string
	)
	fireShots(replicas, shots, func(s shot, answers []delivery) {
		for i, a := range answers {
			switch {
			case a.Err != nil || a.Status != http.StatusOK:
				failures = append(failures, fmt.Sprintf("%s to %s: %d %v", s.id, replicas[s.targets[i]].name, a.Status, a.Err))
			case a.Outcome != "duplicate":
				firsts[s.id]++
				if a.Outcome != "applied" && a.Outcome != "stale" {
					failures = append(failures, fmt.Sprintf("%s (%s): %s", s.id, s.typ, a.Outcome))
				}
			}
		}
	})
	for _, f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		t.Fatalf("replica logs:\n%s", allLogs(replicas))
	}
	for _, c := range h.Changes {
		if got := firsts[c.EventID]; got != 1 {
			t.Errorf("%s: %d answers were not duplicates, want exactly 1", c.EventID, got)
		}
	}

	got := pgtest.Open(t, schema)
	storetest.SameState(t, got, inOrder, h.Keys)
	storetest.CheckFeedMatchesTables(t, got, storetest.AllChanges(t, got, 0))
	events, err := got.Events(context.Background(), clerksync.EventFilter{Limit: clerksync.MaxPage})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != len(h.Changes) {
		t.Errorf("the event log holds %d entries, want %d (one per svix-id)", len(events), len(h.Changes))
	}
	t.Logf("%d changes to %d objects, across %d replicas", len(h.Changes), len(h.Keys), n)
}
