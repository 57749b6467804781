package service

import (
	"context"
	"iter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/forward"
	"github.com/clerksync/clerksync/svixsig"
)

// feed returns the store's changes feed; every store of clerksync keeps one.
func (s *Service) feed() forward.Store {
	fs, _ := s.store.(forward.Store)
	return fs
}

// newForwarder returns a forwarder of the feed to endpoints.
func (s *Service) newForwarder(endpoints []forward.Endpoint, secret string) (*forward.Forwarder, error) {
	if s.feed() == nil {
		return nil, clerksync.Errorf(clerksync.ECONFIG, "the %T store keeps no changes feed", s.store)
	}
	if s.attempts == nil {
		s.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerksync_forward_attempts_total",
			Help: "Deliveries of the changes feed to the application's endpoints and consumers, by endpoint and result (ok or failed).",
		}, []string{"endpoint", "result"})
		s.metrics.Register(s.attempts)
	}
	if s.holder == "" {
		s.holder = clerksync.NewFeedID(time.Now())[4:]
	}
	cfg := forward.Config{
		Store: s.feed(), Endpoints: endpoints, Secret: secret, Logger: s.log, Holder: s.holder,
		OnDelivery: func(a forward.Attempt) {
			result := "ok"
			if a.Err != nil {
				result = "failed"
			}
			s.attempts.WithLabelValues(a.Endpoint, result).Inc()
		},
	}
	if s.cfg.TuneForward != nil {
		s.cfg.TuneForward(&cfg)
	}
	return forward.New(cfg)
}

// Consume hands every entry of the changes feed of the given types (see
// clerksync.MatchFeedType; none for every entry) to fn, in this process, from where
// the consumer name last stopped: at least once, an object's entries in order (its
// next entry waits until fn has returned nil for the one before), other objects'
// entries meanwhile. An error from fn, or a timeout, is a failed attempt, tried again
// after an exponential backoff, for ever; the consumer's position is kept in the
// database under name, so a restart goes on where it stopped, and with several
// processes one of them at a time consumes (a lease). It returns an error with code
// EINVALID for a pattern that matches no type of entry, and stops with Close.
func (s *Service) Consume(name string, fn func(ctx context.Context, e clerksync.FeedEntry) error, types ...string) error {
	// The signing secret is not used in process, but the forwarder checks one.
	fw, err := s.newForwarder([]forward.Endpoint{{Name: name, Deliver: fn, Types: types}}, svixsig.GenerateSecret())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return clerksync.Errorf(clerksync.EUNAVAILABLE, "the service is closed")
	}
	s.consumers = append(s.consumers, fw)
	s.consumerNames = append(s.consumerNames, name)
	fw.Start(s.ctx)
	return nil
}

// Follow returns the entries of the changes feed after the seq after, in seq order,
// waiting for new ones as they are committed, until ctx ends (the iteration then
// stops, without an error). The caller keeps the seq of the last entry it has handled
// and follows from it after a restart: no entry is ever skipped. A failed read of the
// database is yielded as an error, and the iteration goes on after a pause.
func (s *Service) Follow(ctx context.Context, after int64, types ...string) iter.Seq2[clerksync.FeedEntry, error] {
	return func(yield func(clerksync.FeedEntry, error) bool) {
		f := clerksync.FeedFilter{After: after, Limit: clerksync.DefaultFeedPage, Types: types}
		for ctx.Err() == nil {
			notified := s.notify.C()
			page, err := s.feed().Changes(ctx, f)
			if err != nil {
				if ctx.Err() != nil || !yield(clerksync.FeedEntry{}, err) {
					return
				}
				wait(ctx, nil, time.Second)
				continue
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
				f.After = e.Seq
			}
			if len(page) < f.Limit {
				// Other processes' commits are seen at the next look.
				wait(ctx, notified, 250*time.Millisecond)
			}
		}
	}
}

// wait waits until ctx ends, c is closed or d has passed.
func wait(ctx context.Context, c <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-c:
	case <-t.C:
	}
}

// forwarders returns the forwarders of the endpoints and of the consumers.
func (s *Service) forwarders() []*forward.Forwarder {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*forward.Forwarder
	if s.forwarder != nil {
		out = append(out, s.forwarder)
	}
	return append(out, s.consumers...)
}

// backlogCollector reports the backlog and position of each endpoint and consumer.
type backlogCollector struct{ fw func() []*forward.Forwarder }

var (
	backlogDesc = prometheus.NewDesc("clerksync_forward_backlog",
		"Changes not yet acknowledged by an endpoint or consumer (as the replica holding it sees them; 0 elsewhere).", []string{"endpoint"}, nil)
	positionDesc = prometheus.NewDesc("clerksync_forward_position",
		"The seq up to which an endpoint or consumer has acknowledged every change.", []string{"endpoint"}, nil)
)

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- positionDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	for _, fw := range c.fw() {
		for _, st := range fw.Status() {
			backlog := float64(0)
			if st.Holding {
				backlog = float64(st.Backlog)
			}
			ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, backlog, st.Endpoint)
			ch <- prometheus.MustNewConstMetric(positionDesc, prometheus.GaugeValue, float64(st.Position), st.Endpoint)
		}
	}
}
