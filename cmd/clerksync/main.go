// Command clerksync keeps an application's database in step with its Clerk users.
//
// Run `clerksync help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise it is read
// from the module's build information.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	stopProfile := startCPUProfile(m)
	err := m.Run(ctx, os.Args[1:])
	stopProfile()
	os.Exit(m.exitCode(err))
}

// startCPUProfile writes a CPU profile of the whole run to the file named by
// CLERKSYNC_CPU_PROFILE, for `go tool pprof`: how to see where a backfill or a loaded
// server spends its time. It returns the function that finishes the profile.
func startCPUProfile(m *Main) func() {
	path := m.Getenv("CLERKSYNC_CPU_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(m.Stderr, "clerksync: CLERKSYNC_CPU_PROFILE:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(m.Stderr, "clerksync: CLERKSYNC_CPU_PROFILE:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// Main is the program: its output streams and environment, so tests can run it whole.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment; tests replace it.
	Getenv func(string) string
	// Now reads the clock (nil: time.Now); tests replace it to age the event log.
	Now func() time.Time
}

// NewMain returns a Main wired to the process's streams and environment.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// now returns the current time from m.Now, or time.Now when it is nil.
func (m *Main) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// usageError marks an error caused by how the command was called (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitCode prints err (if any) and returns the process exit status: 0 on success,
// 2 for a usage or configuration mistake, 1 for anything else.
func (m *Main) exitCode(err error) int {
	var help *helpError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		fmt.Fprint(m.Stdout, help.usage)
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, context.Canceled):
		return 130 // interrupted by a signal: the command already said what it finished
	}
	fmt.Fprintln(m.Stderr, "clerksync:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// Run runs the command named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		m.usage(m.Stderr)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return (&ServeCommand{Main: m}).Run(ctx, rest)
	case "migrate":
		return (&MigrateCommand{Main: m}).Run(ctx, rest)
	case "send":
		return (&SendCommand{Main: m}).Run(ctx, rest)
	case "backfill":
		return (&BackfillCommand{Main: m}).Run(ctx, rest)
	case "sync":
		return (&SyncCommand{Main: m}).Run(ctx, rest)
	case "events":
		return (&EventsCommand{Main: m}).Run(ctx, rest)
	case "changes":
		return (&ChangesCommand{Main: m}).Run(ctx, rest)
	case "receive":
		return (&ReceiveCommand{Main: m}).Run(ctx, rest)
	case "dev":
		return (&DevCommand{Main: m}).Run(ctx, rest)
	case "healthcheck":
		return (&HealthcheckCommand{Main: m}).Run(ctx, rest)
	case "version", "--version", "-version", "-v":
		fmt.Fprintf(m.Stdout, "clerksync %s (%s, %s/%s)\n", Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	case "help", "-h", "--help", "-help":
		m.usage(m.Stdout)
		return nil
	}
	m.usage(m.Stderr)
	return usagef("unknown command %q", cmd)
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprint(w, `clerksync keeps your database in step with your Clerk users.

Usage:
  clerksync <command> [flags]

Commands:
  serve        receive Clerk webhooks and keep the profiles table right
  migrate      create or upgrade the database schema and exit
  send         sign and send a test event to a running clerksync (no tunnel needed)
  backfill     import every Clerk user through the Backend API (--prune: delete those Clerk no longer has)
  sync         sync one user from the Clerk Backend API: clerksync sync USER_ID
  events       list, show, replay or prune the event log and its dead letters
  changes      list or tail the changes feed: every change to the tables, in order
  receive      an endpoint that verifies and prints forwarded changes (--new-secret: make a secret)
  dev          try the whole flow against a built-in Clerk emulator (development only)
  healthcheck  ask a running clerksync whether it is up (for a container's HEALTHCHECK)
  version      print the version (also --version, -v)

Run 'clerksync <command> -h' for a command's flags.
Settings come from flags or the environment (CLERK_WEBHOOK_SECRET, CLERK_SECRET_KEY,
CLERK_API_URL, DATABASE_URL, PORT, LOG_LEVEL, LOG_FORMAT); flags win.
`)
}

// Version returns the build's version: the -ldflags value, else the module version
// (set by go install …@version), else the commit it was built from.
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", ""
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev != "" {
		return "(devel) " + rev + dirty
	}
	return "(devel)"
}
