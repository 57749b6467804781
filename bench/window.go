package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync/internal/pgprocs"
	"github.com/clerksync/clerksync/internal/procstat"
)

// windowUse is where the machine's CPU time went over one measured window.
type windowUse struct {
	receiver, load time.Duration // the receiver's process and this one (the load generator)
	// database is the PostgreSQL server's CPU on the receiver's behalf: the backends
	// of its connections, and the server's background processes. otherClients is what
	// the backends of every other client used (someone else's tests, on a shared
	// machine). Both -1 when not measured.
	database, otherClients time.Duration
	background             time.Duration // the server's own processes: part of database
	busy, idle             time.Duration // the whole machine, all cores: working, and idle or waiting for the disk
	batches, changes       float64       // clerksync's batches and their changes (group commit), from /metrics
	err                    error
}

// dbWatch reads the CPU of a PostgreSQL server's processes on behalf of one receiver.
type dbWatch struct {
	conn *pgx.Conn
	app  string
}

// watchDatabase connects to the server at url to tell, in pg_stat_activity, the
// backends whose application_name is app from the others.
func watchDatabase(ctx context.Context, url, app string) (*dbWatch, error) {
	conn, err := pgx.Connect(ctx, withParam(url, "application_name", "clerksync_bench_watch"))
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL to watch its processes: %w", err)
	}
	return &dbWatch{conn: conn, app: app}, nil
}

func (w *dbWatch) close(ctx context.Context) { _ = w.conn.Close(ctx) }

// sampleWindow measures, from warmup from now until warmup+d from now (the window
// runLoad measures), the CPU time of the process pid, of this one, of the PostgreSQL
// server's processes on pid's behalf (when db is not nil), and of the whole machine;
// and, when metricsURL is set, clerksync's batches. The result arrives on the channel
// once the window has passed.
func sampleWindow(ctx context.Context, pid int, db *dbWatch, metricsURL string, warmup, d time.Duration) <-chan windowUse {
	ch := make(chan windowUse, 1)
	go func() {
		time.Sleep(warmup)
		var (
			u      windowUse
			s0, s1 pgprocs.Snapshot
			err    error
		)
		r0, l0 := cpuOf(pid), cpuOf(os.Getpid())
		b0, i0, _ := procstat.Machine()
		n0, c0 := batches(ctx, metricsURL)
		if db != nil {
			s0, err = pgprocs.Take(ctx, db.conn, db.app)
		}
		time.Sleep(d)
		r1, l1 := cpuOf(pid), cpuOf(os.Getpid())
		b1, i1, _ := procstat.Machine()
		n1, c1 := batches(ctx, metricsURL)
		u.database, u.otherClients = -1, -1
		if db != nil && err == nil {
			s1, err = pgprocs.Take(ctx, db.conn, db.app)
		}
		switch {
		case db == nil:
		case err != nil:
			fmt.Fprintf(os.Stderr, "the PostgreSQL server's CPU is not measured: %v\n", err)
		case s1.Count(pgprocs.App) == 0:
			u.err = fmt.Errorf("no PostgreSQL backend had application_name %s at the end of the window: the receiver's "+
				"connections did not keep the name the bench gave them, so its backends cannot be told apart", db.app)
		default:
			du := s1.Since(s0)
			u.database, u.otherClients, u.background = du.App+du.Background, du.Other, du.Background
		}
		u.receiver, u.load = max(0, r1-r0), max(0, l1-l0)
		u.busy, u.idle = max(0, b1-b0), max(0, i1-i0)
		u.batches, u.changes = n1-n0, c1-c0
		ch <- u
	}()
	return ch
}

// cpuOf returns the CPU time process pid has used, 0 when /proc cannot tell.
func cpuOf(pid int) time.Duration {
	d, _ := procstat.CPU(pid)
	return d
}

// batches reads clerksync's count of batches and the changes they carried from its
// Prometheus metrics at url (0, 0 when there are none).
func batches(ctx context.Context, url string) (count, sum float64) {
	if url == "" {
		return 0, 0
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "clerksync_batch_changes_count":
			count, _ = strconv.ParseFloat(value, 64)
		case "clerksync_batch_changes_sum":
			sum, _ = strconv.ParseFloat(value, 64)
		}
	}
	return count, sum
}

// us formats a CPU time per delivery in microseconds.
func us(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}
