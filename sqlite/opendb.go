package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/clerksync/clerksync"
)

// OpenDB opens the store on the SQLite database an application already has open (with
// the modernc.org/sqlite driver or any other): clerksync opens connections of its own
// to the same file, with the settings its durability rests on (WAL, its own fsync, one
// writer), and leaves db alone; Close does not close it. It returns an error with code
// EINVALID when db is an in-memory or temporary database, which another connection
// cannot share.
func OpenDB(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return nil, unavailable("find the database's file", err)
	}
	defer rows.Close()
	var path string
	for rows.Next() {
		var (
			seq        int
			name, file string
		)
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return nil, unavailable("find the database's file", err)
		}
		if name == "main" {
			path = file
		}
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("find the database's file", err)
	}
	if path == "" {
		return nil, &clerksync.Error{Code: clerksync.EINVALID,
			Message: "sqlite: the database is in memory or temporary: clerksync needs a file it can open too",
			Hint:    "open the application's database from a file"}
	}
	s, err := Open(path, opts...)
	if err != nil {
		return nil, fmt.Errorf("open %s beside the application: %w", path, err)
	}
	return s, nil
}
