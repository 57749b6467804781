package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuUse is the CPU time two processes spent over one window.
type cpuUse struct{ receiver, load time.Duration }

// sampleCPU measures the CPU time of the process pid and of this one from warmup
// from now until warmup+d from now, the window runLoad measures. The result arrives
// on the channel once the window has passed (zero where /proc cannot tell).
func sampleCPU(pid int, warmup, d time.Duration) <-chan cpuUse {
	ch := make(chan cpuUse, 1)
	go func() {
		time.Sleep(warmup)
		r0, l0 := processCPU(pid), processCPU(os.Getpid())
		time.Sleep(d)
		r1, l1 := processCPU(pid), processCPU(os.Getpid())
		ch <- cpuUse{receiver: max(0, r1-r0), load: max(0, l1-l0)}
	}()
	return ch
}

// clockTick is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// processCPU returns the user plus system CPU time process pid has used, or 0 when
// /proc cannot tell.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after it follow ")".
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 { // utime and stime are fields 14 and 15: 12 and 13 after ")"
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * clockTick
}

// us formats a CPU time per delivery in microseconds.
func us(d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}
