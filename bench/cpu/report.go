package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// A figure is one per-delivery quantity derived from the counts of one binary: one
// value per repetition.
type figure func(per map[phase][]float64) []float64

// perDelivery returns, for each phase, what one counted delivery added to the runs of
// each repetition, as measured by value.
func perDelivery(o options, pairs map[phase][][2]count, value func(count) float64) map[phase][]float64 {
	per := map[phase][]float64{}
	for p, reps := range pairs {
		for _, pair := range reps {
			per[p] = append(per[p], (value(pair[1])-value(pair[0]))/float64(o.deliveries))
		}
	}
	return per
}

// step is the difference between phase p and the phase it builds on.
func step(p, base phase) figure {
	return func(per map[phase][]float64) []float64 {
		a, b := per[p], per[base]
		if a == nil || b == nil {
			return nil
		}
		out := make([]float64, min(len(a), len(b)))
		for i := range out {
			out[i] = a[i] - b[i]
		}
		return out
	}
}

func only(p phase) figure {
	return func(per map[phase][]float64) []float64 { return per[p] }
}

// row is one line of a table: a label and how to compute it.
type row struct {
	label string
	fig   figure
}

var rows = []row{
	{"verify (svixsig)", step(phaseVerify, phaseGenerate)},
	{"decode (clerkdecode)", step(phaseDecode, phaseVerify)},
	{"apply, SQLite (engine + store)", step(phaseSQLite, phaseDecode)},
	{"apply, PostgreSQL, client side", step(phasePostgres, phaseDecode)},
	{"total, SQLite", step(phaseSQLite, phaseGenerate)},
	{"total, PostgreSQL, client side", step(phasePostgres, phaseGenerate)},
	{"(build and sign: the load generator's, in no total)", only(phaseGenerate)},
}

func render(o options, bins []binary, phases []phase, counts []map[phase][][2]count) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nInstructions per delivery, counted by valgrind --tool=callgrind over every thread of the process\n"+
		"(user space only: what the kernel does for fsync and the network is not counted), GOGC=%s, GOMAXPROCS=1.\n"+
		"%d deliveries counted after %d of warm-up; %d users, 3.8 KB user.updated bodies as make bench sends them,\n"+
		"%.0f%% duplicates, %.0f%% out of order; the engine applies batches of %d.\n\n",
		o.gogc, o.deliveries, o.warmup, o.users, o.dupShare*100, o.staleShare*100, o.batch)
	instr := func(c count) float64 { return float64(c.instructions) }
	table(&b, o, bins, counts, instr, "instructions", "%.0f")

	b.WriteString("\nHeap allocated per delivery (exact: runtime.MemStats), bytes and objects:\n\n")
	table(&b, o, bins, counts, func(c count) float64 { return float64(c.stats.Bytes) }, "bytes", "%.0f")
	b.WriteString("\n")
	table(&b, o, bins, counts, func(c count) float64 { return float64(c.stats.Mallocs) }, "objects", "%.1f")

	if slices.Contains(phases, phasePostgres) {
		b.WriteString("\nPostgreSQL's own work is in the server's processes, which callgrind does not see, and perf cannot\n" +
			"count instructions on this machine. For scale, the CPU time of the backends that served the\n" +
			"loop, from /proc in 10 ms ticks: a time, not a count, as noisy as the machine is busy:\n\n")
		for i, bin := range bins {
			per := perDelivery(o, counts[i], func(c count) float64 { return float64(c.stats.ServerCPU) })[phasePostgres]
			fmt.Fprintf(&b, "  %-34s %s per delivery\n", bin.label, spread(per, func(v float64) string {
				return fmt.Sprintf("%.0f µs", v/float64(time.Microsecond))
			}))
		}
	}
	if slices.Contains(phases, phaseSQLite) && o.settle > 0 {
		fmt.Fprintf(&b, "\nThe SQLite loop pauses %s after each batch, so that the store's checkpointer, which runs by the clock\n"+
			"(every 50 ms while commits arrive), checkpoints each batch once whatever callgrind's speed: each batch\n"+
			"is checkpointed on its own, as at a low rate, where a busy server's checkpoint copies several.\n", o.settle)
	}
	if o.gogc == "off" {
		b.WriteString("\nWith the collector off, the counts leave out its work, which grows with the bytes allocated.\n")
	}
	b.WriteString("Identical runs differ by a few hundred instructions per delivery, a little more on PostgreSQL: Go's\n" +
		"runtime seeds its maps and caches at random, and waiting on the network or the disk takes the\n" +
		"scheduler down paths of its own. -repeat 3 shows the median and the range; a larger -deliveries\n" +
		"narrows it.\n")
	return b.String()
}

// table writes one row per step, with a column per binary and, for two, the delta.
func table(b *strings.Builder, o options, bins []binary, counts []map[phase][][2]count, value func(count) float64, unit, format string) {
	pers := make([]map[phase][]float64, len(bins))
	for i := range bins {
		pers[i] = perDelivery(o, counts[i], value)
	}
	const width = 30
	fmt.Fprintf(b, "  %-52s", unit+" per delivery")
	for _, bin := range bins {
		fmt.Fprintf(b, " %*s", width, bin.label)
	}
	if len(bins) == 2 {
		fmt.Fprintf(b, " %*s", 24, "delta")
	}
	b.WriteString("\n")
	f := func(v float64) string { return noNegativeZero(fmt.Sprintf(format, v)) }
	for _, r := range rows {
		vals := make([][]float64, len(bins))
		for i := range bins {
			vals[i] = r.fig(pers[i])
		}
		if vals[len(vals)-1] == nil {
			continue
		}
		fmt.Fprintf(b, "  %-52s", r.label)
		for i := range bins {
			fmt.Fprintf(b, " %*s", width, spread(vals[i], f))
		}
		if len(bins) == 2 && vals[1] != nil {
			before, after := median(vals[0]), median(vals[1])
			d := noNegativeZero(fmt.Sprintf("%+"+format[1:], after-before))
			if before != 0 {
				d += fmt.Sprintf(" (%+.1f%%)", 100*(after-before)/before)
			}
			fmt.Fprintf(b, " %24s", d)
		}
		b.WriteString("\n")
	}
}

// noNegativeZero turns "-0" or "-0.0" (a value that rounds to zero from below) into
// the same without the sign.
func noNegativeZero(s string) string {
	if strings.Trim(s, "-0.") == "" {
		return strings.TrimPrefix(s, "-")
	}
	return s
}

// spread formats the median of vals, and their range when there are several.
func spread(vals []float64, f func(float64) string) string {
	if len(vals) == 0 {
		return "—"
	}
	s := f(median(vals))
	if len(vals) > 1 {
		s += " [" + f(slices.Min(vals)) + "–" + f(slices.Max(vals)) + "]"
	}
	return s
}

func median(vals []float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
