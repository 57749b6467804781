package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
)

// prune deletes old entries of the event log.
func (c *EventsCommand) prune(ctx context.Context, args []string) error {
	var (
		common      commonFlags
		olderThan   string
		deadLetters bool
		dryRun      bool
	)
	def := c.Getenv("CLERKSYNC_EVENT_RETENTION")
	if d, err := parseRetention(def); err != nil || d == 0 {
		def = DefaultEventRetention.String()
	}
	fs := newFlagSet("events prune [flags]",
		"Delete the entries of the event log received longer ago than --older-than. Dead letters are\n"+
			"kept (they wait for a replay) unless --include-dead-letters. clerksync serve does this every hour.", c.Stderr)
	common.register(fs, c.Getenv)
	fs.StringVar(&olderThan, "older-than", strings.TrimSpace(def),
		fmt.Sprintf("delete entries received longer ago than this, at least %s; such as 720h or 30d (default: env CLERKSYNC_EVENT_RETENTION, else 720h)", MinEventRetention))
	fs.BoolVar(&deadLetters, "include-dead-letters", false, "delete old dead letters too")
	fs.BoolVar(&dryRun, "dry-run", false, "say what would be deleted and delete nothing")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return usagef("events prune takes no arguments, got %q", pos)
	}
	age, err := parseRetention(olderThan)
	if err != nil || age <= 0 {
		return usagef("--older-than %q is not a duration: use hours or days, such as 720h or 30d", olderThan)
	}
	if age < MinEventRetention {
		return usagef("--older-than %s is too short: %s", olderThan, retentionTooShort)
	}
	store, err := c.open(ctx, &common)
	if err != nil {
		return err
	}
	defer store.Close()

	cutoff := c.now().Add(-age)
	when := fmt.Sprintf("received before %s (older than %s)", cutoff.UTC().Format(time.DateTime+" UTC"), fmtDuration(age))
	if dryRun {
		n, byOutcome, keptDead, err := countOlder(ctx, store, cutoff, deadLetters)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "Would delete %s %s%s.\n", plural(n, "entry", "entries"), when, outcomeBreakdown(byOutcome))
		c.sayKept(keptDead)
		return nil
	}
	keptDead := 0
	if !deadLetters {
		if keptDead, err = countOlderDeadLetters(ctx, store, cutoff); err != nil {
			return err
		}
	}
	n, err := store.PruneEvents(ctx, cutoff, deadLetters)
	if err != nil {
		return fmt.Errorf("prune events (%d deleted before the error): %w", n, err)
	}
	fmt.Fprintf(c.Stdout, "Deleted %s %s.\n", plural(n, "entry", "entries"), when)
	c.sayKept(keptDead)
	return nil
}

func (c *EventsCommand) sayKept(deadLetters int) {
	if deadLetters > 0 {
		fmt.Fprintf(c.Stdout, "Kept %s as old: replay them (events replay --dead-letters) or add --include-dead-letters.\n",
			plural(deadLetters, "dead letter", "dead letters"))
	}
}

// countOlder counts the entries PruneEvents(cutoff, deadLetters) would delete, by
// outcome, and the dead letters it would keep. It reads the whole log.
func countOlder(ctx context.Context, store clerksync.Store, cutoff time.Time, deadLetters bool) (n int, byOutcome map[clerksync.Outcome]int, keptDead int, err error) {
	byOutcome = make(map[clerksync.Outcome]int)
	f := clerksync.EventFilter{Limit: listPage}
	for {
		page, err := store.Events(ctx, f)
		if err != nil {
			return 0, nil, 0, fmt.Errorf("list events: %w", err)
		}
		for _, e := range page {
			switch {
			case !e.ReceivedAt.Before(cutoff):
			case e.Outcome == clerksync.OutcomeDeadLetter && !deadLetters:
				keptDead++
			default:
				n++
				byOutcome[e.Outcome]++
			}
		}
		if len(page) < f.Limit {
			return n, byOutcome, keptDead, nil
		}
		f.Before = page[len(page)-1].ID
	}
}

// countOlderDeadLetters counts the dead letters received before cutoff.
func countOlderDeadLetters(ctx context.Context, store clerksync.Store, cutoff time.Time) (int, error) {
	n := 0
	f := clerksync.EventFilter{Outcome: clerksync.OutcomeDeadLetter, Limit: listPage}
	for {
		page, err := store.Events(ctx, f)
		if err != nil {
			return 0, fmt.Errorf("list dead letters: %w", err)
		}
		for _, e := range page {
			if e.ReceivedAt.Before(cutoff) {
				n++
			}
		}
		if len(page) < f.Limit {
			return n, nil
		}
		f.Before = page[len(page)-1].ID
	}
}

// outcomeBreakdown returns ": 3 applied, 1 ignored" for the counts, in the order of
// listedOutcomes, or "" when there are none.
func outcomeBreakdown(byOutcome map[clerksync.Outcome]int) string {
	var parts []string
	for _, o := range listedOutcomes {
		if byOutcome[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", byOutcome[o], o))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}
