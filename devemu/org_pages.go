package devemu

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
)

// orgView is an organization as the pages show it, with what clerksync holds of it.
type orgView struct {
	ID, Name, Slug     string
	MembersCount       int
	Pending            int
	Stored, StoredKind string
	Members            []memberView
	Invitations        []invitationView
}

// memberView is a membership as the organization's page shows it.
type memberView struct {
	ID, UserID, Name, Identifier, Role string
	Initials, AvatarURL                string
	Stored, StoredKind                 string
}

// invitationView is an invitation as the organization's page shows it.
type invitationView struct {
	ID, Email, Role, Status string
	Pending                 bool
}

// roleView is a role a member can be given.
type roleView struct{ Key, Name string }

// handleOrgRoutes registers the organization pages and forms on mux.
func (e *Emulator) handleOrgRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /dev/orgs", e.handleCreateOrg)
	mux.HandleFunc("GET /dev/orgs/{id}", e.handleOrgPage)
	mux.HandleFunc("POST /dev/orgs/{id}", e.orgForm(func(r *http.Request, id string, skip bool) (string, []Delivery, error) {
		ds, err := e.RenameOrganization(id, OrgInput{Name: r.PostForm.Get("name"), SkipWebhook: skip})
		return "Renamed the organization", ds, err
	}))
	mux.HandleFunc("POST /dev/orgs/{id}/delete", e.handleDeleteOrg)
	mux.HandleFunc("POST /dev/orgs/{id}/members", e.orgForm(func(r *http.Request, id string, skip bool) (string, []Delivery, error) {
		ds, err := e.AddMember(id, r.PostForm.Get("user_id"), r.PostForm.Get("role"), skip)
		return "Added a member", ds, err
	}))
	mux.HandleFunc("POST /dev/orgs/{id}/members/{user}/role", e.orgForm(func(r *http.Request, id string, skip bool) (string, []Delivery, error) {
		ds, err := e.SetRole(id, r.PathValue("user"), r.PostForm.Get("role"), skip)
		return "Changed a role", ds, err
	}))
	mux.HandleFunc("POST /dev/orgs/{id}/members/{user}/delete", e.orgForm(func(r *http.Request, id string, skip bool) (string, []Delivery, error) {
		ds, err := e.RemoveMember(id, r.PathValue("user"), skip)
		return "Removed a member", ds, err
	}))
	mux.HandleFunc("POST /dev/orgs/{id}/invitations", e.orgForm(func(r *http.Request, id string, skip bool) (string, []Delivery, error) {
		ds, err := e.Invite(id, r.PostForm.Get("email"), r.PostForm.Get("role"), skip)
		return "Invited " + strings.TrimSpace(r.PostForm.Get("email")), ds, err
	}))
	mux.HandleFunc("POST /dev/orgs/{id}/invitations/{inv}/accept", e.orgForm(func(r *http.Request, id string, skip bool) (string, []Delivery, error) {
		ds, err := e.AcceptInvitation(id, r.PathValue("inv"), r.PostForm.Get("user_id"), skip)
		return "Accepted an invitation", ds, err
	}))
	mux.HandleFunc("POST /dev/orgs/{id}/invitations/{inv}/revoke", e.orgForm(func(r *http.Request, id string, skip bool) (string, []Delivery, error) {
		ds, err := e.RevokeInvitation(id, r.PathValue("inv"), skip)
		return "Revoked an invitation", ds, err
	}))
}

// orgForm returns the handler of a form that changes the organization {id} with
// change, then goes back to the organization's page with what became of the webhooks.
func (e *Emulator) orgForm(change func(r *http.Request, id string, skip bool) (string, []Delivery, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		what, ds, err := change(r, id, r.PostForm.Get("no_webhook") != "")
		if err != nil {
			flashCookie.Set(w, r, &notice{Kind: "error", Title: what + ": not done.", Text: inputError(err)})
		} else {
			flashCookie.Set(w, r, deliveriesNotice(what, ds))
		}
		http.Redirect(w, r, Prefix+"orgs/"+id, http.StatusSeeOther)
	}
}

// deliveriesNotice says what became of the webhooks of one change.
func deliveriesNotice(what string, ds []Delivery) *notice {
	var types []string
	skipped := 0
	for i := range ds {
		d := &ds[i]
		switch {
		case d.Skipped:
			skipped++
		case !d.OK():
			return &notice{Kind: "error", Title: what + ", but a webhook failed.", Text: d.Type + ": " + d.Error}
		default:
			types = append(types, fmt.Sprintf("%s (%d %s)", d.Type, d.Status, d.Outcome))
		}
	}
	switch {
	case len(ds) == 0:
		return &notice{Kind: "success", Title: what + "."}
	case skipped == len(ds):
		return &notice{Kind: "info", Title: what + ", no webhook sent.",
			Text: "clerksync has not heard of it: run clerksync sync ORG_ID, or a backfill, to catch up."}
	}
	return &notice{Kind: "success", Title: what + ".", Text: "Delivered: " + strings.Join(types, ", ") + "."}
}

func (e *Emulator) handleCreateOrg(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	org, ds, err := e.CreateOrganization(OrgInput{Name: r.PostForm.Get("name"), CreatedBy: r.PostForm.Get("created_by"),
		SkipWebhook: r.PostForm.Get("no_webhook") != ""})
	if err != nil {
		flashCookie.Set(w, r, &notice{Kind: "error", Title: "Organization not created.", Text: inputError(err)})
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	flashCookie.Set(w, r, deliveriesNotice("Created "+org.Name, ds))
	http.Redirect(w, r, Prefix+"orgs/"+org.ID, http.StatusSeeOther)
}

func (e *Emulator) handleDeleteOrg(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	name := e.orgName(id)
	ds, err := e.DeleteOrganization(id, r.PostForm.Get("no_webhook") != "")
	if err != nil {
		flashCookie.Set(w, r, &notice{Kind: "error", Title: "Organization not deleted.", Text: inputError(err)})
	} else {
		flashCookie.Set(w, r, deliveriesNotice("Deleted "+name, ds))
	}
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (e *Emulator) handleOrgPage(w http.ResponseWriter, r *http.Request) {
	org, ok := e.fake.Organization(r.PathValue("id"))
	if !ok {
		flashCookie.Set(w, r, &notice{Kind: "error", Title: "No such organization."})
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	v := e.newOrgView(r.Context(), org, true)
	e.render(w, r, http.StatusOK, e.views.org, &pageData{Title: v.Name, Nav: "home", Org: &v, Users: e.users(r.Context(), ""), Roles: e.roles()})
}

// orgs returns every organization of the emulated instance, oldest first.
func (e *Emulator) orgs(ctx context.Context) []orgView {
	all := e.fake.Organizations()
	out := make([]orgView, 0, len(all))
	for _, o := range all {
		out = append(out, e.newOrgView(ctx, o, false))
	}
	return out
}

// roles returns the roles a member can be given.
func (e *Emulator) roles() []roleView {
	var out []roleView
	for _, r := range e.fake.Roles() {
		out = append(out, roleView{Key: r.Key, Name: r.Name})
	}
	if len(out) == 0 {
		out = []roleView{{"org:admin", "Admin"}, {"org:member", "Member"}}
	}
	return out
}

func (e *Emulator) newOrgView(ctx context.Context, o *clerkfake.Organization, full bool) orgView {
	v := orgView{ID: o.ID, Name: o.Name, Slug: o.Slug, MembersCount: o.MembersCount, Pending: o.PendingInvitationsCount}
	v.Stored, v.StoredKind = e.storedObject(ctx, clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: o.ID}, o.UpdatedAt)
	if !full {
		return v
	}
	for _, m := range e.fake.Memberships(o.ID) {
		mv := memberView{ID: m.ID, UserID: m.PublicUserData.UserID, Role: m.Role, AvatarURL: m.PublicUserData.ImageURL}
		mv.Name = derefString(m.PublicUserData.FirstName) + " " + derefString(m.PublicUserData.LastName)
		mv.Identifier = derefString(m.PublicUserData.Identifier)
		mv.Initials = avatarInitials(derefString(m.PublicUserData.FirstName), derefString(m.PublicUserData.LastName), derefString(m.PublicUserData.Username))
		mv.Stored, mv.StoredKind = e.storedObject(ctx, clerksync.ObjectKey{Kind: clerksync.KindMembership, ID: m.ID}, m.UpdatedAt)
		v.Members = append(v.Members, mv)
	}
	for _, inv := range e.fake.Invitations(o.ID) {
		v.Invitations = append(v.Invitations, invitationView{ID: inv.ID, Email: inv.EmailAddress, Role: inv.Role, Status: inv.Status, Pending: inv.Status == "pending"})
	}
	return v
}

// storedObject says what clerksync holds of the object key compared with the
// emulated Clerk's version updatedAt.
func (e *Emulator) storedObject(ctx context.Context, key clerksync.ObjectKey, updatedAt int64) (string, string) {
	store := e.currentStore()
	if store == nil {
		return "", "muted"
	}
	o, err := store.Object(ctx, key)
	switch {
	case clerksync.ErrorCode(err) == clerksync.ENOTFOUND:
		return "not in clerksync", "warn"
	case err != nil:
		return "database unavailable", "bad"
	}
	if _, v := o.Versions(); v < updatedAt {
		return "behind Clerk", "warn"
	}
	return "in sync", "ok"
}
