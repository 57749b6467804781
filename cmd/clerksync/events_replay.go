package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

// replayBatch is how many replayed events share one transaction: few enough that a
// running server's deliveries do not wait long behind it.
const replayBatch = 100

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
