package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuUse is where the machine's CPU time went over one measured window.
type cpuUse struct {
	receiver, load time.Duration // the receiver's process and this one (the load generator)
	database       time.Duration // every process of the PostgreSQL server
	busy, idle     time.Duration // the whole machine, all cores: working, and idle or waiting for the disk
}

// sampleCPU measures, from warmup from now until warmup+d from now (the window runLoad
// measures), the CPU time of the process pid, of this one, of the PostgreSQL server's
// processes, and of the whole machine. The result arrives on the channel once the
// window has passed (zero where /proc cannot tell).
func sampleCPU(pid int, warmup, d time.Duration) <-chan cpuUse {
	ch := make(chan cpuUse, 1)
	go func() {
		time.Sleep(warmup)
		r0, l0, p0 := processCPU(pid), processCPU(os.Getpid()), commandCPU("postgres")
		b0, i0 := machineCPU()
		time.Sleep(d)
		r1, l1, p1 := processCPU(pid), processCPU(os.Getpid()), commandCPU("postgres")
		b1, i1 := machineCPU()
		ch <- cpuUse{receiver: max(0, r1-r0), load: max(0, l1-l0), database: max(0, p1-p0),
			busy: max(0, b1-b0), idle: max(0, i1-i0)}
	}()
	return ch
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
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

// commandCPU returns the CPU time used by every running process whose command name is
// comm: for "postgres", the server's backends and background processes (they keep
// that name when they retitle themselves). The receivers' connections live as long
// as the receiver, so their backends are there at both ends of the window.
func commandCPU(comm string) time.Duration {
	dirs, err := filepath.Glob("/proc/[0-9]*/comm")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(b)) != comm {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if err != nil {
			continue
		}
		total += processCPU(pid)
	}
	return total
}

// machineCPU returns the time all cores together spent working (user, nice, system,
// irq, softirq, steal) and idle (idle, iowait) since boot, from /proc/stat.
func machineCPU() (busy, idle time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(first)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	var v [8]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	user, nice, system, idleT, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	return time.Duration(user+nice+system+irq+softirq+steal) * clockTick, time.Duration(idleT+iowait) * clockTick
}

// us formats a CPU time per delivery in microseconds.
func us(d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}
