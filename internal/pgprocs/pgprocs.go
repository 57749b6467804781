// Package pgprocs tells how much CPU a PostgreSQL server on this machine spent, and on
// whose behalf: the backends serving one application (told apart by the
// application_name its connections carry), the backends of every other client, and the
// server's own processes (postmaster, WAL writer, checkpointer, background writer,
// autovacuum), which work for whoever writes. It reads pg_stat_activity for who is who
// and /proc for the CPU times, so it needs the server on the same machine.
package pgprocs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync/internal/procstat"
)

// Role is whom a server process works for.
type Role int

// The roles of a PostgreSQL server's processes.
const (
	App        Role = iota // a client backend of the application measured
	Other                  // a client backend of any other client
	Background             // the postmaster and the server's background processes

	watcher // the backend of the connection that reads pg_stat_activity: in no role
)

// Snapshot is the CPU time each process of a PostgreSQL server had used at one moment.
type Snapshot struct {
	cpu  map[int]time.Duration
	role map[int]Role
}

// Take reads the CPU time of every process named postgres on this machine and sorts
// them by role: a client backend whose application_name is app is App, another client
// backend is Other, and everything else (the postmaster, background processes) is
// Background. conn is a connection to the server, used to read pg_stat_activity; its
// own backend is left out. Take fails when pg_stat_activity or /proc cannot be
// read, or when no process of the server can be found (a server on another machine).
func Take(ctx context.Context, conn *pgx.Conn, app string) (Snapshot, error) {
	s := Snapshot{cpu: map[int]time.Duration{}, role: map[int]Role{}}
	rows, err := conn.Query(ctx, "SELECT pid, coalesce(application_name, ''), coalesce(backend_type, ''), pid = pg_backend_pid() FROM pg_stat_activity")
	if err != nil {
		return s, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	kind := map[int]Role{}
	for rows.Next() {
		var (
			pid         int
			name, btype string
			self        bool
		)
		if err := rows.Scan(&pid, &name, &btype, &self); err != nil {
			return s, fmt.Errorf("read pg_stat_activity: %w", err)
		}
		switch {
		case self:
			kind[pid] = watcher
		case btype == "client backend" && name == app:
			kind[pid] = App
		case btype == "client backend":
			kind[pid] = Other
		}
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	pids, err := procstat.Command("postgres")
	if err != nil {
		return s, err
	}
	for _, pid := range pids {
		cpu, err := procstat.CPU(pid)
		if err != nil {
			continue // ended since the listing
		}
		r, ok := kind[pid]
		if !ok {
			r = Background
		}
		if r != watcher {
			s.cpu[pid], s.role[pid] = cpu, r
		}
	}
	if len(s.cpu) == 0 {
		return s, fmt.Errorf("no process named postgres on this machine: the server's CPU can be measured only on the machine it runs on")
	}
	return s, nil
}

// TakeApp is Take for the backends of app alone: it reads /proc for them only, which
// costs the caller the same instructions whatever else runs on the machine. It fails
// when pg_stat_activity cannot be read or a backend of app has no /proc entry (a
// server on another machine).
func TakeApp(ctx context.Context, conn *pgx.Conn, app string) (Snapshot, error) {
	s := Snapshot{cpu: map[int]time.Duration{}, role: map[int]Role{}}
	rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name = $1", app)
	if err != nil {
		return s, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return s, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	for _, pid := range pids {
		cpu, err := procstat.CPU(pid)
		if err != nil {
			return s, fmt.Errorf("PostgreSQL backend %d: %w (the server's CPU can be measured only on the machine it runs on)", pid, err)
		}
		s.cpu[pid], s.role[pid] = cpu, App
	}
	return s, nil
}

// Count returns how many processes of role r the snapshot holds.
func (s Snapshot) Count(r Role) int {
	n := 0
	for _, x := range s.role {
		if x == r {
			n++
		}
	}
	return n
}

// Use is the CPU time the server's processes spent between two snapshots, by role.
type Use struct {
	App, Other, Background time.Duration
}

// Since returns the CPU time used from earlier to s. A process that started in
// between counts whole (it was not there before); one that ended in between is lost,
// as /proc forgets it: the backends of a pool that stays connected are counted whole,
// a short-lived autovacuum worker may not be.
func (s Snapshot) Since(earlier Snapshot) Use {
	var u Use
	for pid, cpu := range s.cpu {
		d := cpu - earlier.cpu[pid] // 0 for a process that was not there
		if d < 0 {
			d = cpu // the pid was reused by a new process
		}
		switch s.role[pid] {
		case App:
			u.App += d
		case Other:
			u.Other += d
		default:
			u.Background += d
		}
	}
	return u
}
