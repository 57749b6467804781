// Package procstat reads what Linux's /proc says about processes and the machine: the
// CPU time a process has used, its peak resident set size, the processes running a
// command, and the machine's busy and idle time. The benchmarks use it to tell where
// the machine's CPU went while they measured.
package procstat

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux): every CPU time
// this package returns is a multiple of it.
const ClockTick = 10 * time.Millisecond

// CPU returns the user plus system CPU time process pid has used. It fails when /proc
// has no such process or cannot be read.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it follow ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // utime and stime are fields 14 and 15: 12 and 13 after ")"
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * ClockTick, nil
}

// PeakRSS returns the high-water resident set size (VmHWM) of process pid in KiB. It
// fails when /proc has no such process or does not say.
func PeakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			if fs := strings.Fields(v); len(fs) > 0 {
				return strconv.ParseInt(fs[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

// Command returns the ids of the running processes whose command name (/proc/PID/comm)
// is comm, such as "postgres" for a PostgreSQL server's postmaster, backends and
// background processes (they keep that name when they retitle themselves).
func Command(comm string) ([]int, error) {
	paths, err := filepath.Glob("/proc/[0-9]*/comm")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(b)) != comm {
			continue // gone since the listing, or another command
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Machine returns the time all cores together have spent working (user, nice,
// system, irq, softirq, steal) and idle (idle, iowait) since boot, from /proc/stat.
func Machine() (busy, idle time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(first)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", first)
	}
	var v [8]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	user, nice, system, idleT, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	return time.Duration(user+nice+system+irq+softirq+steal) * ClockTick, time.Duration(idleT+iowait) * ClockTick, nil
}
