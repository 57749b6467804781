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

// BackfillCommand imports every Clerk user through the Backend API, and with --prune
// deletes the local users Clerk no longer has.
type BackfillCommand struct {
	*Main

	pullFlags
	pageSize      int
	prune         bool
	pruneMax      int
	dryRun        bool
	progressEvery time.Duration
}

// ParseFlags reads the command's flags and environment and checks them.
func (c *BackfillCommand) ParseFlags(args []string) error {
	fs := newFlagSet("backfill [flags]",
		"Import every Clerk user through the Backend API (users who signed up before the webhook existed, or whose\n"+
			"webhooks were missed), through the same rules as webhooks: a newer stored version is kept, a deleted user\n"+
			"stays deleted. Safe beside a running server, safe to interrupt (Ctrl-C) and to run again.\n"+
			"Needs CLERK_SECRET_KEY (and CLERK_API_URL for another address than "+clerkapi.DefaultBaseURL+").", c.Stderr)
	c.pullFlags.register(fs, c.Getenv)
	fs.IntVar(&c.pageSize, "limit-per-page", pull.DefaultPageSize, "users per request, 1 to 500")
	fs.IntVar(&c.clerk.rateLimit, "rate-limit", 0, rateLimitUsage)
	fs.BoolVar(&c.prune, "prune", false, "then delete local users Clerk no longer has: each is checked with Clerk first and deleted only on a 404")
	fs.IntVar(&c.pruneMax, "prune-max", 0, fmt.Sprintf("most users --prune may delete (0: %d%% of the local users, at least %d; -1: no limit); more deletes nothing, as it usually means the secret key of another instance",
		pull.DefaultPruneShare, pull.DefaultPruneFloor))
	fs.BoolVar(&c.dryRun, "dry-run", false, "read everything from Clerk and report what would change, changing nothing")
	fs.DurationVar(&c.progressEvery, "progress-every", 10*time.Second, "time between progress lines when stderr is not a terminal")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usagef("backfill takes no arguments, got %q", fs.Args())
	}
	if c.pageSize < 1 || c.pageSize > clerkapi.MaxLimit {
		return usagef("--limit-per-page %d is outside 1 to %d", c.pageSize, clerkapi.MaxLimit)
	}
	if c.pruneMax < -1 {
		return usagef("--prune-max %d: use a number of users, 0 for the default or -1 for no limit", c.pruneMax)
	}
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

// summary prints what rep says was done in took.
func (c *BackfillCommand) summary(w io.Writer, rep *pull.BackfillReport, took time.Duration, counts *requestCounts, err error) {
	run := rep.Run
	verb := map[clerksync.RunStatus]string{
		clerksync.RunSucceeded:   "done",
		clerksync.RunFailed:      "failed",
		clerksync.RunInterrupted: "interrupted",
	}[run.Status]
	if rep.DryRun {
		verb = "dry run " + verb + ": nothing was changed"
	}
	n := run.Counts
	rate := ""
	if s := took.Seconds(); s > 0 && n.Seen > 0 {
		rate = fmt.Sprintf(" (%s users/s)", commas(int64(float64(n.Seen)/s)))
	}
	of := ""
	if rep.Total >= 0 {
		of = " of " + commas(int64(rep.Total))
	}
	fmt.Fprintf(w, "Backfill %s: %s%s users read from Clerk in %s%s\n", verb, commas(n.Seen), of, roundDuration(took), rate)
	would := ""
	if rep.DryRun {
		would = "would be "
	}
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
	if p := rep.Prune; p != nil {
		fmt.Fprintf(w, "Prune %s: %s local users created before the scan were not in Clerk's listing; %s checked with Clerk, %s %sdeleted (Clerk answered 404)",
			map[clerksync.RunStatus]string{clerksync.RunSucceeded: "done", clerksync.RunFailed: "failed", clerksync.RunInterrupted: "interrupted"}[p.Status],
			commas(int64(rep.PruneCandidates)), commas(p.Counts.Seen), commas(int64(len(rep.Gone))), would)
		if still := p.Counts.Created + p.Counts.Updated + p.Counts.Unchanged + p.Counts.Stale; still > 0 {
			fmt.Fprintf(w, ", %s still in Clerk (applied)", commas(still))
		}
		fmt.Fprintln(w)
		if rep.DryRun {
			for _, id := range rep.Gone {
				fmt.Fprintln(w, "  would delete", id)
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
		fmt.Fprintf(w, "Recorded as run %d (%s) in clerksync_sync_runs.\n", run.ID, run.Status)
	}
	if run.Status == clerksync.RunInterrupted {
		fmt.Fprintln(w, "Run clerksync backfill again to finish: users already stored are left unchanged.")
	}
}
