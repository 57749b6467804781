package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/dburl"
)

// DefaultDatabaseURL is where clerksync keeps its data when DATABASE_URL is not set:
// an SQLite file in the working directory.
const DefaultDatabaseURL = "sqlite:clerksync.db"

// DB says which database a DATABASE_URL names (see dburl.Parse).
type DB = dburl.DB

// ParseDatabaseURL reads a DATABASE_URL: sqlite:PATH, file:PATH, postgres://… or
// postgresql://…. Its error lists the accepted forms.
func ParseDatabaseURL(s string) (DB, error) { return dburl.Parse(s) }

// commonFlags are the settings every command that touches the database shares.
type commonFlags struct {
	DatabaseURL string
	LogLevel    string
	LogFormat   string
	Schema      string
	Supabase    bool
	OnDelete    string
}

// register adds the common flags to fs with defaults from the environment.
func (c *commonFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&c.DatabaseURL, "database-url", envOr(getenv, "DATABASE_URL", DefaultDatabaseURL),
		"database: sqlite:PATH, file:PATH or postgres://… (env DATABASE_URL)")
	c.registerLog(fs, getenv)
	fs.StringVar(&c.Schema, "schema", envOr(getenv, "DATABASE_SCHEMA", "public"), "PostgreSQL schema for clerksync's tables (env DATABASE_SCHEMA)")
	fs.BoolVar(&c.Supabase, "supabase", envBool(getenv, "SUPABASE"), "PostgreSQL: enable row level security so a signed-in user can read their own profile, and the organizations and memberships of organizations they belong to (env SUPABASE=1)")
	fs.StringVar(&c.OnDelete, "on-delete", envOr(getenv, "CLERKSYNC_ON_DELETE", string(clerksync.DeleteHard)),
		"what a deletion does to a row: hard removes it; soft keeps it with deleted_at set and its personal columns cleared (env CLERKSYNC_ON_DELETE)")
}

// registerLog adds only --log-level and --log-format, for the commands that open no
// database.
func (c *commonFlags) registerLog(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&c.LogLevel, "log-level", envOr(getenv, "LOG_LEVEL", "info"), "log level: debug, info, warn, error (env LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", envOr(getenv, "LOG_FORMAT", "text"), "log format: text or json (env LOG_FORMAT)")
}

// deletePolicy returns the --on-delete policy, or a usage error naming the choices.
func (c *commonFlags) deletePolicy() (clerksync.DeletePolicy, error) {
	switch p := clerksync.DeletePolicy(strings.ToLower(strings.TrimSpace(c.OnDelete))); p {
	case clerksync.DeleteHard, clerksync.DeleteSoft:
		return p, nil
	}
	return "", usagef("--on-delete %q (env CLERKSYNC_ON_DELETE): use hard (remove the row) or soft (keep it, with deleted_at set and personal columns cleared)", c.OnDelete)
}

// db parses the database URL.
func (c *commonFlags) db() (DB, error) {
	d, err := ParseDatabaseURL(c.DatabaseURL)
	if err != nil {
		return DB{}, &usageError{err}
	}
	return d, nil
}

// logger builds the slog.Logger the flags ask for, writing to w.
func (c *commonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, usagef("LOG_LEVEL %q is not a level: use debug, info, warn or error", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.LogFormat) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("LOG_FORMAT %q is not a format: use text or json", c.LogFormat)
}

// envOr returns the environment variable key, or def when it is unset or blank.
func envOr(getenv func(string) string, key, def string) string {
	if v := strings.TrimSpace(getenv(key)); v != "" {
		return v
	}
	return def
}

// envBool reads a boolean environment variable: 1, true, yes, on.
func envBool(getenv func(string) string, key string) bool {
	switch strings.ToLower(strings.TrimSpace(getenv(key))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// splitSecrets splits a list of webhook secrets separated by spaces or commas.
func splitSecrets(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// newFlagSet returns a flag set that reports errors instead of exiting. Its usage, a
// one-line summary and the flags, goes to w (stderr) after a flag mistake and to stdout
// for -h (see parseFlags); secrets among the flags' defaults are masked (redact.go).
func newFlagSet(name, summary string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: clerksync %s\n\n%s\n\nFlags:\n", name, summary)
		printDefaults(fs)
	}
	return fs
}

// flagsGiven returns the names of the flags set on the command line.
func flagsGiven(fs *flag.FlagSet) map[string]bool {
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// helpError is what parseFlags returns for -h: the command's usage, which Main prints
// to stdout (so that `clerksync serve -h | less` works) before exiting 0. It matches
// flag.ErrHelp.
type helpError struct{ usage string }

func (e *helpError) Error() string        { return "help requested" }
func (e *helpError) Is(target error) bool { return target == flag.ErrHelp }

// parseFlags parses args. For -h it returns a *helpError holding the usage; a flag
// mistake prints the mistake and the usage to the flag set's output (stderr) and
// returns a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		return &helpError{usage: buf.String()}
	}
	_, _ = buf.WriteTo(out)
	return &usageError{err}
}

// parseFlagsOnly parses args (see parseFlags) for a command that takes flags only: a
// positional argument prints the usage and is a usage error naming cmd, followed by
// hint in parentheses when hint is not empty.
func parseFlagsOnly(fs *flag.FlagSet, args []string, cmd, hint string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return nil
	}
	fs.Usage()
	if hint != "" {
		return usagef("%s takes no arguments, got %q (%s)", cmd, fs.Args(), hint)
	}
	return usagef("%s takes no arguments, got %q", cmd, fs.Args())
}

// splitList splits a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
