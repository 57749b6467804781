package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// backfillResult is what a backfill from the fake Clerk measured.
type backfillResult struct {
	Users      int
	Duration   time.Duration
	PerSecond  float64
	PeakRSSKiB int64
	Requests   string
	Err        error // why the backfill failed; the rest is zero then
}

// fakeKey is the development secret key the fake Clerk accepts.
const fakeKey = "sk_test_clerkfake0000000000000000000000000000"

// measureBackfill starts the fake Clerk with users seeded (limits off) and times
// `clerksync backfill` into a new SQLite file.
func measureBackfill(ctx context.Context, users int, dir, clerksync string) (backfillResult, error) {
	fake := filepath.Join(dir, "fakeclerkd")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", fake, "./internal/fakeclerkd").CombinedOutput(); err != nil {
		return backfillResult{}, fmt.Errorf("build fakeclerkd: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return backfillResult{}, err
	}
	ready := filepath.Join(dir, "fake.ready")
	fc := exec.CommandContext(ctx, fake, "-users", strconv.Itoa(users), "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-ready-file", ready)
	if err := fc.Start(); err != nil {
		return backfillResult{}, err
	}
	defer func() {
		_ = fc.Process.Signal(syscall.SIGTERM)
		_ = fc.Wait()
	}()
	var url []byte
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if url, err = os.ReadFile(ready); err == nil && len(url) > 0 {
			break
		}
	}
	if len(url) == 0 {
		return backfillResult{}, fmt.Errorf("the fake Clerk did not come up")
	}

	env := append(os.Environ(), "CLERK_SECRET_KEY="+fakeKey, "CLERK_API_URL="+strings.TrimSpace(string(url)),
		"DATABASE_URL=sqlite:"+filepath.Join(dir, "backfill.db"), "LOG_LEVEL=warn")
	// backfill writes into the database serve keeps, which migrate creates: not timed.
	migrate := exec.CommandContext(ctx, clerksync, "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		return backfillResult{}, fmt.Errorf("clerksync migrate: %w\n%s", err, out)
	}
	bf := exec.CommandContext(ctx, clerksync, "backfill", "--rate-limit", "-1")
	bf.Env = env
	start := time.Now()
	out, err := bf.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return backfillResult{}, fmt.Errorf("clerksync backfill: %w\n%s", err, out)
	}
	r := backfillResult{Users: users, Duration: took, PerSecond: float64(users) / took.Seconds()}
	if ru, ok := bf.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSKiB = ru.Maxrss // KiB on Linux
	}
	if m := regexp.MustCompile(`Clerk API: (.*)`).FindSubmatch(out); m != nil {
		r.Requests = string(m[1])
	}
	return r, nil
}
