package main

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/clerksync/clerksync/internal/pgtest"
)

// The loop takes deliveries through every phase against the real stores, so that the
// counter keeps measuring the webhook path as the stores change.
func TestLoopRunsEveryPhase(t *testing.T) {
	ctx := context.Background()
	for _, p := range []phase{phaseGenerate, phaseVerify, phaseDecode, phaseSQLite} {
		t.Run(p.String(), func(t *testing.T) {
			c := loopConfig{phase: p, deliveries: 150, batch: 16, users: 20, dupShare: 0.05, staleShare: 0.05, dir: t.TempDir(),
				settle: time.Millisecond}
			st, err := runLoop(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if st.ServerCPU != -1 {
				t.Errorf("ServerCPU = %d without PostgreSQL, want -1", st.ServerCPU)
			}
			if p >= phaseDecode && (st.Bytes == 0 || st.Mallocs == 0) {
				t.Errorf("no allocation counted: %+v", st)
			}
			if p == phaseSQLite {
				db, err := sql.Open("sqlite", filepath.Join(c.dir, "cpu.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				var n int
				if err := db.QueryRow("SELECT count(*) FROM profiles").Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != c.users {
					t.Errorf("%d profiles after %d deliveries about %d users", n, c.deliveries, c.users)
				}
			}
		})
	}
}

func TestLoopOnPostgreSQL(t *testing.T) {
	schema := pgtest.Schema(t, "bench_cpu_test")
	st, err := runLoop(context.Background(), loopConfig{phase: phasePostgres, deliveries: 150, batch: 16, users: 20,
		dupShare: 0.05, staleShare: 0.05, dir: t.TempDir(), pgURL: pgtest.URL(), schema: schema})
	if err != nil {
		if strings.Contains(err.Error(), "the machine it runs on") {
			t.Skip("the PostgreSQL server is not on this machine")
		}
		t.Fatal(err)
	}
	if st.ServerCPU < 0 || st.Bytes == 0 {
		t.Errorf("stats %+v, want the server's CPU measured and allocations counted", st)
	}
}

// Under callgrind, more deliveries execute more instructions, and the difference is
// what one signature check and its delivery's making cost: tens of thousands of
// instructions for an HMAC-SHA256 over 3.8 KB.
func TestCallgrindCountsDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("runs valgrind")
	}
	if _, err := exec.LookPath("valgrind"); err != nil {
		t.Skip("valgrind is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "loop")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	o := options{deliveries: 50, batch: 16, users: 10, dupShare: 0.05, staleShare: 0.05}
	var got [2]count
	for i, n := range []int{50, 100} {
		c, err := callgrind(context.Background(), bin, dir, "off", loopArgs(o, phaseVerify, n, 0))
		if err != nil {
			t.Fatal(err)
		}
		got[i] = c
	}
	per := (float64(got[1].instructions) - float64(got[0].instructions)) / 50
	if per < 20_000 || per > 2_000_000 {
		t.Errorf("%.0f instructions per delivery (%d for 50, %d for 100)", per, got[0].instructions, got[1].instructions)
	}
}

func TestTotals(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       uint64
		fails      bool
	}{
		{"Totals", "version: 1\nevents: Ir\nfn=(1) main\n0 12\nsummary: 999\ntotals: 123456\n", 123456, false},
		{"SummaryOnly", "events: Ir\nsummary: 4242\n", 4242, false},
		{"Neither", "events: Ir\nfn=(1) main\n0 12\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "callgrind.out")
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := totals(path)
			if tc.fails {
				if err == nil {
					t.Errorf("totals = %d, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("totals = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
