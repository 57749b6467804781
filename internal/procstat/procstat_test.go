package procstat_test

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerksync/clerksync/internal/procstat"
)

func needProc(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system: procstat reads Linux's")
	}
}

// Work done by a process shows in its CPU time.
func TestCPUCountsWork(t *testing.T) {
	needProc(t)
	before, err := procstat.CPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := uint64(1)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for range 1_000_000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		now, err := procstat.CPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now >= before+3*procstat.ClockTick {
			return
		}
	}
	t.Fatalf("CPU time did not grow by 3 ticks in 30 s of work (%d)", x)
}

func TestPeakRSSSeesMemoryTouched(t *testing.T) {
	needProc(t)
	const size = 64 << 20
	b := make([]byte, size)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	kib, err := procstat.PeakRSS(os.Getpid())
	runtime.KeepAlive(b)
	if err != nil {
		t.Fatal(err)
	}
	if kib < size>>10 {
		t.Errorf("peak RSS %d KiB after touching %d KiB", kib, size>>10)
	}
}

func TestCommandFindsThisProcess(t *testing.T) {
	needProc(t)
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	pids, err := procstat.Command(strings.TrimSpace(string(comm)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, os.Getpid()) {
		t.Errorf("Command(%q) = %v, without this process (%d)", strings.TrimSpace(string(comm)), pids, os.Getpid())
	}
}

func TestErrorsForAMissingProcess(t *testing.T) {
	needProc(t)
	if _, err := procstat.CPU(1 << 30); err == nil {
		t.Error("CPU of a process that does not exist succeeded")
	}
	if _, err := procstat.PeakRSS(1 << 30); err == nil {
		t.Error("PeakRSS of a process that does not exist succeeded")
	}
}

func TestMachine(t *testing.T) {
	needProc(t)
	busy, idle, err := procstat.Machine()
	if err != nil {
		t.Fatal(err)
	}
	if busy <= 0 || idle < 0 {
		t.Errorf("Machine() = busy %s, idle %s", busy, idle)
	}
}
