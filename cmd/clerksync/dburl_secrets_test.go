package main

import (
	"context"
	"strings"
	"testing"

	"github.com/clerksync/clerksync/internal/pgtest"
)

// TestServe_ListeningLineHidesDatabasePassword starts serve on PostgreSQL with a
// password in a query parameter (which the test database's trust authentication
// ignores): the "clerksync listening" line names the database without it.
func TestServe_ListeningLineHidesDatabasePassword(t *testing.T) {
	t.Parallel()
	schema := pgtest.SchemaName(t, "clerksync_test")
	sep := "?"
	if strings.Contains(pgtest.URL(), "?") {
		sep = "&"
	}
	s := MustRunServe(t, map[string]string{
		"DATABASE_URL":    pgtest.URL() + sep + "password=hunter2-in-query",
		"DATABASE_SCHEMA": schema,
		// Leave this process's collector as it is (serve tunes it on PostgreSQL).
		"GOGC": "100", "GOMEMLIMIT": "off",
	})
	logs := s.Logs.String()
	line := ""
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "clerksync listening") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no listening line:\n%s", logs)
	}
	if strings.Contains(logs, "hunter2") {
		t.Fatalf("the logs show the database password:\n%s", logs)
	}
	if !strings.Contains(line, "password=xxxxx") {
		t.Fatalf("listening line = %s, want the database with its password masked", line)
	}
}

// TestDatabaseURL_ErrorsHideSecrets checks that a mistaken DATABASE_URL is never
// echoed with its password.
func TestDatabaseURL_ErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"host=db.example.com user=app password=hunter2 dbname=app",
		"host=db.example.com password='hunter2 x'",
		"sqlite:clerksync.db?password=hunter2",
		"mysql://app:hunter2@db/app",
		"postgres://app:hunter2@/app",
	} {
		t.Run(url, func(t *testing.T) {
			t.Parallel()
			m, stdout, stderr := testMain(map[string]string{"DATABASE_URL": url})
			err := m.Run(context.Background(), []string{"migrate"})
			if err == nil {
				t.Fatalf("migrate with DATABASE_URL %q succeeded", url)
			}
			for what, s := range map[string]string{"error": err.Error(), "stdout": stdout.String(), "stderr": stderr.String()} {
				if strings.Contains(s, "hunter2") {
					t.Fatalf("%s shows the password: %s", what, s)
				}
			}
		})
	}
}
