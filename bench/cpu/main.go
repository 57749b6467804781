// Command cpu counts the instructions clerksync's webhook path executes per delivery —
// the signature check, the decoding and the apply through the engine into SQLite and
// into PostgreSQL — with valgrind's callgrind, in-process, so that the cost of a change
// can be compared exactly between two commits on a machine whose timings are noisy.
//
//	go run ./bench/cpu                     # make bench-cpu
//	go run ./bench/cpu -baseline main      # before (main) and after (this tree), and the delta
//
// Each step is counted as the difference between two loops that differ only by that
// step, and each loop as the difference between two runs that differ only by the
// number of deliveries, so start-up, set-up, warm-up and shut-down cancel out. The
// runs use a fixed seed and clock, so they send the same bytes; they differ by a few
// hundred instructions per delivery, as Go's runtime seeds its maps and caches at
// random (-repeat shows the range). perf cannot count instructions on a machine
// without hardware counters (a VM's, often), which is why callgrind counts them here;
// it sees only this process, so PostgreSQL's side is given as the CPU time of its
// backends instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync/internal/buildref"
)

// benchSecret signs the deliveries; it is the benchmarks' own, not a secret of anyone.
const benchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// overlay is what the loop needs from this tree to be built at another commit: its own
// package and the internal packages it imports, which that commit may not have.
var overlay = []string{"bench/cpu", "internal/benchload", "internal/buildref", "internal/pgprocs", "internal/procstat"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "loop" {
		if err := loopMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "cpu loop:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench-cpu:", err)
		os.Exit(1)
	}
}

type options struct {
	deliveries, warmup int
	batch, users       int
	dupShare           float64
	staleShare         float64
	pgURL              string
	baseline           string
	gogc               string
	repeat             int
	settle             time.Duration
}

func run(ctx context.Context) error {
	var o options
	flag.IntVar(&o.deliveries, "deliveries", 2000, "deliveries counted (N): each loop runs warm-up + N and warm-up + 2N deliveries")
	flag.IntVar(&o.warmup, "warmup", 4000, "deliveries before the counted ones, so that most users are in the database")
	flag.IntVar(&o.batch, "batch", 32, "changes per engine batch")
	flag.IntVar(&o.users, "users", 1000, "distinct users the events are about")
	flag.Float64Var(&o.dupShare, "duplicates", 0.05, "share of deliveries that resend an earlier svix-id")
	flag.Float64Var(&o.staleShare, "stale", 0.05, "share of deliveries that carry an older version")
	flag.StringVar(&o.pgURL, "postgres", envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL for the PostgreSQL apply ('' to skip it)")
	flag.StringVar(&o.baseline, "baseline", "", "a git ref (branch, tag, commit) to count too, built in a temporary worktree, for before/after/delta")
	flag.StringVar(&o.gogc, "gogc", "off", "GOGC for the counted runs: off counts the code's own instructions the same every run; a number adds the collector's, which vary with its timing")
	flag.IntVar(&o.repeat, "repeat", 1, "runs of each count; with more than one, the median and the range are shown")
	flag.DurationVar(&o.settle, "settle", 200*time.Millisecond, "pause after each SQLite batch, so that SQLite's checkpointer (every 50 ms) checkpoints each batch once (0: flat out, and a count that varies by up to 15%)")
	flag.Parse()
	if o.deliveries < 1 || o.warmup < 0 || o.repeat < 1 || o.batch < 1 || o.users < 1 {
		return errors.New("-deliveries, -batch, -users and -repeat must be positive, -warmup not negative")
	}
	if _, err := exec.LookPath("valgrind"); err != nil {
		return errors.New("valgrind is not installed: apt-get install valgrind")
	}

	dir, err := os.MkdirTemp("", "clerksync-bench-cpu-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	current := binary{label: describe(ctx), path: filepath.Join(dir, "loop-current")}
	fmt.Fprintln(os.Stderr, "building the loop…")
	if out, err := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", current.path, "./bench/cpu").CombinedOutput(); err != nil {
		return fmt.Errorf("build the loop (run from the repository's root): %w\n%s", err, out)
	}
	var bins []binary // the baseline (before) first, then this tree (after)
	if o.baseline != "" {
		fmt.Fprintf(os.Stderr, "building the loop at %s…\n", o.baseline)
		b := binary{path: filepath.Join(dir, "loop-baseline")}
		commit, err := buildref.Build(ctx, o.baseline, "./bench/cpu", b.path, overlay...)
		if err != nil {
			return err
		}
		b.label = o.baseline
		if commit != o.baseline {
			b.label += " (" + commit + ")"
		}
		bins = append(bins, b)
	}
	bins = append(bins, current)

	phases := []phase{phaseGenerate, phaseVerify, phaseDecode, phaseSQLite}
	if o.pgURL != "" {
		if err := pgReachable(ctx, o.pgURL); err != nil {
			fmt.Fprintf(os.Stderr, "PostgreSQL does not answer (%v): the PostgreSQL apply is SKIPPED\n", err)
		} else {
			phases = append(phases, phasePostgres)
		}
	}

	// counts[b][p] holds, for binary b and phase p, one pair of runs per repetition.
	counts := make([]map[phase][][2]count, len(bins))
	for i := range counts {
		counts[i] = map[phase][][2]count{}
	}
	sizes := [2]int{o.warmup + o.deliveries, o.warmup + 2*o.deliveries}
	runs, total := 0, len(bins)*len(phases)*2*o.repeat
	for rep := range o.repeat {
		for _, p := range phases {
			// The binaries take turns, so that whatever the machine is doing weighs on
			// both alike (SQLite's checkpointer runs by the clock).
			for b := range bins {
				var pair [2]count
				for k, n := range sizes {
					runs++
					fmt.Fprintf(os.Stderr, "[%d/%d] %s: %s, %d deliveries…\n", runs, total, bins[b].label, p, n)
					c, err := callgrind(ctx, bins[b].path, dir, o.gogc, loopArgs(o, p, n, rep))
					if err != nil {
						return err
					}
					pair[k] = c
				}
				counts[b][p] = append(counts[b][p], pair)
			}
		}
	}
	fmt.Print(render(o, bins, phases, counts))
	return nil
}

// binary is one build of the loop.
type binary struct {
	label, path string
}

var schemaSeq atomic.Int64

func loopArgs(o options, p phase, n, rep int) []string {
	args := []string{"-phase", p.String(), "-deliveries", strconv.Itoa(n), "-batch", strconv.Itoa(o.batch),
		"-users", strconv.Itoa(o.users), "-duplicates", fmt.Sprint(o.dupShare), "-stale", fmt.Sprint(o.staleShare)}
	if p == phaseSQLite && o.settle > 0 {
		args = append(args, "-settle", o.settle.String())
	}
	if p == phasePostgres {
		// Of one length, so that every run's statements are the same size.
		args = append(args, "-postgres", o.pgURL, "-schema", fmt.Sprintf("bench_cpu_%08d_%03d_%02d", os.Getpid()%1e8, rep%1000, schemaSeq.Add(1)%100))
	}
	return args
}

// describe names the current tree: its commit, and whether it has changes not
// committed.
func describe(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "this tree"
	}
	return "this tree (" + strings.TrimSpace(string(out)) + ")"
}

func pgReachable(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
