package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// machine describes where the numbers were taken.
func machine(pgURL string) []string {
	var lines []string
	cpu := "unknown"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	lines = append(lines, fmt.Sprintf("CPU: %s, %d cores available (GOMAXPROCS %d)", cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0)))
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		lines = append(lines, "Memory: "+strings.Join(strings.Fields(strings.TrimPrefix(first, "MemTotal:")), " "))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		lines = append(lines, "Kernel: Linux "+strings.TrimSpace(string(b)))
	}
	lines = append(lines, "Go: "+runtime.Version())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, pgURL); err == nil {
		var v string
		if conn.QueryRow(ctx, "SHOW server_version").Scan(&v) == nil {
			lines = append(lines, "PostgreSQL: "+v+" on the same machine (loopback)")
		}
		conn.Close(ctx)
	}
	lines = append(lines, "SQLite: modernc.org/sqlite (pure Go) in WAL mode on "+fsOf(os.TempDir())+
		"; (b) commits with synchronous=FULL, clerksync fdatasyncs its WAL before answering")
	if p50, p99, err := fsyncLatency(os.TempDir(), 200); err == nil {
		lines = append(lines, fmt.Sprintf("Disk: a 16 KiB write and fdatasync in %s takes %s (p50), %s (p99) when the disk is idle",
			os.TempDir(), ms(p50), ms(p99)))
	}
	return lines
}

func fsOf(path string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return path
	}
	best, kind := "", ""
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(path, f[1]) && len(f[1]) > len(best) {
			best, kind = f[1], f[2]
		}
	}
	return fmt.Sprintf("%s (%s)", path, kind)
}

// median returns the round with the median throughput (the lower middle one of an even
// count), with the highest peak RSS of all rounds.
func median(rounds []loadResult) loadResult {
	sorted := slices.Clone(rounds)
	slices.SortFunc(sorted, func(a, b loadResult) int { return cmp.Compare(a.PerSecond, b.PerSecond) })
	m := sorted[(len(sorted)-1)/2]
	for _, r := range rounds {
		m.PeakRSSKiB = max(m.PeakRSSKiB, r.PeakRSSKiB)
	}
	return m
}

func renderReport(o options, all map[string][]loadResult, body int, bf *backfillResult) string {
	results := map[string]loadResult{}
	for t, rounds := range all {
		results[t] = median(rounds)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nWritten by `make bench` (`go run ./bench`) on %s. Rerun it to refresh this file;\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "numbers from one run on one machine, load generator on the same machine: each receiver measured\n"+
		"%d times in turn, and the median round reported.\n\n", o.rounds)
	b.WriteString("## Machine\n\n")
	for _, l := range machine(o.pgURL) {
		b.WriteString("- " + l + "\n")
	}
	fmt.Fprintf(&b, "\n## Load\n\n- %d concurrent senders, keep-alive connections\n", o.concurrency)
	fmt.Fprintf(&b, "- signed `user.updated` bodies of %d bytes on average (a user with two emails, a phone and a Google account), %d distinct users\n", body, o.users)
	fmt.Fprintf(&b, "- %.0f%% duplicates (an earlier svix-id resent), %.0f%% out-of-order (an older version arriving late)\n", o.dupShare*100, o.staleShare*100)
	fmt.Fprintf(&b, "- %s warm-up, then %s measured per receiver; p50/p99 over successful deliveries\n\n", o.warmup, o.duration)

	b.WriteString("## Results\n\n" +
		"Median round; \"rounds\" gives the lowest and highest. CPU per delivery (user + system, over the measured\n" +
		"window) is the receiver's process and, after the plus, the load generator's; then the PostgreSQL server's\n" +
		"processes and the whole machine's, all cores together: they all share the machine's cores. \"idle\" is the\n" +
		"share of the machine's cores that nothing used (idle or waiting for the disk).\n\n" +
		"| receiver | deliveries/s | rounds | p50 | p99 | CPU per delivery | PostgreSQL | machine | idle | peak RSS | non-2xx |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	names := map[string]string{
		"verify-only":        "(a) verify only, no database — the ceiling",
		"naive-sqlite":       "(b) verify + one durable SQLite upsert per request",
		"naive-postgres":     "(b) verify + one PostgreSQL upsert per request",
		"clerksync-sqlite":   "(c) clerksync, SQLite",
		"clerksync-postgres": "(c) clerksync, PostgreSQL",
	}
	for _, t := range allTargets {
		r, ok := results[t]
		if !ok {
			continue
		}
		lo, hi := r.PerSecond, r.PerSecond
		for _, x := range all[t] {
			lo, hi = min(lo, x.PerSecond), max(hi, x.PerSecond)
		}
		database := "—"
		if strings.HasSuffix(t, "postgres") {
			database = us(r.DatabaseCPU)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f–%.0f | %s | %s | %s + %s | %s | %s | %.0f%% | %.1f MiB | %d |\n", names[t], r.PerSecond, lo, hi,
			ms(r.P50), ms(r.P99), us(r.ReceiverCPU), us(r.LoadCPU), database, us(r.MachineCPU), r.Idle*100,
			float64(r.PeakRSSKiB)/1024, r.Errors)
	}
	b.WriteString("\n## Ratios\n\n")
	b.WriteString("Each round's receivers ran within a minute of each other, so each ratio is taken within a\n" +
		"round; the first figure is the median of those, the rounds' own follow.\n\n")
	ratio := func(label, num, den string, want float64) {
		var each []float64
		for i := range min(len(all[num]), len(all[den])) {
			if all[den][i].PerSecond > 0 {
				each = append(each, all[num][i].PerSecond/all[den][i].PerSecond)
			}
		}
		if len(each) == 0 {
			return
		}
		text := make([]string, len(each))
		for i, r := range each {
			text[i] = fmt.Sprintf("%.2f", r)
		}
		slices.Sort(each)
		target := ""
		if want > 0 {
			target = fmt.Sprintf(", target ≥ %.2g×", want)
		}
		fmt.Fprintf(&b, "- %s: %.2f× (rounds: %s%s)\n", label, each[(len(each)-1)/2], strings.Join(text, ", "), target)
	}
	for _, g := range goals {
		ratio(g.label, g.num, g.den, g.want)
	}
	ratio("clerksync PostgreSQL / ceiling (c/a)", "clerksync-postgres", "verify-only", 0)
	b.WriteString("\nclerksync does more per delivery than (b): it records every svix-id in the event log, checks\n" +
		"the tombstone and the updated_at guard, and logs three lines at info level.\n")
	b.WriteString(renderBudget(results))
	if bf != nil {
		fmt.Fprintf(&b, "\n## Backfill\n\n`clerksync backfill` of %d users from the fake Clerk Backend API (`internal/fakeclerkd`,\n"+
			"its own process on the same machine, rate limits off) into a new SQLite file:\n\n"+
			"| users | time | users/s | peak RSS | requests |\n|---:|---:|---:|---:|---|\n| %d | %.2f s | %.0f | %.1f MiB | %s |\n",
			bf.Users, bf.Users, bf.Duration.Seconds(), bf.PerSecond, float64(bf.PeakRSSKiB)/1024, bf.Requests)
	}
	return b.String()
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

// goal is a throughput target: clerksync's rate at least want times a baseline's,
// measured in the same round.
type goal struct {
	label    string
	num, den string
	want     float64
}

var goals = []goal{
	{"clerksync SQLite / ceiling (c/a)", "clerksync-sqlite", "verify-only", 0.45},
	{"clerksync SQLite / per-request SQLite (c/b)", "clerksync-sqlite", "naive-sqlite", 5},
	{"clerksync PostgreSQL / per-request PostgreSQL (c/b)", "clerksync-postgres", "naive-postgres", 3},
}

// renderBudget sets each goal against the machine's CPU. The receiver, the load
// generator and PostgreSQL share the machine's cores, so at a rate of R deliveries/s
// the machine has cores/R of CPU per delivery, all of it busy. What the load generator
// and the database server took per delivery in clerksync's run is not clerksync's to
// spend; the rest is what clerksync may use at the goal's rate, with no core ever idle.
func renderBudget(results map[string]loadResult) string {
	var b strings.Builder
	cores := runtime.NumCPU()
	floor := results["verify-only"].ReceiverCPU
	rows := 0
	for _, g := range goals {
		num, ok1 := results[g.num]
		den, ok2 := results[g.den]
		if !ok1 || !ok2 || den.PerSecond == 0 || num.MachineCPU == 0 {
			continue
		}
		if rows == 0 {
			fmt.Fprintf(&b, "\n## CPU per delivery at the targets\n\n"+
				"The receiver, the load generator and PostgreSQL share %d cores: at R deliveries/s the machine has\n"+
				"%d s / R of CPU per delivery, with no core ever idle. The load generator's and the database server's\n"+
				"share is what they took per delivery in clerksync's median round; what is left is what clerksync may\n"+
				"use at the target's rate. For scale, the verify-only receiver's own process (HTTP and the signature\n"+
				"check, nothing else) used %s per delivery.\n\n"+
				"| target | rate needed | machine CPU per delivery at that rate | load generator + PostgreSQL | left for clerksync | clerksync used | what it takes |\n"+
				"|---|---:|---:|---:|---:|---:|---|\n", cores, cores, us(floor))
		}
		rows++
		rate := g.want * den.PerSecond
		allowed := time.Duration(float64(cores) * float64(time.Second) / rate)
		others := num.LoadCPU
		if strings.HasSuffix(g.num, "postgres") {
			others += num.DatabaseCPU
		}
		left, verdict := "none", fmt.Sprintf("more cores: the load generator and the database alone take more than %s", us(allowed))
		if allowed > others {
			left = us(allowed - others)
			if cut := num.ReceiverCPU - (allowed - others); cut > 0 {
				verdict = fmt.Sprintf("%s (%.0f%%) less CPU per delivery in clerksync, and no core idle", us(cut), 100*float64(cut)/float64(num.ReceiverCPU))
			} else {
				verdict = fmt.Sprintf("the CPU fits; no core idle (%.0f%% were)", num.Idle*100)
			}
		}
		fmt.Fprintf(&b, "| %s ≥ %.2g× | %.0f/s | %s | %s | %s | %s (machine %s, %.0f%% idle) | %s |\n", g.label, g.want, rate,
			us(allowed), us(others), left, us(num.ReceiverCPU), us(num.MachineCPU), num.Idle*100, verdict)
	}
	return b.String()
}
