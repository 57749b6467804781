package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

// perRound returns f of rounds num and den measured in the same round, for every round
// both were measured in and f can tell (ok).
func perRound(all map[string][]loadResult, num, den string, f func(n, d loadResult) (float64, bool)) []float64 {
	var out []float64
	for i := range min(len(all[num]), len(all[den])) {
		if v, ok := f(all[num][i], all[den][i]); ok {
			out = append(out, v)
		}
	}
	return out
}

// medianOf returns the median of vals (the lower middle one of an even count).
func medianOf(vals []float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// targetRow is one line of the targets table.
type targetRow struct {
	label, limit string
	rounds       []float64            // the measured value in each round
	value        float64              // the figure the target is judged on
	format       func(float64) string // the judged figure
	each         func(float64) string // a round's, when not format
	met          bool
	takes        string // when not met: what meeting it takes
	budget       bool   // takes counts the machine's shared cores (see budget)
}

// Targets: the numbers clerksync is held to under this bench's load.
const (
	postgresCPURatio = 1.0 / 3 // clerksync + PostgreSQL CPU per delivery against the per-request receiver's
	sqliteCPURatio   = 1.0 / 5 // clerksync's CPU per delivery against the per-request receiver's
	sqliteVsCeiling  = 0.5     // clerksync SQLite's deliveries/s against the ceiling's
	sqliteVsNaive    = 5.0     // clerksync SQLite's deliveries/s against the per-request receiver's
	postgresP99      = 50 * time.Millisecond
	sqliteP99        = 25 * time.Millisecond
	peakRSSLimitKiB  = 100 << 10
	backfillRate     = 25000 // users/s
)

// renderTargets sets the measurements against the targets. Ratios are taken within a
// round, and the median of the rounds is what is judged.
func renderTargets(all map[string][]loadResult, results map[string]loadResult, bf *backfillResult) string {
	var rows []targetRow
	ratio := func(v float64) string { return fmt.Sprintf("%.2f (1/%.1f)", v, 1/v) }
	times := func(v float64) string { return fmt.Sprintf("%.2f×", v) }
	millis := func(v float64) string { return ms(time.Duration(v)) }
	mibs := func(v float64) string { return mib(int64(v)) }

	// CPU per delivery: receiver and database together against the per-request
	// receiver's, on each store.
	cpuRatio := func(label, num, den string, limit float64, withDB bool) {
		vals := perRound(all, num, den, func(n, d loadResult) (float64, bool) {
			a, b := n.ReceiverCPU, d.ReceiverCPU
			if withDB {
				if n.DatabaseCPU < 0 || d.DatabaseCPU < 0 {
					return 0, false
				}
				a, b = n.together(), d.together()
			}
			return float64(a) / float64(b), b > 0
		})
		if len(vals) == 0 {
			return
		}
		r := targetRow{label: label, limit: fmt.Sprintf("≤ 1/%.0f", 1/limit), rounds: vals, value: medianOf(vals), format: ratio,
			each: func(v float64) string { return fmt.Sprintf("%.2f", v) }}
		r.met = r.value <= limit
		if !r.met {
			cut := perRound(all, num, den, func(n, d loadResult) (float64, bool) {
				a, b := n.ReceiverCPU, d.ReceiverCPU
				if withDB {
					a, b = n.together(), d.together()
				}
				return float64(a) - float64(b)*limit, b > 0
			})
			c := time.Duration(medianOf(cut))
			now := results[num].ReceiverCPU
			if withDB {
				now = results[num].together()
			}
			r.takes = fmt.Sprintf("%s (%.0f%%) less CPU per delivery", us(c), 100*float64(c)/float64(now))
		}
		rows = append(rows, r)
	}
	// Deliveries/s against another receiver's, with what the rate needs of the
	// machine's shared cores.
	rateRatio := func(label, num, den string, want float64) {
		vals := perRound(all, num, den, func(n, d loadResult) (float64, bool) {
			return n.PerSecond / d.PerSecond, d.PerSecond > 0
		})
		if len(vals) == 0 {
			return
		}
		r := targetRow{label: label, limit: fmt.Sprintf("≥ %.2g×", want), rounds: vals, value: medianOf(vals), format: times}
		r.met = r.value >= want
		if !r.met {
			r.takes, r.budget = budget(results[num], want*results[den].PerSecond), true
		}
		rows = append(rows, r)
	}
	p99 := func(label, t string, limit time.Duration) {
		var vals []float64
		for _, x := range all[t] {
			vals = append(vals, float64(x.P99))
		}
		if len(vals) == 0 {
			return
		}
		r := targetRow{label: label, limit: "≤ " + ms(limit), rounds: vals, value: medianOf(vals), format: millis}
		r.met = r.value <= float64(limit)
		rows = append(rows, r)
	}
	rss := func(label, t string) {
		var vals []float64
		for _, x := range all[t] {
			vals = append(vals, float64(x.PeakRSSKiB))
		}
		if len(vals) == 0 {
			return
		}
		r := targetRow{label: label + " (highest round)", limit: "≤ " + mib(peakRSSLimitKiB), rounds: vals, value: slices.Max(vals), format: mibs}
		r.met = r.value <= peakRSSLimitKiB
		rows = append(rows, r)
	}

	cpuRatio("PostgreSQL: (clerksync + PostgreSQL) / (per-request + PostgreSQL), CPU per delivery",
		"clerksync-postgres", "naive-postgres", postgresCPURatio, true)
	p99("PostgreSQL: clerksync p99", "clerksync-postgres", postgresP99)
	cpuRatio("SQLite: clerksync / per-request, CPU per delivery", "clerksync-sqlite", "naive-sqlite", sqliteCPURatio, false)
	rateRatio("SQLite: clerksync / ceiling, deliveries/s (c/a)", "clerksync-sqlite", "verify-only", sqliteVsCeiling)
	rateRatio("SQLite: clerksync / per-request, deliveries/s (c/b)", "clerksync-sqlite", "naive-sqlite", sqliteVsNaive)
	p99("SQLite: clerksync p99", "clerksync-sqlite", sqliteP99)
	rss("Peak RSS under the load, clerksync SQLite", "clerksync-sqlite")
	rss("Peak RSS under the load, clerksync PostgreSQL", "clerksync-postgres")
	if bf != nil && bf.Err == nil {
		rows = append(rows,
			targetRow{label: "Backfill from the fake Clerk, limits off: users/s", limit: fmt.Sprintf("≥ %d", backfillRate),
				rounds: []float64{bf.PerSecond}, value: bf.PerSecond, format: func(v float64) string { return fmt.Sprintf("%.0f", v) },
				met: bf.PerSecond >= backfillRate},
			targetRow{label: "Backfill: peak RSS", limit: "≤ " + mib(peakRSSLimitKiB),
				rounds: []float64{float64(bf.PeakRSSKiB)}, value: float64(bf.PeakRSSKiB), format: mibs,
				met: bf.PeakRSSKiB <= peakRSSLimitKiB})
	}
	if len(rows) == 0 {
		return ""
	}

	var b strings.Builder
	b.WriteString("\n## Targets\n\n" +
		"Each round's receivers ran within a minute or so of each other, so each ratio and percentile is taken\n" +
		"within a round, and the median of the rounds is judged (the rounds' own values follow it). The\n" +
		"backfill runs once.\n\n" +
		"| target | limit | measured | rounds | met | what it takes |\n|---|---:|---:|---|---|---|\n")
	for _, r := range rows {
		f := r.format
		if r.each != nil {
			f = r.each
		}
		each := make([]string, len(r.rounds))
		for i, v := range r.rounds {
			each[i] = f(v)
		}
		met := "met"
		if !r.met {
			met = "**not met**"
		}
		takes := r.takes
		if takes == "" {
			takes = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.label, r.limit, r.format(r.value), strings.Join(each, ", "), met, takes)
	}

	var info []string
	for _, x := range []struct{ label, num, den string }{
		{"clerksync PostgreSQL / per-request PostgreSQL, deliveries/s", "clerksync-postgres", "naive-postgres"},
		{"clerksync PostgreSQL / ceiling, deliveries/s", "clerksync-postgres", "verify-only"},
	} {
		vals := perRound(all, x.num, x.den, func(n, d loadResult) (float64, bool) { return n.PerSecond / d.PerSecond, d.PerSecond > 0 })
		if len(vals) > 0 {
			each := make([]string, len(vals))
			for i, v := range vals {
				each[i] = fmt.Sprintf("%.2f", v)
			}
			info = append(info, fmt.Sprintf("- %s: %.2f× (rounds: %s)\n", x.label, medianOf(vals), strings.Join(each, ", ")))
		}
	}
	if len(info) > 0 {
		b.WriteString("\nFor scale, without a target:\n\n" + strings.Join(info, ""))
	}
	if _, ok := results["verify-only"]; ok && slices.ContainsFunc(rows, func(r targetRow) bool { return r.budget }) {
		fmt.Fprintf(&b, "\nFor a rate, \"what it takes\" counts the machine's %d shared cores: at R deliveries/s they give %d s / R of CPU\n"+
			"per delivery with no core ever idle; what the load generator took per delivery in clerksync's median\n"+
			"round is not clerksync's to spend, and the rest is what clerksync may use. For scale, the verify-only\n"+
			"receiver's own process (HTTP and the signature check, nothing else) used %s per delivery.\n",
			runtime.NumCPU(), runtime.NumCPU(), us(results["verify-only"].ReceiverCPU))
	}
	return b.String()
}

// budget says what a rate of rate deliveries/s takes of a machine whose cores the
// receiver r, the load generator and PostgreSQL share: at that rate the cores give
// cores/rate of CPU per delivery, all of them busy; what the load generator and the
// database server took per delivery in r's round is not the receiver's to spend, and
// neither is what other processes of the machine took (other tenants).
func budget(r loadResult, rate float64) string {
	cores := runtime.NumCPU()
	allowed := time.Duration(float64(cores) * float64(time.Second) / rate)
	bench := r.LoadCPU + max(0, r.DatabaseCPU)
	others := max(0, r.MachineCPU-r.ReceiverCPU-bench-max(0, r.OtherClientsCPU))
	who := "the load generator"
	if r.DatabaseCPU >= 0 {
		who += " and PostgreSQL"
	}
	head := fmt.Sprintf("%.0f/s gives %s of the %d cores per delivery; %s took %s", rate, us(allowed), cores, who, us(bench))
	note := fmt.Sprintf("other processes took %s per delivery; %.0f%% idle", us(others), r.Idle*100)
	if allowed <= bench {
		return head + ": more cores, that alone is too much (" + note + ")"
	}
	left := allowed - bench
	if cut := r.ReceiverCPU - left; cut > 0 {
		return fmt.Sprintf("%s, leaving %s for clerksync, which used %s: %s (%.0f%%) less, and no core idle (%s)",
			head, us(left), us(r.ReceiverCPU), us(cut), 100*float64(cut)/float64(r.ReceiverCPU), note)
	}
	return fmt.Sprintf("%s, leaving %s for clerksync, which used %s: fits if nothing else runs and no core idles (%s)",
		head, us(left), us(r.ReceiverCPU), note)
}
