// Package pull reads users, organizations, memberships, invitations, roles and
// permissions from the Clerk Backend API and applies them through the same engine as
// webhooks, so the same rules hold whatever the source: the updated_at guard keeps a
// newer webhook from being overwritten by an older read, and tombstones keep what was
// deleted deleted.
//
// Syncer.SyncUser syncs one user with their memberships (the Sync User Data button,
// clerksync sync); Syncer.SyncOrganization one organization with its memberships and
// invitations; Syncer.Backfill reads every object, page by page, and with prune
// deletes the local objects Clerk no longer has; Syncer.Poll applies the users
// changed since a checkpoint kept in the database; Loop runs polls and reconciles on
// a schedule for serve, one replica at a time. Runs are recorded through
// clerksync.SyncStore.
//
// Clerk has no event log or cursor API; a user or organization Clerk deleted is
// visible only as an id that Clerk answers 404 for, and a removed membership only as
// one missing from the complete listing of its organization.
package pull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkdecode"
)

// Applier applies changes; *engine.Engine is one. Apply fails fast on a full queue
// (interactive callers); ApplyWait waits for room (bulk callers).
type Applier interface {
	Apply(ctx context.Context, changes ...clerksync.Change) ([]clerksync.Result, error)
	ApplyWait(ctx context.Context, changes ...clerksync.Change) ([]clerksync.Result, error)
}

// Syncer pulls users from Clerk into the store.
type Syncer struct {
	// Client reads the Clerk Backend API; nil makes every method fail with ECONFIG.
	Client *clerkapi.Client
	// Engine applies the changes, as it does the webhooks'.
	Engine Applier
	// Store is read for the rows before and after a sync and for tombstones.
	Store clerksync.Store
	// State records runs, the poll's checkpoint and leases; nil records nothing
	// (Poll and Loop need it).
	State clerksync.SyncStore
	// Decode says what to keep of Clerk's user objects.
	Decode clerkdecode.Options
	// Logger receives progress and warnings; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock of scan starts and progress records; time.Now when nil.
	Now func() time.Time
}

func (s *Syncer) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Syncer) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// UserSync is what syncing one user did.
type UserSync struct {
	UserID string
	// Before is the row before the sync (nil when there was none).
	Before *clerksync.Profile
	// After is the row after the sync (nil when the user is deleted).
	After *clerksync.Profile
	// Result is the engine's outcome for the change.
	Result clerksync.Result
	// Gone reports that Clerk no longer has the user (404), so it was deleted locally.
	Gone bool
	// Memberships is what syncing the user's memberships did; nil when the user is
	// gone or deleted (their memberships went with them).
	Memberships *MembershipSync
}

// applyFromClerk reads the object key from the Backend API with get and applies, with
// source api, what Clerk answered: the object, or its deletion when Clerk answers 404
// resource_not_found (gone). A dead letter is an error: the object could not be stored.
func (s *Syncer) applyFromClerk(ctx context.Context, key clerksync.ObjectKey,
	get func(ctx context.Context, id string) ([]byte, error)) (res clerksync.Result, gone bool, err error) {
	what := key.Kind.String() + " " + key.ID // such as "user user_123"
	var ch clerksync.Change
	raw, err := get(ctx, key.ID)
	switch {
	case clerksync.ErrorCode(err) == clerksync.ENOTFOUND:
		ch, gone = clerksync.Delete(key, clerksync.SourceAPI), true
	case err != nil:
		return res, false, fmt.Errorf("get %s from Clerk: %w", what, err)
	default:
		o, err := s.decodeObject(key.Kind, raw)
		if err != nil {
			return res, false, &clerksync.Error{Code: clerksync.EINTERNAL, Message: fmt.Sprintf("Clerk's answer for %s could not be decoded", key.ID), Err: err}
		}
		if got := o.ObjectKey(); got != key {
			return res, false, &clerksync.Error{Code: clerksync.EINTERNAL, Message: fmt.Sprintf("Clerk answered %s %s when asked for %s", got.Kind, got.ID, key.ID)}
		}
		ch = clerksync.Upsert(o, clerksync.SourceAPI)
	}
	results, err := s.Engine.Apply(ctx, ch)
	if err != nil {
		return res, false, fmt.Errorf("apply %s: %w", what, err)
	}
	if res = results[0]; res.Outcome == clerksync.OutcomeDeadLetter {
		return res, false, &clerksync.Error{Code: clerksync.EINTERNAL, Message: fmt.Sprintf("%s could not be stored", what), Err: fmt.Errorf("%s", res.Error)}
	}
	return res, gone, nil
}

// SyncUser reads userID from the Backend API and applies it with source api: an
// upsert, or a delete when Clerk answers 404 resource_not_found. Then it syncs the
// user's memberships: every membership Clerk lists for the user is applied, and a
// stored membership of the user that Clerk's complete list lacks is deleted. It
// returns an error
// with code ECONFIG when the API is not configured or the key is wrong, EUNAVAILABLE
// when Clerk or the database is down (nothing changed), EINVALID for a malformed id.
func (s *Syncer) SyncUser(ctx context.Context, userID string) (*UserSync, error) {
	if err := s.checkAPI(); err != nil {
		return nil, err
	}
	before, err := s.Store.Profile(ctx, userID)
	if err != nil && clerksync.ErrorCode(err) != clerksync.ENOTFOUND {
		return nil, fmt.Errorf("read profile %s: %w", userID, err)
	}
	out := &UserSync{UserID: userID, Before: before}

	if out.Result, out.Gone, err = s.applyFromClerk(ctx, clerksync.UserKey(userID), s.Client.GetUser); err != nil {
		return nil, err
	}
	after, err := s.Store.Profile(ctx, userID)
	switch {
	case clerksync.ErrorCode(err) == clerksync.ENOTFOUND:
	case err != nil:
		return nil, fmt.Errorf("read profile %s: %w", userID, err)
	default:
		out.After = after
	}
	if !out.Gone && out.Result.Reason != clerksync.ReasonDeleted {
		out.Memberships, err = s.syncUserMemberships(ctx, userID, s.logger().With(attrUserID, userID))
		switch {
		case errors.Is(err, clerkapi.ErrOrganizationsNotEnabled):
			// No organizations in this instance: nothing more to sync.
		case err != nil:
			return nil, err
		}
	}
	s.logger().Info("synced user from the Clerk API", "user_id", userID,
		"outcome", out.Result.Outcome.String(), "action", out.Result.Action.String(), "gone", out.Gone)
	return out, nil
}
