package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/clerksync/clerksync"
)

// list prints entries of the event log, newest first.
func (c *EventsCommand) list(ctx context.Context, args []string) error {
	var (
		common  commonFlags
		outcome string
		kind    string
		f       clerksync.EventFilter
		asJSON  bool
	)
	fs := newFlagSet("events list [flags]", "List the event log, newest first.", c.Stderr)
	common.register(fs, c.Getenv)
	fs.StringVar(&outcome, "outcome", "", "only entries with this outcome: "+outcomeNames())
	fs.StringVar(&f.Type, "type", "", "only entries of this event type, such as user.updated")
	fs.StringVar(&f.UserID, "user", "", "only entries about this user id")
	fs.StringVar(&kind, "kind", "", "only entries about objects of this kind: "+kindNames())
	fs.StringVar(&f.ObjectID, "object", "", "only entries about this object id, such as org_2abc… or orgmem_2abc…")
	fs.IntVar(&f.Limit, "limit", 50, "most entries to list (1 to 1000)")
	fs.StringVar(&f.Before, "before", "", "list the entries received before this svix-id (the last one of the previous page)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per line instead of a table")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return usagef("events list takes no arguments, got %q (filter with --type, --user, --kind, --object or --outcome)", pos)
	}
	if outcome != "" {
		if f.Outcome, err = parseListedOutcome(outcome); err != nil {
			return err
		}
	}
	if kind != "" {
		if f.Kind, err = parseKind(kind); err != nil {
			return err
		}
	}
	if f.Limit < 1 || f.Limit > listPage {
		return usagef("--limit %d is out of range: list 1 to %d entries at a time and page with --before", f.Limit, listPage)
	}
	store, err := c.open(ctx, &common)
	if err != nil {
		return err
	}
	defer store.Close()

	events, err := store.Events(ctx, f)
	if f.Before != "" && clerksync.ErrorCode(err) == clerksync.ENOTFOUND {
		return c.notFound(f.Before)
	}
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	if asJSON {
		enc := newJSONEncoder(c.Stdout)
		for i := range events {
			if err := enc.Encode(eventToJSON(&events[i], false)); err != nil {
				return fmt.Errorf("write events: %w", err)
			}
		}
		return nil
	}
	if len(events) == 0 {
		if f != (clerksync.EventFilter{Limit: f.Limit}) {
			fmt.Fprintln(c.Stdout, "No events match.")
		} else {
			fmt.Fprintln(c.Stdout, "The event log is empty.")
		}
		return nil
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED (UTC)\tSVIX_ID\tTYPE\tOBJECT\tUSER\tOUTCOME\tERROR")
	for i := range events {
		e := &events[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			e.ReceivedAt.UTC().Format(time.DateTime), e.ID, orDash(e.Type), orDash(e.ObjectID), orDash(e.UserID),
			outcomeCell(e), orDash(truncate(oneLine(e.Error), 60)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	if len(events) == f.Limit {
		fmt.Fprintf(c.Stderr, "More may follow: add --before %s for the next page.\n", events[len(events)-1].ID)
	}
	return nil
}

// outcomeCell is the OUTCOME column: the outcome, with the action when one was taken.
func outcomeCell(e *clerksync.Event) string {
	s := e.Outcome.String()
	if e.Action != clerksync.ActionNone {
		s += "/" + e.Action.String()
	}
	if e.Redacted {
		s += " (redacted)"
	}
	return s
}
