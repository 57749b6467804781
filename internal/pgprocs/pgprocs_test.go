package pgprocs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync/internal/pgprocs"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/internal/procstat"
)

// connect opens a connection with application name app to the test database (skipping
// t when PostgreSQL does not answer, unless CLERKSYNC_REQUIRE_POSTGRES=1).
func connect(t *testing.T, app string) *pgx.Conn {
	t.Helper()
	pgtest.Admin(t) // skips t when PostgreSQL does not answer
	cfg, err := pgx.ParseConfig(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = app
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// The work of an application's backend is counted for that application, and for no
// other one.
func TestAttributesBackendsByApplicationName(t *testing.T) {
	ctx := context.Background()
	app, bystander := name("pgprocs_app_"), name("pgprocs_bystander_")
	work := connect(t, app)
	watch := connect(t, "pgprocs_watch")

	take := func(a string) pgprocs.Snapshot {
		t.Helper()
		s, err := pgprocs.Take(ctx, watch, a)
		if err != nil {
			if _, statErr := os.Stat("/proc/self/stat"); statErr != nil {
				t.Skip("no /proc on this system")
			}
			t.Skipf("the PostgreSQL server is not on this machine: %v", err)
		}
		return s
	}
	takeApp := func() pgprocs.Snapshot {
		t.Helper()
		s, err := pgprocs.TakeApp(ctx, watch, app)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	forApp, forBystander, appOnly := take(app), take(bystander), takeApp()
	if n := forApp.Count(pgprocs.App); n != 1 {
		t.Fatalf("%d backends of %s, want 1", n, app)
	}
	if n := forBystander.Count(pgprocs.App); n != 0 {
		t.Fatalf("%d backends of %s, which has no connection, want 0", n, bystander)
	}
	// Enough work for several of /proc's 10 ms ticks.
	if _, err := work.Exec(ctx, "SELECT count(*) FROM generate_series(1, 5000000)"); err != nil {
		t.Fatal(err)
	}
	app1, bystander1, appOnly1 := take(app), take(bystander), takeApp()
	if appOnly.Count(pgprocs.App) != 1 || appOnly.Count(pgprocs.Other)+appOnly.Count(pgprocs.Background) != 0 {
		t.Errorf("TakeApp holds %d backends of the application and %d other processes, want 1 and 0",
			appOnly.Count(pgprocs.App), appOnly.Count(pgprocs.Other)+appOnly.Count(pgprocs.Background))
	}
	if got := appOnly1.Since(appOnly).App; got < procstat.ClockTick {
		t.Errorf("TakeApp: the application's backend used %s, want its query's CPU", got)
	}

	u := app1.Since(forApp)
	if u.App < procstat.ClockTick {
		t.Errorf("the application's backend used %s, want its query's CPU (≥ %s)", u.App, procstat.ClockTick)
	}
	b := bystander1.Since(forBystander)
	if b.App != 0 {
		t.Errorf("an application without connections used %s", b.App)
	}
	if b.Other < u.App {
		t.Errorf("other clients used %s for the bystander, less than the application's %s", b.Other, u.App)
	}
}
