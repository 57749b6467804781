package devemu_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync/devemu"
)

// webhookTypes returns the types of the webhooks received since the from-th.
func (e *env) webhookTypes(from int) []string {
	var out []string
	for _, r := range e.webhooks()[from:] {
		out = append(out, r.Type)
	}
	return out
}

func TestEmulator_Organizations(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	ada, _, err := e.Emu.CreateUser(devemu.UserInput{FirstName: "Ada", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	grace, _, err := e.Emu.CreateUser(devemu.UserInput{FirstName: "Grace", Email: "grace@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	from := len(e.webhooks())

	org, ds, err := e.Emu.CreateOrganization(devemu.OrgInput{Name: "Acme Inc", CreatedBy: ada.ID})
	if err != nil || len(ds) != 2 || !ds[0].OK() || !ds[1].OK() {
		t.Fatalf("CreateOrganization = %+v, %+v, %v", org, ds, err)
	}
	if _, err := e.Emu.Invite(org.ID, "grace@example.com", "org:admin", false); err != nil {
		t.Fatal(err)
	}
	inv := e.Emu.Fake().Invitations(org.ID)[0]
	// Accepting finds the user by the invited email address.
	if ds, err := e.Emu.AcceptInvitation(org.ID, inv.ID, "", false); err != nil || len(ds) != 2 {
		t.Fatalf("AcceptInvitation = %+v, %v", ds, err)
	}
	if _, err := e.Emu.SetRole(org.ID, grace.ID, "org:member", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Emu.RemoveMember(org.ID, grace.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Emu.Invite(org.ID, "alan@example.com", "", false); err != nil {
		t.Fatal(err)
	}
	alanInv := e.Emu.Fake().Invitations(org.ID)[1]
	if _, err := e.Emu.AcceptInvitation(org.ID, alanInv.ID, "", false); !errors.Is(err, devemu.ErrInvalidInput) {
		t.Fatalf("accepting for an email no user has: %v", err)
	}
	if _, err := e.Emu.RevokeInvitation(org.ID, alanInv.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Emu.DeleteOrganization(org.ID, false); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"organization.created", "organizationMembership.created",
		"organizationInvitation.created", "organizationInvitation.accepted", "organizationMembership.created",
		"organizationMembership.updated", "organizationMembership.deleted",
		"organizationInvitation.created", "organizationInvitation.revoked",
		"organization.deleted",
	}
	if diff := cmp.Diff(want, e.webhookTypes(from)); diff != "" {
		t.Fatalf("webhooks (-want +got):\n%s", diff)
	}

	// A change made without a webhook reaches the fake API, not clerksync.
	from = len(e.webhooks())
	silent, ds, err := e.Emu.CreateOrganization(devemu.OrgInput{Name: "Globex", CreatedBy: grace.ID, SkipWebhook: true})
	if err != nil || len(ds) != 2 || !ds[0].Skipped || !ds[1].Skipped {
		t.Fatalf("silent CreateOrganization = %+v, %v", ds, err)
	}
	if got := e.webhookTypes(from); len(got) != 0 {
		t.Fatalf("webhooks of a silent change: %v", got)
	}
	if _, ok := e.Emu.Fake().Organization(silent.ID); !ok {
		t.Fatal("the silent organization is not in the fake API")
	}
	// The next change of that organization sends its webhook again.
	if ds, err := e.Emu.AddMember(silent.ID, ada.ID, "org:admin", false); err != nil || len(ds) != 1 || !ds[0].OK() {
		t.Fatalf("AddMember after a silent change = %+v, %v", ds, err)
	}
	if _, err := e.Emu.AddMember(silent.ID, ada.ID, "", false); !errors.Is(err, devemu.ErrInvalidInput) {
		t.Fatalf("adding a member twice: %v", err)
	}
	if _, _, err := e.Emu.CreateOrganization(devemu.OrgInput{Name: "  "}); !errors.Is(err, devemu.ErrInvalidInput) {
		t.Fatalf("an organization without a name: %v", err)
	}
}

func TestEmulator_OrganizationPages(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	ada, _, err := e.Emu.CreateUser(devemu.UserInput{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	grace, _, err := e.Emu.CreateUser(devemu.UserInput{FirstName: "Grace", Email: "grace@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	same := map[string]string{"Origin": e.URL, "Sec-Fetch-Site": "same-origin"}
	from := len(e.webhooks())

	resp, _ := do(t, b, "POST", e.URL+"/dev/orgs", same, url.Values{"name": {"Acme Inc"}, "created_by": {ada.ID}})
	orgs := e.Emu.Fake().Organizations()
	if resp.StatusCode != http.StatusSeeOther || len(orgs) != 1 || resp.Header.Get("Location") != "/dev/orgs/"+orgs[0].ID {
		t.Fatalf("create form = %d to %q; organizations %d", resp.StatusCode, resp.Header.Get("Location"), len(orgs))
	}
	org := orgs[0]
	page := "/dev/orgs/" + org.ID
	for _, step := range []struct {
		path string
		form url.Values
	}{
		{page + "/members", url.Values{"user_id": {grace.ID}, "role": {"org:member"}}},
		{page + "/members/" + grace.ID + "/role", url.Values{"role": {"org:admin"}}},
		{page + "/invitations", url.Values{"email": {"alan@example.com"}, "role": {"org:member"}}},
		{page, url.Values{"name": {"Acme Corporation"}}},
	} {
		resp, _ := do(t, b, "POST", e.URL+step.path, same, step.form)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page {
			t.Fatalf("POST %s = %d to %q", step.path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, body := do(t, b, "GET", e.URL+page, nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("organization page = %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	for _, want := range []string{"Acme Corporation", "Ada Lovelace", "alan@example.com", `value="org:admin" selected`, "<script"} {
		if got := strings.Contains(body, want); got != (want != "<script") {
			t.Fatalf("organization page: contains %q = %v\n%s", want, got, body)
		}
	}
	if !strings.Contains(body, "organizationMembership.updated") || !strings.Contains(body, "Delivered") {
		t.Fatalf("the page does not say what the last change delivered:\n%s", body)
	}
	inv := e.Emu.Fake().Invitations(org.ID)[0]
	do(t, b, "POST", e.URL+page+"/invitations/"+inv.ID+"/revoke", same, url.Values{})
	do(t, b, "POST", e.URL+page+"/members/"+grace.ID+"/delete", same, url.Values{"no_webhook": {"1"}})
	resp, _ = do(t, b, "POST", e.URL+page+"/delete", same, url.Values{})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dev/" {
		t.Fatalf("delete form = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	want := []string{"organization.created", "organizationMembership.created", "organizationMembership.created",
		"organizationMembership.updated", "organizationInvitation.created", "organization.updated",
		"organizationInvitation.revoked", "organization.deleted"}
	if diff := cmp.Diff(want, e.webhookTypes(from)); diff != "" {
		t.Fatalf("webhooks (-want +got):\n%s", diff)
	}
	_, home := do(t, b, "GET", e.URL+"/dev/", nil, nil)
	if !strings.Contains(home, "No organizations.") || !strings.Contains(home, "Deleted Acme Corporation") {
		t.Fatalf("home page after the delete:\n%s", home)
	}

	// A form from another site is refused.
	resp, _ = do(t, b, "POST", e.URL+"/dev/orgs", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, url.Values{"name": {"Evil"}})
	if resp.StatusCode != http.StatusForbidden || len(e.Emu.Fake().Organizations()) != 0 {
		t.Fatalf("cross-site form = %d", resp.StatusCode)
	}
}
