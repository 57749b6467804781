package main

import (
	"flag"
	"strconv"
	"strings"

	"github.com/clerksync/clerksync/web"
)

// bodyLimits bounds the webhook bodies serve reads at once.
type bodyLimits struct {
	concurrent int
	env        string // CLERKSYNC_MAX_CONCURRENT_BODIES as given, checked by validate
}

// register adds the flag to fs with its default from the environment.
func (b *bodyLimits) register(fs *flag.FlagSet, getenv func(string) string) {
	b.env = strings.TrimSpace(getenv("CLERKSYNC_MAX_CONCURRENT_BODIES"))
	def, _ := strconv.Atoi(b.env)
	fs.IntVar(&b.concurrent, "max-concurrent-bodies", def,
		"webhook bodies read at once; more wait up to 1s, then get 503 with Retry-After (default: 64 MiB / --max-body-bytes, 64 for 1 MiB) (env CLERKSYNC_MAX_CONCURRENT_BODIES)")
}

// validate checks the setting.
func (b *bodyLimits) validate() error {
	if _, err := strconv.Atoi(b.env); b.env != "" && err != nil {
		return usagef("CLERKSYNC_MAX_CONCURRENT_BODIES %q is not a number: give how many webhook bodies may be read at once, such as 64", b.env)
	}
	if b.concurrent < 0 {
		return usagef("--max-concurrent-bodies %d: give a positive number, or 0 for the default", b.concurrent)
	}
	return nil
}

// apply sets the limit on srv (0 keeps the default, derived from the body cap).
func (b *bodyLimits) apply(srv *web.Server) { srv.MaxConcurrentBodies = b.concurrent }
