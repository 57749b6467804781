package clerkapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/clerksync/clerksync"
)

// ErrOrganizationsNotEnabled is in the chain of the error of a call about
// organizations (their memberships, invitations, roles and permissions included) to
// a Clerk instance whose organizations feature is off: Clerk answers 403
// organization_not_enabled_in_instance. The error's code is ECONFIG.
var ErrOrganizationsNotEnabled = errors.New("organizations are not enabled in the Clerk instance")

// PageParams selects a page of one of Clerk's lists that page by offset only:
// organizations, an organization's memberships and invitations, a user's
// memberships, roles and permissions.
type PageParams struct {
	// Limit is the page size, 1 to MaxLimit; 0 leaves Clerk's default of 10.
	Limit int
	// Offset skips that many objects.
	Offset int
	// OrderBy is a field such as created_at, prefixed with + or - for the direction;
	// Clerk defaults to -created_at (newest first). Not every list can be ordered.
	OrderBy string
}

// Page is one page of a list: the objects, each the raw JSON Clerk sent, and how
// many objects the whole list had when Clerk answered.
type Page struct {
	Data       []json.RawMessage
	TotalCount int
}

// list is one of Clerk's offset-paged lists.
type list struct {
	op     string          // for errors: "list organizations"
	path   string          // under the base URL
	order  map[string]bool // the fields it orders by; nil when it takes no order_by
	params url.Values      // filters, added to the paging
	// missing names the object the path names ("organization"), so that a 404
	// resource_not_found is ENOTFOUND; "" when a 404 means a wrong address.
	missing string
}

var (
	orgOrder        = map[string]bool{"created_at": true, "name": true, "members_count": true}
	membershipOrder = map[string]bool{"created_at": true, "phone_number": true, "email_address": true, "first_name": true, "last_name": true, "username": true}
	invitationOrder = map[string]bool{"created_at": true, "email_address": true}
	roleOrder       = map[string]bool{"created_at": true, "name": true, "key": true}
)

// ListOrganizations returns a page of the instance's organizations
// (GET /organizations).
func (c *Client) ListOrganizations(ctx context.Context, p PageParams) (*Page, error) {
	return c.list(ctx, list{op: "list organizations", path: "/organizations", order: orgOrder}, p)
}

// ListOrganizationMemberships returns a page of the memberships of the organization
// orgID (GET /organizations/{organization_id}/memberships), each with the
// organization embedded. It returns ENOTFOUND when Clerk has no such organization.
func (c *Client) ListOrganizationMemberships(ctx context.Context, orgID string, p PageParams) (*Page, error) {
	if !validID(orgID) {
		return nil, clerksync.Errorf(clerksync.EINVALID, "list memberships: %q is not a Clerk organization id", orgID)
	}
	return c.list(ctx, list{op: "list memberships of " + orgID, path: "/organizations/" + orgID + "/memberships",
		order: membershipOrder, missing: "organization"}, p)
}

// ListOrganizationInvitations returns a page of the invitations of the organization
// orgID, whatever their status (GET /organizations/{organization_id}/invitations).
// It returns ENOTFOUND when Clerk has no such organization.
func (c *Client) ListOrganizationInvitations(ctx context.Context, orgID string, p PageParams) (*Page, error) {
	if !validID(orgID) {
		return nil, clerksync.Errorf(clerksync.EINVALID, "list invitations: %q is not a Clerk organization id", orgID)
	}
	return c.list(ctx, list{op: "list invitations of " + orgID, path: "/organizations/" + orgID + "/invitations",
		order: invitationOrder, missing: "organization"}, p)
}

// ListUserMemberships returns a page of the memberships of the user userID
// (GET /users/{user_id}/organization_memberships), which Clerk cannot order.
func (c *Client) ListUserMemberships(ctx context.Context, userID string, p PageParams) (*Page, error) {
	if !validID(userID) {
		return nil, clerksync.Errorf(clerksync.EINVALID, "list memberships: %q is not a Clerk user id", userID)
	}
	return c.list(ctx, list{op: "list memberships of " + userID, path: "/users/" + userID + "/organization_memberships", missing: "user"}, p)
}

// ListRoles returns a page of the instance's organization roles
// (GET /organization_roles).
func (c *Client) ListRoles(ctx context.Context, p PageParams) (*Page, error) {
	return c.list(ctx, list{op: "list roles", path: "/organization_roles", order: roleOrder}, p)
}

// ListPermissions returns a page of the instance's organization permissions
// (GET /organization_permissions).
func (c *Client) ListPermissions(ctx context.Context, p PageParams) (*Page, error) {
	return c.list(ctx, list{op: "list permissions", path: "/organization_permissions", order: roleOrder}, p)
}

// GetOrganization returns the organization id as the raw JSON object Clerk sent
// (GET /organizations/{organization_id}). It returns an error with code ENOTFOUND
// only when Clerk answers 404 resource_not_found: the organization does not exist
// (or was deleted).
func (c *Client) GetOrganization(ctx context.Context, id string) ([]byte, error) {
	op := "get organization " + id
	if !validID(id) || !strings.HasPrefix(id, "org_") {
		return nil, clerksync.Errorf(clerksync.EINVALID, "get organization: %q is not a Clerk organization id", id)
	}
	res, err := c.do(ctx, op, func(ctx context.Context) (*result, error) {
		return c.get(ctx, "/organizations/"+id, nil)
	})
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, c.failure(op, res, "organization")
	}
	return res.body, nil
}

// list reads one page of l.
func (c *Client) list(ctx context.Context, l list, p PageParams) (*Page, error) {
	q, err := p.query(l)
	if err != nil {
		return nil, err
	}
	res, err := c.do(ctx, l.op, func(ctx context.Context) (*result, error) {
		return c.get(ctx, l.path, q)
	})
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, c.failure(l.op, res, l.missing)
	}
	var body struct {
		Data       []json.RawMessage `json:"data"`
		TotalCount *int              `json:"total_count"`
	}
	if err := json.Unmarshal(res.body, &body); err != nil || body.Data == nil || body.TotalCount == nil {
		if err == nil {
			err = errors.New("no data or no total_count")
		}
		return nil, &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: l.op + ": Clerk answered something other than a list", Err: err}
	}
	return &Page{Data: body.Data, TotalCount: *body.TotalCount}, nil
}

// query returns p as query parameters of l, or an EINVALID error.
func (p PageParams) query(l list) (url.Values, error) {
	q := url.Values{}
	for k, v := range l.params {
		q[k] = v
	}
	if p.Limit < 0 || p.Limit > MaxLimit {
		return nil, clerksync.Errorf(clerksync.EINVALID, "%s: limit %d is outside 1 to %d", l.op, p.Limit, MaxLimit)
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset < 0 {
		return nil, clerksync.Errorf(clerksync.EINVALID, "%s: negative offset %d", l.op, p.Offset)
	}
	if p.Offset > 0 {
		q.Set("offset", strconv.Itoa(p.Offset))
	}
	if p.OrderBy != "" {
		field := strings.TrimLeft(p.OrderBy, "+-")
		if !l.order[field] || len(p.OrderBy)-len(field) > 1 {
			return nil, clerksync.Errorf(clerksync.EINVALID, "%s: Clerk cannot order this list by %q", l.op, p.OrderBy)
		}
		q.Set("order_by", p.OrderBy)
	}
	return q, nil
}

// validID reports whether id can be put in a URL path as it is: Clerk's ids are a
// prefix and base62 characters.
func validID(id string) bool { return validUserID(id) }
