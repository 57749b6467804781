package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
)

// ChangesCommand reads the changes feed in the terminal: the entries serve records
// with every change to the tables, and forwards to the application.
type ChangesCommand struct {
	*Main

	// PollEvery is how often tail reads the feed for new entries (500 ms when 0).
	PollEvery time.Duration
}

// defaultChangesPoll is how often tail looks for new entries.
const defaultChangesPoll = 500 * time.Millisecond

// Run runs the changes subcommand named by args[0].
func (c *ChangesCommand) Run(ctx context.Context, args []string) error {
	return runSubcommand(ctx, "changes", []subcommand{
		{"list", c.list},
		{"tail", c.tail},
	}, args, c.usage, c.Stdout, c.Stderr)
}

func (c *ChangesCommand) usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  clerksync changes <subcommand> [flags]

The changes feed holds one entry per change to the synced tables (profile.created,
membership.deleted, …), in order (seq), whichever path the change came by: what serve
forwards to --forward-url and answers on GET /api/changes.

Subcommands:
  list     list entries after a seq, oldest first (--after, --type, --object, --limit, --json)
  tail     print new entries as they are recorded, until Ctrl-C (--after to start earlier)

Run 'clerksync changes <subcommand> -h' for its flags. The commands read the database
directly, so they work while clerksync serve runs on it.
`)
}

// feedFlags are the flags list and tail share.
type feedFlags struct {
	common  commonFlags
	after   int64
	types   stringList
	object  string
	limit   int
	asJSON  bool
	filter  clerksync.FeedFilter
	pattern []string
}

func (f *feedFlags) register(fs *flag.FlagSet, getenv func(string) string, limit bool) {
	f.common.register(fs, getenv)
	fs.Int64Var(&f.after, "after", -1, "start after this seq (the last one you saw; 0 for the beginning)")
	fs.Var(&f.types, "type", "only entries of this type, such as profile.created, or kind, such as membership.*; repeat or separate with commas for several")
	fs.StringVar(&f.object, "object", "", "only the entries of this object id, such as user_2abc…")
	if limit {
		fs.IntVar(&f.limit, "limit", 50, "most entries to list (1 to 1000)")
	}
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON object per line, as serve forwards them, instead of a table")
}

// check validates the flags and fills filter.
func (f *feedFlags) check(fs *flag.FlagSet, cmd string, pos []string) error {
	if len(pos) > 0 {
		fs.Usage()
		return usagef("changes %s takes no arguments, got %q (filter with --type or --object)", cmd, pos)
	}
	if f.after < -1 {
		return usagef("--after %d is not a seq: give the seq of an entry, or 0 for the beginning", f.after)
	}
	for _, t := range f.types {
		for _, p := range splitList(t) {
			if !clerksync.ValidFeedPattern(p) {
				return usagef("--type %q matches no type of change: use a type such as profile.created, a kind such as membership.*, or *; the types are %s",
					p, strings.Join(clerksync.FeedTypes(), ", "))
			}
			f.pattern = append(f.pattern, p)
		}
	}
	if fs.Lookup("limit") != nil && (f.limit < 1 || f.limit > clerksync.MaxPage) {
		return usagef("--limit %d is out of range: list 1 to %d entries at a time and page with --after", f.limit, clerksync.MaxPage)
	}
	f.filter = clerksync.FeedFilter{After: max(f.after, 0), Limit: f.limit, Types: f.pattern, ObjectID: strings.TrimSpace(f.object)}
	return nil
}

// open opens the feed of the database the flags name, refusing to create one.
func (c *ChangesCommand) open(ctx context.Context, f *feedFlags) (clerksync.FeedStore, func(), error) {
	logger, err := f.common.logger(c.Stderr)
	if err != nil {
		return nil, nil, err
	}
	_, store, err := f.common.openExistingDB(ctx, "changes", logger.With(slog.String("command", "changes")))
	if err != nil {
		return nil, nil, err
	}
	feed, ok := store.(clerksync.FeedStore)
	if !ok {
		store.Close()
		return nil, nil, fmt.Errorf("the %T store keeps no changes feed", store)
	}
	return feed, func() { store.Close() }, nil
}

// list prints entries of the feed after --after, oldest first.
func (c *ChangesCommand) list(ctx context.Context, args []string) error {
	var f feedFlags
	fs := newFlagSet("changes list [flags]", "List entries of the changes feed after --after, oldest first.", c.Stderr)
	f.register(fs, c.Getenv, true)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := f.check(fs, "list", pos); err != nil {
		return err
	}
	feed, closeStore, err := c.open(ctx, &f)
	if err != nil {
		return err
	}
	defer closeStore()

	entries, err := feed.Changes(ctx, f.filter)
	if err != nil {
		return fmt.Errorf("read the changes feed: %w", err)
	}
	out := &entryWriter{w: c.Stdout, asJSON: f.asJSON}
	if len(entries) == 0 && !f.asJSON {
		if f.filter.After > 0 || len(f.pattern) > 0 || f.filter.ObjectID != "" {
			fmt.Fprintln(c.Stdout, "No entries match.")
		} else {
			fmt.Fprintln(c.Stdout, "The changes feed is empty: it records changes to the tables from now on (webhooks, backfill, syncs).")
		}
		return nil
	}
	if err := out.write(entries); err != nil {
		return err
	}
	if len(entries) == f.limit {
		fmt.Fprintf(c.Stderr, "More may follow: add --after %d for the next page.\n", entries[len(entries)-1].Seq)
	}
	return nil
}

// tail prints new entries as they are recorded until ctx ends.
func (c *ChangesCommand) tail(ctx context.Context, args []string) error {
	var f feedFlags
	fs := newFlagSet("changes tail [flags]", "Print new entries of the changes feed as they are recorded, until Ctrl-C.\n"+
		"Without --after it starts at the newest entry; with --after SEQ it prints every entry after SEQ first.", c.Stderr)
	f.register(fs, c.Getenv, false)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	f.limit = clerksync.MaxPage
	if err := f.check(fs, "tail", pos); err != nil {
		return err
	}
	feed, closeStore, err := c.open(ctx, &f)
	if err != nil {
		return err
	}
	defer closeStore()

	if f.after < 0 {
		if f.filter.After, err = feed.LastSeq(ctx); err != nil {
			return fmt.Errorf("read the changes feed: %w", err)
		}
	}
	// On stderr, so that stdout holds only entries (JSON lines with --json).
	fmt.Fprintf(c.Stderr, "Waiting for changes after seq %d (Ctrl-C to stop).\n", f.filter.After)
	every := c.PollEvery
	if every <= 0 {
		every = defaultChangesPoll
	}
	out := &entryWriter{w: c.Stdout, asJSON: f.asJSON}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		entries, err := feed.Changes(ctx, f.filter)
		switch {
		case ctx.Err() != nil:
			return nil // Ctrl-C: the way tail ends
		case err != nil:
			return fmt.Errorf("read the changes feed after seq %d (resume with --after %d): %w", f.filter.After, f.filter.After, err)
		}
		if len(entries) > 0 {
			if err := out.write(entries); err != nil {
				return err
			}
			f.filter.After = entries[len(entries)-1].Seq
			if len(entries) == f.filter.Limit {
				continue // more are waiting
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// entryWriter prints entries as lines of a table, its header once, or as JSON lines.
type entryWriter struct {
	w       io.Writer
	asJSON  bool
	started bool
}

func (o *entryWriter) write(entries []clerksync.FeedEntry) error {
	var b strings.Builder
	if !o.asJSON && !o.started {
		b.WriteString(entryLineHeader + "\n")
	}
	o.started = true
	for _, e := range entries {
		if o.asJSON {
			j, err := e.MarshalJSON()
			if err != nil {
				return fmt.Errorf("encode entry %d: %w", e.Seq, err)
			}
			b.Write(j)
			b.WriteByte('\n')
			continue
		}
		b.WriteString(entryLine(e) + "\n")
	}
	if _, err := io.WriteString(o.w, b.String()); err != nil {
		return fmt.Errorf("write entries: %w", err)
	}
	return nil
}
