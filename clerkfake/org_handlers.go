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

// writeOrgNotFound answers Clerk's 404 for an unknown organization.
func writeOrgNotFound(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, clerkError{Code: "resource_not_found", Message: "not found", LongMessage: "No organization was found with id " + id})
}

func (s *Server) listOrganizations(w http.ResponseWriter, r *http.Request) {
	q, ae := parsePage(r.URL.Query(), true)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	st := s.orgs
	st.mu.RLock()
	page := pageOf(st.order, q.offset, q.limit, q.desc)
	data := make([]*Organization, len(page))
	for i, e := range page {
		data[i] = e.answer()
	}
	total := len(st.order)
	st.mu.RUnlock()
	writeList(w, data, total)
}

func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("organization_id")
	o, ok := s.Organization(id)
	if !ok {
		writeOrgNotFound(w, id)
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
	id := r.PathValue("organization_id")
	q, ae := parsePage(r.URL.Query(), true)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	st := s.orgs
	st.mu.RLock()
	e := st.lookup(id)
	if e == nil {
		st.mu.RUnlock()
		writeOrgNotFound(w, id)
		return
	}
	page := pageOf(e.members, q.offset, q.limit, q.desc)
	data := make([]*Membership, len(page))
	for i, m := range page {
		data[i] = st.withOrg(m)
	}
	total := len(e.members)
	st.mu.RUnlock()
	writeList(w, data, total)
}

func (s *Server) listOrgInvitations(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("organization_id")
	v := r.URL.Query()
	q, ae := parsePage(v, true)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	status := v.Get("status")
	switch status {
	case "", "pending", "accepted", "revoked", "expired":
	default:
		writeError(w, http.StatusUnprocessableEntity, paramError("form_param_value_invalid", "status", "is invalid", "status must be pending, accepted, revoked or expired"))
		return
	}
	st := s.orgs
	st.mu.RLock()
	e := st.lookup(id)
	if e == nil {
		st.mu.RUnlock()
		writeOrgNotFound(w, id)
		return
	}
	list := e.invites
	if status != "" {
		list = nil
		for _, inv := range e.invites {
			if inv.Status == status {
				list = append(list, inv)
			}
		}
	}
	page := pageOf(list, q.offset, q.limit, q.desc)
	data := make([]Invitation, len(page))
	for i, inv := range page {
		data[i] = *inv
	}
	total := len(list)
	st.mu.RUnlock()
	writeList(w, data, total)
}

func (s *Server) listUserMemberships(w http.ResponseWriter, r *http.Request) {
	q, ae := parsePage(r.URL.Query(), false)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	userID := r.PathValue("user_id")
	st := s.orgs
	st.mu.RLock()
	all := st.userMemberships(userID)
	st.mu.RUnlock()
	writeList(w, pageOf(all, q.offset, q.limit, q.desc), len(all))
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) {
	q, ae := parsePage(r.URL.Query(), true)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	st := s.orgs
	st.mu.RLock()
	page := pageOf(st.roles, q.offset, q.limit, q.desc)
	total := len(st.roles)
	st.mu.RUnlock()
	writeList(w, page, total)
}

func (s *Server) listPermissions(w http.ResponseWriter, r *http.Request) {
	q, ae := parsePage(r.URL.Query(), true)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	st := s.orgs
	st.mu.RLock()
	page := pageOf(st.perms, q.offset, q.limit, q.desc)
	total := len(st.perms)
	st.mu.RUnlock()
	writeList(w, page, total)
}
