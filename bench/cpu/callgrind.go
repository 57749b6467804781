package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// count is what one run of the loop under callgrind measured.
type count struct {
	instructions uint64 // every thread of the process, user space only
	stats        loopStats
}

// callgrind runs the loop of binary bin under callgrind with args, in a directory of
// its own under dir, and returns the instructions it executed.
//
// GODEBUG=asyncpreemptoff=1: callgrind aborts on the signals Go uses to preempt
// goroutines. GOMAXPROCS=1: one thread runs Go code at a time, so the scheduler has
// fewer ways to interleave goroutines from one run to the next. gogc is the collector
// setting ("off" for a count that does not depend on when the collector runs).
func callgrind(ctx context.Context, bin, dir, gogc string, args []string) (count, error) {
	run, err := os.MkdirTemp(dir, "run-")
	if err != nil {
		return count{}, err
	}
	defer os.RemoveAll(run)
	out, stats := filepath.Join(run, "callgrind.out"), filepath.Join(run, "stats.json")
	cmd := exec.CommandContext(ctx, "valgrind", append([]string{"--tool=callgrind", "--callgrind-out-file=" + out,
		"--dump-line=no", bin, "loop", "-dir", run, "-stats", stats}, args...)...)
	cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1", "GOMAXPROCS=1", "GOGC="+gogc)
	if b, err := cmd.CombinedOutput(); err != nil {
		return count{}, fmt.Errorf("valgrind %s loop %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, tail(b, 3000))
	}
	n, err := totals(out)
	if err != nil {
		return count{}, err
	}
	c := count{instructions: n}
	b, err := os.ReadFile(stats)
	if err != nil {
		return count{}, err
	}
	if err := json.Unmarshal(b, &c.stats); err != nil {
		return count{}, fmt.Errorf("%s: %w", stats, err)
	}
	return c, nil
}

// totals reads the instructions executed (the event Ir) from a callgrind output file:
// its "totals:" line, or its "summary:" line when there is none.
func totals(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var summary string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "totals:"); ok {
			return parseIr(v)
		}
		if v, ok := strings.CutPrefix(line, "summary:"); ok {
			summary = v
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if summary == "" {
		return 0, errors.New(path + ": no totals")
	}
	return parseIr(summary)
}

func parseIr(v string) (uint64, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, errors.New("callgrind totals: empty")
	}
	return strconv.ParseUint(f[0], 10, 64) // Ir is the first (here the only) event
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
