// Command fakeclerkd serves a fake Clerk Backend API (package clerkfake) with seeded
// users (and organizations with memberships, with -orgs and -memberships) on a local
// port, for measuring clerksync backfill against it:
//
//	go run ./internal/fakeclerkd -users 100000 -addr 127.0.0.1:8089 &
//	CLERK_SECRET_KEY=sk_test_clerkfake0000000000000000000000000000 \
//	CLERK_API_URL=http://127.0.0.1:8089/v1 clerksync backfill --rate-limit -1
//
// It prints the API's address once the users are seeded, and on SIGINT or SIGTERM
// how many requests it answered and how many of them 429.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/clerksync/clerksync/clerkfake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakeclerkd:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		addr   = flag.String("addr", "127.0.0.1:8089", "address to listen on")
		users  = flag.Int("users", 10000, "users to seed")
		orgs   = flag.Int("orgs", 0, "organizations to seed, with -memberships spread over them")
		mems   = flag.Int("memberships", 0, "memberships to seed over the organizations, drawn from the users")
		limit  = flag.Int("rate-limit", -1, "requests per 10 s per key: -1 none, 0 Clerk's (100 for the sk_test_ key)")
		seed   = flag.Uint64("seed", 1, "seed of the generated users")
		ready  = flag.String("ready-file", "", "write the API's address to this file once the users are seeded")
		delays = flag.Duration("latency", 0, "delay every answer by this much, as a distant API would")
	)
	flag.Parse()
	opts := []clerkfake.Option{clerkfake.WithSeed(*seed)}
	if *limit != 0 {
		opts = append(opts, clerkfake.WithRateLimit(*limit, clerkfake.RateWindow))
	}
	fake := clerkfake.New(opts...)
	start := time.Now()
	if err := fake.Seed(*users); err != nil {
		return err
	}
	if err := fake.SeedOrganizations(*orgs, *mems); err != nil {
		return err
	}
	fake.SetLatency(*delays)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/v1"
	fmt.Fprintf(os.Stderr, "fakeclerkd: %d users, %d organizations and %d memberships seeded in %v; CLERK_API_URL=%s CLERK_SECRET_KEY=%s\n",
		*users, *orgs, *mems, time.Since(start).Round(time.Millisecond), url, fake.SecretKey())
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte(url+"\n"), 0o600); err != nil {
			return err
		}
	}

	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
		_ = srv.Shutdown(context.Background())
	}
	counts := fake.RequestCounts()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(os.Stderr, "fakeclerkd: %-28s %d requests\n", k, counts[k])
	}
	fmt.Fprintf(os.Stderr, "fakeclerkd: answered 429 %d times\n", fake.RateLimited())
	return nil
}
