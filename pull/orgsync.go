package pull

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
)

// MembershipSync is what syncing the memberships of one user or one organization
// did.
type MembershipSync struct {
	// Counts count the memberships Clerk listed and what applying them did.
	Counts clerksync.RunCounts
	// Removed lists the local memberships Clerk's complete list lacked, which were
	// deleted.
	Removed []string
}

// OrgSync is what syncing one organization did.
type OrgSync struct {
	OrgID string
	// Before is the row before the sync (nil when there was none); After the row
	// after it (nil when the organization is deleted).
	Before, After *clerksync.Organization
	// Result is the engine's outcome for the organization's change.
	Result clerksync.Result
	// Gone reports that Clerk no longer has the organization (404), so it was
	// deleted locally with its memberships and invitations.
	Gone bool
	// Memberships and Invitations are what syncing its members and invitations did.
	Memberships MembershipSync
	Invitations clerksync.RunCounts
}

// scratch returns a reporter whose report is thrown away: for a sync of one object,
// whose counts are read back from it.
func scratch() *reporter {
	return &reporter{rep: &BackfillReport{Run: &clerksync.SyncRun{}}, opts: &BackfillOptions{}}
}

// SyncOrganization reads the organization orgID from the Backend API and applies it
// with source api, then its memberships and invitations: a membership of it that is
// stored but not in Clerk's complete list is deleted. When Clerk answers 404
// resource_not_found the organization is deleted locally, with what belongs to it.
// Errors are as SyncUser's.
func (s *Syncer) SyncOrganization(ctx context.Context, orgID string) (*OrgSync, error) {
	if err := s.checkAPI(); err != nil {
		return nil, err
	}
	key := clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: orgID}
	out := &OrgSync{OrgID: orgID}
	before, err := s.organization(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out.Before = before

	if out.Result, out.Gone, err = s.applyFromClerk(ctx, key, s.Client.GetOrganization); err != nil {
		return nil, err
	}
	log := s.logger().With(attrObjectID, orgID)
	if !out.Gone && out.Result.Reason != clerksync.ReasonDeleted {
		r := scratch()
		opts := &BackfillOptions{PageSize: clerkapi.MaxLimit}
		members, err := s.orgMembers(ctx, orgID, opts, clerksync.SourceAPI, r, true, log)
		if err != nil {
			return nil, err
		}
		if members.complete {
			if out.Memberships.Removed, err = s.removeMemberships(ctx, members.stale, log); err != nil {
				return nil, err
			}
		}
		if !members.gone {
			if err := s.orgChildren(ctx, orgID, kindSet{clerksync.KindInvitation: true}, opts, clerksync.SourceAPI, r, nil, log); err != nil {
				return nil, err
			}
		}
		out.Memberships.Counts = r.rep.kind(clerksync.KindMembership).Counts
		out.Invitations = r.rep.kind(clerksync.KindInvitation).Counts
	}
	if out.After, err = s.organization(ctx, orgID); err != nil {
		return nil, err
	}
	log.Info("synced organization from the Clerk API", "outcome", out.Result.Outcome.String(), "action", out.Result.Action.String(),
		"gone", out.Gone, "memberships", out.Memberships.Counts.Seen, "removed", len(out.Memberships.Removed))
	return out, nil
}

// organization returns the stored organization id, nil when there is none.
func (s *Syncer) organization(ctx context.Context, id string) (*clerksync.Organization, error) {
	o, err := s.Store.Object(ctx, clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: id})
	switch {
	case clerksync.ErrorCode(err) == clerksync.ENOTFOUND:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read organization %s: %w", id, err)
	}
	org, _ := o.(*clerksync.Organization)
	return org, nil
}

// syncUserMemberships reads every membership of the user userID and applies them with
// source api; a local membership of the user created before the listing began that
// Clerk's complete list lacks is deleted.
func (s *Syncer) syncUserMemberships(ctx context.Context, userID string, log *slog.Logger) (*MembershipSync, error) {
	out := &MembershipSync{}
	started := s.now()
	listed := make(map[string]struct{})
	list := func(ctx context.Context, p clerkapi.PageParams) (*clerkapi.Page, error) {
		return s.Client.ListUserMemberships(ctx, userID, p)
	}
	applyCtx := context.WithoutCancel(ctx)
	err := listUserPages(ctx, list, clerkapi.MaxLimit, func(raws []json.RawMessage) error {
		d := s.decodeObjects(clerksync.KindMembership, raws, log)
		for _, id := range d.ids {
			listed[id] = struct{}{}
		}
		c, err := s.applyObjects(applyCtx, d.objects, clerksync.SourceAPI, false, log)
		c.Seen, c.Invalid = int64(len(raws)), c.Invalid+int64(d.invalid)
		out.Counts.Add(c)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list memberships of %s: %w", userID, err)
	}
	local, err := s.localObjects(ctx, clerksync.KindMembership, clerksync.ObjectFilter{UserID: userID, CreatedBefore: started.UnixMilli()})
	if err != nil {
		return nil, err
	}
	var stale []string
	for _, id := range local {
		if _, ok := listed[id]; !ok {
			stale = append(stale, id)
		}
	}
	if out.Removed, err = s.removeMemberships(ctx, stale, log); err != nil {
		return nil, err
	}
	return out, nil
}

// removeMemberships deletes the memberships ids with source api and returns those it
// deleted.
func (s *Syncer) removeMemberships(ctx context.Context, ids []string, log *slog.Logger) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	changes := make([]clerksync.Change, len(ids))
	for i, id := range ids {
		changes[i] = clerksync.Delete(clerksync.ObjectKey{Kind: clerksync.KindMembership, ID: id}, clerksync.SourceAPI)
	}
	results, err := s.Engine.ApplyWait(context.WithoutCancel(ctx), changes...)
	if err != nil {
		return nil, fmt.Errorf("delete %d memberships Clerk no longer lists: %w", len(ids), err)
	}
	var removed []string
	for i, r := range results {
		if r.Outcome == clerksync.OutcomeApplied && r.Action == clerksync.ActionDeleted {
			removed = append(removed, ids[i])
		}
	}
	if len(removed) > 0 {
		log.Info("deleted memberships Clerk no longer lists", "memberships", len(removed))
	}
	return removed, nil
}
