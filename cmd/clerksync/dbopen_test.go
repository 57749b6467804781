package main

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clerksync/clerksync/internal/pgtest"
)

func TestCommands_CreateNoSQLiteDatabase(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"sync", "user_2abc"},
		{"backfill"},
		{"events", "list"},
		{"events", "prune", "--dry-run"},
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "clerksync.db")
			env := map[string]string{"DATABASE_URL": "sqlite:" + path, "CLERK_SECRET_KEY": "sk_test_abc", "CLERK_API_URL": "http://127.0.0.1:1/v1"}
			code, stdout, stderr := runMain(t, env, nil, args...)
			if code != 1 {
				t.Fatalf("clerksync %s: exit %d, want 1\n%s%s", strings.Join(args, " "), code, stdout, stderr)
			}
			for _, want := range []string{"no database at sqlite:" + path, "clerksync migrate", "DATABASE_URL"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("clerksync %s: stderr lacks %q:\n%s", strings.Join(args, " "), want, stderr)
				}
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("clerksync %s created %s (stat: %v)", strings.Join(args, " "), path, err)
			}
		})
	}
}

func TestPostgresConnectError_SaysEachCauseOnce(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1. Under the default sslmode=prefer pgx tries twice (with
	// TLS, then without): its error holds the same cause twice.
	env := map[string]string{"DATABASE_URL": "postgres://app:pw@127.0.0.1:1/app"}
	code, _, stderr := runMain(t, env, nil, "migrate")
	if code != 1 {
		t.Fatalf("migrate: exit %d, want 1\n%s", code, stderr)
	}
	if got := strings.Count(stderr, "connection refused"); got != 1 {
		t.Errorf(`stderr says "connection refused" %d times, want once:\n%s`, got, stderr)
	}
	if got := strings.Count(stderr, "127.0.0.1:1"); got != 2 { // the URL and the dial
		t.Errorf("stderr names the address %d times, want twice (the URL and the dial):\n%s", got, stderr)
	}
	for _, want := range []string{"cannot connect to PostgreSQL at postgres://app:xxxxx@127.0.0.1:1/app", "PostgreSQL is running"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestPostgresConnectError_ServerRefusal(t *testing.T) {
	t.Parallel()
	pgtest.Admin(t)
	u, err := url.Parse(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("clerksync_no_such_role", "pw")
	q := u.Query()
	q.Del("sslmode") // prefer: two attempts, one cause
	u.RawQuery = q.Encode()
	code, _, stderr := runMain(t, map[string]string{"DATABASE_URL": u.String()}, nil, "migrate")
	if code != 1 {
		t.Fatalf("migrate: exit %d, want 1\n%s", code, stderr)
	}
	if got := strings.Count(stderr, `role "clerksync_no_such_role" does not exist`); got != 1 {
		t.Errorf("stderr gives the server's refusal %d times, want once:\n%s", got, stderr)
	}
	if !strings.Contains(stderr, "check the user name and the password in DATABASE_URL") || strings.Contains(stderr, ":pw@") {
		t.Errorf("stderr lacks the hint, or shows the password:\n%s", stderr)
	}
}
