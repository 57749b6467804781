package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clerksync/clerksync"
)

// show prints one entry of the event log with its body.
func (c *EventsCommand) show(ctx context.Context, args []string) error {
	var (
		common commonFlags
		asJSON bool
	)
	fs := newFlagSet("events show SVIX_ID [flags]", "Show one entry of the event log with its body.", c.Stderr)
	common.register(fs, c.Getenv)
	fs.BoolVar(&asJSON, "json", false, "print the entry as one JSON object")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usagef("events show needs exactly one SVIX_ID (such as msg_2abc…), got %d", len(pos))
	}
	store, err := c.open(ctx, &common)
	if err != nil {
		return err
	}
	defer store.Close()

	e, err := store.Event(ctx, pos[0])
	if clerksync.ErrorCode(err) == clerksync.ENOTFOUND {
		return c.notFound(pos[0])
	}
	if err != nil {
		return fmt.Errorf("read event %s: %w", pos[0], err)
	}
	if asJSON {
		if err := newJSONEncoder(c.Stdout).Encode(eventToJSON(e, true)); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
		return nil
	}

	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 1, ' ', 0)
	field := func(name, value string) { fmt.Fprintf(tw, "%s:\t%s\n", name, value) }
	field("svix_id", e.ID)
	field("type", orDash(e.Type))
	field("kind", orDash(e.Kind.String()))
	field("object", orDash(e.ObjectID))
	field("user", orDash(e.UserID))
	field("outcome", e.Outcome.String())
	field("action", e.Action.String())
	if e.Error != "" {
		field("error", oneLine(e.Error))
	}
	if e.EventTime != 0 {
		field("event time", time.UnixMilli(e.EventTime).UTC().Format(time.RFC3339Nano)+" (Clerk's)")
	}
	field("received", e.ReceivedAt.UTC().Format(time.RFC3339Nano))
	field("attempts", fmt.Sprint(e.Attempts))
	switch {
	case e.Redacted:
		field("body", "redacted: the user was deleted")
	case len(e.Body) == 0:
		field("body", "none kept")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	if len(e.Body) > 0 {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, bytes.TrimSpace(e.Body), "", "  "); err == nil {
			fmt.Fprintf(c.Stdout, "body:\n%s\n", pretty.Bytes())
		} else {
			fmt.Fprintf(c.Stdout, "body (not valid JSON, as received):\n%s\n", strings.ToValidUTF8(string(e.Body), "\uFFFD"))
		}
	}
	if e.Outcome == clerksync.OutcomeDeadLetter && !e.Redacted && len(e.Body) > 0 {
		fmt.Fprintf(c.Stdout, "\nOnce the cause is fixed: clerksync events replay %s\n", e.ID)
	}
	return nil
}
