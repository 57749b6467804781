// Command bench measures clerksync's webhook throughput and CPU per delivery against
// the receivers it is meant to beat, on one machine under one load, sets them against
// clerksync's targets and writes the numbers to BENCHMARKS.md.
//
//	go run ./bench               # everything (make bench)
//	go run ./bench -only verify-only,clerksync-sqlite -duration 5s
//	go run ./bench -baseline main -only naive-sqlite,clerksync-sqlite
//
// Each receiver runs as a process of its own; the load generator (64 concurrent
// senders by default, signed ~3.8 KB user.updated bodies, a share of duplicates and of
// out-of-order versions) runs in this process, on the same machine. With -baseline,
// clerksync as it was at another commit is measured in the same rounds as this tree's,
// so that a change's cost is seen within one run on a noisy machine.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync/internal/benchload"
	"github.com/clerksync/clerksync/internal/buildref"
	"github.com/clerksync/clerksync/internal/procstat"
)

// benchSecret signs the deliveries; it is the benchmark's own, not a secret of anyone.
const benchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var allTargets = []string{"verify-only", "naive-sqlite", "clerksync-sqlite", "naive-postgres", "clerksync-postgres"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "receive" {
		if err := receive(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench receive:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	duration, warmup time.Duration
	concurrency      int
	users            int
	dupShare         float64
	staleShare       float64
	pgURL            string
	only             string
	out              string
	clerksyncArgs    string
	url              string
	backfillUsers    int
	rounds           int
	baseline         string
}

func run() error {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per receiver")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time before each measurement")
	flag.IntVar(&o.concurrency, "concurrency", 64, "concurrent senders")
	flag.IntVar(&o.users, "users", 5000, "distinct users the events are about")
	flag.Float64Var(&o.dupShare, "duplicates", 0.05, "share of deliveries that resend an earlier svix-id")
	flag.Float64Var(&o.staleShare, "stale", 0.05, "share of deliveries that carry an older version")
	flag.StringVar(&o.pgURL, "postgres", envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL for the PostgreSQL receivers")
	flag.StringVar(&o.only, "only", "", "comma-separated measurements to run (default all: "+strings.Join(allTargets, ",")+",backfill)")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "file to write the results to ('' for none)")
	flag.StringVar(&o.clerksyncArgs, "clerksync-args", "", "extra flags for clerksync serve")
	flag.IntVar(&o.rounds, "rounds", 3, "times each receiver is measured, in turn; the report gives the median round")
	flag.IntVar(&o.backfillUsers, "backfill-users", 100000, "users the backfill measurement imports from the fake Clerk (0 to skip it)")
	flag.StringVar(&o.url, "url", "", "load this already running receiver's webhook URL instead (for profiling); prints its numbers only")
	flag.StringVar(&o.baseline, "baseline", "", "a git ref (branch, tag, commit): measure clerksync as built there too, in the same rounds, as clerksync-…@REF")
	flag.Parse()

	targets := allTargets
	if o.only != "" {
		targets = strings.Split(o.only, ",")
	}
	ctx := context.Background()
	if o.rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	if o.url != "" {
		w, err := benchload.New(benchload.Config{Users: o.users, Secret: benchSecret, DupShare: o.dupShare, StaleShare: o.staleShare})
		if err != nil {
			return err
		}
		r := runLoad(ctx, o.url, w, o.concurrency, o.warmup, o.duration)
		fmt.Printf("%s: %.0f/s  p50 %s  p99 %s  answers %v\n", o.url, r.PerSecond, r.P50, r.P99, r.Status)
		return nil
	}
	pgOK := pgReachable(ctx, o.pgURL)
	if !pgOK {
		fmt.Fprintf(os.Stderr, "PostgreSQL at %s does not answer: the PostgreSQL receivers are SKIPPED\n", redact(o.pgURL))
	}

	dir, err := os.MkdirTemp("", "clerksync-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bins := map[string]string{"": filepath.Join(dir, "clerksync")} // by ref, "" for this tree
	fmt.Fprintln(os.Stderr, "building clerksync…")
	// -trimpath, as buildref builds the baseline: the two differ only by their code.
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bins[""], "./cmd/clerksync").CombinedOutput(); err != nil {
		return fmt.Errorf("build clerksync (run from the repository's root): %w\n%s", err, out)
	}
	var baseline *baselineInfo
	if o.baseline != "" {
		fmt.Fprintf(os.Stderr, "building clerksync at %s…\n", o.baseline)
		bins[o.baseline] = filepath.Join(dir, "clerksync-baseline")
		commit, err := buildref.Build(ctx, o.baseline, "./cmd/clerksync", bins[o.baseline])
		if err != nil {
			return err
		}
		baseline = &baselineInfo{ref: o.baseline, commit: commit}
		targets = withBaseline(targets, o.baseline)
	}

	fmt.Fprintf(os.Stderr, "preparing %d users' events…\n", o.users)
	w, err := benchload.New(benchload.Config{Users: o.users, Secret: benchSecret, DupShare: o.dupShare, StaleShare: o.staleShare})
	if err != nil {
		return err
	}

	// Receivers are measured in turn, round after round, so that a machine that is
	// slower for a while (another tenant, the disk flushing) weighs on every receiver
	// alike; the report takes each receiver's median round, and each ratio within a
	// round.
	results := map[string][]loadResult{}
	for round := 1; round <= o.rounds; round++ {
		for _, t := range roundOrder(targets, round) {
			if t == "backfill" {
				continue // measured below
			}
			if strings.HasSuffix(receiverKind(t), "postgres") && !pgOK {
				continue
			}
			r, err := measure(ctx, t, o, w, dir, self, bins)
			if err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
			results[t] = append(results[t], r)
			fmt.Fprintf(os.Stderr, "round %d/%d %-26s %9.0f/s  p50 %-9s p99 %-9s peak RSS %6.1f MiB  CPU/delivery %s + database %s (server's own %s) = %s (load %s, machine %s, %.0f%% idle)  errors %d %v\n",
				round, o.rounds, t, r.PerSecond, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond),
				float64(r.PeakRSSKiB)/1024, us(r.ReceiverCPU), us(r.DatabaseCPU), us(r.ServerCPU), us(r.together()), us(r.LoadCPU), us(r.MachineCPU), r.Idle*100, r.Errors, r.Status)
		}
	}
	var bf *backfillResult
	if o.backfillUsers > 0 && (o.only == "" || strings.Contains(o.only, "backfill")) {
		fmt.Fprintf(os.Stderr, "backfill of %d users from the fake Clerk…\n", o.backfillUsers)
		// A failed backfill is reported, not fatal: the rounds before it took minutes.
		r, err := measureBackfill(ctx, o.backfillUsers, dir, bins[""])
		if err != nil {
			r = backfillResult{Users: o.backfillUsers, Err: err}
			fmt.Fprintf(os.Stderr, "backfill FAILED: %v\n", err)
		} else {
			fmt.Fprintf(os.Stderr, "%-20s %9.0f users/s  %s  peak RSS %6.1f MiB  (%s)\n", "backfill-sqlite", r.PerSecond,
				r.Duration.Round(10*time.Millisecond), float64(r.PeakRSSKiB)/1024, r.Requests)
		}
		bf = &r
	}
	report := renderReport(o, results, w.BodySize(), bf, baseline)
	fmt.Print(report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "wrote", o.out)
	}
	return nil
}

// baselineInfo names the commit -baseline measured.
type baselineInfo struct {
	ref, commit string
}

// withBaseline adds, after each clerksync receiver of targets, the same receiver
// built at ref, so that the two run one after the other in every round.
func withBaseline(targets []string, ref string) []string {
	var out []string
	for _, t := range targets {
		out = append(out, t)
		if strings.HasPrefix(t, "clerksync-") {
			out = append(out, t+"@"+ref)
		}
	}
	return out
}

// roundOrder returns the order of targets in round: every other round, a clerksync
// receiver and its baseline swap places, so that whatever running first or second does
// (a warmer disk cache, another tenant's test starting) does not always fall on the same one.
func roundOrder(targets []string, round int) []string {
	order := slices.Clone(targets)
	if round%2 == 1 {
		return order
	}
	for i := 0; i+1 < len(order); i++ {
		if receiverKind(order[i+1]) == order[i] && order[i+1] != order[i] {
			order[i], order[i+1] = order[i+1], order[i]
			i++
		}
	}
	return order
}

// receiverKind returns the receiver a target runs: the target without its "@REF".
func receiverKind(t string) string {
	kind, _, _ := strings.Cut(t, "@")
	return kind
}

// measure starts the receiver t, loads it and stops it.
func measure(ctx context.Context, t string, o options, w *benchload.Workload, dir, self string, bins map[string]string) (loadResult, error) {
	port, err := freePort()
	if err != nil {
		return loadResult{}, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	schema := "bench_" + randomHex(4)
	// The receiver's PostgreSQL connections carry a name of their own, so that the
	// backends serving it can be told from everyone else's.
	app := "clerksync_bench_" + schema
	kind, ref, _ := strings.Cut(t, "@")
	var cmd *exec.Cmd
	cleanup := func() {}
	switch kind {
	case "verify-only":
		cmd = exec.Command(self, "receive", "-mode", kind, "-addr", addr, "-secret", benchSecret)
	case "naive-sqlite":
		cmd = exec.Command(self, "receive", "-mode", kind, "-addr", addr, "-secret", benchSecret, "-db", filepath.Join(dir, kind+".db"))
	case "naive-postgres":
		url, drop, err := pgSchema(ctx, o.pgURL, schema)
		if err != nil {
			return loadResult{}, err
		}
		cleanup = drop
		cmd = exec.Command(self, "receive", "-mode", kind, "-addr", addr, "-secret", benchSecret, "-db", withParam(url, "application_name", app))
	case "clerksync-sqlite", "clerksync-postgres":
		bin, ok := bins[ref]
		if !ok {
			return loadResult{}, fmt.Errorf("no clerksync built at %q (use -baseline %s)", ref, ref)
		}
		db := "sqlite:" + filepath.Join(dir, strings.ReplaceAll(t, "@", "-")+".db")
		if kind == "clerksync-postgres" {
			db = withParam(o.pgURL, "application_name", app)
			cleanup = func() { dropSchema(ctx, o.pgURL, schema) }
		}
		args := append([]string{"serve"}, strings.Fields(o.clerksyncArgs)...)
		cmd = exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "CLERK_WEBHOOK_SECRET="+benchSecret, "DATABASE_URL="+db,
			"DATABASE_SCHEMA="+schema, "PORT="+addr, "LOG_LEVEL=info")
	default:
		return loadResult{}, fmt.Errorf("unknown receiver %q (known: %s)", t, strings.Join(allTargets, ", "))
	}
	defer cleanup()
	logf, err := os.Create(filepath.Join(dir, strings.ReplaceAll(t, "@", "-")+".log"))
	if err != nil {
		return loadResult{}, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return loadResult{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	if err := waitHealthy(ctx, "http://"+addr+"/healthz", 30*time.Second); err != nil {
		return loadResult{}, fmt.Errorf("%w (see %s)", err, logf.Name())
	}
	var db *dbWatch
	if strings.HasSuffix(kind, "postgres") {
		if db, err = watchDatabase(ctx, o.pgURL, app); err != nil {
			return loadResult{}, err
		}
		defer db.close(ctx)
	}
	metricsURL := ""
	if strings.HasPrefix(kind, "clerksync-") {
		metricsURL = "http://" + addr + "/metrics"
	}
	win := sampleWindow(ctx, cmd.Process.Pid, db, metricsURL, o.warmup, o.duration)
	r := runLoad(ctx, "http://"+addr+"/api/webhooks/clerk", w, o.concurrency, o.warmup, o.duration)
	r.PeakRSSKiB, _ = procstat.PeakRSS(cmd.Process.Pid)
	use := <-win
	if use.err != nil {
		return r, use.err
	}
	r.setCPU(use)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	stopped = true
	if r.Deliveries == 0 {
		log, _ := os.ReadFile(logf.Name())
		return r, fmt.Errorf("no delivery succeeded (answers %v); log:\n%s", r.Status, tail(log, 2000))
	}
	return r, nil
}

func waitHealthy(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("receiver did not become healthy")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func pgReachable(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

// pgSchema creates schema and returns a URL whose connections use it.
func pgSchema(ctx context.Context, url, schema string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", nil, err
	}
	return withParam(url, "search_path", schema), func() { dropSchema(ctx, url, schema) }, nil
}

func dropSchema(ctx context.Context, url, schema string) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
}

// withParam returns url with the query parameter key set to value.
func withParam(url, key, value string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + key + "=" + value
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

func redact(url string) string {
	if i := strings.Index(url, "@"); i > 0 {
		if j := strings.Index(url, "://"); j > 0 && j < i {
			return url[:j+3] + "…" + url[i:]
		}
	}
	return url
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
