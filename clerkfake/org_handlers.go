package clerkfake

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// handleOrganizations registers the Backend API's organization endpoints that a sync
// reads: lists with limit and offset (Clerk's only paging for them) answered as
// {"data":[…],"total_count":n}, newest first unless order_by says +created_at.
func (s *Server) handleOrganizations() {
	s.handle("GET /v1/organizations", s.orgsEnabled(s.listOrganizations))
	s.handle("GET /v1/organizations/{organization_id}", s.orgsEnabled(s.getOrganization))
	s.handle("GET /v1/organizations/{organization_id}/memberships", s.orgsEnabled(s.listOrgMemberships))
	s.handle("GET /v1/organizations/{organization_id}/invitations", s.orgsEnabled(s.listOrgInvitations))
	s.handle("GET /v1/users/{user_id}/organization_memberships", s.orgsEnabled(s.listUserMemberships))
	s.handle("GET /v1/organization_roles", s.orgsEnabled(s.listRoles))
	s.handle("GET /v1/organization_permissions", s.orgsEnabled(s.listPermissions))
}

// orgsEnabled answers Clerk's 403 for an instance without organizations
// (WithoutOrganizations), and h otherwise.
func (s *Server) orgsEnabled(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.noOrgs {
			writeError(w, http.StatusForbidden, clerkError{Code: "organization_not_enabled_in_instance", Message: "access denied",
				LongMessage: "The organizations feature is not enabled for this instance. You can enable it at https://dashboard.clerk.com."})
			return
		}
		h(w, r)
	}
}

// pageQuery is the paging of a list of organizations or what belongs to them.
type pageQuery struct {
	limit, offset int
	desc          bool
}

// parsePage reads limit, offset and order_by; the fake orders by created_at only.
func parsePage(v url.Values, orderable bool) (pageQuery, *apiError) {
	q := pageQuery{desc: true}
	var ae *apiError
	if q.limit, ae = intParam(v, "limit", defaultLimit, 1, maxLimit); ae != nil {
		return q, ae
	}
	if q.offset, ae = intParam(v, "offset", 0, 0, -1); ae != nil {
		return q, ae
	}
	if order := v.Get("order_by"); orderable && order != "" {
		if strings.TrimLeft(order, "+-") != "created_at" {
			return q, unprocessable("form_param_value_invalid", "order_by", "the fake Clerk orders lists by created_at only, with an optional + or - prefix")
		}
		q.desc = strings.HasPrefix(order, "-")
	}
	return q, nil
}

// writeList answers a page of data.
func writeList[T any](w http.ResponseWriter, data []T, total int) {
	body, err := listBody(data, total)
	if err != nil {
		writeError(w, http.StatusInternalServerError, clerkError{Code: "internal_clerk_error", Message: "Oops, an unexpected error occurred", LongMessage: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// orgNotFound is Clerk's 404 for an unknown organization.
func orgNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, notFound("organization", id)}
}

// writePage answers a list: the page that the request's limit, offset and order_by
// (when orderable) select of what list returns (ascending by creation), each element
// answered as view makes it. list and view run under the store's read lock; list
// returns an error to answer instead.
func writePage[E, T any](w http.ResponseWriter, r *http.Request, st *orgStore, orderable bool,
	list func(st *orgStore) ([]E, *apiError), view func(E) T) {
	q, ae := parsePage(r.URL.Query(), orderable)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	st.mu.RLock()
	all, ae := list(st)
	if ae != nil {
		st.mu.RUnlock()
		writeError(w, ae.status, ae.err)
		return
	}
	page := pageOf(all, q.offset, q.limit, q.desc)
	data := make([]T, len(page))
	for i, e := range page {
		data[i] = view(e)
	}
	st.mu.RUnlock()
	writeList(w, data, len(all))
}

// same answers an element as it is stored.
func same[T any](v T) T { return v }

// inOrg returns a list function for writePage giving what of the organization
// idOrSlug list selects, or its 404.
func inOrg[E any](idOrSlug string, list func(e *orgEntry) []E) func(st *orgStore) ([]E, *apiError) {
	return func(st *orgStore) ([]E, *apiError) {
		e := st.lookup(idOrSlug)
		if e == nil {
			return nil, orgNotFound(idOrSlug)
		}
		return list(e), nil
	}
}

func (s *Server) listOrganizations(w http.ResponseWriter, r *http.Request) {
	writePage(w, r, s.orgs, true, func(st *orgStore) ([]*orgEntry, *apiError) { return st.order, nil }, (*orgEntry).answer)
}

func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("organization_id")
	o, ok := s.Organization(id)
	if !ok {
		ae := orgNotFound(id)
		writeError(w, ae.status, ae.err)
		return
	}
	writeObject(w, o)
}

// writeObject answers one object.
func writeObject(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, clerkError{Code: "internal_clerk_error", Message: "Oops, an unexpected error occurred", LongMessage: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) listOrgMemberships(w http.ResponseWriter, r *http.Request) {
	members := inOrg(r.PathValue("organization_id"), func(e *orgEntry) []*Membership { return e.members })
	writePage(w, r, s.orgs, true, members, s.orgs.withOrg)
}

func (s *Server) listOrgInvitations(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	invites := inOrg(r.PathValue("organization_id"), func(e *orgEntry) []*Invitation {
		if status == "" {
			return e.invites
		}
		var list []*Invitation
		for _, inv := range e.invites {
			if inv.Status == status {
				list = append(list, inv)
			}
		}
		return list
	})
	writePage(w, r, s.orgs, true, func(st *orgStore) ([]*Invitation, *apiError) {
		switch status {
		case "", "pending", "accepted", "revoked", "expired":
		default:
			return nil, &apiError{http.StatusUnprocessableEntity, paramError("form_param_value_invalid", "status", "is invalid", "status must be pending, accepted, revoked or expired")}
		}
		return invites(st)
	}, func(inv *Invitation) Invitation { return *inv })
}

func (s *Server) listUserMemberships(w http.ResponseWriter, r *http.Request) {
	userID := r.PathValue("user_id")
	writePage(w, r, s.orgs, false, func(st *orgStore) ([]*Membership, *apiError) { return st.userMemberships(userID), nil }, same)
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) {
	writePage(w, r, s.orgs, true, func(st *orgStore) ([]*Role, *apiError) { return st.roles, nil }, same)
}

func (s *Server) listPermissions(w http.ResponseWriter, r *http.Request) {
	writePage(w, r, s.orgs, true, func(st *orgStore) ([]*Permission, *apiError) { return st.perms, nil }, same)
}
