package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// machine describes where the numbers were taken.
func machine(pgURL string) []string {
	var lines []string
	cpu := "unknown"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	lines = append(lines, fmt.Sprintf("CPU: %s, %d cores available (GOMAXPROCS %d)", cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0)))
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		lines = append(lines, "Memory: "+strings.Join(strings.Fields(strings.TrimPrefix(first, "MemTotal:")), " "))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		lines = append(lines, "Kernel: Linux "+strings.TrimSpace(string(b)))
	}
	lines = append(lines, "Go: "+runtime.Version())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, pgURL); err == nil {
		var v string
		if conn.QueryRow(ctx, "SHOW server_version").Scan(&v) == nil {
			lines = append(lines, "PostgreSQL: "+v+" on the same machine (loopback)")
		}
		conn.Close(ctx)
	}
	lines = append(lines, "SQLite: modernc.org/sqlite (pure Go) in WAL mode on "+fsOf(os.TempDir())+
		"; (b) commits with synchronous=FULL, clerksync fdatasyncs its WAL before answering")
	if p50, p99, err := fsyncLatency(os.TempDir(), 200); err == nil {
		lines = append(lines, fmt.Sprintf("Disk: a 16 KiB write and fdatasync in %s takes %s (p50), %s (p99) when the disk is idle",
			os.TempDir(), ms(p50), ms(p99)))
	}
	return lines
}

func fsOf(path string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return path
	}
	best, kind := "", ""
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(path, f[1]) && len(f[1]) > len(best) {
			best, kind = f[1], f[2]
		}
	}
	return fmt.Sprintf("%s (%s)", path, kind)
}
