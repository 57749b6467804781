package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
)

// DefaultOrgWorkers is how many organizations a backfill lists the memberships and
// invitations of at once: each organization is a request or two, and several in
// flight let the network, the decoding and the database overlap.
const DefaultOrgWorkers = 4

// orgScan is what a listing of organizations learnt for the prune that follows it.
type orgScan struct {
	mu sync.Mutex
	// orgs are the organizations Clerk listed.
	orgs map[string]struct{}
	// members are the memberships the complete listings of live organizations
	// lacked: Clerk no longer has them. localMembers counts the local memberships
	// those listings were compared with.
	members      []string
	localMembers int
}

// lister reads one page of one of Clerk's offset-paged lists.
type lister func(ctx context.Context, p clerkapi.PageParams) (*clerkapi.Page, error)

// listPages reads every page of a list, oldest first, and hands each to page; it
// returns Clerk's total_count of the first page. Clerk's lists of organizations and
// of what belongs to them page by offset only: ordered by created_at ascending, an
// object created during the listing lands at the end (it is listed, or was created
// after the listing began); an object deleted during it shifts the later ones back
// by one, so one of them may be missed until the next backfill or reconcile, and a
// prune never deletes on a listing's absence alone for organizations (see prune).
func listPages(ctx context.Context, list lister, size int, page func(raws []json.RawMessage) error) (int, error) {
	total := -1
	for offset := 0; ; {
		p, err := list(ctx, clerkapi.PageParams{Limit: size, Offset: offset, OrderBy: "+created_at"})
		if err != nil {
			return total, err
		}
		if total < 0 {
			total = p.TotalCount
		}
		if len(p.Data) > 0 {
			if err := page(p.Data); err != nil {
				return total, err
			}
		}
		if len(p.Data) < size {
			return total, nil
		}
		offset += len(p.Data)
	}
}

// listUserPages reads every page of the memberships of a user, which Clerk cannot
// order, and hands each to page.
func listUserPages(ctx context.Context, list lister, size int, page func(raws []json.RawMessage) error) error {
	for offset := 0; ; {
		p, err := list(ctx, clerkapi.PageParams{Limit: size, Offset: offset})
		if err != nil {
			return err
		}
		if len(p.Data) > 0 {
			if err := page(p.Data); err != nil {
				return err
			}
		}
		if len(p.Data) < size {
			return nil
		}
		offset += len(p.Data)
	}
}

// reporter adds what a backfill did to its report and says so through Progress.
// Organizations' children are listed concurrently: everything goes through its lock.
type reporter struct {
	mu   sync.Mutex
	rep  *BackfillReport
	opts *BackfillOptions
	// save records the run's counts every so often.
	save func()
}

// add adds c to kind k's counts and the run's totals, and reports progress.
func (r *reporter) add(k clerksync.Kind, c clerksync.RunCounts, done bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kr := r.rep.kind(k)
	kr.Counts.Add(c)
	r.rep.Run.Counts.Add(c)
	if c.Seen > 0 {
		kr.Pages++
	}
	if kr.Counts.Seen > 0 {
		// An empty list (no roles, no organizations) has no progress to show.
		r.progress(k, done)
	}
	if r.save != nil {
		r.save()
	}
}

// progress reports where the listing of kind k is. The caller holds mu.
func (r *reporter) progress(k clerksync.Kind, done bool) {
	if r.opts.Progress == nil {
		return
	}
	// Memberships and invitations are listed per organization: the bar follows the
	// organizations, with the children counted beside them.
	bar := k
	if k == clerksync.KindMembership || k == clerksync.KindInvitation {
		bar = clerksync.KindOrganization
		done = false
	}
	br := r.rep.kind(bar)
	all := make(map[clerksync.Kind]clerksync.RunCounts, len(r.rep.Kinds))
	for kk, v := range r.rep.Kinds {
		all[kk] = v.Counts
	}
	r.opts.Progress(Progress{Phase: PhaseList, Kind: bar, Total: br.Total, Counts: br.Counts, Kinds: all, Pages: br.Pages, Done: done})
}

// applyObjects applies objects as one batch with source (or previews it for a dry
// run) and returns the outcomes counted.
func (s *Syncer) applyObjects(ctx context.Context, objects []clerksync.Object, source clerksync.Source, dryRun bool, log *slog.Logger) (clerksync.RunCounts, error) {
	var c clerksync.RunCounts
	if len(objects) == 0 {
		return c, nil
	}
	changes := make([]clerksync.Change, len(objects))
	for i, o := range objects {
		changes[i] = clerksync.Upsert(o, source)
	}
	var results []clerksync.Result
	var err error
	if dryRun {
		results, err = s.Store.Preview(ctx, changes)
	} else {
		results, err = s.Engine.ApplyWait(ctx, changes...)
	}
	if err != nil {
		return c, fmt.Errorf("apply %d %ss: %w", len(changes), changes[0].Kind, err)
	}
	for i, r := range results {
		tally(&changes[i], r, &c, log)
	}
	return c, nil
}

// listKind reads every page of a list of objects of kind k and applies each page as
// one batch.
func (s *Syncer) listKind(ctx context.Context, k clerksync.Kind, list lister, opts *BackfillOptions, r *reporter, log *slog.Logger) error {
	applyCtx := context.WithoutCancel(ctx)
	total, err := listPages(ctx, list, opts.PageSize, func(raws []json.RawMessage) error {
		d := s.decodeObjects(k, raws, log)
		c, err := s.applyObjects(applyCtx, d.objects, clerksync.SourceBackfill, opts.DryRun, log)
		c.Seen, c.Invalid = int64(len(raws)), c.Invalid+int64(d.invalid)
		r.add(k, c, false)
		return err
	})
	r.mu.Lock()
	r.rep.kind(k).Total = total
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("list %ss: %w", k, err)
	}
	r.add(k, clerksync.RunCounts{}, true)
	return nil
}

// listOrganizations reads every organization, page by page, and applies each page
// as one batch; then, for every organization of the page, its memberships and its
// invitations, each page one batch, several organizations at a time.
func (s *Syncer) listOrganizations(ctx context.Context, kinds kindSet, opts *BackfillOptions, r *reporter, scan *orgScan, log *slog.Logger) error {
	applyCtx := context.WithoutCancel(ctx)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, opts.OrgWorkers))
	total, err := listPages(gctx, s.Client.ListOrganizations, opts.PageSize, func(raws []json.RawMessage) error {
		d := s.decodeObjects(clerksync.KindOrganization, raws, log)
		if scan != nil {
			scan.mu.Lock()
			for _, id := range d.ids {
				scan.orgs[id] = struct{}{}
			}
			scan.mu.Unlock()
		}
		if kinds[clerksync.KindOrganization] {
			c, err := s.applyObjects(applyCtx, d.objects, clerksync.SourceBackfill, opts.DryRun, log)
			c.Seen, c.Invalid = int64(len(raws)), c.Invalid+int64(d.invalid)
			r.add(clerksync.KindOrganization, c, false)
			if err != nil {
				return err
			}
		}
		for _, o := range d.objects {
			id := o.ObjectKey().ID
			g.Go(func() error {
				return s.orgChildren(gctx, id, kinds, opts, clerksync.SourceBackfill, r, scan, log)
			})
		}
		return gctx.Err()
	})
	r.mu.Lock()
	r.rep.kind(clerksync.KindOrganization).Total = total
	r.mu.Unlock()
	// A child's failure cancels gctx, which the listing then reports: the child's
	// error is the one that says what went wrong.
	if werr := g.Wait(); werr != nil {
		err = werr
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("list organizations: %w", err)
	}
	r.add(clerksync.KindOrganization, clerksync.RunCounts{}, true)
	return nil
}

// children is what listing one organization's memberships found.
type children struct {
	// gone reports that Clerk no longer has the organization (404).
	gone bool
	// listed are the memberships Clerk listed; stale the local memberships created
	// before the listing began that it lacked, and local how many local memberships
	// it was compared with (both only when complete).
	listed   map[string]struct{}
	stale    []string
	local    int
	complete bool
}

// orgChildren lists the memberships and invitations of the organization orgID (as
// kinds asks), applies each page as one batch, and with scan collects the local
// memberships the complete listing lacked.
func (s *Syncer) orgChildren(ctx context.Context, orgID string, kinds kindSet, opts *BackfillOptions, source clerksync.Source, r *reporter, scan *orgScan, log *slog.Logger) error {
	if kinds[clerksync.KindMembership] {
		ch, err := s.orgMembers(ctx, orgID, opts, source, r, scan != nil, log)
		if err != nil {
			return err
		}
		if scan != nil && ch.complete {
			scan.mu.Lock()
			scan.members = append(scan.members, ch.stale...)
			scan.localMembers += ch.local
			scan.mu.Unlock()
		}
		if ch.gone {
			return nil
		}
	}
	if kinds[clerksync.KindInvitation] {
		applyCtx := context.WithoutCancel(ctx)
		list := func(ctx context.Context, p clerkapi.PageParams) (*clerkapi.Page, error) {
			return s.Client.ListOrganizationInvitations(ctx, orgID, p)
		}
		_, err := listPages(ctx, list, opts.PageSize, func(raws []json.RawMessage) error {
			d := s.decodeObjects(clerksync.KindInvitation, raws, log)
			c, err := s.applyObjects(applyCtx, d.objects, source, opts.DryRun, log)
			c.Seen, c.Invalid = int64(len(raws)), c.Invalid+int64(d.invalid)
			r.add(clerksync.KindInvitation, c, false)
			return err
		})
		if err != nil && clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
			return fmt.Errorf("list invitations of %s: %w", orgID, err)
		}
	}
	return nil
}

// orgMembers lists the memberships of the organization orgID and applies each page
// as one batch. With compare, a complete listing is compared with the local
// memberships of the organization created before it began.
func (s *Syncer) orgMembers(ctx context.Context, orgID string, opts *BackfillOptions, source clerksync.Source, r *reporter, compare bool, log *slog.Logger) (*children, error) {
	applyCtx := context.WithoutCancel(ctx)
	ch := &children{listed: make(map[string]struct{})}
	started := s.now()
	list := func(ctx context.Context, p clerkapi.PageParams) (*clerkapi.Page, error) {
		return s.Client.ListOrganizationMemberships(ctx, orgID, p)
	}
	_, err := listPages(ctx, list, opts.PageSize, func(raws []json.RawMessage) error {
		d := s.decodeObjects(clerksync.KindMembership, raws, log)
		for _, id := range d.ids {
			ch.listed[id] = struct{}{}
		}
		c, err := s.applyObjects(applyCtx, d.objects, source, opts.DryRun, log)
		c.Seen, c.Invalid = int64(len(raws)), c.Invalid+int64(d.invalid)
		r.add(clerksync.KindMembership, c, false)
		return err
	})
	switch {
	case clerksync.ErrorCode(err) == clerksync.ENOTFOUND:
		// Deleted since it was listed: an organization.deleted webhook, or the
		// prune's own check, deletes it.
		ch.gone = true
		return ch, nil
	case err != nil:
		return nil, fmt.Errorf("list memberships of %s: %w", orgID, err)
	}
	ch.complete = true
	if !compare {
		return ch, nil
	}
	local, err := s.localObjects(ctx, clerksync.KindMembership, clerksync.ObjectFilter{OrgID: orgID, CreatedBefore: started.UnixMilli()})
	if err != nil {
		return nil, err
	}
	ch.local = len(local)
	for _, id := range local {
		if _, ok := ch.listed[id]; !ok {
			ch.stale = append(ch.stale, id)
		}
	}
	return ch, nil
}

// localObjects returns the ids of the live local objects of kind that f selects.
func (s *Syncer) localObjects(ctx context.Context, kind clerksync.Kind, f clerksync.ObjectFilter) ([]string, error) {
	var ids []string
	f.Limit = clerksync.MaxPage
	for {
		objs, err := s.Store.Objects(ctx, kind, f)
		if err != nil {
			return nil, fmt.Errorf("list local %ss: %w", kind, err)
		}
		for _, o := range objs {
			ids = append(ids, o.ObjectKey().ID)
		}
		if len(objs) < f.Limit {
			return ids, nil
		}
		f.After = objs[len(objs)-1].ObjectKey().ID
	}
}

// backfillOrgSide imports roles, permissions, organizations, memberships and
// invitations, as kinds asks.
//
// An instance whose organizations feature is off answers every one of those lists
// 403 organization_not_enabled_in_instance: then there is nothing to import, which
// the report says (OrganizationsDisabled), and the backfill goes on.
func (s *Syncer) backfillOrgSide(ctx context.Context, kinds kindSet, opts *BackfillOptions, r *reporter, scan *orgScan, log *slog.Logger) error {
	err := s.backfillOrgLists(ctx, kinds, opts, r, scan, log)
	if errors.Is(err, clerkapi.ErrOrganizationsNotEnabled) {
		log.Info("the organizations feature is off in this Clerk instance: no organization to import")
		r.rep.OrganizationsDisabled = true
		return nil
	}
	return err
}

func (s *Syncer) backfillOrgLists(ctx context.Context, kinds kindSet, opts *BackfillOptions, r *reporter, scan *orgScan, log *slog.Logger) error {
	if kinds[clerksync.KindRole] {
		if err := s.listKind(ctx, clerksync.KindRole, s.Client.ListRoles, opts, r, log); err != nil {
			return err
		}
	}
	if kinds[clerksync.KindPermission] {
		if err := s.listKind(ctx, clerksync.KindPermission, s.Client.ListPermissions, opts, r, log); err != nil {
			return err
		}
	}
	if kinds.orgSide() {
		return s.listOrganizations(ctx, kinds, opts, r, scan, log)
	}
	return nil
}
