package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/clerksync/clerksync"
)

// EventsCommand looks after the event log: it lists and shows its entries, replays
// dead letters (or any event) through the current decoder, and prunes old entries.
type EventsCommand struct {
	*Main
}

// listedOutcomes are the outcomes an entry of the event log can have (duplicates are
// answered, never recorded).
var listedOutcomes = []clerksync.Outcome{
	clerksync.OutcomeApplied, clerksync.OutcomeStale, clerksync.OutcomeIgnored, clerksync.OutcomeDeadLetter,
}

// listPage is the page size used when the whole log or every dead letter is read.
const listPage = 1000

// Run runs the events subcommand named by args[0].
func (c *EventsCommand) Run(ctx context.Context, args []string) error {
	return runSubcommand(ctx, "events", []subcommand{
		{"list", c.list},
		{"show", c.show},
		{"replay", c.replay},
		{"prune", c.prune},
	}, args, c.usage, c.Stdout, c.Stderr)
}

func (c *EventsCommand) usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  clerksync events <subcommand> [flags]

The event log keeps one entry per webhook delivery (svix-id): what it was, what became
of it and, until its user is deleted, its body. Dead letters are authentic deliveries
that could not be used; they wait in the log for a replay.

Subcommands:
  list     list entries, newest first (--outcome, --type, --user, --kind, --object, --limit,
           --before, --json)
  show     show one entry with its body: events show SVIX_ID [--json]
  replay   decode stored bodies again and apply them: events replay SVIX_ID... or
           events replay --dead-letters [--type TYPE]
  prune    delete old entries: events prune [--older-than 720h] [--include-dead-letters] [--dry-run]

Run 'clerksync events <subcommand> -h' for its flags. The commands use the store directly,
so they work while clerksync serve runs on the same database.
`)
}

// open opens the store the common flags name. Unlike serve and migrate it refuses to
// create an SQLite file: a typo in the path should not look like an empty log.
func (c *EventsCommand) open(ctx context.Context, common *commonFlags) (clerksync.Store, error) {
	logger, err := common.logger(c.Stderr)
	if err != nil {
		return nil, err
	}
	_, store, err := common.openExistingDB(ctx, "events", logger.With(slog.String("command", "events")))
	return store, err
}

// notFound is the error for an id that is not in the event log.
func (c *EventsCommand) notFound(id string) error {
	keep, err := parseRetention(c.Getenv("CLERKSYNC_EVENT_RETENTION"))
	if err != nil {
		keep = DefaultEventRetention
	}
	if keep == 0 {
		return fmt.Errorf("no event %s in the log (check the svix-id; ids are kept until events prune removes them)", id)
	}
	return fmt.Errorf("no event %s in the log (ids are kept for %s)", id, fmtDuration(keep))
}

// parseListedOutcome reads --outcome; its error lists the valid names.
func parseListedOutcome(s string) (clerksync.Outcome, error) {
	name := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
	for _, o := range listedOutcomes {
		if o.String() == name {
			return o, nil
		}
	}
	return 0, usagef("--outcome %q is not an outcome of the event log: use one of %s", s, outcomeNames())
}

func outcomeNames() string {
	names := make([]string, len(listedOutcomes))
	for i, o := range listedOutcomes {
		names[i] = o.String()
	}
	return strings.Join(names, ", ")
}

// parseKind reads --kind: a kind's name (user, organization, membership, …), or its
// table's (profiles, organization_memberships, …); its error lists the valid names.
func parseKind(s string) (clerksync.Kind, error) {
	if k, ok := clerksync.ParseKind(strings.ToLower(strings.TrimSpace(s))); ok {
		return k, nil
	}
	return 0, usagef("--kind %q is not a kind of object: use one of %s", s, kindNames())
}

func kindNames() string {
	names := make([]string, len(clerksync.Kinds))
	for i, k := range clerksync.Kinds {
		names[i] = k.String()
	}
	return strings.Join(names, ", ")
}

// parseInterleaved parses args allowing flags after the positional arguments
// (events show msg_1 --json) and returns the positional ones. After "--" everything is
// positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
