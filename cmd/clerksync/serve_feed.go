package main

import (
	"flag"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/forward"
	"github.com/clerksync/clerksync/service"
)

// DefaultChangesRetention is how long the changes feed keeps an entry that every
// endpoint has acknowledged: 7 days.
const DefaultChangesRetention = service.DefaultChangesRetention

// feedSettings are serve's settings of the changes feed: where to forward it, the token
// of GET /api/changes, and how long entries are kept.
type feedSettings struct {
	urls      stringList // --forward-url, repeatable
	types     stringList // --forward-types, repeatable
	secret    string     // CLERKSYNC_FORWARD_SECRET (environment only: it is a secret)
	token     string     // CLERKSYNC_API_TOKEN (likewise)
	retention string     // --changes-retention as given
	keep      time.Duration

	endpoints []forward.Endpoint

	// tune, set by tests, adjusts the forwarder's settings: a backoff in milliseconds
	// compresses an outage of minutes.
	tune func(*forward.Config)
}

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// register adds the feed's flags to fs, with defaults from the environment.
func (f *feedSettings) register(fs *flag.FlagSet, getenv func(string) string) {
	f.urls = append(f.urls, splitList(getenv("CLERKSYNC_FORWARD_URL"))...)
	if t := strings.TrimSpace(getenv("CLERKSYNC_FORWARD_TYPES")); t != "" {
		f.types = append(f.types, t)
	}
	fs.Var(&f.urls, "forward-url", "POST every change of the tables to this URL of your application, signed with CLERKSYNC_FORWARD_SECRET; repeat for several (env CLERKSYNC_FORWARD_URL, comma-separated)")
	fs.Var(&f.types, "forward-types", "the changes an endpoint gets, such as profile.*,membership.created; once for every endpoint, or once per --forward-url in the same order (env CLERKSYNC_FORWARD_TYPES)")
	fs.StringVar(&f.retention, "changes-retention", envOr(getenv, "CLERKSYNC_CHANGES_RETENTION", DefaultChangesRetention.String()),
		"how long the changes feed keeps an entry once every endpoint has acknowledged it, such as 168h or 7d (env CLERKSYNC_CHANGES_RETENTION)")
	f.secret = strings.TrimSpace(getenv("CLERKSYNC_FORWARD_SECRET"))
	f.token = strings.TrimSpace(getenv("CLERKSYNC_API_TOKEN"))
}

// validate checks the settings; its errors name the setting and say what to use.
func (f *feedSettings) validate() error {
	d, err := parseRetention(f.retention)
	if err != nil || d <= 0 {
		return usagef("--changes-retention %q (env CLERKSYNC_CHANGES_RETENTION) is not a duration: use hours or days, such as 168h or 7d", f.retention)
	}
	f.keep = d
	if len(f.types) > 1 && len(f.types) != len(f.urls) {
		return usagef("--forward-types is given %d times for %d --forward-url: give it once for every endpoint, or once per endpoint in the same order",
			len(f.types), len(f.urls))
	}
	f.endpoints = f.endpoints[:0]
	for i, u := range f.urls {
		e := forward.Endpoint{URL: u}
		switch {
		case len(f.types) == 1:
			e.Types = splitList(f.types[0])
		case len(f.types) > 1:
			e.Types = splitList(f.types[i])
		}
		for _, p := range e.Types {
			if !clerksync.ValidFeedPattern(p) {
				return usagef("--forward-types %q matches no type of change: use types such as profile.created, kinds such as membership.*, or *", p)
			}
		}
		f.endpoints = append(f.endpoints, e)
	}
	if len(f.endpoints) > 0 && f.secret == "" {
		return usagef("CLERKSYNC_FORWARD_SECRET is not set: --forward-url needs a Signing Secret to sign the changes it sends " +
			"(make one with: clerksync receive --new-secret, and give the same to your application)")
	}
	return nil
}
