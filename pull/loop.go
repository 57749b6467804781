package pull

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/clerksync/clerksync"
)

// Lease names: one replica at a time polls, one reconciles.
const (
	LeasePoll      = "poll"
	LeaseReconcile = "reconcile"
)

const (
	// minPollLease is the shortest lease a poller holds; a lease is three poll
	// intervals, renewed at every poll and while a long pass makes progress.
	minPollLease = 30 * time.Second
	// reconcileLease is how long a reconciler holds its lease between renewals.
	reconcileLease = 10 * time.Minute
	// maxRetryWait bounds the wait before a failed reconcile is tried again.
	maxRetryWait = 10 * time.Minute
)

// Loop polls and reconciles on a schedule, as serve does: a poll of the users every
// PollEvery and a full pass of every kind (a backfill with kind reconcile, with prune
// if asked) every
// ReconcileEvery. The schedule of reconciles is kept in the database (the last
// successful backfill or reconcile), so a restart does not start a pass early, and
// leases in the database let one replica at a time poll or reconcile when several
// share it.
type Loop struct {
	Syncer *Syncer
	// PollEvery is the time between polls; 0 turns polling off.
	PollEvery time.Duration
	Poll      PollOptions
	// ReconcileEvery is the time between reconciles; 0 turns them off.
	ReconcileEvery time.Duration
	// ReconcilePrune prunes after each reconcile, with at most PruneMax deletions
	// (see BackfillOptions).
	ReconcilePrune bool
	PruneMax       int
	// Holder names this process in leases; it must differ between replicas.
	Holder string
	// After returns a channel that receives once d has passed; time.After when nil.
	// Tests replace it to run the schedule without waiting.
	After func(d time.Duration) <-chan time.Time
	// OnPass, when set, is called after every poll or reconcile attempt.
	OnPass func(Pass)
}

// Pass is one attempt of a Loop at a poll or a reconcile.
type Pass struct {
	Kind clerksync.RunKind // RunPoll or RunReconcile
	// Skipped reports that another holder had the lease, so nothing was done.
	Skipped   bool
	Poll      *PollReport     // for a poll that ran
	Reconcile *BackfillReport // for a reconcile that ran
	Err       error
}

// Run runs the schedule until ctx ends, then gives up its leases and returns nil.
// It returns an error at once when the Syncer cannot pull (no client, no State).
func (l *Loop) Run(ctx context.Context) error {
	s := l.Syncer
	if err := s.checkAPI(); err != nil {
		return err
	}
	if s.State == nil {
		return &clerksync.Error{Code: clerksync.ECONFIG, Message: "polling and reconciling need a store that keeps runs, checkpoints and leases"}
	}
	if l.Holder == "" {
		return clerksync.Errorf(clerksync.EINVALID, "a loop needs a lease holder name")
	}
	var wg sync.WaitGroup
	if l.PollEvery > 0 {
		wg.Go(func() { l.pollLoop(ctx) })
	}
	if l.ReconcileEvery > 0 {
		wg.Go(func() { l.reconcileLoop(ctx) })
	}
	wg.Wait()
	return nil
}

func (l *Loop) after(d time.Duration) <-chan time.Time {
	if l.After != nil {
		return l.After(d)
	}
	return time.After(d)
}

func (l *Loop) report(p Pass) {
	if l.OnPass != nil {
		l.OnPass(p)
	}
}

// wait waits d or until ctx ends, reporting whether d passed.
func (l *Loop) wait(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-l.after(d):
		return true
	}
}

func (l *Loop) pollLoop(ctx context.Context) {
	s := l.Syncer
	log := s.logger().With(attrKind, string(clerksync.RunPoll))
	ttl := max(3*l.PollEvery, minPollLease)
	defer l.release(LeasePoll, log)
	for {
		p := l.leased(ctx, clerksync.RunPoll, LeasePoll, ttl, func(p *Pass) {
			opts := l.Poll
			opts.Progress = l.renewing(ctx, LeasePoll, ttl, opts.Progress, log)
			p.Poll, p.Err = s.Poll(ctx, opts)
		})
		if ctx.Err() != nil {
			return
		}
		switch {
		case p.Err != nil:
			log.Warn("poll failed; the next poll tries again", attrError, p.Err)
		case p.Poll != nil && (p.Poll.Counts.Changed() > 0 || p.Poll.First):
			c := p.Poll.Counts
			log.Info("poll applied changes from Clerk", "created", c.Created, "updated", c.Updated, "seen", c.Seen, "first", p.Poll.First)
		}
		l.report(p)
		if !l.wait(ctx, l.PollEvery) {
			return
		}
	}
}

// leased runs one pass of kind if this process takes (or holds) the lease: a pass
// that could not take it is Skipped, one whose lease could not be read has Err.
func (l *Loop) leased(ctx context.Context, kind clerksync.RunKind, lease string, ttl time.Duration, run func(*Pass)) Pass {
	p := Pass{Kind: kind}
	ok, err := l.Syncer.State.AcquireLease(ctx, lease, l.Holder, ttl)
	switch {
	case err != nil:
		p.Err = err
	case !ok:
		p.Skipped = true
	default:
		run(&p)
	}
	return p
}

func (l *Loop) reconcileLoop(ctx context.Context) {
	s := l.Syncer
	log := s.logger().With(attrKind, string(clerksync.RunReconcile))
	retry := min(l.ReconcileEvery, maxRetryWait)
	var notBefore time.Time
	for {
		due, err := l.reconcileDue(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("could not read when the last reconcile ran", attrError, err)
			due = s.now()
		}
		if due.Before(notBefore) {
			due = notBefore
		}
		if d := due.Sub(s.now()); d > 0 {
			if !l.wait(ctx, d) {
				return
			}
			continue // another replica may have reconciled meanwhile
		}

		p := l.leased(ctx, clerksync.RunReconcile, LeaseReconcile, reconcileLease, func(p *Pass) {
			log.Info("reconcile: reading every user and organization from Clerk", "prune", l.ReconcilePrune)
			p.Reconcile, p.Err = s.Backfill(ctx, BackfillOptions{
				Kind:     clerksync.RunReconcile,
				Prune:    l.ReconcilePrune,
				PruneMax: l.PruneMax,
				Progress: l.renewing(ctx, LeaseReconcile, reconcileLease, nil, log),
			})
			l.release(LeaseReconcile, log)
		})
		if ctx.Err() != nil {
			return
		}
		switch {
		case p.Err != nil:
			log.Warn("reconcile failed; trying again later", "retry_in", retry, attrError, p.Err)
			notBefore = s.now().Add(retry)
		case p.Skipped:
			notBefore = s.now().Add(retry)
		default:
			c := p.Reconcile.Run.Counts
			log.Info("reconcile done", "seen", c.Seen, "created", c.Created, "updated", c.Updated,
				"unchanged", c.Unchanged, "stale", c.Stale, "pruned", pruned(p.Reconcile))
			notBefore = s.now().Add(l.ReconcileEvery)
		}
		l.report(p)
	}
}

func pruned(r *BackfillReport) int64 {
	if r.Prune == nil {
		return 0
	}
	return r.Prune.Counts.Deleted
}

// reconcileDue returns when the next reconcile is due: ReconcileEvery after the
// last successful backfill or reconcile, or now when there was none.
func (l *Loop) reconcileDue(ctx context.Context) (time.Time, error) {
	var last time.Time
	for _, kind := range []clerksync.RunKind{clerksync.RunReconcile, clerksync.RunBackfill} {
		runs, err := l.Syncer.State.Runs(ctx, clerksync.RunFilter{Kind: kind, Status: clerksync.RunSucceeded, Limit: 1})
		if err != nil {
			return time.Time{}, err
		}
		if len(runs) > 0 && runs[0].FinishedAt.After(last) {
			last = runs[0].FinishedAt
		}
	}
	if last.IsZero() {
		return l.Syncer.now(), nil
	}
	return last.Add(l.ReconcileEvery), nil
}

// renewing returns a progress function that renews the lease name while a long
// pass goes on, then calls next.
func (l *Loop) renewing(ctx context.Context, name string, ttl time.Duration, next func(Progress), log *slog.Logger) func(Progress) {
	last := l.Syncer.now()
	return func(p Progress) {
		if now := l.Syncer.now(); now.Sub(last) >= ttl/3 {
			last = now
			if ok, err := l.Syncer.State.AcquireLease(ctx, name, l.Holder, ttl); err != nil || !ok {
				log.Warn("could not renew the lease; another replica may start the same work (harmless, only wasted)", "lease", name, attrError, err)
			}
		}
		if next != nil {
			next(p)
		}
	}
}

// release gives up the lease name, even though the loop's context has ended.
func (l *Loop) release(name string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Syncer.State.ReleaseLease(ctx, name, l.Holder); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("could not release the lease", "lease", name, attrError, err)
	}
}
