package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkdecode"
)

// Defaults of BackfillOptions.
const (
	// DefaultPageSize is the largest page Clerk answers: the fewer requests, the less
	// of the rate limit a backfill uses.
	DefaultPageSize = clerkapi.MaxLimit
	// DefaultPruneShare is the share of the local users a prune deletes at most
	// unless BackfillOptions.PruneMax says otherwise: more than that is much more
	// likely a secret key of another instance than real deletions.
	DefaultPruneShare = 10 // percent
	// DefaultPruneFloor is the least PruneMax defaults to, so that a small instance
	// can be pruned.
	DefaultPruneFloor = 10
	// progressEvery is how often a run records its counts while it goes.
	progressEvery = 2 * time.Second
)

// Log attribute keys.
const (
	attrUserID   = "user_id"
	attrObjectID = "object_id"
	attrRun      = "run_id"
	attrKind     = "kind"
	attrError    = "error"
)

// ErrPruneRefused is the cause of the error Backfill returns when a prune would
// delete more users than PruneMax allows.
var ErrPruneRefused = errors.New("prune refused")

// BackfillOptions tunes a Backfill.
type BackfillOptions struct {
	// Kind is recorded as the run's kind: RunBackfill (the default), RunReconcile or
	// RunPoll (the first pass of a poll).
	Kind clerksync.RunKind
	// PageSize is how many objects each request asks for, 1 to 500; 0 means
	// DefaultPageSize.
	PageSize int
	// Prune deletes local users that Clerk no longer has once the listing is
	// complete: see Backfill.
	Prune bool
	// PruneMax is the most users a prune may delete; a prune that would delete more
	// deletes nothing and fails with ErrPruneRefused. 0 means DefaultPruneShare
	// percent of the local users (at least DefaultPruneFloor); negative means no
	// limit.
	PruneMax int
	// DryRun reads everything from Clerk and reports what would change, changing
	// nothing: each page is previewed by the store (Store.Preview, the same rules as
	// applying it), and a prune checks its candidates with Clerk but deletes none.
	// Dry runs are not recorded.
	DryRun bool
	// Kinds chooses what to import (see ParseKinds); none imports every kind:
	// users, roles, permissions, organizations, and the memberships and
	// invitations of every organization.
	Kinds []clerksync.Kind
	// OrgWorkers is how many organizations have their memberships and invitations
	// listed at once; 0 means DefaultOrgWorkers.
	OrgWorkers int
	// Progress, when set, is called after each page and at the end of each phase.
	Progress func(Progress)
}

// Phase names what a Backfill is doing.
type Phase string

// The phases of a Backfill.
const (
	PhaseList  Phase = "list"  // reading every user from Clerk
	PhasePrune Phase = "prune" // checking local users Clerk did not list
)

// Progress is where a Backfill is.
type Progress struct {
	Phase Phase
	// Kind is the kind of object being listed or pruned: users, then roles and
	// permissions, then organizations (with their memberships and invitations).
	Kind clerksync.Kind
	// Total is how many objects of Kind Clerk said it had when the listing began
	// (-1 when unknown); for the prune phase, how many it has to check.
	Total int
	// Counts are the counts of Kind so far.
	Counts clerksync.RunCounts
	// Kinds are the counts of every kind so far, in the list phase (nil in the
	// prune phase): the memberships and invitations listed beside the
	// organizations.
	Kinds map[clerksync.Kind]clerksync.RunCounts
	// Pages counts the requests of the phase so far.
	Pages int
	// Done is set on the last call of a phase.
	Done bool
}

// BackfillReport is what a Backfill did.
type BackfillReport struct {
	// Run is the listing's run; Prune the prune's, nil when there was none. Their IDs
	// are 0 for a dry run or a Syncer without State. Their counts are the totals of
	// every kind; Kinds has them per kind.
	Run   *clerksync.SyncRun
	Prune *clerksync.SyncRun
	// Kinds is what was done to each kind of object the backfill imported.
	Kinds map[clerksync.Kind]*KindReport
	// Total is how many users Clerk said it had when the listing began (-1 when
	// unknown).
	Total int
	// Complete reports that the listing reached the end of Clerk's users.
	Complete bool
	// Newest is the newest updated_at (ms) among the users listed.
	Newest int64
	// PruneCandidates counts the local users Clerk did not list; Gone those of them
	// Clerk answered 404 for (deleted, or to be deleted by a dry run). Kinds has the
	// same for organizations and memberships.
	PruneCandidates int
	Gone            []string
	DryRun          bool
	// OrganizationsDisabled reports that the Clerk instance has its organizations
	// feature off: there was nothing of them to import.
	OrganizationsDisabled bool
}

// KindReport is what a Backfill did to one kind of object.
type KindReport struct {
	// Total is how many objects Clerk said the list had when its first page was read
	// (-1 when unknown: memberships and invitations are listed per organization).
	Total int
	// Counts count the listing's objects; Pages its pages.
	Counts clerksync.RunCounts
	Pages  int
	// Prune counts the prune's work: Seen the candidates checked, Deleted those
	// deleted (or to be deleted by a dry run).
	Prune clerksync.RunCounts
	// PruneCandidates counts the local objects the listing lacked; Gone lists the
	// ids of those the prune deleted (or would delete).
	PruneCandidates int
	Gone            []string
}

// kind returns the report of kind k, creating it.
func (r *BackfillReport) kind(k clerksync.Kind) *KindReport {
	if r.Kinds == nil {
		r.Kinds = make(map[clerksync.Kind]*KindReport)
	}
	kr := r.Kinds[k]
	if kr == nil {
		kr = &KindReport{Total: -1}
		r.Kinds[k] = kr
	}
	return kr
}

// Backfill reads every Clerk user, page by page, and applies each page through the
// engine as one transaction with source backfill: the updated_at guard keeps newer
// webhook versions, tombstones keep deleted users deleted, so it is safe beside a
// running server and safe to run again. Then, as opts.Kinds asks (everything by
// default), the roles, the permissions and the organizations, each page one batch,
// and for every organization its memberships and invitations, each page one batch,
// several organizations at a time (OrgWorkers). Those lists page by offset only:
// see listPages for how a page deep in a list stays consistent.
//
// The listing is ordered by created_at ascending with starting_after cursors, as
// Clerk's specification recommends: a cursor page costs the same however deep it is,
// a user created during the scan sorts after the cursor (it is listed, or was created
// after the scan began), and a deletion during the scan shifts nothing, where an
// offset would skip a user for every deletion before it.
//
// With opts.Prune, once the listing is complete — never after a failed or interrupted
// one — every local user created before the scan began that Clerk did not list is
// checked with GET /v1/users/{id}, and deleted through the engine (tombstone and
// redaction included) only when Clerk answers 404 resource_not_found. A user Clerk
// still has is applied instead. The prune stops at the first other answer.
// Organizations are pruned the same way (GET /v1/organizations/{id}); a membership is
// deleted when the complete listing of its live organization lacked it. PruneMax
// applies to each kind on its own.
//
// The run is recorded in State as it goes. When ctx ends, the page being applied is
// committed, the run is recorded as interrupted, and Backfill returns the report so
// far with ctx's error. Other errors are returned with the report so far too.
func (s *Syncer) Backfill(ctx context.Context, opts BackfillOptions) (*BackfillReport, error) {
	if err := s.checkAPI(); err != nil {
		return nil, err
	}
	if opts.Kind == "" {
		opts.Kind = clerksync.RunBackfill
	}
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.PageSize < 1 || opts.PageSize > clerkapi.MaxLimit {
		return nil, clerksync.Errorf(clerksync.EINVALID, "page size %d is outside 1 to %d", opts.PageSize, clerkapi.MaxLimit)
	}
	if opts.OrgWorkers <= 0 {
		opts.OrgWorkers = DefaultOrgWorkers
	}
	kinds := newKindSet(opts.Kinds)
	rep := &BackfillReport{Total: -1, DryRun: opts.DryRun}
	run, err := s.startRun(ctx, opts.Kind, opts.DryRun)
	if err != nil {
		return nil, err
	}
	rep.Run = run
	log := s.logger().With(attrRun, run.ID, attrKind, string(opts.Kind))

	scanStart := s.now()
	var seen map[string]struct{}
	var listErr error
	if kinds[clerksync.KindUser] {
		if n, err := s.Client.CountUsers(ctx); err == nil {
			rep.Total = n
		} else if ctx.Err() == nil {
			log.Warn("could not count Clerk's users; going on without a total", attrError, err)
		}
		if opts.Prune {
			seen = make(map[string]struct{}, max(rep.Total, 0))
		}
		listErr = s.list(ctx, opts, rep, seen, log)
		if listErr == nil && !rep.Complete {
			listErr = errors.New("the listing ended early")
		}
		// Users come first: the run's counts so far are theirs.
		ur := rep.kind(clerksync.KindUser)
		ur.Total, ur.Counts = rep.Total, rep.Run.Counts
	} else {
		rep.Complete = true
	}
	var scan *orgScan
	if opts.Prune && kinds.orgSide() {
		scan = &orgScan{orgs: make(map[string]struct{})}
	}
	if listErr == nil && (kinds.orgSide() || kinds[clerksync.KindRole] || kinds[clerksync.KindPermission]) {
		r := &reporter{rep: rep, opts: &opts, save: s.saver(ctx, rep, log)}
		if err := s.backfillOrgSide(ctx, kinds, &opts, r, scan, log); err != nil {
			listErr, rep.Complete = err, false
		}
	}
	s.finishRun(run, listErr, opts.DryRun, log)
	if listErr != nil || !opts.Prune {
		return rep, listErr
	}
	if rep.OrganizationsDisabled {
		scan = nil
	}
	return rep, s.prune(ctx, opts, rep, kinds, seen, scan, scanStart, log)
}

// saver returns a function that records the run's counts every progressEvery.
func (s *Syncer) saver(ctx context.Context, rep *BackfillReport, log *slog.Logger) func() {
	last := s.now()
	return func() {
		if now := s.now(); now.Sub(last) >= progressEvery && rep.Run.ID != 0 {
			last = now
			if err := s.State.UpdateRun(context.WithoutCancel(ctx), rep.Run); err != nil {
				log.Warn("could not record the run's progress", attrError, err)
			}
		}
	}
}

// page is one page of the listing, read and decoded.
type page struct {
	n        int                  // users in Clerk's answer
	ids      []string             // the ids of those users, decodable or not, that have one
	last     string               // the id of the last user ("" when it has none)
	profiles []*clerksync.Profile // the decodable ones
	invalid  int
	err      error
}

// applying is a page handed to the engine whose outcomes are not counted yet.
type applying struct {
	counts clerksync.RunCounts
	last   bool // the last page of the listing
	done   chan error
}

// list reads every user and applies them, filling rep.
func (s *Syncer) list(ctx context.Context, opts BackfillOptions, rep *BackfillReport, seen map[string]struct{}, log *slog.Logger) error {
	// One goroutine reads and decodes the next page while this one applies the last:
	// the network, the decoding and the database overlap.
	pages := make(chan page, 1)
	fetchCtx, stopFetch := context.WithCancel(ctx)
	fetched := make(chan struct{})
	defer func() {
		stopFetch()
		<-fetched // the reader stops at once: its requests carry fetchCtx
	}()
	go func() {
		defer close(fetched)
		s.fetch(fetchCtx, opts.PageSize, pages, log)
	}()

	// A page being applied is committed even when ctx ends, so the counts are exact
	// and the next run starts where this one stopped.
	applyCtx := context.WithoutCancel(ctx)
	lastSaved := s.now()
	n := 0
	// A page is handed to the engine before the one before it is durable, so that the
	// database writes the next page while the disk syncs the last (the engine applies
	// them in order). Its outcomes are counted, and progress reported, once the page
	// before it has been.
	var pending *applying
	settle := func() error {
		if pending == nil {
			return nil
		}
		a := pending
		pending = nil
		if err := <-a.done; err != nil {
			return err
		}
		n++
		rep.Run.Counts.Add(a.counts)
		if opts.Progress != nil {
			opts.Progress(Progress{Phase: PhaseList, Kind: clerksync.KindUser, Total: rep.Total, Counts: rep.Run.Counts, Pages: n, Done: a.last})
		}
		if now := s.now(); now.Sub(lastSaved) >= progressEvery && rep.Run.ID != 0 {
			lastSaved = now
			if err := s.State.UpdateRun(applyCtx, rep.Run); err != nil {
				log.Warn("could not record the run's progress", attrError, err)
			}
		}
		return nil
	}
	defer func() { _ = settle() }() // on an early return, wait for the page in flight
	for p := range pages {
		if p.err != nil {
			return p.err
		}
		rep.Run.Counts.Seen += int64(p.n)
		rep.Run.Counts.Invalid += int64(p.invalid)
		for _, id := range p.ids {
			if seen != nil {
				seen[id] = struct{}{}
			}
		}
		for _, pr := range p.profiles {
			rep.Newest = max(rep.Newest, pr.UpdatedAt)
		}
		a := &applying{done: make(chan error, 1), last: p.n < opts.PageSize}
		if opts.DryRun {
			a.done <- s.compare(applyCtx, p.profiles, &a.counts)
		} else {
			go func() { a.done <- s.applyUsers(applyCtx, p.profiles, clerksync.SourceBackfill, &a.counts, log) }()
		}
		if err := settle(); err != nil {
			pending = a
			return err
		}
		pending = a
		if a.last {
			if err := settle(); err != nil {
				return err
			}
			rep.Complete = true
			return nil
		}
		if err := ctx.Err(); err != nil {
			return errors.Join(err, settle())
		}
	}
	if err := settle(); err != nil {
		return err
	}
	// The fetcher stopped without an error or a last page: ctx ended.
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("the listing stopped without reaching its end")
}

// fetch reads pages in order into out until the last one (shorter than size), an
// error, or ctx's end, then closes out.
func (s *Syncer) fetch(ctx context.Context, size int, out chan<- page, log *slog.Logger) {
	defer close(out)
	var back []string // the ids of the last page, newest first: cursors to fall back on
	cursor := ""
	for {
		raws, err := s.Client.ListUsers(ctx, clerkapi.ListParams{Limit: size, OrderBy: "+created_at", StartingAfter: cursor})
		for clerksync.ErrorCode(err) == clerksync.EINVALID && cursor != "" && len(back) > 0 {
			// Clerk refused the cursor (its user was deleted, on an API that does
			// not keep deleted ids in place): start after the user before it. The
			// users in between are listed twice, which changes nothing.
			log.Warn("Clerk refused the listing cursor; stepping back one user", attrUserID, cursor, attrError, err)
			cursor, back = back[0], back[1:]
			raws, err = s.Client.ListUsers(ctx, clerkapi.ListParams{Limit: size, OrderBy: "+created_at", StartingAfter: cursor})
		}
		if err != nil {
			if ctx.Err() == nil {
				sendPage(ctx, out, page{err: fmt.Errorf("list users after %q: %w", cursor, err)})
			}
			return
		}
		p := s.decodePage(raws, log)
		if len(raws) == size && p.last == "" {
			p = page{err: &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "list users: the last user of a page of Clerk's answer has no id, so the listing cannot go on"}}
		}
		if !sendPage(ctx, out, p) || p.err != nil || len(raws) < size {
			return
		}
		cursor = p.last
		back = back[:0]
		for i := len(p.ids) - 2; i >= 0 && len(back) < 10; i-- {
			back = append(back, p.ids[i])
		}
	}
}

func sendPage(ctx context.Context, out chan<- page, p page) bool {
	select {
	case out <- p:
		return true
	case <-ctx.Done():
		return false
	}
}

// decodePage decodes the users of a page, each on its own so that one user Clerk's
// answer has in an unexpected shape does not hold up the others.
func (s *Syncer) decodePage(raws []json.RawMessage, log *slog.Logger) page {
	p := page{n: len(raws), ids: make([]string, 0, len(raws)), profiles: make([]*clerksync.Profile, 0, len(raws))}
	for i, raw := range raws {
		id := ""
		pr, err := clerkdecode.DecodeUser(raw, s.Decode)
		if err == nil {
			pr.SyncSource = clerksync.SourceBackfill
			p.profiles = append(p.profiles, pr)
			id = pr.UserID
		} else {
			p.invalid++
			var head struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(raw, &head) == nil {
				id = head.ID
			}
			log.Warn("skipped a user of Clerk's listing that clerksync cannot decode", attrUserID, id, "index", i, attrError, err)
		}
		if id != "" {
			p.ids = append(p.ids, id)
		}
		if i == len(raws)-1 {
			p.last = id
		}
	}
	return p
}

// applyUsers applies profiles as one batch with source and adds the outcomes to c.
func (s *Syncer) applyUsers(ctx context.Context, profiles []*clerksync.Profile, source clerksync.Source, c *clerksync.RunCounts, log *slog.Logger) error {
	if len(profiles) == 0 {
		return nil
	}
	changes := userChanges(profiles, source)
	results, err := s.Engine.ApplyWait(ctx, changes...)
	if err != nil {
		return fmt.Errorf("apply %d users: %w", len(changes), err)
	}
	for i, r := range results {
		tally(&changes[i], r, c, log)
	}
	return nil
}

// userChanges returns the changes that upsert profiles from source.
func userChanges(profiles []*clerksync.Profile, source clerksync.Source) []clerksync.Change {
	changes := make([]clerksync.Change, len(profiles))
	for i, p := range profiles {
		changes[i] = clerksync.UpsertUser(p, source)
	}
	return changes
}

// tally adds the result r of ch to c.
func tally(ch *clerksync.Change, r clerksync.Result, c *clerksync.RunCounts, log *slog.Logger) {
	switch r.Outcome {
	case clerksync.OutcomeApplied:
		switch r.Action {
		case clerksync.ActionCreated:
			c.Created++
		case clerksync.ActionUpdated:
			c.Updated++
		case clerksync.ActionUnchanged:
			c.Unchanged++
		case clerksync.ActionDeleted:
			c.Deleted++
		}
	case clerksync.OutcomeStale:
		if r.Reason == clerksync.ReasonOlder {
			c.Stale++ // a webhook got there first
		} else {
			c.Skipped++ // deleted (or superseded) after Clerk listed it
		}
	default:
		c.Invalid++
		log.Warn("the database refused an object", attrKind, ch.Kind.String(), attrObjectID, ch.ID, attrError, r.Error)
	}
}

// compare adds to c what applying profiles would do, as the store previews it: the
// same rules as applying them, nothing written.
func (s *Syncer) compare(ctx context.Context, profiles []*clerksync.Profile, c *clerksync.RunCounts) error {
	if len(profiles) == 0 {
		return nil
	}
	changes := userChanges(profiles, clerksync.SourceBackfill)
	results, err := s.Store.Preview(ctx, changes)
	if err != nil {
		return fmt.Errorf("preview %d users: %w", len(changes), err)
	}
	for i, r := range results {
		tally(&changes[i], r, c, s.logger())
	}
	return nil
}

// startRun records a new run of kind, or returns an unrecorded one for a dry run or
// a Syncer without State.
func (s *Syncer) startRun(ctx context.Context, kind clerksync.RunKind, dryRun bool) (*clerksync.SyncRun, error) {
	if dryRun || s.State == nil {
		now := s.now()
		return &clerksync.SyncRun{Kind: kind, Status: clerksync.RunRunning, StartedAt: now, UpdatedAt: now}, nil
	}
	run, err := s.State.StartRun(ctx, kind)
	if err != nil {
		return nil, fmt.Errorf("record the start of a %s run: %w", kind, err)
	}
	return run, nil
}

// finishRun records run's end: interrupted when err is a context's end, failed for
// another err, succeeded otherwise. The record is written even though ctx ended.
func (s *Syncer) finishRun(run *clerksync.SyncRun, err error, dryRun bool, log *slog.Logger) {
	switch {
	case err == nil:
		run.Status = clerksync.RunSucceeded
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		run.Status = clerksync.RunInterrupted
	default:
		run.Status, run.Error = clerksync.RunFailed, err.Error()
	}
	if dryRun || s.State == nil || run.ID == 0 {
		run.FinishedAt = s.now()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ferr := s.State.FinishRun(ctx, run); ferr != nil {
		log.Warn("could not record the end of the run", "status", string(run.Status), attrError, ferr)
	}
}

// checkAPI returns the error for a Syncer without a Backend API client.
func (s *Syncer) checkAPI() error {
	if s.Client == nil {
		return &clerksync.Error{Code: clerksync.ECONFIG, Message: "the Clerk Backend API is not configured",
			Hint: "set CLERK_SECRET_KEY (Clerk Dashboard → API keys → Secret keys)"}
	}
	return nil
}
