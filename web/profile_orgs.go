package web

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/session"
)

// The signed-in user's organizations, as the profile page and API show them: the
// user's memberships, read from the store, each joined with its organization, and the
// one the session is active in marked.

// memberOf is one organization of the signed-in user.
type memberOf struct {
	m *clerksync.Membership
	// org is the membership's organization; nil when the store has none (a membership
	// stored by clerksync always carries its organization, but an application may
	// write the tables too).
	org *clerksync.Organization
	// active says the session token names this organization as its active one (o.id
	// in version 2 tokens, org_id in version 1).
	active bool
}

// name returns the organization's name, or its id when it has none (a placeholder).
func (o *memberOf) name() string {
	if o.org != nil && o.org.Name != "" {
		return o.org.Name
	}
	return o.m.OrgID
}

// organizationsOf returns the organizations the user of claims is a member of, read
// from the store, ordered by name; the session's active organization is marked.
func (h *profileHandler) organizationsOf(ctx context.Context, claims *session.Claims) ([]memberOf, error) {
	var out []memberOf
	f := clerksync.ObjectFilter{UserID: claims.Subject, Limit: clerksync.MaxPage}
	for {
		page, err := h.store.Objects(ctx, clerksync.KindMembership, f)
		if err != nil {
			return nil, fmt.Errorf("read memberships: %w", err)
		}
		for _, o := range page {
			m, ok := o.(*clerksync.Membership)
			if !ok {
				return nil, fmt.Errorf("read memberships: the store answered a %T", o)
			}
			mo := memberOf{m: m, active: claims.OrganizationID != "" && m.OrgID == claims.OrganizationID}
			org, err := h.store.Object(ctx, clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: m.OrgID})
			switch {
			case err == nil:
				mo.org, _ = org.(*clerksync.Organization)
			case clerksync.ErrorCode(err) != clerksync.ENOTFOUND:
				return nil, fmt.Errorf("read organization %s: %w", m.OrgID, err)
			}
			out = append(out, mo)
		}
		if len(page) < f.Limit {
			break
		}
		f.After = page[len(page)-1].ObjectKey().ID
	}
	slices.SortFunc(out, func(a, b memberOf) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.name()), strings.ToLower(b.name())), cmp.Compare(a.m.OrgID, b.m.OrgID))
	})
	return out, nil
}

// organizationJSON is one organization of the user as the API answers it. Image URLs
// that are not http(s) are null, as on the page.
type organizationJSON struct {
	OrgID        string  `json:"org_id"`
	Name         *string `json:"name"`
	Slug         *string `json:"slug"`
	ImageURL     *string `json:"image_url"`
	Role         *string `json:"role"`
	RoleName     *string `json:"role_name"`
	MembershipID string  `json:"membership_id"`
	// Active says the session is active in this organization.
	Active bool `json:"active"`
}

// newOrganizationsJSON returns the API's organizations: never null, so that a client
// can iterate without a check.
func newOrganizationsJSON(orgs []memberOf) []organizationJSON {
	out := make([]organizationJSON, 0, len(orgs))
	for _, o := range orgs {
		j := organizationJSON{
			OrgID: o.m.OrgID, Role: nullString(o.m.Role), RoleName: nullString(o.m.RoleName),
			MembershipID: o.m.MembershipID, Active: o.active,
		}
		if o.org != nil {
			j.Name, j.Slug, j.ImageURL = nullString(o.org.Name), nullString(o.org.Slug), nullString(safeImageURL(o.org.ImageURL))
		}
		out = append(out, j)
	}
	return out
}

// profileAnswer returns p as the API answers it, with the user's organizations.
func (h *profileHandler) profileAnswer(ctx context.Context, p *clerksync.Profile, claims *session.Claims) (*profileJSON, error) {
	orgs, err := h.organizationsOf(ctx, claims)
	if err != nil {
		return nil, err
	}
	j := newProfileJSON(p)
	j.Organizations = newOrganizationsJSON(orgs)
	return j, nil
}

// syncAnswer syncs the signed-in user from Clerk (the syncer syncs the user's
// memberships too) and answers the fresh row with the organizations the store holds
// after it, and what changed: the profile's fields, and the organizations when the
// user joined or left one or their role changed.
func (h *profileHandler) syncAnswer(ctx context.Context, claims *session.Claims) (syncAnswer, error) {
	before, err := h.organizationsOf(ctx, claims)
	if err != nil {
		return syncAnswer{}, err
	}
	us, err := h.sync(ctx, claims.Subject)
	if err != nil {
		return syncAnswer{}, err
	}
	after, err := h.organizationsOf(ctx, claims)
	if err != nil {
		return syncAnswer{}, err
	}
	a := newSyncAnswer(us)
	a.Profile.Organizations = newOrganizationsJSON(after)
	if c, ok := diffOrganizations(before, after); ok {
		a.Changes = append(a.Changes, c)
	}
	return a, nil
}

// orgSummary is what a person notices of one of their organizations changing.
type orgSummary struct {
	OrgID string `json:"org_id"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

func summarize(orgs []memberOf) []orgSummary {
	out := make([]orgSummary, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, orgSummary{OrgID: o.m.OrgID, Name: o.name(), Role: o.m.Role})
	}
	return out
}

// diffOrganizations returns the change "organizations" with both lists when the user's
// organizations, their names or the user's roles in them differ.
func diffOrganizations(before, after []memberOf) (change, bool) {
	b, err1 := json.Marshal(summarize(before))
	a, err2 := json.Marshal(summarize(after))
	if err1 != nil || err2 != nil || sameJSON(a, b) {
		return change{}, false
	}
	return change{Field: "organizations", Label: "Organizations", Before: b, After: a}, true
}

// orgsView is the page's Organizations section.
type orgsView struct {
	List []orgView
	// ActiveID is the session's active organization, "" for none; ActiveMissing says
	// the store has no membership of the user in it (not synced yet).
	ActiveID      string
	ActiveMissing bool
	// Error says why the organizations could not be read; the rest of the page is shown.
	Error string
}

// orgView is one organization on the page.
type orgView struct {
	OrgID        string
	Name         string
	Slug         string
	ImageURL     string
	Initial      string
	Role         string
	RoleName     string
	MembershipID string
	Active       bool
}

// pageOrganizations returns the Organizations section of the page of claims' user.
func (h *profileHandler) pageOrganizations(ctx context.Context, claims *session.Claims) *orgsView {
	v := &orgsView{ActiveID: claims.OrganizationID}
	orgs, err := h.organizationsOf(ctx, claims)
	if err != nil {
		h.log.Warn("Organizations of the profile page could not be read", attrUserID, claims.Subject, attrError, err)
		v.Error = "Your organizations could not be read right now; reload the page in a moment."
		return v
	}
	v.ActiveMissing = v.ActiveID != ""
	for _, o := range orgs {
		ov := orgView{
			OrgID: o.m.OrgID, Name: o.name(), Role: o.m.Role, RoleName: o.m.RoleName,
			MembershipID: o.m.MembershipID, Active: o.active,
		}
		if o.org != nil {
			ov.Slug, ov.ImageURL = o.org.Slug, safeImageURL(o.org.ImageURL)
		}
		if r, _ := utf8.DecodeRuneInString(ov.Name); r != utf8.RuneError {
			ov.Initial = string(unicode.ToUpper(r))
		}
		if o.active {
			v.ActiveMissing = false
		}
		v.List = append(v.List, ov)
	}
	return v
}
