package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestTuneGC checks that serving either store raises GOGC and sets a memory limit, each
// its own, and that GOGC and GOMEMLIMIT in the environment win.
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
		{"postgres", DB{Kind: "postgres"}, nil, 400, 64 << 20},
		{"sqlite", DB{Kind: "sqlite"}, nil, 200, 48 << 20},
		{"postgres with GOGC", DB{Kind: "postgres"}, map[string]string{"GOGC": "150"}, 100, 64 << 20},
		{"sqlite with GOMEMLIMIT", DB{Kind: "sqlite"}, map[string]string{"GOMEMLIMIT": "1GiB"}, 200, math.MaxInt64},
		{"sqlite with both", DB{Kind: "sqlite"}, map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}, 100, math.MaxInt64},
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
