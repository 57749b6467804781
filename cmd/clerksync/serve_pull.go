package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/pull"
)

// Shortest intervals serve accepts: a poll costs at least one request of a limit of
// 100 per 10 seconds on development instances, a reconcile one per 500 users.
const (
	minPollEvery      = time.Second
	minReconcileEvery = time.Minute
)

// pullSettings are serve's pulls from the Clerk Backend API: a poll of the users
// changed since the last one (so that an application stays in sync with no public
// URL at all) and a periodic reconcile (a full pass, with prune if asked) that
// repairs whatever webhooks missed.
type pullSettings struct {
	clerk          clerkSettings
	pollSetting    string
	reconcileSet   string
	pollEvery      time.Duration
	reconcileEvery time.Duration
	reconcilePrune bool
	pruneMax       int

	// after replaces time.After and onPass observes every pass (tests).
	after  func(time.Duration) <-chan time.Time
	onPass func(pull.Pass)

	cancel context.CancelFunc
	done   chan struct{}
}

// register adds the flags to fs with defaults from the environment.
func (p *pullSettings) register(fs *flag.FlagSet, getenv func(string) string) {
	p.clerk.read(getenv)
	fs.StringVar(&p.pollSetting, "poll-every", envOr(getenv, "CLERKSYNC_POLL_EVERY", "0"),
		"poll the Clerk Backend API for changed users this often, such as 30s (needs CLERK_SECRET_KEY; 0: off). "+
			"With no webhook secret, serve runs on polls alone: no public URL needed. Polls cannot see deletions "+
			"(env CLERKSYNC_POLL_EVERY)")
	fs.StringVar(&p.reconcileSet, "reconcile-every", envOr(getenv, "CLERKSYNC_RECONCILE_EVERY", "0"),
		"read every user, organization, membership, invitation, role and permission from the Clerk Backend API this often, such as 6h, to repair what webhooks missed (needs CLERK_SECRET_KEY; 0: off) (env CLERKSYNC_RECONCILE_EVERY)")
	fs.BoolVar(&p.reconcilePrune, "reconcile-prune", envBool(getenv, "CLERKSYNC_RECONCILE_PRUNE"),
		"after each reconcile, delete local users and organizations Clerk answers 404 for, and memberships their organization's listing lacks (env CLERKSYNC_RECONCILE_PRUNE=1)")
	fs.IntVar(&p.pruneMax, "prune-max", 0, fmt.Sprintf("most objects of each kind a reconcile's prune may delete (0: %d%% of the local ones, at least %d; -1: no limit)",
		pull.DefaultPruneShare, pull.DefaultPruneFloor))
	fs.IntVar(&p.clerk.rateLimit, "clerk-rate-limit", 0, rateLimitUsage)
}

// validate parses and checks the settings; its errors name the setting and the fix.
func (p *pullSettings) validate() error {
	var err error
	if p.pollEvery, err = parseInterval(p.pollSetting); err != nil {
		return usagef("--poll-every %q (env CLERKSYNC_POLL_EVERY) is not a duration: use such as 30s or 1m, or 0 for off", p.pollSetting)
	}
	if p.reconcileEvery, err = parseInterval(p.reconcileSet); err != nil {
		return usagef("--reconcile-every %q (env CLERKSYNC_RECONCILE_EVERY) is not a duration: use such as 6h, or 0 for off", p.reconcileSet)
	}
	if p.pollEvery > 0 && p.pollEvery < minPollEvery {
		return usagef("--poll-every %s is too often: use at least %s (each poll is a request, and development keys allow 100 per 10 s)", p.pollEvery, minPollEvery)
	}
	if p.reconcileEvery > 0 && p.reconcileEvery < minReconcileEvery {
		return usagef("--reconcile-every %s is too often: a reconcile reads every user and organization; use at least %s, such as 6h", p.reconcileEvery, minReconcileEvery)
	}
	if p.reconcilePrune && p.reconcileEvery == 0 {
		return usagef("--reconcile-prune needs --reconcile-every (env CLERKSYNC_RECONCILE_EVERY), such as 6h")
	}
	if p.pruneMax < -1 {
		return usagef("--prune-max %d: use a number of users, 0 for the default or -1 for no limit", p.pruneMax)
	}
	if (p.pollEvery > 0 || p.reconcileEvery > 0) && p.clerk.secretKey == "" {
		return usagef("--poll-every and --reconcile-every read your users from the Clerk Backend API, but CLERK_SECRET_KEY is not set: " +
			"copy the Secret Key (sk_test_… or sk_live_…) from the Clerk Dashboard → API keys")
	}
	return nil
}

// parseInterval reads a duration, with "" and "0" meaning off.
func parseInterval(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad interval %q", s)
	}
	return d, nil
}

// polling reports whether serve polls Clerk, which lets it run without webhooks.
func (p *pullSettings) polling() bool { return p.pollEvery > 0 }

// start starts polling and reconciling, if asked for, until stop is called. now is
// the clock of the schedule.
// client is serve's Clerk Backend API client, shared by polls, reconciles and the sync
// button so that one rate limiter covers them all.
func (p *pullSettings) start(ctx context.Context, logger *slog.Logger, store clerksync.Store, eng pull.Applier, decode clerkdecode.Options,
	client *clerkapi.Client, now func() time.Time) error {
	if p.pollEvery == 0 && p.reconcileEvery == 0 {
		return nil
	}
	state, ok := store.(clerksync.SyncStore)
	if !ok {
		return fmt.Errorf("polling and reconciling need a store that records runs and checkpoints")
	}
	if client == nil {
		return fmt.Errorf("polling and reconciling need CLERK_SECRET_KEY")
	}
	loop := &pull.Loop{
		Syncer:         &pull.Syncer{Client: client, Engine: eng, Store: store, State: state, Decode: decode, Logger: logger, Now: now},
		PollEvery:      p.pollEvery,
		ReconcileEvery: p.reconcileEvery,
		ReconcilePrune: p.reconcilePrune,
		PruneMax:       p.pruneMax,
		Holder:         leaseHolder(),
		After:          p.after,
		OnPass:         p.onPass,
	}
	if p.pollEvery > 0 {
		logger.Info("polling the Clerk Backend API for changed users", "every", p.pollEvery,
			"note", "polls cannot see deleted users: webhooks or a reconcile with --reconcile-prune delete them")
	}
	if p.reconcileEvery > 0 {
		logger.Info("reconciling with the Clerk Backend API", "every", p.reconcileEvery, "prune", p.reconcilePrune)
	}
	ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		if err := loop.Run(ctx); err != nil {
			logger.Error("polling and reconciling stopped", "error", err)
		}
	}()
	return nil
}

// stop stops polling and reconciling, waiting for a pass under way to commit what
// it read and give up its lease.
func (p *pullSettings) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	p.cancel = nil
}

// leaseHolder names this process in leases: host, process id and a random part, so
// that two replicas never share a name.
func leaseHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}
