package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/clocktest"
)

// testClock is a clock the test sets; the server reads it from its goroutines.
type testClock = clocktest.Clock

// pruning is a serve whose retention passes the test drives: tick runs a pass and
// returns how many entries it deleted.
type pruning struct {
	*testServer
	ticks  chan time.Time
	passes chan int
	closed bool
}

// mustRunPruningServe starts serve on dbPath with the clock, waits for the pass made at
// start and returns the server with what that pass deleted.
func mustRunPruningServe(t *testing.T, dbPath string, clock *testClock, env map[string]string) (*pruning, int) {
	t.Helper()
	full := map[string]string{
		"CLERK_WEBHOOK_SECRET": testSecret,
		"DATABASE_URL":         "sqlite:" + dbPath,
		"PORT":                 "127.0.0.1:0",
		"LOG_LEVEL":            "debug",
	}
	for k, v := range env {
		full[k] = v
	}
	m, _, stderr := testMain(full)
	m.Now = clock.Now
	c := &ServeCommand{Main: m}
	if err := c.ParseFlags(nil); err != nil {
		t.Fatalf("serve flags: %v", err)
	}
	p := &pruning{ticks: make(chan time.Time), passes: make(chan int, 1)}
	c.retention.ticks = p.ticks
	c.retention.onPass = func(deleted int, err error) {
		if err != nil {
			t.Errorf("retention pass: %v", err)
		}
		p.passes <- deleted
	}
	if err := c.Open(context.Background()); err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr)
	}
	t.Cleanup(func() {
		if !p.closed {
			p.stop(t)
		}
	})
	p.testServer = &testServer{ServeCommand: c, URL: c.URL(), Logs: serveLogs{stderr, c}, DBPath: dbPath}
	return p, <-p.passes
}

// stop shuts the server down as SIGTERM does.
func (p *pruning) stop(t *testing.T) {
	t.Helper()
	p.closed = true
	if err := p.Close(); err != nil {
		t.Errorf("close serve: %v", err)
	}
}

func (p *pruning) tick() int {
	p.ticks <- time.Time{}
	return <-p.passes
}

func (p *pruning) eventIDs(t *testing.T) []string {
	t.Helper()
	events, err := p.store.Events(context.Background(), clerksync.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

func TestServe_EventRetention(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	start := time.Now()
	clock := clocktest.New(start)
	dbPath := filepath.Join(t.TempDir(), "clerksync.db")
	id := "user_2retentionAAAAAAAAAAAAAAAA"
	v1 := time.UnixMilli(1_700_000_001_000)

	// A first run records an update and a dead letter.
	s, deleted := mustRunPruningServe(t, dbPath, clock, nil)
	if deleted != 0 {
		t.Fatalf("the pass at start deleted %d entries of an empty log", deleted)
	}
	wantAnswer(t, s.send(t, "msg_r1", "user.created", user(id, "Ada", v1)), 200, "applied", "created")
	wantAnswer(t, deliver(t, s.URL, "/api/webhooks/clerk", testSecret, "msg_r2", time.Now(), undecodable), 200, "dead_letter", "none")
	s.stop(t)

	// Started 31 days later, serve prunes at once, keeping the dead letter.
	clock.Set(start.Add(31 * day))
	s, deleted = mustRunPruningServe(t, dbPath, clock, nil)
	if got, want := deleted, 1; got != want {
		t.Fatalf("the pass at start deleted %d entries, want %d", got, want)
	}
	if diff := cmp.Diff([]string{"msg_r2"}, s.eventIDs(t)); diff != "" {
		t.Fatalf("entries left (-want +got):\n%s", diff)
	}
	if s.profile(t, id) == nil {
		t.Fatal("pruning the event log deleted a profile")
	}
	if !strings.Contains(s.Logs.String(), "pruned 1 entry from the event log") {
		t.Errorf("logs lack the pass:\n%s", s.Logs)
	}

	// Then every hour: an entry inside the retention stays, an older one goes.
	clock.Set(time.Now())
	wantAnswer(t, s.send(t, "msg_r3", "user.updated", user(id, "Augusta", v1.Add(time.Minute))), 200, "applied", "updated")
	clock.Set(time.Now().Add(29 * day))
	if got := s.tick(); got != 0 {
		t.Fatalf("a pass deleted %d entries inside the retention", got)
	}
	clock.Set(time.Now().Add(31 * day))
	if got, want := s.tick(), 1; got != want {
		t.Fatalf("the hourly pass deleted %d entries, want %d", got, want)
	}
	if diff := cmp.Diff([]string{"msg_r2"}, s.eventIDs(t)); diff != "" {
		t.Fatalf("entries left (-want +got):\n%s", diff)
	}
}

func TestServe_EventRetentionOff(t *testing.T) {
	t.Parallel()
	s := MustRunServe(t, map[string]string{"CLERKSYNC_EVENT_RETENTION": "0"})
	if !strings.Contains(s.Logs.String(), "event log retention is off") {
		t.Fatalf("logs do not say retention is off:\n%s", s.Logs)
	}
}

func TestServe_EventRetentionSetting(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		env      string
		args     []string
		want     time.Duration
		contains []string // in the error; none for a valid setting
	}{
		{"Default", "", nil, 720 * time.Hour, nil},
		{"Days", "", []string{"--event-retention", "90d"}, 90 * 24 * time.Hour, nil},
		{"Env", "96h", nil, 96 * time.Hour, nil},
		{"FlagWinsOverEnv", "96h", []string{"--event-retention", "14d"}, 14 * 24 * time.Hour, nil},
		{"Minimum", "", []string{"--event-retention", "48h"}, 48 * time.Hour, nil},
		{"Off", "0", nil, 0, nil},
		{"TooShort", "", []string{"--event-retention", "24h"}, 0, []string{"--event-retention 24h", "too short", "27.6 hours", "at least 2 days"}},
		{"TooShortEnv", "1h", nil, 0, []string{"CLERKSYNC_EVENT_RETENTION", "too short"}},
		{"NotADuration", "", []string{"--event-retention", "a month"}, 0, []string{`"a month"`, "not a duration", "720h or 30d"}},
		{"Negative", "", []string{"--event-retention", "-1h"}, 0, []string{"not a duration"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, _, _ := testMain(map[string]string{"CLERK_WEBHOOK_SECRET": testSecret, "CLERKSYNC_EVENT_RETENTION": tt.env})
			c := &ServeCommand{Main: m}
			err := c.ParseFlags(tt.args)
			if tt.contains == nil {
				if err != nil {
					t.Fatalf("ParseFlags: %v", err)
				}
				if got := c.retention.keep; got != tt.want {
					t.Fatalf("retention = %v, want %v", got, tt.want)
				}
				return
			}
			if got, want := m.exitCode(err), 2; got != want {
				t.Fatalf("exit code = %d, want %d (err %v)", got, want, err)
			}
			for _, want := range tt.contains {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
		})
	}
}
