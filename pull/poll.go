package pull

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
)

// Defaults of PollOptions.
const (
	// CheckpointKey is where Poll keeps the newest updated_at it has applied.
	CheckpointKey = "poll.users.updated_at"
	// DefaultOverlap is how far before the checkpoint a poll looks again. Users with
	// the checkpoint's own updated_at may become visible after a poll (equal
	// timestamps), and Clerk stamps updated_at before its write is visible, so a
	// poll re-reads this much of the past; users it already has are not written.
	DefaultOverlap = 10 * time.Second
	// DefaultFirstPage is the size of a poll's first page: most polls find nothing
	// or a few users, and a small page keeps them cheap.
	DefaultFirstPage = 50
	// pollOverlapUsers is how many users of a page the next page asks for again, so
	// that a shift of the listing between two requests is noticed.
	pollOverlapUsers = 5
	// pollBackups is how many times a poll steps back after the listing shifted
	// under it before it gives up until the next poll.
	pollBackups = 10
)

// errShifted is returned by a poll whose listing moved too much under it.
var errShifted = errors.New("the listing kept shifting (users deleted while paging); the next poll starts again")

// PollOptions tunes a Poll.
type PollOptions struct {
	// Overlap is how far before the checkpoint the poll looks again; 0 means
	// DefaultOverlap.
	Overlap time.Duration
	// FirstPage is the size of the first page; 0 means DefaultFirstPage.
	FirstPage int
	// PageSize is the size of further pages; 0 means the most Clerk answers.
	PageSize int
	// Progress, when set, is called as Backfill's is during a first poll, which reads
	// every user.
	Progress func(Progress)
}

// PollReport is what a Poll did.
type PollReport struct {
	// Run is the recorded run: nil for a poll that changed nothing and failed in
	// nothing, which is not recorded.
	Run    *clerksync.SyncRun
	Counts clerksync.RunCounts
	// First reports a first poll: with no checkpoint yet, it read every user.
	First bool
	// Checkpoint and Next are the checkpoint (updated_at, ms) before and after.
	Checkpoint, Next int64
	// Pages counts the listing requests.
	Pages int
}

// Poll applies the users changed since the checkpoint kept in State: it lists users
// by updated_at, newest first, page by page down to the checkpoint less an overlap,
// applies them with source backfill, and moves the checkpoint to the newest
// updated_at it saw. The checkpoint lives in the database, so it survives restarts
// and is shared by replicas (Loop lets one of them poll at a time).
//
// Without a checkpoint, Poll reads every user as Backfill does and starts the
// checkpoint at the newest updated_at Clerk had before that pass began.
//
// Poll cannot see deleted users: Clerk lists only users it has. Webhooks, or a
// reconcile with prune, delete them.
//
// The checkpoint moves only after every page was applied, so a poll that fails is
// repeated whole by the next one.
func (s *Syncer) Poll(ctx context.Context, opts PollOptions) (*PollReport, error) {
	if err := s.checkAPI(); err != nil {
		return nil, err
	}
	if s.State == nil {
		return nil, &clerksync.Error{Code: clerksync.ECONFIG, Message: "poll needs a store that keeps checkpoints"}
	}
	if opts.Overlap <= 0 {
		opts.Overlap = DefaultOverlap
	}
	if opts.FirstPage <= 0 || opts.FirstPage > clerkapi.MaxLimit {
		opts.FirstPage = DefaultFirstPage
	}
	if opts.PageSize <= 0 || opts.PageSize > clerkapi.MaxLimit {
		opts.PageSize = clerkapi.MaxLimit
	}
	v, err := s.State.Checkpoint(ctx, CheckpointKey)
	switch {
	case clerksync.ErrorCode(err) == clerksync.ENOTFOUND:
		return s.firstPoll(ctx, opts)
	case err != nil:
		return nil, fmt.Errorf("read the poll checkpoint: %w", err)
	}
	cp, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, &clerksync.Error{Code: clerksync.EINTERNAL, Message: fmt.Sprintf("the poll checkpoint %q is not a number", v), Err: err}
	}
	rep := &PollReport{Checkpoint: cp, Next: cp}
	err = s.pollSince(ctx, opts, rep)
	if rep.Run != nil {
		rep.Run.Counts = rep.Counts
		s.finishRun(rep.Run, err, false, s.logger().With(attrRun, rep.Run.ID, attrKind, string(clerksync.RunPoll)))
	}
	if err != nil {
		return rep, err
	}
	if rep.Next > cp {
		if err := s.State.SetCheckpoint(context.WithoutCancel(ctx), CheckpointKey, strconv.FormatInt(rep.Next, 10)); err != nil {
			return rep, fmt.Errorf("move the poll checkpoint: %w", err)
		}
	}
	return rep, nil
}

// firstPoll reads every user and starts the checkpoint.
func (s *Syncer) firstPoll(ctx context.Context, opts PollOptions) (*PollReport, error) {
	// The newest updated_at before the pass begins: whatever changes during the pass
	// is at least as new, so the next poll finds it.
	top, err := s.Client.ListUsers(ctx, clerkapi.ListParams{Limit: 1, OrderBy: "-updated_at"})
	if err != nil {
		return nil, fmt.Errorf("read the newest user: %w", err)
	}
	var start int64
	if len(top) > 0 {
		p := s.decodePage(top, s.logger())
		if len(p.profiles) == 0 {
			return nil, &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "the newest user of Clerk's listing cannot be decoded"}
		}
		start = p.profiles[0].UpdatedAt
	}
	s.logger().Info("first poll: reading every user, then only the changes")
	b, err := s.Backfill(ctx, BackfillOptions{Kind: clerksync.RunPoll, Kinds: []clerksync.Kind{clerksync.KindUser}, Progress: opts.Progress})
	rep := &PollReport{First: true}
	if b != nil {
		rep.Run, rep.Counts = b.Run, b.Run.Counts
	}
	if err != nil {
		return rep, err
	}
	rep.Next = start
	if err := s.State.SetCheckpoint(context.WithoutCancel(ctx), CheckpointKey, strconv.FormatInt(start, 10)); err != nil {
		return rep, fmt.Errorf("start the poll checkpoint: %w", err)
	}
	return rep, nil
}

// pollSince reads users newest first down to rep.Checkpoint less the overlap and
// applies them, filling rep.
func (s *Syncer) pollSince(ctx context.Context, opts PollOptions, rep *PollReport) error {
	log := s.logger().With(attrKind, string(clerksync.RunPoll))
	floor := rep.Checkpoint - opts.Overlap.Milliseconds()
	applyCtx := context.WithoutCancel(ctx)
	done := make(map[string]int64) // users handled by this poll, at their version
	last := int64(-1)              // the updated_at of the last user read
	offset, limit, backups := 0, opts.FirstPage, 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Offsets are the only way through a listing by updated_at (cursors need
		// created_at). A user updated meanwhile moves to the top, which shifts the
		// rest down: the next page repeats users, harmlessly, and the moved user
		// is found by the next poll. A deletion shifts the rest up and could make
		// a page skip users: pages overlap, and a page that starts with a user not
		// read yet and no newer than the last one read steps back.
		raws, err := s.Client.ListUsers(ctx, clerkapi.ListParams{Limit: limit, Offset: offset, OrderBy: "-updated_at"})
		if err != nil {
			return fmt.Errorf("list users changed since %d: %w", floor, err)
		}
		rep.Pages++
		p := s.decodePage(raws, log)
		if offset > 0 && len(p.profiles) > 0 {
			first := p.profiles[0]
			if _, seen := done[first.UserID]; !seen && first.UpdatedAt <= last {
				if backups == pollBackups {
					return errShifted
				}
				backups++
				offset = max(0, offset-limit)
				continue
			}
		}

		var fresh []*clerksync.Profile
		for _, pr := range p.profiles {
			last = pr.UpdatedAt
			if pr.UpdatedAt < floor {
				continue
			}
			if v, ok := done[pr.UserID]; ok && v >= pr.UpdatedAt {
				continue
			}
			done[pr.UserID] = pr.UpdatedAt
			rep.Counts.Seen++
			rep.Next = max(rep.Next, pr.UpdatedAt)
			if pr.UpdatedAt <= rep.Checkpoint {
				// In the overlap: most of these were applied by the last poll.
				stored, err := s.Store.Profile(ctx, pr.UserID)
				if err == nil && stored.UpdatedAt >= pr.UpdatedAt {
					rep.Counts.Unchanged++
					continue
				}
			}
			fresh = append(fresh, pr)
		}
		rep.Counts.Invalid += int64(p.invalid)
		if len(fresh) > 0 || (p.invalid > 0 && rep.Run == nil) {
			if rep.Run == nil {
				run, err := s.startRun(ctx, clerksync.RunPoll, false)
				if err != nil {
					return err
				}
				rep.Run = run
			}
			if err := s.applyUsers(applyCtx, fresh, clerksync.SourceBackfill, &rep.Counts, log); err != nil {
				return err
			}
		}
		if len(raws) < limit || (len(p.profiles) > 0 && last < floor) {
			return nil
		}
		offset += len(raws) - min(pollOverlapUsers, len(raws)-1)
		limit = opts.PageSize
	}
}
