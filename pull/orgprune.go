package pull

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/clerksync/clerksync"
)

// pruneOrganizations checks every local organization created before scanStart that
// the complete listing did not have, and deletes it (with its memberships and
// invitations, as the rules say) only when Clerk answers 404 resource_not_found for
// it: an offset listing can skip an organization when another is deleted during it,
// so absence from the listing alone proves nothing. An organization Clerk still has
// is applied, with its memberships and invitations.
func (s *Syncer) pruneOrganizations(ctx context.Context, opts BackfillOptions, rep *BackfillReport, kinds kindSet, scan *orgScan, scanStart time.Time, log *slog.Logger) error {
	local, err := s.localObjects(ctx, clerksync.KindOrganization, clerksync.ObjectFilter{CreatedBefore: scanStart.UnixMilli()})
	if err != nil {
		return err
	}
	var candidates []string
	for _, id := range local {
		if _, ok := scan.orgs[id]; !ok {
			candidates = append(candidates, id)
		}
	}
	kr := rep.kind(clerksync.KindOrganization)
	kr.PruneCandidates = len(candidates)
	if err := checkPruneLimit(opts.PruneMax, len(candidates), len(local), "organizations", "check", "Clerk did not list"); err != nil {
		return err
	}
	if len(candidates) > 0 {
		log.Info("checking local organizations Clerk did not list", "candidates", len(candidates), "local", len(local))
	}
	applyCtx := context.WithoutCancel(ctx)
	// What belongs to an organization the listing skipped is counted with the
	// listing's kinds, not in the listing's run, which is recorded already.
	r := scratch()
	r.opts = &BackfillOptions{PageSize: opts.PageSize, DryRun: opts.DryRun}
	defer func() {
		for k, kr := range r.rep.Kinds {
			rep.kind(k).Counts.Add(kr.Counts)
		}
	}()
	var gone []clerksync.Change
	c := &kr.Prune
	flush := func() error {
		if len(gone) == 0 || opts.DryRun {
			gone = gone[:0]
			return nil
		}
		var counts clerksync.RunCounts
		results, err := s.Engine.ApplyWait(applyCtx, gone...)
		if err != nil {
			return fmt.Errorf("delete %d organizations: %w", len(gone), err)
		}
		for i, res := range results {
			tally(&gone[i], res, &counts, log)
		}
		c.Add(counts)
		rep.Prune.Counts.Add(counts)
		gone = gone[:0]
		return nil
	}
	for i, id := range candidates {
		if err := ctx.Err(); err != nil {
			return flushThen(flush, err)
		}
		raw, err := s.Client.GetOrganization(ctx, id)
		c.Seen++
		rep.Prune.Counts.Seen++
		switch {
		case clerksync.ErrorCode(err) == clerksync.ENOTFOUND:
			kr.Gone = append(kr.Gone, id)
			gone = append(gone, clerksync.Delete(clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: id}, clerksync.SourceBackfill))
			if opts.DryRun {
				c.Deleted++
				rep.Prune.Counts.Deleted++
			}
		case err != nil:
			return flushThen(flush, fmt.Errorf("check organization %s with Clerk: %w", id, err))
		default:
			// Clerk still has it: the listing skipped it. Apply what Clerk says of it
			// and of what belongs to it.
			o, err := s.decodeObject(clerksync.KindOrganization, raw)
			if err != nil || o.ObjectKey().ID != id {
				c.Invalid++
				log.Warn("skipped an organization Clerk answered in a shape clerksync cannot decode", attrObjectID, id, attrError, err)
				break
			}
			counts, err := s.applyObjects(applyCtx, []clerksync.Object{o}, clerksync.SourceAPI, opts.DryRun, log)
			c.Add(counts)
			rep.Prune.Counts.Add(counts)
			if err != nil {
				return flushThen(flush, err)
			}
			if err := s.orgChildren(ctx, id, kinds, &opts, clerksync.SourceAPI, r, scan, log); err != nil {
				return flushThen(flush, err)
			}
		}
		if len(gone) >= deleteBatch {
			if err := flush(); err != nil {
				return err
			}
		}
		if opts.Progress != nil {
			opts.Progress(Progress{Phase: PhasePrune, Kind: clerksync.KindOrganization, Total: len(candidates), Counts: *c, Pages: i + 1})
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if opts.Progress != nil && len(candidates) > 0 {
		opts.Progress(Progress{Phase: PhasePrune, Kind: clerksync.KindOrganization, Total: len(candidates), Counts: *c, Pages: len(candidates), Done: true})
	}
	return nil
}

// pruneMemberships deletes the local memberships that the complete listing of their
// live organization lacked (collected by the listing): Clerk lists every membership of
// an organization it has, so one it does not list is gone. A membership created
// after its organization's listing began is never among them.
func (s *Syncer) pruneMemberships(ctx context.Context, opts BackfillOptions, rep *BackfillReport, scan *orgScan, log *slog.Logger) error {
	kr := rep.kind(clerksync.KindMembership)
	kr.PruneCandidates = len(scan.members)
	if err := checkPruneLimit(opts.PruneMax, len(scan.members), scan.localMembers, "memberships", "delete",
		"the complete listings of their organizations lacked"); err != nil {
		return err
	}
	if len(scan.members) == 0 {
		return nil
	}
	log.Info("deleting memberships Clerk no longer lists", "memberships", len(scan.members), "local", scan.localMembers)
	c := &kr.Prune
	kr.Gone = append(kr.Gone, scan.members...)
	for from := 0; from < len(scan.members); from += deleteBatch {
		ids := scan.members[from:min(len(scan.members), from+deleteBatch)]
		c.Seen += int64(len(ids))
		rep.Prune.Counts.Seen += int64(len(ids))
		if opts.DryRun {
			c.Deleted += int64(len(ids))
			rep.Prune.Counts.Deleted += int64(len(ids))
			continue
		}
		changes := make([]clerksync.Change, len(ids))
		for i, id := range ids {
			changes[i] = clerksync.Delete(clerksync.ObjectKey{Kind: clerksync.KindMembership, ID: id}, clerksync.SourceBackfill)
		}
		results, err := s.Engine.ApplyWait(context.WithoutCancel(ctx), changes...)
		if err != nil {
			return fmt.Errorf("delete %d memberships: %w", len(changes), err)
		}
		var counts clerksync.RunCounts
		for i, res := range results {
			tally(&changes[i], res, &counts, log)
		}
		c.Add(counts)
		rep.Prune.Counts.Add(counts)
		if opts.Progress != nil {
			opts.Progress(Progress{Phase: PhasePrune, Kind: clerksync.KindMembership, Total: len(scan.members), Counts: *c, Pages: from/deleteBatch + 1,
				Done: from+deleteBatch >= len(scan.members)})
		}
	}
	return nil
}
