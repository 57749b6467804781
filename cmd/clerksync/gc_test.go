package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestTuneGC checks that serving PostgreSQL raises GOGC and sets a memory limit, that
// SQLite keeps Go's defaults, and that GOGC and GOMEMLIMIT in the environment win.
func TestTuneGC(t *testing.T) {
	gogc := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(gogc)
		debug.SetMemoryLimit(limit)
	})
	current := func() (int, int64) {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p, debug.SetMemoryLimit(-1) // a negative limit reads without changing
	}
	reset := func() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	}
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}

	tests := []struct {
		name      string
		db        DB
		env       map[string]string
		wantGOGC  int
		wantLimit int64
	}{
		{"postgres", DB{Kind: "postgres"}, nil, postgresGCPercent, postgresMemoryLimit},
		{"sqlite", DB{Kind: "sqlite"}, nil, 100, math.MaxInt64},
		{"postgres with GOGC", DB{Kind: "postgres"}, map[string]string{"GOGC": "150"}, 100, postgresMemoryLimit},
		{"postgres with GOMEMLIMIT", DB{Kind: "postgres"}, map[string]string{"GOMEMLIMIT": "1GiB"}, postgresGCPercent, math.MaxInt64},
	}
	for _, tt := range tests {
		reset()
		set := tuneGC(tt.db, env(tt.env))
		gotGOGC, gotLimit := current()
		if gotGOGC != tt.wantGOGC || gotLimit != tt.wantLimit {
			t.Errorf("%s: GOGC %d, memory limit %d; want %d, %d", tt.name, gotGOGC, gotLimit, tt.wantGOGC, tt.wantLimit)
		}
		if changed := gotGOGC != 100 || gotLimit != math.MaxInt64; changed != (len(set) > 0) {
			t.Errorf("%s: reported %v for what it changed", tt.name, set)
		}
	}
}
