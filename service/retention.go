package service

import (
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/forward"
)

// retentionEvery is how often the event log and the changes feed are pruned.
const retentionEvery = time.Hour

// startRetention prunes the event log and the changes feed now and every hour until
// Close.
func (s *Service) startRetention() {
	events, changes := s.cfg.EventRetention, s.cfg.ChangesRetention
	if events == 0 {
		events = DefaultEventRetention
	}
	if changes == 0 {
		changes = DefaultChangesRetention
	}
	if events < 0 {
		s.log.Info("event log retention is off: entries are kept until clerksync events prune removes them")
	} else {
		s.log.Info("event log retention: entries older than "+days(events)+" are pruned at start and every hour; dead letters are kept",
			slog.Duration("retention", events))
	}
	ticks := s.cfg.RetentionTicks
	var ticker *time.Ticker
	if ticks == nil {
		ticker = time.NewTicker(retentionEvery)
		ticks = ticker.C
	}
	s.wg.Go(func() {
		if ticker != nil {
			defer ticker.Stop()
		}
		for {
			now := s.now()
			if events > 0 {
				s.pruneEvents(now.Add(-events), events)
			}
			if changes > 0 {
				s.pruneChanges(now.Add(-changes))
			}
			select {
			case <-s.ctx.Done():
				return
			case <-ticks:
			}
		}
	})
}

// pruneEvents deletes the event log's entries received before cutoff, dead letters
// excepted, and the records of pull runs that finished before it.
func (s *Service) pruneEvents(cutoff time.Time, keep time.Duration) {
	ctx := s.ctx
	n, err := s.store.PruneEvents(ctx, cutoff, false)
	switch {
	case err != nil && ctx.Err() != nil:
		// Closing; the next start prunes again.
	case err != nil:
		s.log.Warn("could not prune the event log; trying again in an hour", slog.Int("deleted", n), slog.Any("error", err))
	case n > 0:
		s.log.Info("pruned "+plural(n, "entry", "entries")+" from the event log",
			slog.Int("deleted", n), slog.Time("before", cutoff), slog.Duration("retention", keep))
	default:
		s.log.Debug("event log pruned: nothing old enough", slog.Time("before", cutoff))
	}
	if ss, ok := s.store.(clerksync.SyncStore); ok && err == nil {
		// The records of pull runs are kept as long as the event log.
		if runs, rerr := ss.PruneRuns(ctx, cutoff); rerr != nil && ctx.Err() == nil {
			s.log.Warn("could not prune the records of pull runs; trying again in an hour", slog.Any("error", rerr))
		} else if runs > 0 {
			s.log.Info("pruned "+plural(runs, "record", "records")+" of pull runs", slog.Time("before", cutoff))
		}
	}
	if s.cfg.OnRetention != nil {
		s.cfg.OnRetention(n, err)
	}
}

// pruneChanges deletes the changes feed's entries recorded before cutoff that every
// endpoint and consumer has acknowledged; with none, by age alone.
func (s *Service) pruneChanges(cutoff time.Time) {
	ctx := s.ctx
	fs := s.feed()
	if fs == nil {
		return
	}
	var leases []string
	for _, e := range s.cfg.Forward {
		leases = append(leases, forward.LeaseName(e.URL))
	}
	s.mu.Lock()
	for _, name := range s.consumerNames {
		leases = append(leases, forward.ConsumerLeaseName(name))
	}
	s.mu.Unlock()
	upTo := int64(math.MaxInt64)
	for _, l := range leases {
		pos, _, err := fs.ForwardPosition(ctx, l)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("could not read a forwarding position; the changes feed is pruned next hour", slog.Any("error", err))
			}
			return
		}
		upTo = min(upTo, pos)
	}
	n, err := fs.PruneChanges(ctx, cutoff, upTo)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("could not prune the changes feed; trying again in an hour", slog.Any("error", err))
	case n > 0:
		s.log.Info("pruned "+plural(n, "entry", "entries")+" from the changes feed", slog.Time("before", cutoff))
	}
}

// plural returns "1 entry" or "n entries".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// days writes a retention for people: "30 days" for whole days, else Go's form.
func days(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return strconv.Itoa(int(d/day)) + " days"
	}
	return d.String()
}
