// Package migrations creates and upgrades clerksync's tables with pressly/goose, from
// numbered SQL files embedded in the binary, one directory per dialect
// (migrations/sqlite, migrations/postgres).
//
// The tables are profiles (what applications read), clerksync_tombstones (deleted users,
// for ever), clerksync_events (the event log keyed by svix-id), and, for pulling from
// the Clerk Backend API, clerksync_sync_runs, clerksync_state (checkpoints) and
// clerksync_leases; the version table clerksync_migrations sits beside them. On PostgreSQL everything lives in the schema
// first on the connection's search_path, and concurrent migrators (several replicas
// starting at once) take turns on a session advisory lock derived from that schema, so
// that none of them applies a migration twice or sees a half-built schema.
//
// The package holds no global state: each call builds its own goose provider.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"path"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Dialect names the SQL dialect of a database.
type Dialect string

// The dialects clerksync migrates.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// VersionTable is the name of the table goose records applied migrations in. It is
// not goose's default (goose_db_version) so that it cannot collide with an
// application that uses goose for its own tables in the same database.
const VersionTable = "clerksync_migrations"

// lockWait is how long a PostgreSQL migrator waits for another one to finish, polling
// once a second.
const lockWait = 10 * time.Minute

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Migration is one migration and whether the database has it.
type Migration struct {
	Version   int64
	Name      string    // file name, such as "00001_init.sql"
	Applied   bool      // whether the database has it
	AppliedAt time.Time // when it was applied (zero when pending)
}

// Up applies every pending migration of dialect to db and returns the ones it applied,
// in order (none when the database was up to date). On PostgreSQL it first takes a
// session advisory lock keyed on the current schema, so concurrent callers apply each
// migration once; they wait for each other for up to ten minutes. It returns an error
// when the database refuses a migration or the lock cannot be had.
func Up(ctx context.Context, db *sql.DB, dialect Dialect) ([]Migration, error) {
	p, err := newProvider(ctx, db, dialect)
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", dialect, err)
	}
	applied := make([]Migration, 0, len(results))
	for _, r := range results {
		applied = append(applied, Migration{Version: r.Source.Version, Name: path.Base(r.Source.Path), Applied: true})
	}
	return applied, nil
}

// LogApplied logs what Up applied, with attrs saying where: one line for a new
// database ("created the tables"), a line per migration for an upgrade, nothing when
// the database was up to date.
func LogApplied(ctx context.Context, log *slog.Logger, applied []Migration, attrs ...slog.Attr) {
	if len(applied) == 0 {
		return
	}
	if applied[0].Version == 1 {
		log.LogAttrs(ctx, slog.LevelInfo, "created clerksync's tables",
			append(attrs, slog.Int64("schema_version", applied[len(applied)-1].Version))...)
		return
	}
	for _, m := range applied {
		log.LogAttrs(ctx, slog.LevelInfo, "upgraded clerksync's tables", append(attrs, slog.String("migration", m.Name))...)
	}
}

// Status returns the state of every migration of dialect known to this binary, in
// version order. It creates the version table when it does not exist yet, and returns
// an error when the database cannot be read.
func Status(ctx context.Context, db *sql.DB, dialect Dialect) ([]Migration, error) {
	p, err := newProvider(ctx, db, dialect)
	if err != nil {
		return nil, err
	}
	list, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]Migration, 0, len(list))
	for _, s := range list {
		out = append(out, Migration{
			Version:   s.Source.Version,
			Name:      path.Base(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// Version returns the version the database is at (0 before the first migration) and
// the latest version this binary knows. It returns an error when the database cannot be
// read.
func Version(ctx context.Context, db *sql.DB, dialect Dialect) (current, latest int64, err error) {
	p, err := newProvider(ctx, db, dialect)
	if err != nil {
		return 0, 0, err
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migration version: %w", err)
	}
	return current, latest, nil
}

// newProvider builds a goose provider for dialect over db with the embedded files.
func newProvider(ctx context.Context, db *sql.DB, dialect Dialect) (*goose.Provider, error) {
	var gooseDialect goose.Dialect
	opts := []goose.ProviderOption{
		goose.WithTableName(VersionTable),
		goose.WithDisableGlobalRegistry(true),
	}
	switch dialect {
	case SQLite:
		gooseDialect = goose.DialectSQLite3
	case Postgres:
		gooseDialect = goose.DialectPostgres
		locker, err := postgresLocker(ctx, db)
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		return nil, fmt.Errorf("migrate: unknown dialect %q", dialect)
	}
	sub, err := fs.Sub(files, string(dialect))
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", dialect, err)
	}
	p, err := goose.NewProvider(gooseDialect, db, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", dialect, err)
	}
	return p, nil
}

// postgresLocker returns goose's session locker with a lock id derived from the
// current schema: replicas migrating the same schema exclude each other, while
// different schemas of one database (tests, several deployments) migrate in parallel.
func postgresLocker(ctx context.Context, db *sql.DB) (lock.SessionLocker, error) {
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("migrate postgres: read current schema: %w", err)
	}
	if !schema.Valid {
		return nil, errors.New("migrate postgres: no schema of the search_path exists; create it first")
	}
	h := fnv.New64a()
	h.Write([]byte("clerksync migrations " + schema.String))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(1, uint64(lockWait/time.Second)),
	)
	if err != nil {
		return nil, fmt.Errorf("migrate postgres: %w", err)
	}
	return locker, nil
}
