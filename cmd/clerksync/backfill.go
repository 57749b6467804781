package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/pull"
)

// BackfillCommand imports every Clerk user, role, permission, organization,
// membership and invitation through the Backend API, and with --prune deletes the
// local users, organizations and memberships Clerk no longer has.
type BackfillCommand struct {
	*Main

	pullFlags
	only          string
	kinds         []clerksync.Kind
	pageSize      int
	prune         bool
	pruneMax      int
	dryRun        bool
	progressEvery time.Duration
}

// ParseFlags reads the command's flags and environment and checks them.
func (c *BackfillCommand) ParseFlags(args []string) error {
	fs := newFlagSet("backfill [flags]",
		"Import every Clerk user, role, permission, organization, membership and invitation through the Backend API\n"+
			"(what existed before the webhook, or whose webhooks were missed), through the same rules as webhooks: a\n"+
			"newer stored version is kept, a deleted object stays deleted. Safe beside a running server, safe to\n"+
			"interrupt (Ctrl-C) and to run again.\n"+
			"Needs CLERK_SECRET_KEY (and CLERK_API_URL for another address than "+clerkapi.DefaultBaseURL+").", c.Stderr)
	c.pullFlags.register(fs, c.Getenv)
	fs.StringVar(&c.only, "only", "", "what to import, comma-separated: "+strings.Join(pull.KindNames, ",")+
		" (default: everything; organizations alone brings their memberships and invitations, unless memberships or invitations are named too)")
	fs.IntVar(&c.pageSize, "limit-per-page", pull.DefaultPageSize, "objects per request, 1 to 500")
	fs.IntVar(&c.clerk.rateLimit, "rate-limit", 0, rateLimitUsage)
	fs.BoolVar(&c.prune, "prune", false, "then delete what Clerk no longer has: a user or an organization only when Clerk answers 404 for it, "+
		"a membership when the complete listing of its organization lacks it")
	fs.IntVar(&c.pruneMax, "prune-max", 0, fmt.Sprintf("most objects of each kind --prune may delete (0: %d%% of the local ones, at least %d; -1: no limit); more deletes nothing, as it usually means the secret key of another instance",
		pull.DefaultPruneShare, pull.DefaultPruneFloor))
	fs.BoolVar(&c.dryRun, "dry-run", false, "read everything from Clerk and report what would change, changing nothing")
	fs.DurationVar(&c.progressEvery, "progress-every", 10*time.Second, "time between progress lines when stderr is not a terminal")
	if err := parseFlagsOnly(fs, args, "backfill", ""); err != nil {
		return err
	}
	if c.pageSize < 1 || c.pageSize > clerkapi.MaxLimit {
		return usagef("--limit-per-page %d is outside 1 to %d", c.pageSize, clerkapi.MaxLimit)
	}
	if c.pruneMax < -1 {
		return usagef("--prune-max %d: use a number of users, 0 for the default or -1 for no limit", c.pruneMax)
	}
	kinds, err := pull.ParseKinds(c.only)
	if err != nil {
		return usagef("--only: %v", err)
	}
	c.kinds = kinds
	return nil
}

// Run runs the backfill until it is done or ctx ends (Ctrl-C), then prints a summary.
func (c *BackfillCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	p, err := c.pullFlags.open(ctx, "backfill", c.Stderr, c.now)
	if err != nil {
		return err
	}
	defer p.Close()
	if p.syncer.State == nil {
		return fmt.Errorf("the %s store cannot record runs", p.db.Kind)
	}
	logger, counts, syncer := p.logger, p.counts, p.syncer
	bar := newProgress(c.Stderr, logger, c.progressEvery, c.now)
	start := c.now()
	rep, err := syncer.Backfill(ctx, pull.BackfillOptions{
		PageSize: c.pageSize,
		Prune:    c.prune,
		PruneMax: c.pruneMax,
		DryRun:   c.dryRun,
		Kinds:    c.kinds,
		Progress: bar.update,
	})
	bar.clear()
	if rep != nil {
		c.summary(c.Stdout, rep, c.now().Sub(start), counts, err)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return err // the summary said what was done
	case errors.Is(err, pull.ErrPruneRefused):
		return &usageError{err}
	}
	return fmt.Errorf("backfill: %w", err)
}

// summary prints what rep says was done in took: the users' counts, and a table of
// every kind when more than users were read.
func (c *BackfillCommand) summary(w io.Writer, rep *pull.BackfillReport, took time.Duration, counts *requestCounts, err error) {
	run := rep.Run
	verb := statusWord[run.Status]
	if rep.DryRun {
		verb = "dry run " + verb + ": nothing was changed"
	}
	would := ""
	if rep.DryRun {
		would = "would be "
	}
	if usersOnly(rep) {
		c.userSummary(w, rep, verb, would, took)
	} else {
		kindSummary(w, rep, verb, took)
	}
	if rep.OrganizationsDisabled {
		fmt.Fprintln(w, "Organizations: the feature is off in this Clerk instance, so there were none to import")
	}
	if p := rep.Prune; p != nil {
		if ur := rep.Kinds[clerksync.KindUser]; ur != nil {
			fmt.Fprintf(w, "Prune %s: %s local users created before the scan were not in Clerk's listing; %s checked with Clerk, %s %sdeleted (Clerk answered 404)",
				statusWord[p.Status], commas(int64(rep.PruneCandidates)), commas(ur.Prune.Seen), commas(int64(len(rep.Gone))), would)
			if still := ur.Prune.Created + ur.Prune.Updated + ur.Prune.Unchanged + ur.Prune.Stale; still > 0 {
				fmt.Fprintf(w, ", %s still in Clerk (applied)", commas(still))
			}
			fmt.Fprintln(w)
		}
		if kr := rep.Kinds[clerksync.KindOrganization]; kr != nil && kr.PruneCandidates > 0 {
			fmt.Fprintf(w, "Prune organizations: %s local organizations created before the scan were not in Clerk's listing; %s checked with Clerk, %s %sdeleted with their memberships and invitations (Clerk answered 404)",
				commas(int64(kr.PruneCandidates)), commas(kr.Prune.Seen), commas(int64(len(kr.Gone))), would)
			if still := kr.Prune.Created + kr.Prune.Updated + kr.Prune.Unchanged + kr.Prune.Stale; still > 0 {
				fmt.Fprintf(w, ", %s still in Clerk (applied)", commas(still))
			}
			fmt.Fprintln(w)
		}
		if kr := rep.Kinds[clerksync.KindMembership]; kr != nil && kr.PruneCandidates > 0 {
			fmt.Fprintf(w, "Prune memberships: %s %sdeleted: the complete listings of their organizations lacked them\n",
				commas(int64(len(kr.Gone))), would)
		}
		if rep.DryRun {
			for _, id := range rep.Gone {
				fmt.Fprintln(w, "  would delete", id)
			}
			for _, k := range []clerksync.Kind{clerksync.KindOrganization, clerksync.KindMembership} {
				if kr := rep.Kinds[k]; kr != nil {
					for _, id := range kr.Gone {
						fmt.Fprintln(w, "  would delete", id)
					}
				}
			}
		}
	} else if c.prune && err != nil && !errors.Is(err, pull.ErrPruneRefused) {
		fmt.Fprintln(w, "Prune skipped: it runs only after a complete listing, so nothing was deleted")
	}
	fmt.Fprintf(w, "Clerk API: %s requests", commas(int64(counts.total())))
	if limited := counts.get("429"); limited > 0 {
		fmt.Fprintf(w, ", %s answered 429 (rate limited)", commas(int64(limited)))
	}
	fmt.Fprintf(w, " (%s)\n", counts)
	switch {
	case rep.DryRun:
	case run.ID != 0:
		fmt.Fprintf(w, "Recorded as run %d (%s) in clerksync_sync_runs, with the totals of every kind.\n", run.ID, run.Status)
	}
	if run.Status == clerksync.RunInterrupted {
		fmt.Fprintln(w, "Run clerksync backfill again to finish: what is already stored is left unchanged.")
	}
}

var statusWord = map[clerksync.RunStatus]string{
	clerksync.RunSucceeded:   "done",
	clerksync.RunFailed:      "failed",
	clerksync.RunInterrupted: "interrupted",
}

// usersOnly reports whether the backfill read nothing but users.
func usersOnly(rep *pull.BackfillReport) bool {
	if _, ok := rep.Kinds[clerksync.KindUser]; !ok && len(rep.Kinds) > 0 {
		return false
	}
	for k, kr := range rep.Kinds {
		if k != clerksync.KindUser && kr.Counts.Seen > 0 {
			return false
		}
	}
	return true
}

// userSummary prints the counts of a backfill that read users only.
func (c *BackfillCommand) userSummary(w io.Writer, rep *pull.BackfillReport, verb, would string, took time.Duration) {
	n := rep.Run.Counts
	rate := ""
	if s := took.Seconds(); s > 0 && n.Seen > 0 {
		rate = fmt.Sprintf(" (%s users/s)", commas(int64(float64(n.Seen)/s)))
	}
	of := ""
	if rep.Total >= 0 {
		of = " of " + commas(int64(rep.Total))
	}
	fmt.Fprintf(w, "Backfill %s: %s%s users read from Clerk in %s%s\n", verb, commas(n.Seen), of, roundDuration(took), rate)
	rows := []struct {
		label string
		n     int64
		note  string
	}{
		{"created", n.Created, ""},
		{"updated", n.Updated, ""},
		{"unchanged", n.Unchanged, ""},
		{"stale", n.Stale, "the stored version is newer (a webhook got there first)"},
		{"skipped", n.Skipped, "deleted: a tombstone keeps them out"},
		{"invalid", n.Invalid, "could not be decoded or stored; see the warnings"},
	}
	for _, r := range rows {
		if r.note != "" && r.n == 0 {
			continue
		}
		line := fmt.Sprintf("  %-10s %12s", r.label, commas(r.n))
		if r.note != "" {
			line += "  " + would + r.note
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

// kindOrder is the order of the summary's table: the order a backfill reads them.
var kindOrder = []clerksync.Kind{clerksync.KindUser, clerksync.KindRole, clerksync.KindPermission,
	clerksync.KindOrganization, clerksync.KindMembership, clerksync.KindInvitation}

// kindPlural returns the plural of kind's name, as the summary and progress show it.
func kindPlural(k clerksync.Kind) string {
	if !k.Valid() {
		return "objects"
	}
	return k.String() + "s"
}

// kindSummary prints a table of what a backfill did to each kind of object.
func kindSummary(w io.Writer, rep *pull.BackfillReport, verb string, took time.Duration) {
	n := rep.Run.Counts
	rate := ""
	if s := took.Seconds(); s > 0 && n.Seen > 0 {
		rate = fmt.Sprintf(" (%s objects/s)", commas(int64(float64(n.Seen)/s)))
	}
	fmt.Fprintf(w, "Backfill %s: %s objects read from Clerk in %s%s\n", verb, commas(n.Seen), roundDuration(took), rate)
	const row = "  %-13s %18s %9s %9s %9s %7s %7s %7s\n"
	fmt.Fprintf(w, row, "", "read", "created", "updated", "unchanged", "stale", "skipped", "invalid")
	for _, k := range kindOrder {
		kr := rep.Kinds[k]
		if kr == nil {
			continue
		}
		c := kr.Counts
		read := commas(c.Seen)
		if kr.Total >= 0 {
			read += " of " + commas(int64(kr.Total))
		}
		fmt.Fprintf(w, row, kindPlural(k), read, commas(c.Created), commas(c.Updated),
			commas(c.Unchanged), commas(c.Stale), commas(c.Skipped), commas(c.Invalid))
	}
	if n.Stale > 0 {
		fmt.Fprintln(w, "  stale: the stored version is newer (a webhook got there first)")
	}
	if n.Skipped > 0 {
		fmt.Fprintln(w, "  skipped: deleted (a tombstone keeps them out), or superseded by a newer membership")
	}
	if n.Invalid > 0 {
		fmt.Fprintln(w, "  invalid: could not be decoded or stored; see the warnings")
	}
}
