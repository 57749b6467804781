package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
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

// replayBatch is how many replayed events share one transaction: few enough that a
// running server's deliveries do not wait long behind it.
const replayBatch = 100

// listPage is the page size used when the whole log or every dead letter is read.
const listPage = 1000

// Run runs the events subcommand named by args[0].
func (c *EventsCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		c.usage(c.Stderr)
		return usagef("events needs a subcommand: list, show, replay or prune")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list":
		return c.list(ctx, rest)
	case "show":
		return c.show(ctx, rest)
	case "replay":
		return c.replay(ctx, rest)
	case "prune":
		return c.prune(ctx, rest)
	case "help", "-h", "--help", "-help":
		c.usage(c.Stdout)
		return nil
	}
	c.usage(c.Stderr)
	return usagef("unknown events subcommand %q: use list, show, replay or prune", sub)
}

func (c *EventsCommand) usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  clerksync events <subcommand> [flags]

The event log keeps one entry per webhook delivery (svix-id): what it was, what became
of it and, until its user is deleted, its body. Dead letters are authentic deliveries
that could not be used; they wait in the log for a replay.

Subcommands:
  list     list entries, newest first (--outcome, --type, --user, --limit, --before, --json)
  show     show one entry with its body: events show SVIX_ID [--json]
  replay   decode stored bodies again and apply them: events replay SVIX_ID... or
           events replay --dead-letters [--type TYPE]
  prune    delete old entries: events prune [--older-than 720h] [--include-dead-letters] [--dry-run]

Run 'clerksync events <subcommand> -h' for its flags. The commands use the store directly,
so they work while clerksync serve runs on the same database.
`)
}

// list prints entries of the event log, newest first.
func (c *EventsCommand) list(ctx context.Context, args []string) error {
	var (
		common  commonFlags
		outcome string
		f       clerksync.EventFilter
		asJSON  bool
	)
	fs := newFlagSet("events list [flags]", "List the event log, newest first.", c.Stderr)
	common.register(fs, c.Getenv)
	fs.StringVar(&outcome, "outcome", "", "only entries with this outcome: "+outcomeNames())
	fs.StringVar(&f.Type, "type", "", "only entries of this event type, such as user.updated")
	fs.StringVar(&f.UserID, "user", "", "only entries about this user id")
	fs.IntVar(&f.Limit, "limit", 50, "most entries to list (1 to 1000)")
	fs.StringVar(&f.Before, "before", "", "list the entries received before this svix-id (the last one of the previous page)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per line instead of a table")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return usagef("events list takes no arguments, got %q (filter with --type, --user or --outcome)", pos)
	}
	if outcome != "" {
		if f.Outcome, err = parseListedOutcome(outcome); err != nil {
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
		if f.Before != "" || f.Outcome != 0 || f.Type != "" || f.UserID != "" {
			fmt.Fprintln(c.Stdout, "No events match.")
		} else {
			fmt.Fprintln(c.Stdout, "The event log is empty.")
		}
		return nil
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED (UTC)\tSVIX_ID\tTYPE\tUSER\tOUTCOME\tERROR")
	for i := range events {
		e := &events[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
			e.ReceivedAt.UTC().Format(time.DateTime), e.ID, orDash(e.Type), orDash(e.UserID),
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

// replay decodes stored bodies again and applies them as replays.
func (c *EventsCommand) replay(ctx context.Context, args []string) error {
	var (
		common      commonFlags
		deadLetters bool
		typ         string
		keepPrivate bool
	)
	fs := newFlagSet("events replay SVIX_ID... | --dead-letters [--type TYPE]",
		"Decode stored bodies again with this version's decoder and apply them, as if delivered anew.\n"+
			"Each entry is updated with what the replay did. Exits 1 if a replay is still a dead letter,\n"+
			"or if a named event is unknown or redacted (its user was deleted, so no body is left).", c.Stderr)
	common.register(fs, c.Getenv)
	fs.BoolVar(&deadLetters, "dead-letters", false, "replay every dead letter, oldest first (redacted ones are skipped)")
	fs.StringVar(&typ, "type", "", "with --dead-letters: only dead letters of this event type")
	fs.BoolVar(&keepPrivate, "keep-private-metadata", envBool(c.Getenv, "CLERKSYNC_KEEP_PRIVATE_METADATA"),
		"keep users' private_metadata, as serve does with the same setting (env CLERKSYNC_KEEP_PRIVATE_METADATA=1)")
	ids, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case deadLetters && len(ids) > 0:
		return usagef("events replay takes SVIX_IDs or --dead-letters, not both")
	case !deadLetters && len(ids) == 0:
		fs.Usage()
		return usagef("events replay needs SVIX_IDs or --dead-letters")
	case typ != "" && !deadLetters:
		return usagef("--type selects among dead letters: use it with --dead-letters")
	}
	store, err := c.open(ctx, &common)
	if err != nil {
		return err
	}
	defer store.Close()

	if deadLetters {
		if ids, err = deadLetterIDs(ctx, store, typ); err != nil {
			return err
		}
		if len(ids) == 0 {
			if typ != "" {
				fmt.Fprintf(c.Stdout, "No dead letters of type %s to replay.\n", typ)
			} else {
				fmt.Fprintln(c.Stdout, "No dead letters to replay.")
			}
			return nil
		}
	}

	r := replayer{store: store, opts: clerkdecode.Options{KeepPrivateMetadata: keepPrivate}, out: tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)}
	for len(ids) > 0 {
		n := min(len(ids), replayBatch)
		if err := r.batch(ctx, ids[:n], !deadLetters, c.notFound); err != nil {
			return err
		}
		ids = ids[n:]
	}
	fmt.Fprintln(c.Stdout, r.summary())
	switch {
	case r.stillDead > 0:
		return fmt.Errorf("%s still a dead letter: fix what the error above says and replay again", plural(r.stillDead, "replayed event is", "replayed events are"))
	case r.refused > 0:
		return fmt.Errorf("%s could not be replayed", plural(r.refused, "event", "events"))
	}
	return nil
}

// deadLetterIDs returns the ids of every dead letter (of type typ, if given), oldest
// first. They are read before any replay, so that replays do not move the pages.
func deadLetterIDs(ctx context.Context, store clerksync.Store, typ string) ([]string, error) {
	var ids []string
	f := clerksync.EventFilter{Outcome: clerksync.OutcomeDeadLetter, Type: typ, Limit: listPage}
	for {
		page, err := store.Events(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		for _, e := range page {
			ids = append(ids, e.ID)
		}
		if len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1].ID
	}
	slices.Reverse(ids)
	return ids, nil
}

// replayer replays events and tells what became of each.
type replayer struct {
	store clerksync.Store
	opts  clerkdecode.Options
	out   *tabwriter.Writer

	applied, stale, ignored, stillDead, refused, skipped int
}

// batch replays the events ids in one transaction and prints what became of each, in
// the order of ids. named says the ids were given by the operator: an unknown or
// redacted one is then refused (and fails the command) rather than skipped.
func (r *replayer) batch(ctx context.Context, ids []string, named bool, notFound func(string) error) error {
	var (
		changes []clerksync.Change
		events  []*clerksync.Event
		lines   = make([]string, len(ids)) // set for the events not replayed
		at      = make([]int, 0, len(ids)) // index in ids of each change
	)
	for i, id := range ids {
		e, err := r.store.Event(ctx, id)
		switch {
		case clerksync.ErrorCode(err) == clerksync.ENOTFOUND:
			r.refused++
			lines[i] = fmt.Sprintf("%s\t\t\trefused: %v", id, notFound(id))
			continue
		case err != nil:
			return fmt.Errorf("read event %s: %w", id, err)
		case e.Redacted:
			why := "redacted: the user was deleted, so no body is left to replay"
			if named {
				r.refused++
				lines[i] = fmt.Sprintf("%s\t%s\t%s\trefused: %s", e.ID, orDash(e.Type), orDash(e.UserID), why)
			} else {
				r.skipped++
				lines[i] = fmt.Sprintf("%s\t%s\t%s\tskipped: %s (events prune --include-dead-letters removes it)", e.ID, orDash(e.Type), orDash(e.UserID), why)
			}
			continue
		case len(e.Body) == 0:
			r.refused++
			lines[i] = fmt.Sprintf("%s\t%s\t%s\trefused: no body was kept to replay", e.ID, orDash(e.Type), orDash(e.UserID))
			continue
		}
		ch := clerkdecode.ChangeFromEvent(e.ID, e.Body, r.opts)
		ch.Replay = true
		changes = append(changes, ch)
		events = append(events, e)
		at = append(at, i)
	}
	if len(changes) > 0 {
		results, err := r.store.Apply(ctx, changes)
		if err != nil {
			return fmt.Errorf("apply replays: %w", err)
		}
		for k, res := range results {
			line, err := r.report(ctx, events[k], &changes[k], res)
			if err != nil {
				return err
			}
			lines[at[k]] = line
		}
	}
	for _, line := range lines {
		fmt.Fprintln(r.out, line)
	}
	if err := r.out.Flush(); err != nil {
		return fmt.Errorf("write replays: %w", err)
	}
	return nil
}

// report counts the result of replaying e and returns the line that says what it did.
func (r *replayer) report(ctx context.Context, e *clerksync.Event, ch *clerksync.Change, res clerksync.Result) (string, error) {
	var did string
	switch res.Outcome {
	case clerksync.OutcomeApplied:
		r.applied++
		did = "applied (" + res.Action.String() + ")"
	case clerksync.OutcomeStale:
		r.stale++
		did = "stale: " + res.Reason.Explain()
	case clerksync.OutcomeIgnored:
		r.ignored++
		did = "ignored: clerksync does not sync " + orDash(ch.EventType) + " events"
	case clerksync.OutcomeDeadLetter:
		r.stillDead++
		did = "still a dead letter: " + oneLine(res.Error)
	default:
		did = res.Outcome.String()
	}
	user := ch.UserID
	if user == "" {
		user = e.UserID
	}
	typ := ch.EventType
	if typ == "" {
		typ = e.Type
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s → %s", e.ID, orDash(typ), orDash(user), e.Outcome, did), nil
}

// summary says what the replays did in one line.
func (r *replayer) summary() string {
	replayed := r.applied + r.stale + r.ignored + r.stillDead
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{r.applied, "applied"}, {r.stale, "stale"}, {r.ignored, "ignored"}, {r.stillDead, "still a dead letter"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	s := "Replayed " + plural(replayed, "event", "events")
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	if r.refused > 0 {
		s += fmt.Sprintf("; %d refused", r.refused)
	}
	if r.skipped > 0 {
		s += fmt.Sprintf("; %d skipped (redacted)", r.skipped)
	}
	return s + "."
}

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

// eventJSON is an entry of the event log as --json prints it.
type eventJSON struct {
	ID         string     `json:"svix_id"`
	Type       string     `json:"type"`
	UserID     string     `json:"user_id,omitempty"`
	Outcome    string     `json:"outcome"`
	Action     string     `json:"action"`
	Error      string     `json:"error,omitempty"`
	EventTime  *time.Time `json:"event_time,omitempty"`
	ReceivedAt time.Time  `json:"received_at"`
	Redacted   bool       `json:"redacted"`
	Attempts   int        `json:"attempts"`
	// Body is the body as kept when it is JSON; BodyText holds one that is not.
	Body     json.RawMessage `json:"body,omitempty"`
	BodyText string          `json:"body_text,omitempty"`
}

func eventToJSON(e *clerksync.Event, withBody bool) eventJSON {
	j := eventJSON{
		ID: e.ID, Type: e.Type, UserID: e.UserID, Outcome: e.Outcome.String(), Action: e.Action.String(),
		Error: e.Error, ReceivedAt: e.ReceivedAt.UTC(), Redacted: e.Redacted, Attempts: e.Attempts,
	}
	if e.EventTime != 0 {
		t := time.UnixMilli(e.EventTime).UTC()
		j.EventTime = &t
	}
	if withBody && len(e.Body) > 0 {
		if json.Valid(e.Body) {
			j.Body = e.Body
		} else {
			j.BodyText = strings.ToValidUTF8(string(e.Body), "\uFFFD")
		}
	}
	return j
}

func newJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
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

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine replaces control characters (newlines, tabs) so that s keeps to its line
// and column.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncate shortens s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// plural returns "1 event" or "3 events".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
