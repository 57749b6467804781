package pull_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/pull"
	"github.com/clerksync/clerksync/sqlite"
)

// BenchmarkBackfill backfills 20,000 users from the fake Clerk, limits off, into a
// new SQLite file per iteration, and reports users per second. Profile it with
// -cpuprofile to see where the time goes (decoding, the engine, the store).
func BenchmarkBackfill(b *testing.B) {
	const users = 20000
	fake := clerkfake.New(clerkfake.WithRateLimit(0, 0), clerkfake.WithSeed(1))
	if err := fake.Seed(users); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	client, err := clerkapi.New(clerkapi.Config{BaseURL: srv.URL + "/v1", SecretKey: fake.SecretKey(), RateLimit: -1, HTTPClient: srv.Client()})
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		store, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		eng := engine.New(store, engine.Config{Logger: discard()})
		s := &pull.Syncer{Client: client, Engine: eng, Store: store, State: store, Logger: discard()}
		b.StartTimer()
		start := time.Now()
		rep, err := s.Backfill(context.Background(), pull.BackfillOptions{})
		total += time.Since(start)
		b.StopTimer()
		if err != nil || rep.Run.Counts.Created != users {
			b.Fatalf("backfill: %v, %+v", err, rep)
		}
		eng.Close()
		store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(users*b.N)/total.Seconds(), "users/s")
}
