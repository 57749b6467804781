package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/pull"
)

// SyncCommand syncs one user, or one organization, from the Clerk Backend API and
// prints what changed.
type SyncCommand struct {
	*Main

	pullFlags
}

// ParseFlags reads the command's flags and environment and returns the user id.
func (c *SyncCommand) ParseFlags(args []string) (string, error) {
	fs := newFlagSet("sync [flags] USER_ID|ORG_ID",
		"Read one user from the Clerk Backend API and store it with their memberships, as the Sync User Data button\n"+
			"does; or one organization (org_…) with its memberships and invitations. What Clerk no longer has (404) is\n"+
			"deleted locally, and so is a membership Clerk no longer lists. Prints what changed.\n"+
			"Needs CLERK_SECRET_KEY (and CLERK_API_URL for another address than "+clerkapi.DefaultBaseURL+").", c.Stderr)
	c.pullFlags.register(fs, c.Getenv)
	// Flags may come after the user id too.
	var ids []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		ids = append(ids, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(ids) != 1 {
		fs.Usage()
		return "", usagef("sync takes one user id, such as user_2abc…, or organization id, such as org_2abc…, got %d", len(ids))
	}
	return ids[0], nil
}

// Run syncs the user and prints the outcome.
func (c *SyncCommand) Run(ctx context.Context, args []string) error {
	userID, err := c.ParseFlags(args)
	if err != nil {
		return err
	}
	p, err := c.pullFlags.open(ctx, "sync", c.Stderr, c.now)
	if err != nil {
		return err
	}
	defer p.Close()
	syncer := p.syncer
	if strings.HasPrefix(userID, "org_") {
		res, err := syncer.SyncOrganization(ctx, userID)
		if err := syncError(userID, err); err != nil {
			return err
		}
		printOrgSync(c.Stdout, res)
		return nil
	}
	res, err := syncer.SyncUser(ctx, userID)
	if err := syncError(userID, err); err != nil {
		return err
	}
	printSync(c.Stdout, res)
	if m := res.Memberships; m != nil && (m.Counts.Seen > 0 || len(m.Removed) > 0) {
		printMemberships(c.Stdout, m)
	}
	return nil
}

// syncError returns err as the command reports it: a malformed id is a usage error.
func syncError(id string, err error) error {
	switch {
	case err == nil:
		return nil
	case clerksync.ErrorCode(err) == clerksync.EINVALID:
		return &usageError{err}
	}
	return fmt.Errorf("sync %s: %w", id, err)
}

// printMemberships says what syncing a user's or an organization's memberships did.
func printMemberships(w io.Writer, m *pull.MembershipSync) {
	c := m.Counts
	fmt.Fprintf(w, "  memberships: %d listed by Clerk (%d created, %d updated, %d unchanged", c.Seen, c.Created, c.Updated, c.Unchanged)
	if c.Stale+c.Skipped > 0 {
		fmt.Fprintf(w, ", %d stale or deleted", c.Stale+c.Skipped)
	}
	fmt.Fprintf(w, "), %d removed (Clerk no longer lists them)\n", len(m.Removed))
	for _, id := range m.Removed {
		fmt.Fprintln(w, "    removed", id)
	}
}

// printOrgSync says what syncing one organization did.
func printOrgSync(w io.Writer, res *pull.OrgSync) {
	id := res.OrgID
	orgName := func(o *clerksync.Organization) string {
		if o == nil || o.Name == "" {
			return "no name"
		}
		return o.Name
	}
	switch {
	case res.Gone && res.Before != nil:
		fmt.Fprintf(w, "%s: Clerk has no such organization (404): deleted locally, with its memberships and invitations\n", id)
	case res.Gone:
		fmt.Fprintf(w, "%s: Clerk has no such organization (404); a tombstone keeps a late webhook from adding it\n", id)
	case res.Result.Outcome == clerksync.OutcomeStale && res.After == nil:
		fmt.Fprintf(w, "%s: the organization was deleted; a tombstone keeps it deleted, nothing changed\n", id)
	case res.Result.Outcome == clerksync.OutcomeStale:
		fmt.Fprintf(w, "%s: the stored version is newer than Clerk's answer (a webhook got there first)\n", id)
	case res.Result.Action == clerksync.ActionUnchanged:
		fmt.Fprintf(w, "%s: already up to date (%s)\n", id, orgName(res.After))
	default:
		fmt.Fprintf(w, "%s: %s from Clerk (%s)\n", id, res.Result.Action, orgName(res.After))
	}
	if res.Gone || res.After == nil {
		return
	}
	printMemberships(w, &res.Memberships)
	c := res.Invitations
	fmt.Fprintf(w, "  invitations: %d listed by Clerk (%d created, %d updated, %d unchanged)\n", c.Seen, c.Created, c.Updated, c.Unchanged)
}

// printSync says what syncing one user did and lists the columns that changed.
func printSync(w io.Writer, res *pull.UserSync) {
	id := res.UserID
	switch {
	case res.Gone && res.Before != nil:
		fmt.Fprintf(w, "%s: Clerk has no such user (404): deleted locally\n", id)
	case res.Gone && res.Result.Action == clerksync.ActionDeleted:
		fmt.Fprintf(w, "%s: Clerk has no such user (404) and it was not stored; a tombstone keeps a late webhook from adding it\n", id)
	case res.Gone:
		fmt.Fprintf(w, "%s: Clerk has no such user (404); it was deleted before\n", id)
	case res.Result.Outcome == clerksync.OutcomeStale && res.After == nil:
		fmt.Fprintf(w, "%s: the user was deleted; a tombstone keeps it deleted, nothing changed\n", id)
	case res.Result.Outcome == clerksync.OutcomeStale:
		fmt.Fprintf(w, "%s: the stored version is newer than Clerk's answer (a webhook got there first); nothing changed\n", id)
	case res.Result.Action == clerksync.ActionUnchanged:
		fmt.Fprintf(w, "%s: already up to date (%s)\n", id, name(res.After))
		return
	default:
		fmt.Fprintf(w, "%s: %s from Clerk (%s)\n", id, res.Result.Action, name(res.After))
	}
	changes := pull.Diff(res.Before, res.After)
	width := 0
	for _, ch := range changes {
		width = max(width, len(ch.Column))
	}
	for _, ch := range changes {
		fmt.Fprintf(w, "  %-*s  %s → %s\n", width, ch.Column, show(ch.Before), show(ch.After))
	}
}

func name(p *clerksync.Profile) string {
	if p == nil {
		return ""
	}
	if n := p.Name(); n != "" {
		return n
	}
	if p.Email != "" {
		return p.Email
	}
	return "no name"
}

// show quotes a value for the change list, with (none) for an empty one.
func show(v string) string {
	if v == "" {
		return "(none)"
	}
	if r := []rune(v); len(r) > 80 {
		v = string(r[:77]) + "…"
	}
	return strconv.Quote(v)
}
