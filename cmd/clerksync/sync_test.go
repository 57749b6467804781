package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/storetest"
)

func TestSyncCommand(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(storetest.Epoch) // 2025-06-01T12:00:00Z
	f := startFakeClerk(t, clerkfake.WithClock(clock.Now))
	u, err := f.CreateUser(clerkfake.UserParams{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	dbPath := migratedDB(t)
	env := f.env(dbPath)
	sync := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runMain(t, env, nil, append([]string{"sync"}, args...)...)
		if code != 0 {
			t.Fatalf("sync exited %d\n%s\n%s", code, stdout, stderr)
		}
		return stdout
	}

	out := sync(u.ID)
	if !strings.HasPrefix(out, u.ID+": created from Clerk (Ada Lovelace)\n") {
		t.Fatalf("first sync:\n%s", out)
	}
	for column, want := range map[string]string{"first_name": `(none) → "Ada"`, "email": `(none) → "ada@example.com"`, "banned": `(none) → "false"`} {
		if got := changeLine(out, column); got != want {
			t.Fatalf("first sync: %s %s, want %s:\n%s", column, got, want, out)
		}
	}
	if out := sync(u.ID); !strings.Contains(out, u.ID+": already up to date (Ada Lovelace)") {
		t.Fatalf("second sync:\n%s", out)
	}

	clock.Advance(90 * time.Second)
	if _, err := f.UpdateUser(u.ID, func(u *clerkfake.User) {
		name := "Augusta"
		u.FirstName = &name
	}); err != nil {
		t.Fatal(err)
	}
	out = sync("--log-level", "error", u.ID) // flags before the id, too
	want := u.ID + `: updated from Clerk (Augusta Lovelace)
  first_name  "Ada" → "Augusta"
  updated_at  "2025-06-01T12:00:00.000Z" → "2025-06-01T12:01:30.000Z"
`
	if out != want {
		t.Fatalf("sync after an update printed\n%s\nwant\n%s", out, want)
	}

	if err := f.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	out = sync(u.ID)
	if !strings.HasPrefix(out, u.ID+": Clerk has no such user (404): deleted locally") || changeLine(out, "first_name") != `"Augusta" → (none)` {
		t.Fatalf("sync of a deleted user:\n%s", out)
	}
	db := openDB(t, dbPath)
	if deleted, err := db.Deleted(context.Background(), clerksync.UserKey(u.ID)); err != nil || !deleted {
		t.Fatalf("Deleted = %v, %v; want a tombstone", deleted, err)
	}
	if out := sync(u.ID); !strings.Contains(out, "it was deleted before") {
		t.Fatalf("sync of a user deleted before:\n%s", out)
	}
	if out := sync("user_2neverExisted"); !strings.Contains(out, "Clerk has no such user (404) and it was not stored") {
		t.Fatalf("sync of an unknown user:\n%s", out)
	}

	code, _, stderr := runMain(t, env, nil, "sync", "user with spaces")
	if code != 2 || !strings.Contains(stderr, "is not a Clerk user id") {
		t.Fatalf("sync of a malformed id: exit %d, %s", code, stderr)
	}
}

// changeLine returns what the change list of sync's output says of column.
func changeLine(out, column string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), column+" "); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

func TestSyncCommand_Organization(t *testing.T) {
	t.Parallel()
	f := startFakeClerk(t)
	ada, err := f.CreateUser(clerkfake.UserParams{FirstName: "Ada", LastName: "Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	org, err := f.CreateOrganization(clerkfake.OrganizationParams{Name: "Acme Inc", CreatedBy: ada.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Invite(org.ID, "grace@example.com", "", ada.ID); err != nil {
		t.Fatal(err)
	}
	env := f.env(migratedDB(t))
	sync := func(id string) string {
		t.Helper()
		code, stdout, stderr := runMain(t, env, nil, "sync", id)
		if code != 0 {
			t.Fatalf("sync exited %d\n%s\n%s", code, stdout, stderr)
		}
		return stdout
	}
	want := org.ID + `: created from Clerk (Acme Inc)
  memberships: 1 listed by Clerk (1 created, 0 updated, 0 unchanged), 0 removed (Clerk no longer lists them)
  invitations: 1 listed by Clerk (1 created, 0 updated, 0 unchanged)
`
	if out := sync(org.ID); out != want {
		t.Fatalf("sync of an organization printed\n%s\nwant\n%s", out, want)
	}
	// The user's sync lists their memberships: one, already stored.
	if out := sync(ada.ID); !strings.Contains(out, "memberships: 1 listed by Clerk (0 created, 0 updated, 1 unchanged), 0 removed") {
		t.Fatalf("sync of a member:\n%s", out)
	}
	if err := f.DeleteOrganization(org.ID); err != nil {
		t.Fatal(err)
	}
	if out := sync(org.ID); !strings.HasPrefix(out, org.ID+": Clerk has no such organization (404): deleted locally") {
		t.Fatalf("sync of a deleted organization:\n%s", out)
	}
}
