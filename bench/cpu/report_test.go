package main

import (
	"strings"
	"testing"
)

// Each step is its phase's count per delivery less the count of the phase it builds
// on, and the delta is after less before.
func TestRenderSteps(t *testing.T) {
	o := options{deliveries: 100, warmup: 0, batch: 32, users: 10, gogc: "off"}
	// Per delivery, cumulative: generate 100, verify 150, decode 180, SQLite 400,
	// PostgreSQL 260; the second binary's verify costs 10 less.
	mk := func(perDelivery map[phase]uint64) map[phase][][2]count {
		m := map[phase][][2]count{}
		for p, per := range perDelivery {
			m[p] = [][2]count{{{instructions: 1_000_000 + 100*per}, {instructions: 1_000_000 + 200*per}}}
		}
		return m
	}
	before := mk(map[phase]uint64{phaseGenerate: 100, phaseVerify: 150, phaseDecode: 180, phaseSQLite: 400, phasePostgres: 260})
	after := mk(map[phase]uint64{phaseGenerate: 100, phaseVerify: 140, phaseDecode: 170, phaseSQLite: 390, phasePostgres: 250})
	out := render(o, []binary{{label: "main"}, {label: "this tree"}},
		[]phase{phaseGenerate, phaseVerify, phaseDecode, phaseSQLite, phasePostgres}, []map[phase][][2]count{before, after})
	for _, want := range [][]string{
		{"verify (svixsig)", "50", "40", "-10", "(-20.0%)"},
		{"decode (clerkdecode)", "30", "30", "+0", "(+0.0%)"},
		{"apply, SQLite (engine + store)", "220", "220", "+0", "(+0.0%)"},
		{"apply, PostgreSQL, client side", "80", "80", "+0", "(+0.0%)"},
		{"total, SQLite", "300", "290", "-10", "(-3.3%)"},
		{"total, PostgreSQL, client side", "160", "150", "-10", "(-6.2%)"},
	} {
		line := lineOf(out, want[0])
		if line == "" {
			t.Errorf("no line %q in:\n%s", want[0], out)
			continue
		}
		if got := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), want[0])); strings.Join(got, " ") != strings.Join(want[1:], " ") {
			t.Errorf("%s: %q, want %q", want[0], got, want[1:])
		}
	}
}

func lineOf(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return l
		}
	}
	return ""
}
