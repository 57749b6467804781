// Package sqlitetest gives tests a SQLite store of their own, in a file of the test's
// temporary directory.
package sqlitetest

import (
	"path/filepath"
	"testing"

	"github.com/clerksync/clerksync/sqlite"
)

// Open opens a store with opts on a new database file, clerksync.db in a temporary
// directory of tb, closed when tb ends.
func Open(tb testing.TB, opts ...sqlite.Option) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(filepath.Join(tb.TempDir(), "clerksync.db"), opts...)
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
