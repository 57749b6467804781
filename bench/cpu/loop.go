package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/internal/benchload"
	"github.com/clerksync/clerksync/internal/pgprocs"
	"github.com/clerksync/clerksync/postgres"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/svixsig"
)

// A phase is how far along the webhook path each delivery of a loop goes. Each phase
// does what the one before it does and one step more, so that the instructions of a
// step are the difference between two phases.
type phase int

const (
	phaseGenerate phase = iota // build and sign the delivery (the load generator's part)
	phaseVerify                // and check its signature
	phaseDecode                // and decode it into a Change
	phaseSQLite                // and apply the batch to SQLite through the engine
	phasePostgres              // or to PostgreSQL through the engine
)

var phaseNames = []string{"generate", "verify", "decode", "apply-sqlite", "apply-postgres"}

func (p phase) String() string { return phaseNames[p] }

func parsePhase(s string) (phase, error) {
	for i, n := range phaseNames {
		if n == s {
			return phase(i), nil
		}
	}
	return 0, fmt.Errorf("unknown phase %q", s)
}

// clock is the time every delivery is signed at and verified against, so that every
// run builds the same bytes.
var clock = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return clock }

// loopConfig is one run of the loop, as the counter asks for it.
type loopConfig struct {
	phase      phase
	deliveries int // in all, warm-up included
	batch      int
	users      int
	dupShare   float64
	staleShare float64
	dir        string // where the SQLite file goes
	pgURL      string
	schema     string        // a PostgreSQL schema of its own, dropped at the end
	stats      string        // where to write the loopStats, as JSON
	settle     time.Duration // a pause after each applied batch (see runLoop)
}

// loopStats is what a run of the loop reports besides the instructions callgrind counts,
// for the whole loop (set-up and shut-down excluded).
type loopStats struct {
	// Mallocs and Bytes are the heap objects and bytes allocated.
	Mallocs, Bytes uint64
	// ServerCPU is the CPU time of the PostgreSQL backends that served the loop, in
	// nanoseconds (a multiple of 10 ms); -1 when not measured.
	ServerCPU int64
}

// loopMain is `cpu loop`: it runs the loop once, in this process, and exits. The
// counter runs it under callgrind twice with different delivery counts, so that
// everything but the deliveries (start-up, set-up, shutdown) cancels out.
func loopMain(args []string) error {
	// Memory profiling samples allocations at random; with it off, the same run
	// allocates the same way every time.
	runtime.MemProfileRate = 0
	fs := flag.NewFlagSet("loop", flag.ContinueOnError)
	var c loopConfig
	ph := fs.String("phase", "generate", "how far each delivery goes: generate, verify, decode, apply-sqlite or apply-postgres")
	fs.IntVar(&c.deliveries, "deliveries", 1000, "deliveries in all")
	fs.IntVar(&c.batch, "batch", 32, "changes per engine batch")
	fs.IntVar(&c.users, "users", 1000, "distinct users")
	fs.Float64Var(&c.dupShare, "duplicates", 0.05, "share of duplicates")
	fs.Float64Var(&c.staleShare, "stale", 0.05, "share of out-of-order versions")
	fs.StringVar(&c.dir, "dir", os.TempDir(), "directory for the SQLite file")
	fs.StringVar(&c.pgURL, "postgres", "", "PostgreSQL URL for apply-postgres")
	fs.StringVar(&c.schema, "schema", "", "PostgreSQL schema for apply-postgres (created, then dropped)")
	fs.DurationVar(&c.settle, "settle", 0, "pause after each applied batch")
	fs.StringVar(&c.stats, "stats", "", "file to write allocations and PostgreSQL CPU to, as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if c.phase, err = parsePhase(*ph); err != nil {
		return err
	}
	if c.batch < 1 || c.deliveries < 0 {
		return errors.New("-batch must be positive and -deliveries not negative")
	}
	st, err := runLoop(context.Background(), c)
	if err != nil {
		return err
	}
	if c.stats == "" {
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return os.WriteFile(c.stats, b, 0o644)
}

// runLoop sends c.deliveries deliveries through the phases up to c.phase, c.batch at a
// time.
//
// With c.settle, the loop pauses after each applied batch. SQLite's store checkpoints
// its WAL by the clock (every 50 ms while commits arrive), and callgrind slows the
// program some 25 times, by an amount that depends on the machine's load: run flat
// out, how many checkpoints a run makes varies, and the count of the SQLite apply with
// it (by up to 15% between identical runs). With a pause longer than a tick and a
// checkpoint, every batch is checkpointed once, on its own, and identical runs agree to
// within 0.2%.
func runLoop(ctx context.Context, c loopConfig) (loopStats, error) {
	st := loopStats{ServerCPU: -1}
	w, err := benchload.New(benchload.Config{Users: c.users, Secret: benchSecret,
		DupShare: c.dupShare, StaleShare: c.staleShare, Now: fixedNow})
	if err != nil {
		return st, err
	}
	verifier, err := svixsig.NewVerifier([]string{benchSecret}, svixsig.WithClock(fixedNow))
	if err != nil {
		return st, err
	}
	var (
		eng    *engine.Engine
		server *serverCPU
	)
	switch c.phase {
	case phaseSQLite:
		store, err := sqlite.Open(filepath.Join(c.dir, "cpu.db"))
		if err != nil {
			return st, err
		}
		defer store.Close()
		eng = engine.New(store, engine.Config{Writers: 1, MaxBatch: c.batch})
	case phasePostgres:
		if c.pgURL == "" || c.schema == "" {
			return st, errors.New("apply-postgres needs -postgres and -schema")
		}
		defer dropSchema(ctx, c.pgURL, c.schema)
		app := "clerksync_cpu_" + c.schema
		store, err := postgres.Open(ctx, withParam(c.pgURL, "application_name", app), postgres.WithSchema(c.schema))
		if err != nil {
			return st, err
		}
		defer store.Close()
		eng = engine.New(store, engine.Config{Writers: 1, MaxBatch: c.batch})
		if server, err = watchServer(ctx, c.pgURL, app); err != nil {
			return st, err
		}
		defer server.close(ctx)
	}
	if eng != nil {
		defer eng.Close()
	}

	rng := rand.New(rand.NewPCG(1, 2))
	slots := make([]benchload.Delivery, c.batch) // a change aliases its body until applied
	headers := make([]http.Header, c.batch)
	for i := range headers {
		headers[i] = http.Header{}
	}
	changes := make([]clerksync.Change, 0, c.batch)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if server != nil {
		if err := server.start(ctx); err != nil {
			return st, err
		}
	}
	for done := 0; done < c.deliveries; {
		n := min(c.batch, c.deliveries-done)
		changes = changes[:0]
		for i := range n {
			d, h := &slots[i], headers[i]
			w.Fill(rng, d)
			h[svixsig.HeaderSvixID] = []string{d.ID}
			h[svixsig.HeaderSvixTimestamp] = []string{strconv.FormatInt(d.Timestamp.Unix(), 10)}
			h[svixsig.HeaderSvixSignature] = []string{d.Signature}
			if c.phase < phaseVerify {
				continue
			}
			msg, err := verifier.Verify(h, d.Body)
			if err != nil {
				return st, fmt.Errorf("verify delivery %s: %w", d.ID, err)
			}
			if c.phase < phaseDecode {
				continue
			}
			ch := clerkdecode.ChangeFromEvent(msg.ID, d.Body, clerkdecode.Options{})
			// Every delivery is a user.updated to apply: one the decoder would only record
			// would make the count that of another path.
			if ch.Op == clerksync.OpDeadLetter || ch.Op == clerksync.OpIgnore || ch.UserID == "" {
				return st, fmt.Errorf("delivery %s decoded as %s, not as a change to a user: %s", d.ID, ch.Op, ch.Error)
			}
			changes = append(changes, ch)
		}
		if eng != nil {
			results, err := eng.Apply(ctx, changes...)
			if err != nil {
				return st, fmt.Errorf("apply batch: %w", err)
			}
			if len(results) != len(changes) {
				return st, fmt.Errorf("apply batch: %d results for %d changes", len(results), len(changes))
			}
			time.Sleep(c.settle)
		}
		done += n
	}
	if server != nil {
		cpu, err := server.stop(ctx)
		if err != nil {
			return st, err
		}
		st.ServerCPU = int64(cpu)
	}
	runtime.ReadMemStats(&m1)
	st.Mallocs, st.Bytes = m1.Mallocs-m0.Mallocs, m1.TotalAlloc-m0.TotalAlloc
	return st, nil
}

// serverCPU measures the CPU time of the PostgreSQL backends serving one application.
type serverCPU struct {
	conn  *pgx.Conn
	app   string
	first pgprocs.Snapshot
}

func watchServer(ctx context.Context, url, app string) (*serverCPU, error) {
	conn, err := pgx.Connect(ctx, withParam(url, "application_name", "clerksync_cpu_watch"))
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return &serverCPU{conn: conn, app: app}, nil
}

func (s *serverCPU) start(ctx context.Context) (err error) {
	s.first, err = pgprocs.TakeApp(ctx, s.conn, s.app)
	if err == nil && s.first.Count(pgprocs.App) == 0 {
		err = fmt.Errorf("no PostgreSQL backend has application_name %s: the store did not keep it", s.app)
	}
	return err
}

func (s *serverCPU) stop(ctx context.Context) (time.Duration, error) {
	last, err := pgprocs.TakeApp(ctx, s.conn, s.app)
	if err != nil {
		return 0, err
	}
	return last.Since(s.first).App, nil
}

func (s *serverCPU) close(ctx context.Context) { _ = s.conn.Close(ctx) }

// withParam returns url with the query parameter key set to value.
func withParam(url, key, value string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + key + "=" + value
}

func dropSchema(ctx context.Context, url, schema string) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
}
