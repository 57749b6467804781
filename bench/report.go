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
		"Median round; \"rounds\" gives the lowest and highest. CPU per delivery is the receiver's process (user + system)\n" +
		"and, after the plus, the load generator's, over the measured window: the two share the machine's cores.\n\n" +
		"| receiver | deliveries/s | rounds | p50 | p99 | CPU per delivery | peak RSS | non-2xx |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
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
		fmt.Fprintf(&b, "| %s | %.0f | %.0f–%.0f | %s | %s | %s + %s | %.1f MiB | %d |\n", names[t], r.PerSecond, lo, hi,
			ms(r.P50), ms(r.P99), us(r.ReceiverCPU), us(r.LoadCPU), float64(r.PeakRSSKiB)/1024, r.Errors)
	}
	b.WriteString("\n## Ratios\n\n")
	b.WriteString("Each round's receivers ran within a minute of each other, so each ratio is taken within a\n" +
		"round; the first figure is the median of those, the rounds' own follow.\n\n")
	ratio := func(label, num, den string) {
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
		fmt.Fprintf(&b, "- %s: %.2f× (rounds: %s)\n", label, each[(len(each)-1)/2], strings.Join(text, ", "))
	}
	ratio("clerksync SQLite / ceiling (c/a)", "clerksync-sqlite", "verify-only")
	ratio("clerksync SQLite / per-request SQLite (c/b)", "clerksync-sqlite", "naive-sqlite")
	ratio("clerksync PostgreSQL / ceiling (c/a)", "clerksync-postgres", "verify-only")
	ratio("clerksync PostgreSQL / per-request PostgreSQL (c/b)", "clerksync-postgres", "naive-postgres")
	b.WriteString("\nclerksync does more per delivery than (b): it records every svix-id in the event log, checks\n" +
		"the tombstone and the updated_at guard, and logs three lines at info level.\n")
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
