package devemu

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/clerksync/clerksync/clerkfake"
)

// The organization side of the emulator: every change is made through the fake
// Backend API's controls, which call onOrgChange with the event Clerk would send, so
// that a backfill or a sync sees what the webhooks said.

// onOrgChange is the fake's organization hook: it sends the webhook Clerk would send,
// at once and on the goroutine that made the change, unless the change was made
// silently (a missed event).
func (e *Emulator) onOrgChange(ev clerkfake.OrgEvent) {
	e.mu.Lock()
	skip := e.skipOrg[ev.OrgID] > 0 || e.skipOrg[ev.ObjectID] > 0
	e.mu.Unlock()
	d := Delivery{At: e.now(), Type: ev.Type, UserID: ev.UserID, ObjectID: ev.ObjectID, UserName: e.describe(ev), Skipped: skip}
	if skip {
		e.log.Info("Emulator: "+ev.Type+" for "+ev.ObjectID+" not sent (simulated missed event)", "object_id", ev.ObjectID, "event_type", ev.Type)
		e.record(d)
		return
	}
	d.MessageID = "msg_" + rand.Text()
	body, err := clerkfake.MarshalEvent(ev.Type, ev.Data, d.At)
	if err != nil {
		d.Error = err.Error()
	} else {
		e.post(context.Background(), &d, body)
	}
	e.record(d)
}

// describe returns what the page shows an organization event to be about.
func (e *Emulator) describe(ev clerkfake.OrgEvent) string {
	switch v := ev.Data.(type) {
	case *clerkfake.Organization:
		return v.Name
	case *clerkfake.Membership:
		name := v.PublicUserData.UserID
		if u, ok := e.user(v.PublicUserData.UserID); ok {
			name = displayName(u)
		}
		org := ""
		if v.Organization != nil {
			org = v.Organization.Name
		}
		return name + " in " + org + " (" + v.Role + ")"
	case *clerkfake.Invitation:
		return v.EmailAddress + " to " + e.orgName(v.OrganizationID) + " (" + v.Status + ")"
	case *clerkfake.Role:
		return v.Key
	case *clerkfake.Permission:
		return v.Key
	}
	return ev.ObjectID
}

func (e *Emulator) orgName(id string) string {
	if o, ok := e.fake.Organization(id); ok {
		return o.Name
	}
	return id
}

// silently runs change with every webhook about the object id (an organization and
// what belongs to it) skipped when skip is set, as when Clerk's deliveries are lost.
// It returns the deliveries the change made or, when the change failed, its error as
// the page can say it (see orgError), after what, such as "add member".
func (e *Emulator) silently(what, id string, skip bool, change func() error) ([]Delivery, error) {
	e.mu.Lock()
	seq := e.seq
	if skip {
		e.skipOrg[id]++
	}
	e.mu.Unlock()
	err := change()
	e.mu.Lock()
	defer e.mu.Unlock()
	if skip {
		if e.skipOrg[id]--; e.skipOrg[id] == 0 {
			delete(e.skipOrg, id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, orgError(err))
	}
	var out []Delivery
	for _, d := range e.deliveries {
		if d.seq > seq {
			out = append(out, d)
		}
	}
	return out, nil
}

// OrgInput describes an organization to create, or a change to one.
type OrgInput struct {
	Name string
	// CreatedBy is the user who creates it and becomes its first admin ("" for none).
	CreatedBy string
	// SkipWebhook makes the change silently: no webhook is sent.
	SkipWebhook bool
}

// orgError turns the fake's errors into what the page can say.
func orgError(err error) error {
	for _, known := range []error{clerkfake.ErrSlugTaken, clerkfake.ErrAlreadyMember, clerkfake.ErrInvalidParams,
		clerkfake.ErrRoleNotFound, clerkfake.ErrInvitationNotFound, clerkfake.ErrMembershipNotFound} {
		if errors.Is(err, known) {
			msg := strings.TrimPrefix(known.Error(), "clerkfake: ")
			if errors.Is(known, clerkfake.ErrInvalidParams) {
				msg = err.Error()[strings.LastIndex(err.Error(), ": ")+2:]
			}
			return fmt.Errorf("%w: %s", ErrInvalidInput, msg)
		}
	}
	return err
}

// CreateOrganization creates an organization and sends organization.created (and
// the organizationMembership.created of its creator), unless in.SkipWebhook.
func (e *Emulator) CreateOrganization(in OrgInput) (*clerkfake.Organization, []Delivery, error) {
	id := clerkfake.NewID("org_", e.now())
	var org *clerkfake.Organization
	ds, err := e.silently("create organization", id, in.SkipWebhook, func() error {
		var err error
		org, err = e.fake.CreateOrganization(clerkfake.OrganizationParams{ID: id, Name: strings.TrimSpace(in.Name), CreatedBy: in.CreatedBy})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return org, ds, nil
}

// RenameOrganization renames the organization id and sends organization.updated.
func (e *Emulator) RenameOrganization(id string, in OrgInput) ([]Delivery, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return nil, fmt.Errorf("%w: a name is needed", ErrInvalidInput)
	}
	return e.silently("rename organization", id, in.SkipWebhook, func() error {
		_, err := e.fake.UpdateOrganization(id, func(o *clerkfake.Organization) { o.Name = name })
		return err
	})
}

// DeleteOrganization deletes the organization id, with its memberships and
// invitations, and sends organization.deleted.
func (e *Emulator) DeleteOrganization(id string, skipWebhook bool) ([]Delivery, error) {
	return e.silently("delete organization", id, skipWebhook, func() error { return e.fake.DeleteOrganization(id) })
}

// AddMember adds the user to the organization with role and sends
// organizationMembership.created.
func (e *Emulator) AddMember(orgID, userID, role string, skipWebhook bool) ([]Delivery, error) {
	return e.silently("add member", orgID, skipWebhook, func() error {
		_, err := e.fake.AddMember(orgID, userID, role)
		return err
	})
}

// SetRole changes the role of the user in the organization and sends
// organizationMembership.updated.
func (e *Emulator) SetRole(orgID, userID, role string, skipWebhook bool) ([]Delivery, error) {
	return e.silently("change role", orgID, skipWebhook, func() error {
		_, err := e.fake.UpdateMember(orgID, userID, role)
		return err
	})
}

// RemoveMember removes the user from the organization and sends
// organizationMembership.deleted, which carries the whole membership.
func (e *Emulator) RemoveMember(orgID, userID string, skipWebhook bool) ([]Delivery, error) {
	return e.silently("remove member", orgID, skipWebhook, func() error {
		_, err := e.fake.RemoveMember(orgID, userID)
		return err
	})
}

// Invite invites email to the organization with role and sends
// organizationInvitation.created.
func (e *Emulator) Invite(orgID, email, role string, skipWebhook bool) ([]Delivery, error) {
	return e.silently("invite", orgID, skipWebhook, func() error {
		_, err := e.fake.Invite(orgID, email, role, "")
		return err
	})
}

// AcceptInvitation accepts the invitation as the user whose email it was sent to
// (or userID when given): organizationInvitation.accepted, then the
// organizationMembership.created of the new member.
func (e *Emulator) AcceptInvitation(orgID, invitationID, userID string, skipWebhook bool) ([]Delivery, error) {
	if userID == "" {
		for _, inv := range e.fake.Invitations(orgID) {
			if inv.ID == invitationID {
				userID = e.userByEmail(inv.EmailAddress)
			}
		}
		if userID == "" {
			return nil, fmt.Errorf("%w: no user has the invited email address; create one with it first", ErrInvalidInput)
		}
	}
	return e.silently("accept invitation", orgID, skipWebhook, func() error {
		_, err := e.fake.AcceptInvitation(invitationID, userID)
		return err
	})
}

// RevokeInvitation revokes the invitation and sends organizationInvitation.revoked.
func (e *Emulator) RevokeInvitation(orgID, invitationID string, skipWebhook bool) ([]Delivery, error) {
	return e.silently("revoke invitation", orgID, skipWebhook, func() error {
		_, err := e.fake.RevokeInvitation(invitationID)
		return err
	})
}

// userByEmail returns the id of the user whose primary email address is email.
func (e *Emulator) userByEmail(email string) string {
	for _, u := range e.fake.Users() {
		if strings.EqualFold(primaryEmail(u), strings.TrimSpace(email)) {
			return u.ID
		}
	}
	return ""
}
