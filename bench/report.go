package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

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

// receiverNames are the receivers' names in the report.
var receiverNames = map[string]string{
	"verify-only":        "(a) verify only, no database — the ceiling",
	"naive-sqlite":       "(b) verify + one durable SQLite upsert per request",
	"naive-postgres":     "(b) verify + one PostgreSQL upsert per request",
	"clerksync-sqlite":   "(c) clerksync, SQLite",
	"clerksync-postgres": "(c) clerksync, PostgreSQL",
}

// receiverName names target t, built at baseline when it carries "@REF".
func receiverName(t string, baseline *baselineInfo) string {
	kind, ref, ok := strings.Cut(t, "@")
	name := receiverNames[kind]
	if ok {
		name += ", at " + ref
		if baseline != nil && baseline.commit != ref {
			name += " (" + baseline.commit + ")"
		}
	}
	return name
}

func renderReport(o options, all map[string][]loadResult, body int, bf *backfillResult, baseline *baselineInfo) string {
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
		"Median round by deliveries/s; \"rounds\" gives the lowest and highest. CPU per delivery is user + system\n" +
		"time over the measured window, divided by the deliveries answered 2xx in it:\n\n" +
		"- **receiver**: the receiver's process (SQLite runs inside it);\n" +
		"- **database**: the PostgreSQL server on the receiver's behalf: the backends serving the receiver's\n" +
		"  connections (they carry an application_name of their own, looked up in pg_stat_activity) plus the\n" +
		"  server's own processes (postmaster, WAL writer, checkpointer, background writer, autovacuum), which\n" +
		"  work for whoever writes: while a receiver is measured, nothing else of the bench uses the server;\n" +
		"- **together**: the two, what an operator pays for per delivery;\n" +
		"- **other clients**: what other clients' backends used in the window (on a shared machine, someone\n" +
		"  else's work: not in the receiver's figures, but its load slows everything down);\n" +
		"- **load generator** (this process) and **machine** (all cores): the receiver, the load generator and\n" +
		"  PostgreSQL share the machine's cores; \"idle\" is the share of them nothing used (idle or waiting for\n" +
		"  the disk).\n\n" +
		"\"batch\" is how many changes clerksync's transactions carried on average (group commit).\n\n" +
		"| receiver | deliveries/s | rounds | p50 | p99 | receiver CPU | database CPU | together | other clients | load generator | machine | idle | peak RSS | batch | non-2xx |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range reportOrder(all) {
		r := results[t]
		lo, hi := r.PerSecond, r.PerSecond
		for _, x := range all[t] {
			lo, hi = min(lo, x.PerSecond), max(hi, x.PerSecond)
		}
		database, others := "—", "—"
		if strings.HasSuffix(receiverKind(t), "postgres") {
			database, others = us(r.DatabaseCPU), us(r.OtherClientsCPU)
		}
		batch := "—"
		if r.MeanBatch > 0 {
			batch = fmt.Sprintf("%.1f", r.MeanBatch)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f–%.0f | %s | %s | %s | %s | %s | %s | %s | %s | %.0f%% | %s | %s | %d |\n",
			receiverName(t, baseline), r.PerSecond, lo, hi, ms(r.P50), ms(r.P99), us(r.ReceiverCPU), database, us(r.together()),
			others, us(r.LoadCPU), us(r.MachineCPU), r.Idle*100, mib(r.PeakRSSKiB), batch, r.Errors)
	}
	b.WriteString("\nclerksync does more per delivery than (b): it records every svix-id in the event log, checks\n" +
		"the tombstone and the updated_at guard, and logs three lines at info level.\n")
	b.WriteString(renderTargets(all, results, bf))
	b.WriteString(renderComparison(all, results, baseline))
	if bf != nil && bf.Err != nil {
		fmt.Fprintf(&b, "\n## Backfill\n\n`clerksync backfill` of %d users from the fake Clerk Backend API FAILED:\n\n```\n%s\n```\n",
			bf.Users, strings.TrimSpace(bf.Err.Error()))
	}
	if bf != nil && bf.Err == nil {
		fmt.Fprintf(&b, "\n## Backfill\n\n`clerksync backfill` of %d users from the fake Clerk Backend API (`internal/fakeclerkd`,\n"+
			"its own process on the same machine, rate limits off) into a new SQLite file:\n\n"+
			"| users | time | users/s | peak RSS | requests |\n|---:|---:|---:|---:|---|\n| %d | %.2f s | %.0f | %s | %s |\n",
			bf.Users, bf.Users, bf.Duration.Seconds(), bf.PerSecond, mib(bf.PeakRSSKiB), bf.Requests)
	}
	return b.String()
}

// reportOrder lists the measured targets in the order of allTargets, each followed by
// its baseline.
func reportOrder(all map[string][]loadResult) []string {
	var order []string
	for _, t := range allTargets {
		if _, ok := all[t]; ok {
			order = append(order, t)
		}
		for u := range all {
			if receiverKind(u) == t && u != t {
				order = append(order, u)
			}
		}
	}
	return order
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

func mib(kib int64) string {
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}
