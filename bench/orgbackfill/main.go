// Command orgbackfill measures `clerksync backfill` of organizations: it seeds the
// fake Clerk Backend API (internal/fakeclerkd, rate limits off) with organizations and
// memberships, then times a backfill of them into a new SQLite file and into a new
// schema of PostgreSQL, and prints objects per second and the backfill's peak RSS:
//
//	go run ./bench/orgbackfill -orgs 10000 -memberships 100000
//
// PostgreSQL is TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test);
// the schema is dropped afterwards. Run it on an otherwise idle machine.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// fakeKey is the development secret key the fake Clerk accepts.
const fakeKey = "sk_test_clerkfake0000000000000000000000000000"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "orgbackfill:", err)
		os.Exit(1)
	}
}

type options struct {
	orgs, memberships, users int
	pgURL                    string
	stores                   string
}

func run() error {
	var o options
	flag.IntVar(&o.orgs, "orgs", 10000, "organizations to import")
	flag.IntVar(&o.memberships, "memberships", 100000, "memberships to import, spread over the organizations")
	flag.IntVar(&o.users, "users", 10000, "users the fake Clerk has (memberships are drawn from them; not imported)")
	flag.StringVar(&o.pgURL, "postgres", envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL to measure (\"\" to skip)")
	flag.StringVar(&o.stores, "stores", "sqlite,postgres", "stores to measure, comma-separated")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "clerksync-orgbackfill-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "clerksync")
	fake := filepath.Join(dir, "fakeclerkd")
	for target, out := range map[string]string{"./cmd/clerksync": bin, "./internal/fakeclerkd": fake} {
		if b, err := exec.CommandContext(ctx, "go", "build", "-o", out, target).CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w\n%s", target, err, b)
		}
	}
	apiURL, stopFake, err := startFake(ctx, fake, dir, o)
	if err != nil {
		return err
	}
	defer stopFake()

	fmt.Printf("Backfill of %d organizations with %d memberships from the fake Clerk Backend API (limits off)\n", o.orgs, o.memberships)
	for _, store := range strings.Split(o.stores, ",") {
		env := []string{"CLERK_SECRET_KEY=" + fakeKey, "CLERK_API_URL=" + apiURL, "LOG_LEVEL=warn"}
		var cleanup func()
		switch strings.TrimSpace(store) {
		case "sqlite":
			env = append(env, "DATABASE_URL=sqlite:"+filepath.Join(dir, "orgs.db"))
		case "postgres":
			if o.pgURL == "" {
				continue
			}
			schema := "clerksync_orgbench_" + randomHex(4)
			env = append(env, "DATABASE_URL="+o.pgURL, "DATABASE_SCHEMA="+schema)
			cleanup = func() { dropSchema(o.pgURL, schema) }
		default:
			return fmt.Errorf("unknown store %q: use sqlite or postgres", store)
		}
		r, err := measure(ctx, bin, env)
		if cleanup != nil {
			cleanup()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", store, err)
		}
		fmt.Printf("%-9s %9d objects in %7.1fs  %8.0f objects/s  peak RSS %6.1f MiB  (%s)\n", store, r.objects,
			r.took.Seconds(), float64(r.objects)/r.took.Seconds(), float64(r.peakRSSKiB)/1024, r.requests)
	}
	return nil
}

// result is what one backfill measured.
type result struct {
	objects    int64
	took       time.Duration
	peakRSSKiB int64
	requests   string
}

var (
	objectsLine  = regexp.MustCompile(`Backfill done: ([0-9,]+) objects read`)
	requestsLine = regexp.MustCompile(`Clerk API: (.*)`)
)

// measure runs one backfill of organizations (with their memberships and
// invitations) with env and reads what it did from its summary.
func measure(ctx context.Context, bin string, env []string) (result, error) {
	cmd := exec.CommandContext(ctx, bin, "backfill", "--only", "organizations", "--rate-limit", "-1", "--progress-every", "1h")
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("clerksync backfill: %w\n%s", err, out)
	}
	r := result{took: took}
	m := objectsLine.FindSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("no count in the summary:\n%s", out)
	}
	r.objects, _ = strconv.ParseInt(strings.ReplaceAll(string(m[1]), ",", ""), 10, 64)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.peakRSSKiB = ru.Maxrss // KiB on Linux
	}
	if m := requestsLine.FindSubmatch(out); m != nil {
		r.requests = string(m[1])
	}
	return r, nil
}

// startFake starts fakeclerkd with the seeds of o and returns its API's address.
func startFake(ctx context.Context, fake, dir string, o options) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	ready := filepath.Join(dir, "fake.ready")
	cmd := exec.CommandContext(ctx, fake, "-users", strconv.Itoa(o.users), "-orgs", strconv.Itoa(o.orgs),
		"-memberships", strconv.Itoa(o.memberships), "-addr", addr, "-ready-file", ready)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), stop, nil
		}
	}
	stop()
	return "", nil, errors.New("the fake Clerk did not come up")
}

// dropSchema drops the schema a PostgreSQL measurement used.
func dropSchema(url, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "orgbackfill: drop schema:", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		fmt.Fprintln(os.Stderr, "orgbackfill: drop schema:", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
