package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/pgtest"
	"github.com/clerksync/clerksync/internal/tcpproxy"
	"github.com/clerksync/clerksync/migrations"
	"github.com/clerksync/clerksync/postgres"
	"github.com/clerksync/clerksync/storetest"
)

const updatedAt = 1716883500000

// TestConcurrentMigrators starts several migrators at once on one fresh schema, each
// with a connection pool of its own, as replicas starting together would: every one
// succeeds and each migration is applied once.
func TestConcurrentMigrators(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Admin(t)
	schema := newSchema(t)
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = schema

	const migrators = 4
	errs := make([]error, migrators)
	var wg sync.WaitGroup
	for i := range migrators {
		db := stdlib.OpenDB(*cfg)
		t.Cleanup(func() { db.Close() })
		wg.Go(func() { _, errs[i] = migrations.Up(ctx, db, migrations.Postgres) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}

	rows, err := pool.Query(ctx, "SELECT version_id, count(*) FROM "+schema+"."+migrations.VersionTable+" GROUP BY version_id ORDER BY version_id")
	if err != nil {
		t.Fatal(err)
	}
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]int64, error) {
		var vc [2]int64
		err := r.Scan(&vc[0], &vc[1])
		return vc, err
	})
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	_, latest, err := migrations.Version(ctx, db, migrations.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	var want [][2]int64
	for v := range latest + 1 { // goose records version 0 when it creates its table
		want = append(want, [2]int64{v, 1})
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Fatalf("applied migrations, (version, times) (-want +got):\n%s", diff)
	}
}

// TestSchema checks that the tables and the migration table land in the configured
// schema, which Open creates, and that a second Open finds it up to date.
func TestSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := newSchema(t)
	pgtest.Open(t, schema)
	s := pgtest.Open(t, schema)
	if got := s.Schema(); got != schema {
		t.Fatalf("Schema() = %q, want %q", got, schema)
	}
	rows, err := pgtest.Admin(t).Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"clerksync_changes", "clerksync_changes_seq", "clerksync_events", "clerksync_forward_positions", "clerksync_leases", "clerksync_migrations", "clerksync_state", "clerksync_sync_runs", "clerksync_tombstones",
		"organization_invitations", "organization_memberships", "organization_permissions", "organization_roles", "organizations", "profiles"}
	if diff := cmp.Diff(want, tables); diff != "" {
		t.Fatalf("tables in %s (-want +got):\n%s", schema, diff)
	}
}

// TestRowLevelSecurity checks the Supabase policies with a stand-in for Supabase's
// auth.jwt() and a role without BYPASSRLS: a signed-in user reads their own profile,
// the organizations they belong to and their co-members' memberships, and nothing
// else; nobody reads invitations, roles, permissions or clerksync's own tables.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Admin(t)
	mustAuthJWT(t)
	schema := newSchema(t)

	s := pgtest.Open(t, schema, postgres.WithRowLevelSecurity())
	// Opening again (another replica) keeps one policy.
	pgtest.Open(t, schema, postgres.WithRowLevelSecurity())
	// user_a is in org_1 and org_2 (and was in org_4 until removed), user_b in org_1
	// only, user_c in org_3 only.
	org1, org2 := storetest.NewOrganization("org_1", updatedAt, updatedAt), storetest.NewOrganization("org_2", updatedAt, updatedAt)
	org3, org4 := storetest.NewOrganization("org_3", updatedAt, updatedAt), storetest.NewOrganization("org_4", updatedAt, updatedAt)
	member := func(id string, org *clerksync.Organization, user string) clerksync.Change {
		return storetest.Event("msg_"+id, "organizationMembership.created", storetest.NewMembership(id, org, user, "org:member", updatedAt, updatedAt))
	}
	removed := storetest.NewMembership("orgmem_a4", org4, "user_a", "org:admin", updatedAt, updatedAt)
	storetest.MustApply(t, s,
		storetest.Upsert("msg_a", storetest.NewProfile("user_a", updatedAt)),
		storetest.Upsert("msg_b", storetest.NewProfile("user_b", updatedAt)),
		storetest.Upsert("msg_c", storetest.NewProfile("user_c", updatedAt)),
		member("orgmem_a1", org1, "user_a"), member("orgmem_a2", org2, "user_a"),
		member("orgmem_b1", org1, "user_b"), member("orgmem_c3", org3, "user_c"),
		storetest.Event("msg_a4", "organizationMembership.created", removed),
		storetest.MembershipDeleted("msg_a4_del", removed, updatedAt+1),
		storetest.Event("msg_i1", "organizationInvitation.created", storetest.NewInvitation("orginv_1", "org_1", "new@example.com", "pending", "", updatedAt, updatedAt)),
		storetest.Event("msg_r1", "role.created", storetest.NewRole("role_1", "org:member", updatedAt, updatedAt)),
		storetest.Event("msg_p1", "permission.created", storetest.NewPermission("perm_1", "org:posts:read", updatedAt, updatedAt)),
	)

	role := schema + "_reader"
	for _, q := range []string{
		"CREATE ROLE " + role + " NOLOGIN NOBYPASSRLS",
		"GRANT USAGE ON SCHEMA " + schema + ", auth TO " + role,
		"GRANT SELECT ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if _, err := pool.Exec(ctx, "DROP OWNED BY "+role); err != nil {
			t.Errorf("drop owned by %s: %v", role, err)
		}
		if _, err := pool.Exec(ctx, "DROP ROLE "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})

	query := func(claims, q string) []string {
		t.Helper()
		var got []string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+role); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "SELECT set_config('request.jwt.claims', $1, true)", claims); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, q)
			if err != nil {
				return err
			}
			got, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatalf("%s as %s: %v", q, claims, err)
		}
		return got
	}
	profiles := "SELECT user_id FROM " + schema + ".profiles ORDER BY user_id"
	if diff := cmp.Diff([]string{"user_a"}, query(`{"sub":"user_a"}`, profiles)); diff != "" {
		t.Errorf("user_a reads (-want +got):\n%s", diff)
	}
	if got := query(`{"role":"anon"}`, profiles); len(got) != 0 {
		t.Errorf("an anonymous caller reads %v, want nothing", got)
	}

	// Nobody reads these, whoever they are.
	hidden := []string{"organization_invitations", "organization_roles", "organization_permissions",
		"clerksync_changes", "clerksync_events", "clerksync_tombstones"}
	orgs := "SELECT org_id FROM " + schema + ".organizations ORDER BY org_id"
	memberships := "SELECT membership_id FROM " + schema + ".organization_memberships ORDER BY membership_id"
	for _, tt := range []struct {
		claims            string
		orgs, memberships []string
	}{
		// Not org_4: the membership that let user_a read it is gone.
		{`{"sub":"user_a"}`, []string{"org_1", "org_2"}, []string{"orgmem_a1", "orgmem_a2", "orgmem_b1"}},
		{`{"sub":"user_b"}`, []string{"org_1"}, []string{"orgmem_a1", "orgmem_b1"}},
		{`{"sub":"user_c"}`, []string{"org_3"}, []string{"orgmem_c3"}},
		{`{"sub":"user_nobody"}`, nil, nil},
		{`{"role":"anon"}`, nil, nil},
	} {
		if diff := cmp.Diff(tt.orgs, query(tt.claims, orgs), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s reads organizations (-want +got):\n%s", tt.claims, diff)
		}
		if diff := cmp.Diff(tt.memberships, query(tt.claims, memberships), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s reads memberships (-want +got):\n%s", tt.claims, diff)
		}
		for _, table := range hidden {
			if got := query(tt.claims, "SELECT count(*)::text FROM "+schema+"."+table); !cmp.Equal(got, []string{"0"}) {
				t.Errorf("%s reads %s rows of %s, want none", tt.claims, got, table)
			}
		}
	}
	// Those tables are not empty: what hides their rows is row level security.
	for _, table := range hidden {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+"."+table).Scan(&n); err != nil || n == 0 {
			t.Errorf("as the owner, %s holds %d rows (%v); want some", table, n, err)
		}
	}
	var policies int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_policies WHERE schemaname = $1", schema).Scan(&policies); err != nil {
		t.Fatal(err)
	}
	if policies != 3 {
		t.Errorf("%d policies, want 3 (profiles, organizations, memberships)", policies)
	}
}

// mustAuthJWT makes sure the database has auth.jwt(), as Supabase's do: the claims of
// the request's JWT, which PostgREST puts in the setting request.jwt.claims (this is
// Supabase's definition). Before creating the stand-in it checks that Open refuses row
// level security without it. What it creates is dropped when t ends.
func mustAuthJWT(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Admin(t)
	var exists, schemaExists bool
	err := pool.QueryRow(ctx, "SELECT to_regprocedure('auth.jwt()') IS NOT NULL, to_regnamespace('auth') IS NOT NULL").Scan(&exists, &schemaExists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		return
	}

	_, err = postgres.Open(ctx, pgtest.URL(), postgres.WithSchema(newSchema(t)), postgres.WithRowLevelSecurity())
	if got, want := clerksync.ErrorCode(err), clerksync.ECONFIG; got != want {
		t.Fatalf("Open with row level security and no auth.jwt(): %v, code %q; want %q", err, got, want)
	}

	if _, err := pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		q := "DROP FUNCTION auth.jwt() CASCADE"
		if !schemaExists {
			q = "DROP SCHEMA auth CASCADE"
		}
		if _, err := pool.Exec(context.Background(), q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	})
}

// TestRefusedByDatabase covers values only PostgreSQL refuses (a NUL byte in text, a
// \u0000 escape in jsonb): the change becomes a dead letter with the server's reason,
// and when even the dead letter is refused it is reported but not recorded; the rest of
// the batch is applied.
func TestRefusedByDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := MustOpen(t)
	nul := storetest.NewProfile("user_nul", updatedAt)
	nul.FirstName = "Ro\x00bert"
	escape := storetest.NewProfile("user_escape", updatedAt)
	escape.PublicMetadata = json.RawMessage(`{"note":"\u0000"}`)
	badType := storetest.Ignore("msg_badtype", "session.\x00created", updatedAt)
	good := storetest.NewProfile("user_good", updatedAt)

	res := storetest.MustApply(t, s,
		storetest.Upsert("msg_nul", nul), storetest.Upsert("msg_escape", escape), badType, storetest.Upsert("msg_good", good))
	for i, id := range []string{"msg_nul", "msg_escape", "msg_badtype"} {
		if res[i].Outcome != clerksync.OutcomeDeadLetter || res[i].Error == "" {
			t.Errorf("%s: %+v, want a dead letter with the reason", id, res[i])
		}
	}
	if got, want := res[3], (clerksync.Result{Outcome: clerksync.OutcomeApplied, Action: clerksync.ActionCreated}); got != want {
		t.Errorf("good change: %+v, want %+v", got, want)
	}
	for _, id := range []string{"msg_nul", "msg_escape"} {
		e := storetest.MustEvent(t, s, id)
		if e.Outcome != clerksync.OutcomeDeadLetter || e.Body == nil || e.Error == "" {
			t.Errorf("event %s: %+v, want a dead letter with body and error", id, e)
		}
	}
	if _, err := s.Event(ctx, "msg_badtype"); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Errorf("event msg_badtype: %v, want not found (the database refused its dead letter too)", err)
	}
	if diff := storetest.ProfileDiff(good, storetest.MustProfile(t, s, "user_good")); diff != "" {
		t.Errorf("good profile (-want +got):\n%s", diff)
	}
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(context.Background(), "postgres://user@host:notaport/db")
	if got, want := clerksync.ErrorCode(err), clerksync.EINVALID; got != want {
		t.Fatalf("Open with a bad URL: %v, code %q; want %q", err, got, want)
	}
}

// TestUnavailable cuts the connections between the store and the database: batches
// fail with code EUNAVAILABLE and nothing of them is committed.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pgtest.Admin(t)
	p, via := tcpproxy.ForURL(t, pgtest.URL())
	schema := newSchema(t)

	s, err := postgres.Open(ctx, via, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.MustApply(t, s, storetest.Upsert("msg_1", storetest.NewProfile("user_1", updatedAt)))

	p.Cut()
	res, err := s.Apply(ctx, []clerksync.Change{storetest.Upsert("msg_2", storetest.NewProfile("user_2", updatedAt))})
	if got, want := clerksync.ErrorCode(err), clerksync.EUNAVAILABLE; got != want {
		t.Fatalf("Apply with the database cut off = %+v, %v (code %q); want code %q", res, err, got, want)
	}
	if got, want := clerksync.ErrorCode(s.Ping(ctx)), clerksync.EUNAVAILABLE; got != want {
		t.Errorf("Ping with the database cut off: code %q, want %q", got, want)
	}
	if _, err := s.Profile(ctx, "user_1"); clerksync.ErrorCode(err) != clerksync.EUNAVAILABLE {
		t.Errorf("Profile with the database cut off: %v, want code %q", err, clerksync.EUNAVAILABLE)
	}

	direct := pgtest.Open(t, schema)
	storetest.MustProfile(t, direct, "user_1")
	if _, err := direct.Event(ctx, "msg_2"); clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		t.Errorf("event of the failed batch: %v, want not found", err)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s, err := postgres.Open(context.Background(), pgtest.URL(), postgres.WithSchema(newSchema(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = s.Apply(context.Background(), []clerksync.Change{storetest.Upsert("msg_1", storetest.NewProfile("user_1", updatedAt))})
	if got, want := clerksync.ErrorCode(err), clerksync.EUNAVAILABLE; got != want {
		t.Fatalf("Apply on a closed store: %v, code %q; want %q", err, got, want)
	}
}

// BenchmarkApply runs storetest's Apply benchmark on this store.
func BenchmarkApply(b *testing.B) {
	storetest.BenchmarkApply(b, func(b *testing.B) clerksync.Store { return MustOpen(b) })
}

// TestProfileRowsStayInline checks how a typical Clerk user is stored: a rich user's
// raw object (3-4 KB, over 2 KB even compressed) stays in its profiles row, compressed,
// instead of going to the TOAST table on every write (migration 00005), and reads back
// whole.
func TestProfileRowsStayInline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := newSchema(t)
	s := pgtest.Open(t, schema)

	const users, versions = 20, 3
	for v := range versions {
		var changes []clerksync.Change
		for u := range users {
			usr := clerkfake.NewUser(clerkfake.UserParams{
				Seed: uint64(u + 1), ID: fmt.Sprintf("user_inline%02d", u), Rich: true,
				UpdatedAt: time.UnixMilli(updatedAt + int64(v)*1000),
			})
			body := clerkfake.WebhookEvent("user.updated", usr, time.UnixMilli(updatedAt+int64(v)*1000))
			changes = append(changes, clerkdecode.ChangeFromEvent(fmt.Sprintf("msg_inline_%d_%d", u, v), body, clerkdecode.Options{}))
		}
		for i, r := range storetest.MustApply(t, s, changes...) {
			if r.Outcome != clerksync.OutcomeApplied {
				t.Fatalf("version %d, change %d: %+v, want applied", v, i, r)
			}
		}
	}

	var minRaw, toastBytes int64
	err := pgtest.Admin(t).QueryRow(ctx, `
		SELECT (SELECT min(octet_length(raw::text)) FROM `+schema+`.profiles),
		       pg_relation_size(reltoastrelid)
		FROM pg_class WHERE oid = $1::regclass`, schema+".profiles").Scan(&minRaw, &toastBytes)
	if err != nil {
		t.Fatal(err)
	}
	if minRaw < 3000 {
		t.Fatalf("the smallest raw object is %d bytes; the test needs users of 3 KB or more", minRaw)
	}
	if toastBytes != 0 {
		t.Errorf("the TOAST table of profiles holds %d bytes after %d writes of %d users; want none", toastBytes, users*versions, users)
	}
	p := storetest.MustProfile(t, s, "user_inline07")
	var raw struct {
		ID        string `json:"id"`
		UpdatedAt int64  `json:"updated_at"`
	}
	if err := json.Unmarshal(p.Raw, &raw); err != nil || raw.ID != "user_inline07" || raw.UpdatedAt != updatedAt+int64(versions-1)*1000 {
		t.Errorf("raw read back: %+v (%v), want user_inline07 at its last version", raw, err)
	}
}
