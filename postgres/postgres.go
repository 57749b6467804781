// Package postgres is clerksync's store on PostgreSQL (and Supabase), for any number of
// clerksync replicas sharing one database.
//
// Correctness across processes is carried by the database, never by state in a
// process: each batch takes transaction-scoped advisory locks on its users in sorted
// order, the event log's primary key on svix_id recognises redeliveries, the
// updated_at guard sits in the upsert's WHERE, and the tombstone check runs in the same
// statement as the write. A batch travels as one pipeline (BEGIN, locks, one statement
// per change, COMMIT), so it costs one round trip however many changes it carries.
//
// Connect directly or through a pooler in session mode (Supabase: the session pooler
// or the direct connection string): migrations hold a session advisory lock and
// statements are prepared once per connection, which a transaction-mode pooler breaks.
//
// The tables (profiles, clerksync_tombstones, clerksync_events and the migration table
// clerksync_migrations) live in one schema, public unless WithSchema says otherwise;
// Open creates the schema when needed and applies the migrations of package
// migrations.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/migrations"
)

var _ clerksync.Store = (*Store)(nil)

// DefaultSchema is the schema of the tables unless WithSchema names another.
const DefaultSchema = "public"

// Option configures a Store.
type Option func(*Store)

// WithSchema puts the tables in schema (created by Open when it does not exist)
// instead of public. The schema is first on every connection's search_path, so the
// migrations and the migration table land there too.
func WithSchema(schema string) Option { return func(s *Store) { s.schema = schema } }

// WithRowLevelSecurity enables row level security for Supabase: on profiles, a policy
// lets a signed-in user read their own row (user_id = auth.jwt()->>'sub') and nothing
// else; on organizations and organization_memberships, policies let them read the
// organizations they belong to and their co-members' memberships; on the other tables
// (invitations, roles, permissions, and clerksync's own), no policy, so that the API
// roles of Supabase (anon, authenticated) cannot read them. clerksync itself connects as the
// owner of the tables, which row level security does not restrict. Open fails with
// code ECONFIG when the database has no auth.jwt() function.
func WithRowLevelSecurity() Option { return func(s *Store) { s.rls = true } }

// WithNow sets the clock that stamps synced_at, received_at and deleted_at. The default
// is time.Now.
func WithNow(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLogger sets the logger. The default discards everything.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithDeletePolicy sets what a deletion does to an object's row: clerksync.DeleteHard
// (the default) removes it; clerksync.DeleteSoft keeps it with deleted_at set and its
// personal columns (email, phone, names, image, metadata, raw) cleared. Either way the
// object is tombstoned and never comes back.
func WithDeletePolicy(p clerksync.DeletePolicy) Option {
	return func(s *Store) { s.softDelete = p == clerksync.DeleteSoft }
}

// Store is a clerksync.Store in a PostgreSQL database. It is safe for concurrent use:
// batches run in parallel on the pool's connections, in this process and in others.
type Store struct {
	schema string
	rls    bool
	now    func() time.Time
	log    *slog.Logger

	pool    *pgxpool.Pool
	ownPool bool // Open made the pool, and Close closes it
	closed  atomic.Bool

	// softDelete keeps a deleted object's row, with deleted_at set and its personal
	// columns cleared, instead of removing it.
	softDelete bool
}

// Open connects to the database at url (postgres://… or postgresql://…, with pgx's
// pool_* parameters if wanted), creates the schema if needed and migrates it. It
// returns an error with code EINVALID when url cannot be parsed, EUNAVAILABLE when the
// database cannot be reached, and ECONFIG when row level security is asked for on a
// database without Supabase's auth schema.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	s := &Store{schema: DefaultSchema, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	if s.schema == "" {
		return nil, &clerksync.Error{Code: clerksync.EINVALID, Message: "postgres: the schema name is empty"}
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, &clerksync.Error{
			Code:    clerksync.EINVALID,
			Message: "postgres: cannot parse the database URL",
			Hint:    "use postgres://USER:PASSWORD@HOST:5432/DATABASE",
			Err:     err,
		}
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{s.schema}.Sanitize()
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "clerksync"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, unavailable("connect", err)
	}
	s.pool, s.ownPool = pool, true
	if err := s.setUp(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// OpenPool opens the store on an application's own pool: clerksync's tables live in
// the pool's current schema (the first of its connections' search_path; WithSchema
// must name the same, when given), and Close leaves the pool open. Statements are
// prepared on the pool's connections and advisory locks held across transactions, so
// the pool must reach PostgreSQL directly or through a pooler in session mode. It
// returns an error with code ECONFIG when the pool's schema is not the one asked for.
func OpenPool(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	s := &Store{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	var current *string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&current); err != nil {
		return nil, unavailable("read the pool's schema", err)
	}
	switch {
	case current == nil:
		return nil, &clerksync.Error{Code: clerksync.ECONFIG, Message: "postgres: no schema of the pool's search_path exists",
			Hint: "create the schema, or set search_path in the pool's ConnConfig.RuntimeParams"}
	case s.schema != "" && s.schema != *current:
		return nil, &clerksync.Error{Code: clerksync.ECONFIG,
			Message: fmt.Sprintf("postgres: the pool's schema is %s, not %s", *current, s.schema),
			Hint:    `set cfg.ConnConfig.RuntimeParams["search_path"] to the schema when you make the pool`}
	}
	s.schema, s.pool = *current, pool
	if err := s.setUp(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// setUp creates the schema, migrates it and applies the row level security settings.
func (s *Store) setUp(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return &clerksync.Error{
			Code:    clerksync.EUNAVAILABLE,
			Message: "postgres: cannot connect",
			Hint:    "check the database URL and that PostgreSQL is running",
			Err:     err,
		}
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", s.schema).Scan(&exists); err != nil {
		return classify("look up schema "+s.schema, err)
	}
	// CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database even when
	// the schema exists, which a role given only its own schema does not have: create
	// it only when it is missing.
	if s.schema != DefaultSchema && !exists {
		// Replicas starting together would race on CREATE SCHEMA IF NOT EXISTS, which is
		// not safe against concurrent creation; an advisory lock makes them take turns.
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey("schema", s.schema)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.schema}.Sanitize())
			return err
		})
		if err != nil {
			return classify("create schema "+s.schema, err)
		}
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	applied, err := migrations.Up(ctx, db, migrations.Postgres)
	if err != nil {
		return classify("migrate schema "+s.schema, err)
	}
	migrations.LogApplied(ctx, s.log, applied, slog.String("schema", s.schema))
	if s.rls {
		if err := s.enableRowLevelSecurity(ctx); err != nil {
			return err
		}
	}
	return nil
}

// The row level security policies (see WithRowLevelSecurity).
const (
	// policy lets a signed-in user read their own profile.
	policy = "clerksync_read_own_profile"
	// orgPolicy lets a signed-in user read the organizations they belong to, and
	// memberPolicy the memberships of those organizations: their co-members'.
	orgPolicy    = "clerksync_read_own_organizations"
	memberPolicy = "clerksync_read_co_members"
	// orgsFunction returns the organizations of the signed-in user. The membership
	// policy cannot read organization_memberships itself (PostgreSQL refuses a policy
	// that recurses into its own table), so the function does, as the tables' owner.
	orgsFunction = "clerksync_user_org_ids"
)

func (s *Store) enableRowLevelSecurity(ctx context.Context) error {
	var hasJWT bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regprocedure('auth.jwt()') IS NOT NULL`).Scan(&hasJWT); err != nil {
		return classify("row level security", err)
	}
	if !hasJWT {
		return &clerksync.Error{
			Code:    clerksync.ECONFIG,
			Message: "postgres: row level security needs Supabase's auth.jwt() function, which this database does not have",
			Hint:    "turn row level security off, or point DATABASE_URL at the Supabase database",
		}
	}
	schema := pgx.Identifier{s.schema}.Sanitize()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue("SELECT pg_advisory_xact_lock($1)", lockKey("rls", s.schema))
		tables := []string{migrations.VersionTable, "clerksync_events", "clerksync_tombstones", "clerksync_sync_runs",
			"clerksync_state", "clerksync_leases", "clerksync_changes", "clerksync_changes_seq", "clerksync_forward_positions"}
		for _, t := range clerksync.Tables() {
			tables = append(tables, t.Name)
		}
		for _, table := range tables {
			b.Queue("ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY")
		}
		b.Queue("CREATE OR REPLACE FUNCTION " + schema + "." + orgsFunction + `() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ` + schema + `, pg_temp AS $$
    SELECT org_id FROM organization_memberships
    WHERE user_id = (SELECT auth.jwt() ->> 'sub') AND deleted_at IS NULL
$$`)
		b.Queue("DROP POLICY IF EXISTS " + policy + " ON profiles")
		b.Queue("CREATE POLICY " + policy + " ON profiles FOR SELECT USING (user_id = (SELECT auth.jwt() ->> 'sub') AND deleted_at IS NULL)")
		b.Queue("DROP POLICY IF EXISTS " + orgPolicy + " ON organizations")
		b.Queue("CREATE POLICY " + orgPolicy + " ON organizations FOR SELECT USING (org_id IN (SELECT " + schema + "." + orgsFunction + "()) AND deleted_at IS NULL)")
		b.Queue("DROP POLICY IF EXISTS " + memberPolicy + " ON organization_memberships")
		b.Queue("CREATE POLICY " + memberPolicy + " ON organization_memberships FOR SELECT USING (org_id IN (SELECT " + schema + "." + orgsFunction + "()) AND deleted_at IS NULL)")
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return classify("row level security", err)
	}
	return nil
}

// Schema returns the schema that holds the tables.
func (s *Store) Schema() string { return s.schema }

// Close closes the pool's connections. Calls after the first do nothing.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

// Ping reports whether the database answers, with code EUNAVAILABLE when it does not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1 FROM clerksync_migrations LIMIT 1").Scan(&one); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "postgres: the store is closed"}
	}
	return nil
}

// lockKey returns the advisory lock key of a name in a namespace.
func lockKey(namespace, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("clerksync "))
	h.Write([]byte(namespace))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// unavailable wraps err with code EUNAVAILABLE.
func unavailable(op string, err error) error {
	return &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "postgres: " + op, Err: err}
}

// classify wraps err with code EUNAVAILABLE when it says the database cannot be used
// now, and with plain context when it is the database refusing a statement.
func classify(op string, err error) error {
	if troubled(err) {
		return unavailable(op, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// troubled reports whether err means the database is unreachable or not serving: the
// context ended, the server shut down, ran out of resources, turned read-only after a
// failover or cancelled the statement, or the error did not come from the server at all
// (a connection that could not be made or broke, a closed pool). Errors the server
// reports about a statement are not.
func troubled(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	switch class(pgErr.Code) {
	case "08", // connection exception
		"53", // insufficient resources: disk full, too many connections
		"57", // operator intervention: shutdown, cancelled statement
		"58": // system error: I/O
		return true
	}
	return pgErr.Code == "25006" || // read-only transaction: a replica after a failover
		retryable(err) // retries exhausted
}

// retryable reports whether err is a serialization failure or a deadlock, after which
// the whole transaction can be run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// refusedChange reports whether err is the server refusing one change's values (data
// exception: malformed JSON, a NUL byte in text; integrity constraint; a value too
// big): the change is recorded as a dead letter and its batch goes on.
func refusedChange(err error) (*pgconn.PgError, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return nil, false
	}
	switch class(pgErr.Code) {
	case "22", "23", "54":
		return pgErr, true
	}
	return nil, false
}

// class returns the class of a SQLSTATE code: its first two characters.
func class(code string) string {
	if len(code) < 2 {
		return code
	}
	return code[:2]
}
