package pull

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

const (
	// idPage is how many local ids prune reads at a time.
	idPage = 1000
	// deleteBatch is how many confirmed deletions prune applies per transaction.
	deleteBatch = 100
)

// prune deletes, after complete listings, what Clerk no longer has: every local user
// created before scanStart that the listing did not have (seen) and that Clerk
// answers 404 resource_not_found for; then organizations likewise (see
// pruneOrganizations); then the memberships that the complete listings of live
// organizations lacked (scan). Each kind has its own limit (PruneMax). It records one
// run of kind prune, whose counts are the totals of every kind, and fills rep.
func (s *Syncer) prune(ctx context.Context, opts BackfillOptions, rep *BackfillReport, kinds kindSet, seen map[string]struct{}, scan *orgScan, scanStart time.Time, log *slog.Logger) error {
	if s.State == nil {
		return &clerksync.Error{Code: clerksync.ECONFIG, Message: "prune needs a store that lists profile ids"}
	}
	run, err := s.startRun(ctx, clerksync.RunPrune, opts.DryRun)
	if err != nil {
		return err
	}
	rep.Prune = run
	log = log.With(attrRun, run.ID, attrKind, string(clerksync.RunPrune))
	err = s.pruneKinds(ctx, opts, rep, kinds, seen, scan, scanStart, log)
	s.finishRun(run, err, opts.DryRun, log)
	return err
}

func (s *Syncer) pruneKinds(ctx context.Context, opts BackfillOptions, rep *BackfillReport, kinds kindSet, seen map[string]struct{}, scan *orgScan, scanStart time.Time, log *slog.Logger) error {
	if seen != nil {
		err := s.pruneRun(ctx, opts, rep, seen, scanStart, log)
		ur := rep.kind(clerksync.KindUser)
		ur.Prune, ur.PruneCandidates, ur.Gone = rep.Prune.Counts, rep.PruneCandidates, rep.Gone
		if err != nil {
			return err
		}
	}
	if scan == nil {
		return nil
	}
	if kinds[clerksync.KindOrganization] {
		if err := s.pruneOrganizations(ctx, opts, rep, kinds, scan, scanStart, log); err != nil {
			return err
		}
	}
	if kinds[clerksync.KindMembership] {
		return s.pruneMemberships(ctx, opts, rep, scan, log)
	}
	return nil
}

func (s *Syncer) pruneRun(ctx context.Context, opts BackfillOptions, rep *BackfillReport, seen map[string]struct{}, scanStart time.Time, log *slog.Logger) error {
	// Only users created before the scan began: a later one may be missing from the
	// listing only because it came after the cursor had passed.
	var candidates []string
	local := 0
	after := ""
	for {
		ids, err := s.State.ProfileIDs(ctx, after, scanStart.UnixMilli(), idPage)
		if err != nil {
			return fmt.Errorf("list local users: %w", err)
		}
		for _, id := range ids {
			if _, ok := seen[id]; !ok {
				candidates = append(candidates, id)
			}
		}
		local += len(ids)
		if len(ids) < idPage {
			break
		}
		after = ids[len(ids)-1]
	}
	rep.PruneCandidates = len(candidates)

	if err := checkPruneLimit(opts.PruneMax, len(candidates), local, "users", "check", "Clerk did not list"); err != nil {
		return err
	}
	log.Info("checking local users Clerk did not list", "candidates", len(candidates), "local", local)

	c := &rep.Prune.Counts
	var gone []clerksync.Change
	flush := func() error {
		if len(gone) == 0 || opts.DryRun {
			gone = gone[:0]
			return nil
		}
		results, err := s.Engine.ApplyWait(context.WithoutCancel(ctx), gone...)
		if err != nil {
			return fmt.Errorf("delete %d users: %w", len(gone), err)
		}
		for i, r := range results {
			tally(&gone[i], r, c, log)
		}
		gone = gone[:0]
		return nil
	}
	report := func(done bool) {
		if opts.Progress != nil {
			opts.Progress(Progress{Phase: PhasePrune, Kind: clerksync.KindUser, Total: len(candidates), Counts: *c, Pages: int(c.Seen), Done: done})
		}
	}
	for _, id := range candidates {
		if err := ctx.Err(); err != nil {
			return flushThen(flush, err)
		}
		raw, err := s.Client.GetUser(ctx, id)
		c.Seen++
		switch {
		case clerksync.ErrorCode(err) == clerksync.ENOTFOUND:
			// Only a 404 resource_not_found from Clerk for this very id deletes.
			rep.Gone = append(rep.Gone, id)
			gone = append(gone, clerksync.Delete(clerksync.UserKey(id), clerksync.SourceBackfill))
			if opts.DryRun {
				c.Deleted++
			}
		case err != nil:
			return flushThen(flush, fmt.Errorf("check user %s with Clerk: %w", id, err))
		default:
			// Clerk still has the user, though the listing did not show it: apply
			// what Clerk answered.
			p, err := clerkdecode.DecodeUser(raw, s.Decode)
			if err != nil || p.UserID != id {
				c.Invalid++
				log.Warn("skipped a user Clerk answered in a shape clerksync cannot decode", attrUserID, id, attrError, err)
				break
			}
			if opts.DryRun {
				if err := s.compare(ctx, []*clerksync.Profile{p}, c); err != nil {
					return flushThen(flush, err)
				}
				break
			}
			if err := s.applyUsers(context.WithoutCancel(ctx), []*clerksync.Profile{p}, clerksync.SourceAPI, c, log); err != nil {
				return flushThen(flush, err)
			}
		}
		if len(gone) >= deleteBatch {
			if err := flush(); err != nil {
				return err
			}
		}
		report(false)
	}
	if err := flush(); err != nil {
		return err
	}
	report(true)
	return nil
}

// checkPruneLimit returns the error for a prune that would act on candidates of the
// local objects (noun, such as "users") when that is more than max allows (see
// BackfillOptions.PruneMax), nil otherwise.
func checkPruneLimit(maxCount, candidates, local int, noun, verb, why string) error {
	limit := maxCount
	if limit == 0 {
		limit = max(DefaultPruneFloor, local*DefaultPruneShare/100)
	}
	if limit < 0 || candidates <= limit {
		return nil
	}
	return &clerksync.Error{
		Code: clerksync.ECONFIG,
		Message: fmt.Sprintf("prune would %s %d of the %d local %s, which %s; more than the %d allowed, so nothing was deleted",
			verb, candidates, local, noun, why, limit),
		Hint: "check that CLERK_SECRET_KEY is the secret key of this database's Clerk instance; if so many " + noun +
			" really were deleted, allow it with --prune-max",
		Err: ErrPruneRefused,
	}
}

// flushThen applies the deletions Clerk already confirmed, then returns err (or the
// flush's own error).
func flushThen(flush func() error, err error) error {
	if ferr := flush(); ferr != nil {
		return fmt.Errorf("%w (and %w)", err, ferr)
	}
	return err
}
