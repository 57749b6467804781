package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clerksync/clerksync/service"
)

// DefaultEventRetention is how long serve keeps an entry of the event log: 30 days.
const DefaultEventRetention = service.DefaultEventRetention

// MinEventRetention is the shortest retention serve and events prune accept. Svix
// retries a delivery for about 27.6 hours; a svix-id must outlive its last retry, or
// the retry is no longer recognised as one and is applied a second time.
const MinEventRetention = 48 * time.Hour

// retentionTooShort explains MinEventRetention in errors.
var retentionTooShort = "Svix retries a delivery for up to 27.6 hours and the event log's svix-ids are what make " +
	"a retry change nothing, so they must be kept far longer; use at least " + fmtDuration(MinEventRetention) +
	" (the default is 720h, 30 days)"

// retention prunes the event log while serve runs: once at start, then every hour.
// Dead letters are kept: they wait in the log for events replay.
type retention struct {
	setting string        // --event-retention as given
	keep    time.Duration // parsed; 0 keeps the log for ever

	// ticks, when set, replaces the hourly ticker (tests drive the passes).
	ticks <-chan time.Time
	// onPass, when set, is called after each pass with what it deleted (tests wait on it).
	onPass func(deleted int, err error)
}

// register adds --event-retention to fs, defaulting to CLERKSYNC_EVENT_RETENTION.
func (r *retention) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&r.setting, "event-retention", envOr(getenv, "CLERKSYNC_EVENT_RETENTION", DefaultEventRetention.String()),
		"how long the event log keeps an entry (and so recognises its svix-id), at least "+fmtDuration(MinEventRetention)+
			"; such as 720h or 30d; 0 keeps it for ever; pruned at start and every hour, dead letters kept (env CLERKSYNC_EVENT_RETENTION)")
}

// validate parses the setting; its errors name the setting and say what to use.
func (r *retention) validate() error {
	d, err := parseRetention(r.setting)
	if err != nil || d < 0 {
		return usagef("--event-retention %q (env CLERKSYNC_EVENT_RETENTION) is not a duration: "+
			"use hours or days, such as 720h or 30d, or 0 to keep the event log for ever", r.setting)
	}
	if d > 0 && d < MinEventRetention {
		return usagef("--event-retention %s (env CLERKSYNC_EVENT_RETENTION) is too short: %s, or 0 to keep the event log for ever",
			strings.TrimSpace(r.setting), retentionTooShort)
	}
	r.keep = d
	return nil
}

// parseRetention reads a duration such as 720h, 30d or 0. Days (a whole number
// followed by d) are accepted because retention is thought of in days.
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// fmtDuration writes a retention for people: "30 days" for whole days, else Go's form.
func fmtDuration(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d > 0 && d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
