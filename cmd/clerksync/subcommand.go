package main

import (
	"context"
	"io"
	"strings"
)

// subcommand is one subcommand of a command that has several, such as events list.
type subcommand struct {
	name string
	run  func(ctx context.Context, args []string) error
}

// runSubcommand runs the subcommand of cmd that args[0] names, with the rest of args.
// help (or -h) prints usage on stdout; no subcommand, or an unknown one, prints it on
// stderr and returns a usage error naming the subcommands.
func runSubcommand(ctx context.Context, cmd string, subs []subcommand, args []string, usage func(io.Writer), stdout, stderr io.Writer) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	choices := strings.Join(names, ", ")
	if n := len(names); n > 1 {
		choices = strings.Join(names[:n-1], ", ") + " or " + names[n-1]
	}
	if len(args) == 0 {
		usage(stderr)
		return usagef("%s needs a subcommand: %s", cmd, choices)
	}
	sub, rest := args[0], args[1:]
	for _, s := range subs {
		if s.name == sub {
			return s.run(ctx, rest)
		}
	}
	switch sub {
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return usagef("unknown %s subcommand %q: use %s", cmd, sub, choices)
}
