package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// fsyncLatency times n appends of 16 KiB to a new file in dir, each followed by an
// fdatasync, on an otherwise idle disk: what one durable commit costs this machine at
// the least. The per-request receivers are bound by it; clerksync shares it among a
// batch.
func fsyncLatency(dir string, n int) (p50, p99 time.Duration, err error) {
	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 16<<10)
	took := make([]time.Duration, 0, n)
	for i := range n {
		if _, err := f.WriteAt(buf, int64(i%64)*int64(len(buf))); err != nil {
			return 0, 0, err
		}
		start := time.Now()
		if err := datasync(f); err != nil {
			return 0, 0, fmt.Errorf("fdatasync %s: %w", filepath.Base(f.Name()), err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	return took[n/2], took[n*99/100], nil
}
