package main

import (
	"fmt"
	"strings"
	"time"
)

// renderComparison sets each clerksync receiver against the same receiver built at
// the baseline, measured in the same rounds: the ratio of this tree's figure to the
// baseline's is taken within each round, and the median of the rounds given.
func renderComparison(all map[string][]loadResult, results map[string]loadResult, baseline *baselineInfo) string {
	if baseline == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## This tree against %s\n\n"+
		"clerksync as built at %s (%s) was measured in the same rounds as this tree's, right after it. Each\n"+
		"ratio is this tree's figure over the baseline's within a round; the median of the rounds is given,\n"+
		"the rounds' own follow. Below 1 is less (CPU, latency, memory), above 1 is more (deliveries/s).\n\n"+
		"| receiver | deliveries/s | p99 | receiver CPU | database CPU | together | peak RSS |\n"+
		"|---|---:|---:|---:|---:|---:|---:|\n", baseline.ref, baseline.ref, baseline.commit)
	for _, t := range []string{"clerksync-sqlite", "clerksync-postgres"} {
		base := t + "@" + baseline.ref
		if _, ok := all[t]; !ok {
			continue
		}
		if _, ok := all[base]; !ok {
			continue
		}
		pg := strings.HasSuffix(t, "postgres")
		for _, name := range []string{base, t} {
			r := results[name]
			database := "—"
			if pg {
				database = us(r.DatabaseCPU)
			}
			label := receiverName(name, baseline)
			if name == t {
				label += ", this tree"
			}
			fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %s | %s |\n", label, r.PerSecond, ms(r.P99),
				us(r.ReceiverCPU), database, us(r.together()), mib(r.PeakRSSKiB))
		}
		rel := func(f func(loadResult) float64) string {
			vals := perRound(all, t, base, func(n, d loadResult) (float64, bool) {
				return f(n) / f(d), f(d) > 0 && f(n) >= 0
			})
			if len(vals) == 0 {
				return "—"
			}
			each := make([]string, len(vals))
			for i, v := range vals {
				each[i] = fmt.Sprintf("%.2f", v)
			}
			return fmt.Sprintf("%.2f× (%s)", medianOf(vals), strings.Join(each, ", "))
		}
		dur := func(f func(loadResult) time.Duration) func(loadResult) float64 {
			return func(r loadResult) float64 { return float64(f(r)) }
		}
		database := "—"
		if pg {
			database = rel(dur(func(r loadResult) time.Duration { return r.DatabaseCPU }))
		}
		fmt.Fprintf(&b, "| this tree / %s | %s | %s | %s | %s | %s | %s |\n", baseline.ref,
			rel(func(r loadResult) float64 { return r.PerSecond }),
			rel(dur(func(r loadResult) time.Duration { return r.P99 })),
			rel(dur(func(r loadResult) time.Duration { return r.ReceiverCPU })),
			database,
			rel(dur(loadResult.together)),
			rel(func(r loadResult) float64 { return float64(r.PeakRSSKiB) }))
	}
	return b.String()
}
