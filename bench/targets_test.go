package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// rowOf returns the targets table's row whose label starts with label.
func rowOf(t *testing.T, out, label string) []string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| "+label) {
			cells := strings.Split(strings.Trim(l, "|"), "|")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			return cells
		}
	}
	t.Fatalf("no row %q in:\n%s", label, out)
	return nil
}

// A ratio is taken within each round and the median of the rounds judged: not the
// ratio of the receivers' median rounds, which may come from different rounds.
func TestTargetsJudgeTheMedianOfRatiosWithinRounds(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	pg := func(recv, db int, rate float64, p99 time.Duration, rssMiB int64) loadResult {
		return loadResult{PerSecond: rate, ReceiverCPU: us(recv), DatabaseCPU: us(db), P99: p99, PeakRSSKiB: rssMiB << 10, Deliveries: 1}
	}
	sq := func(recv int, rate float64, p99 time.Duration, rssMiB int64) loadResult {
		return loadResult{PerSecond: rate, ReceiverCPU: us(recv), DatabaseCPU: -1, P99: p99, PeakRSSKiB: rssMiB << 10, Deliveries: 1}
	}
	ms := time.Millisecond
	all := map[string][]loadResult{
		// Together per round: 600 (a), 300 (b) and 900 (c) µs for the per-request
		// receiver; 180, 110 and 280 for clerksync: ratios 0.30, 0.37, 0.31.
		"naive-postgres":     {pg(300, 300, 2000, 40*ms, 20), pg(150, 150, 1000, 40*ms, 20), pg(450, 450, 3000, 40*ms, 20)},
		"clerksync-postgres": {pg(90, 90, 6000, 30*ms, 70), pg(60, 50, 5000, 60*ms, 80), pg(140, 140, 7000, 45*ms, 120)},
		// SQLite CPU ratios 0.25, 0.10, 0.30: median 0.25, not met.
		"naive-sqlite":     {sq(400, 1000, 500*ms, 30), sq(1000, 1500, 500*ms, 30), sq(500, 1200, 500*ms, 30)},
		"clerksync-sqlite": {sq(100, 6000, 20*ms, 60), sq(100, 8000, 24*ms, 60), sq(150, 5000, 30*ms, 60)},
		"verify-only":      {sq(50, 10000, 5*ms, 10), sq(50, 18000, 5*ms, 10), sq(50, 9000, 5*ms, 10)},
	}
	results := map[string]loadResult{}
	for k, v := range all {
		results[k] = median(v)
	}
	out := renderTargets(all, results, &backfillResult{Users: 100000, PerSecond: 30000, PeakRSSKiB: 120 << 10})

	for _, tc := range []struct {
		label, measured, rounds, met string
	}{
		{"PostgreSQL: (clerksync + PostgreSQL)", "0.31 (1/3.2)", "0.30, 0.37, 0.31", "met"},
		{"PostgreSQL: clerksync p99", "45.00 ms", "30.00 ms, 60.00 ms, 45.00 ms", "met"},
		{"SQLite: clerksync / per-request, CPU", "0.25 (1/4.0)", "0.25, 0.10, 0.30", "**not met**"},
		// Rates: 0.60, 0.44, 0.56 against the ceiling; 6.00, 5.33, 4.17 against (b).
		{"SQLite: clerksync / ceiling", "0.56×", "0.60×, 0.44×, 0.56×", "met"},
		{"SQLite: clerksync / per-request, deliveries/s", "5.33×", "6.00×, 5.33×, 4.17×", "met"},
		{"SQLite: clerksync p99", "24.00 ms", "20.00 ms, 24.00 ms, 30.00 ms", "met"},
		{"Peak RSS under the load, clerksync SQLite", "60.0 MiB", "60.0 MiB, 60.0 MiB, 60.0 MiB", "met"},
		{"Peak RSS under the load, clerksync PostgreSQL", "120.0 MiB", "70.0 MiB, 80.0 MiB, 120.0 MiB", "**not met**"},
		{"Backfill from the fake Clerk", "30000", "30000", "met"},
		{"Backfill: peak RSS", "120.0 MiB", "120.0 MiB", "**not met**"},
	} {
		row := rowOf(t, out, tc.label)
		if got := [3]string{row[2], row[3], row[4]}; got != [3]string{tc.measured, tc.rounds, tc.met} {
			t.Errorf("%s: measured %q, rounds %q, %q; want %q, %q, %q", tc.label, got[0], got[1], got[2], tc.measured, tc.rounds, tc.met)
		}
	}
	// Not met: what the median round's clerksync would have to shed (0.25 - 1/5 of
	// the per-request receiver's 400 µs in the median round: 20 µs, 20% of 100).
	if row := rowOf(t, out, "SQLite: clerksync / per-request, CPU"); row[5] != "20 µs (20%) less CPU per delivery" {
		t.Errorf("what it takes: %q", row[5])
	}
}

// Every other round, a clerksync receiver and its baseline swap places.
func TestRoundOrderAlternatesBaselines(t *testing.T) {
	targets := withBaseline([]string{"verify-only", "clerksync-sqlite", "naive-postgres", "clerksync-postgres"}, "main")
	for _, tc := range []struct {
		round int
		want  string
	}{
		{1, "verify-only clerksync-sqlite clerksync-sqlite@main naive-postgres clerksync-postgres clerksync-postgres@main"},
		{2, "verify-only clerksync-sqlite@main clerksync-sqlite naive-postgres clerksync-postgres@main clerksync-postgres"},
		{3, "verify-only clerksync-sqlite clerksync-sqlite@main naive-postgres clerksync-postgres clerksync-postgres@main"},
	} {
		if got := strings.Join(roundOrder(targets, tc.round), " "); got != tc.want {
			t.Errorf("round %d: %s, want %s", tc.round, got, tc.want)
		}
	}
}

// A backfill that failed is judged against no target.
func TestFailedBackfillHasNoTargetRows(t *testing.T) {
	out := renderTargets(map[string][]loadResult{}, map[string]loadResult{}, &backfillResult{Users: 10, Err: errors.New("no database")})
	if strings.Contains(out, "Backfill") {
		t.Errorf("targets for a failed backfill:\n%s", out)
	}
}
