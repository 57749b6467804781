package web_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/session"
	"github.com/clerksync/clerksync/storetest"
)

// orgAt is Clerk's created_at and updated_at of the organizations of these tests.
const orgAt = 1_748_779_200_000

// MustJoin stores userID's membership of org with role, as its webhook would.
func (e *profileEnv) MustJoin(tb testing.TB, membershipID string, org *clerksync.Organization, userID, role string) *clerksync.Membership {
	tb.Helper()
	m := storetest.NewMembership(membershipID, org, userID, role, orgAt+1, orgAt+1)
	storetest.MustApply(tb, e.Store, storetest.Event("msg_"+membershipID, "organizationMembership.created", m))
	return m
}

// OrgToken mints a session token for userID whose active organization is org ("" for
// none).
func (e *profileEnv) OrgToken(tb testing.TB, userID, org string) string {
	tb.Helper()
	t := session.Token{Subject: userID, SessionID: "sess_" + userID}
	if org != "" {
		t.Organization = &session.TokenOrganization{ID: org, Role: "org:member"}
	}
	tok, err := e.Issuer.Mint(t)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// V1Token signs a version 1 session token for userID whose active organization is org:
// no v claim, the organization in org_id, org_slug and org_role.
func (e *profileEnv) V1Token(tb testing.TB, userID, org string) string {
	tb.Helper()
	now := e.Clock.Now()
	return signRS256(tb, testKey(), map[string]any{"alg": "RS256", "kid": e.Issuer.KeyID(), "typ": "JWT"}, map[string]any{
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Add(-10 * time.Second).Unix(),
		"iss": e.Issuer.URL(), "sid": "sess_" + userID, "sub": userID,
		"org_id": org, "org_slug": "some-slug", "org_role": "org:member",
	})
}

func signRS256(tb testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	tb.Helper()
	enc := base64.RawURLEncoding
	h, err := json.Marshal(header)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

// orgsOf decodes the organizations of an answer's profile.
func orgsOf(tb testing.TB, profile any) []map[string]any {
	tb.Helper()
	p, ok := profile.(map[string]any)
	if !ok {
		tb.Fatalf("profile is %T", profile)
	}
	raw, ok := p["organizations"].([]any)
	if !ok {
		tb.Fatalf("organizations = %#v, want an array", p["organizations"])
	}
	out := make([]map[string]any, len(raw))
	for i, o := range raw {
		out[i] = o.(map[string]any)
	}
	return out
}

// seedOrganizations stores Ada's memberships: admin of Acme, member of Beta, removed
// from Gamma, and a member of Delta, which was deleted; Bob is a member of Acme.
func seedOrganizations(t *testing.T, e *profileEnv, ada, bob string) (acme, beta *clerksync.Organization) {
	t.Helper()
	acme = storetest.NewOrganization("org_2acme", orgAt, orgAt)
	acme.Name, acme.Slug = "Acme Corp", "acme"
	beta = storetest.NewOrganization("org_2beta", orgAt, orgAt)
	beta.Name, beta.Slug, beta.ImageURL = "beta labs", "beta", ""
	e.MustJoin(t, "orgmem_2adaAcme", acme, ada, "org:admin")
	e.MustJoin(t, "orgmem_2adaBeta", beta, ada, "org:member")
	e.MustJoin(t, "orgmem_2bobAcme", acme, bob, "org:member")
	gone := e.MustJoin(t, "orgmem_2adaGamma", storetest.NewOrganization("org_2gamma", orgAt, orgAt), ada, "org:admin")
	storetest.MustApply(t, e.Store, storetest.MembershipDeleted("msg_gamma_removed", gone, orgAt+5))
	e.MustJoin(t, "orgmem_2adaDelta", storetest.NewOrganization("org_2delta", orgAt, orgAt), ada, "org:admin")
	storetest.MustApply(t, e.Store, storetest.DeleteEvent("msg_delta_deleted", "organization.deleted",
		clerksync.ObjectKey{Kind: clerksync.KindOrganization, ID: "org_2delta"}, orgAt+5))
	return acme, beta
}

func TestProfileAPI_Organizations(t *testing.T) {
	t.Parallel()
	e, ada, bob := MustRunOrgsServer(t)

	acme := map[string]any{
		"org_id": "org_2acme", "name": "Acme Corp", "slug": "acme", "image_url": "https://img.clerk.com/2acme",
		"role": "org:admin", "role_name": "Admin", "membership_id": "orgmem_2adaAcme", "active": false,
	}
	beta := map[string]any{
		"org_id": "org_2beta", "name": "beta labs", "slug": "beta", "image_url": nil,
		"role": "org:member", "role_name": "Member", "membership_id": "orgmem_2adaBeta", "active": false,
	}
	active := func(m map[string]any) map[string]any {
		c := make(map[string]any, len(m))
		for k, v := range m {
			c[k] = v
		}
		c["active"] = true
		return c
	}
	for _, tt := range []struct {
		name  string
		token string
		want  []map[string]any
	}{
		// Ordered by name, whatever the case; Gamma (removed) and Delta (deleted) gone.
		{"NoActiveOrganization", e.OrgToken(t, ada.ID, ""), []map[string]any{acme, beta}},
		{"ActiveV2", e.OrgToken(t, ada.ID, "org_2beta"), []map[string]any{acme, active(beta)}},
		{"ActiveV1", e.V1Token(t, ada.ID, "org_2acme"), []map[string]any{active(acme), beta}},
		{"ActiveNotAMember", e.OrgToken(t, ada.ID, "org_2gamma"), []map[string]any{acme, beta}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.Do(t, request{method: http.MethodGet, path: "/api/profile", bearer: tt.token})
			if r.Status != http.StatusOK {
				t.Fatalf("status = %d: %s", r.Status, r.Body)
			}
			body := r.JSON(t)
			if diff := cmp.Diff(tt.want, orgsOf(t, body)); diff != "" {
				t.Fatalf("organizations (-want +got):\n%s", diff)
			}
			// The fields that were there before are unchanged.
			if body["user_id"] != ada.ID || body["first_name"] != "Ada" || body["email"] != "ada@example.com" || body["sync_source"] != "webhook" {
				t.Fatalf("profile fields = %v", body)
			}
		})
	}

	// A user without organizations gets an empty array, never null.
	bobOnly := e.Do(t, request{method: http.MethodGet, path: "/api/profile", bearer: e.OrgToken(t, bob.ID, "")})
	if got := orgsOf(t, bobOnly.JSON(t)); len(got) != 1 || got[0]["org_id"] != "org_2acme" || got[0]["role"] != "org:member" {
		t.Fatalf("Bob's organizations = %v", got)
	}
	carl := e.MustCreateUser(t, "Carl", "Gauss", "carl@example.com")
	e.MustStore(t, carl)
	none := e.Do(t, request{method: http.MethodGet, path: "/api/profile", bearer: e.OrgToken(t, carl.ID, "")})
	if !strings.Contains(none.Body, `"organizations":[]`) {
		t.Fatalf("a user without organizations: %s", none.Body)
	}

	// The drop-in script's answer, fresh or synced, carries them too.
	fresh := decodeSync(t, e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync?max_age=3600", bearer: e.OrgToken(t, ada.ID, "org_2acme")}))
	if got := orgsOf(t, fresh.Profile); fresh.Status != "fresh" || len(got) != 2 || got[0]["active"] != true {
		t.Fatalf("fresh answer: %s, organizations %v", fresh.Status, got)
	}
}

func TestProfileAPI_SyncShowsOrganizations(t *testing.T) {
	t.Parallel()
	e := MustRunProfileServer(t, profileOptions{})
	ada := e.MustCreateUser(t, "Ada", "Lovelace", "ada@example.com")
	e.MustStore(t, ada)
	// Tokens live a minute: each request gets a fresh one.
	token := func() string { return e.OrgToken(t, ada.ID, "org_2zeta") }
	// Ada is a member of Acme in Clerk, and clerksync has synced her.
	if _, err := e.Fake.CreateOrganization(clerkfake.OrganizationParams{ID: "org_2acme", Name: "Acme Corp"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Fake.AddMember("org_2acme", ada.ID, "org:member"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	if r := e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync", bearer: token()}); r.Status != http.StatusOK {
		t.Fatalf("first sync = %d: %s", r.Status, r.Body)
	}

	// In Clerk, Ada became an admin of Acme and joined Zeta, the organization her
	// session is active in; clerksync heard of neither.
	if _, err := e.Fake.UpdateMember("org_2acme", ada.ID, "org:admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Fake.CreateOrganization(clerkfake.OrganizationParams{ID: "org_2zeta", Name: "Zeta"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Fake.AddMember("org_2zeta", ada.ID, "org:member"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	r := e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync", bearer: token()})
	if r.Status != http.StatusOK {
		t.Fatalf("sync = %d: %s", r.Status, r.Body)
	}
	s := decodeSync(t, r)
	var got [][3]any
	for _, o := range orgsOf(t, s.Profile) {
		got = append(got, [3]any{o["org_id"], o["role"], o["active"]})
	}
	if diff := cmp.Diff([][3]any{{"org_2acme", "org:admin", false}, {"org_2zeta", "org:member", true}}, got); diff != "" {
		t.Fatalf("organizations after the sync (-want +got):\n%s", diff)
	}
	if len(s.Changes) != 1 || s.Changes[0].Field != "organizations" || s.Changes[0].Label != "Organizations" {
		t.Fatalf("changes = %+v, want the organizations", s.Changes)
	}
	var before, after []map[string]any
	if json.Unmarshal(s.Changes[0].Before, &before) != nil || json.Unmarshal(s.Changes[0].After, &after) != nil {
		t.Fatalf("before/after are not lists: %s / %s", s.Changes[0].Before, s.Changes[0].After)
	}
	if len(before) != 1 || before[0]["role"] != "org:member" || len(after) != 2 || after[1]["name"] != "Zeta" {
		t.Fatalf("before %v, after %v", before, after)
	}

	// Synced again with nothing new: no change listed.
	e.Clock.Advance(time.Minute)
	if s := decodeSync(t, e.Do(t, request{method: http.MethodPost, path: "/api/profile/sync", bearer: token()})); len(s.Changes) != 0 {
		t.Fatalf("second sync lists %+v", s.Changes)
	}

	// The form, without JavaScript: removed from Zeta in Clerk; the page after the
	// redirect shows one organization left, marked changed, and says so.
	page := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: token()})
	csrf := csrfField.FindStringSubmatch(page.Body)[1]
	if !strings.Contains(page.Body, `data-org-id="org_2zeta"`) {
		t.Fatalf("page before the removal lacks Zeta:\n%s", page.Body)
	}
	if _, err := e.Fake.RemoveMember("org_2zeta", ada.ID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	post := e.Do(t, request{method: http.MethodPost, path: "/profile/sync", cookie: token(), form: url.Values{"csrf_token": {csrf}}, origin: e.URL})
	if post.Status != http.StatusSeeOther {
		t.Fatalf("form post = %d: %s", post.Status, post.Body)
	}
	var cookies []*http.Cookie
	for _, c := range (&http.Response{Header: post.Header}).Cookies() {
		cookies = append(cookies, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	after2 := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: token(), cookies: cookies})
	for _, want := range []string{"1 field changed: Organizations.", `class="orgs changed"`, `data-org-id="org_2acme"`} {
		if !strings.Contains(after2.Body, want) {
			t.Errorf("page after the form lacks %q", want)
		}
	}
	if strings.Contains(after2.Body, `data-org-id="org_2zeta"`) {
		t.Error("the page still shows Zeta")
	}
	// The session is active in Zeta, which Ada is no longer a member of: the page says so.
	if !regexp.MustCompile(`<p class="orgs-note" data-field="active_missing">[^<]*<code class="mono">org_2zeta</code>`).MatchString(after2.Body) {
		t.Errorf("page does not say the active organization has no membership:\n%s", after2.Body)
	}
}

func TestProfilePage_Organizations(t *testing.T) {
	t.Parallel()
	e, ada, _ := MustRunOrgsServer(t)

	r := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: e.OrgToken(t, ada.ID, "org_2beta")})
	if r.Status != http.StatusOK {
		t.Fatalf("status = %d:\n%s", r.Status, r.Body)
	}
	items := regexp.MustCompile(`<li class="(org[^"]*)" data-org-id="([^"]+)">`).FindAllStringSubmatch(r.Body, -1)
	var got [][2]string
	for _, m := range items {
		got = append(got, [2]string{m[2], m[1]})
	}
	if diff := cmp.Diff([][2]string{{"org_2acme", "org"}, {"org_2beta", "org org-active"}}, got); diff != "" {
		t.Fatalf("organizations on the page, active marked (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		"Acme Corp", `<span class="org-slug">acme</span>`, `title="org:admin">Admin</span>`, `src="https://img.clerk.com/2acme"`,
		"beta labs", `title="org:member">Member</span>`, `>Active</span>`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(r.Body, `data-field="active_missing">`) {
		t.Error("the note about a missing active organization is shown though Beta is listed")
	}
	if strings.Contains(r.Body, "Gamma") || strings.Contains(r.Body, "org_2delta") {
		t.Error("the page shows an organization Ada left, or a deleted one")
	}

	// Without organizations the section says so.
	carl := e.MustCreateUser(t, "Carl", "Gauss", "carl@example.com")
	e.MustStore(t, carl)
	none := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: e.OrgToken(t, carl.ID, "")})
	if !strings.Contains(none.Body, `<p class="orgs-empty" data-field="organizations_empty">Not a member of any organization.</p>`) {
		t.Errorf("page without organizations:\n%s", none.Body)
	}
}

// TestProfilePage_HostileOrganization: what an organization's admin chose (its name,
// slug and image URL) is shown escaped, never run, under the same strict CSP.
func TestProfilePage_HostileOrganization(t *testing.T) {
	t.Parallel()
	e := MustRunProfileServer(t, profileOptions{})
	ada := e.MustCreateUser(t, "Ada", "Lovelace", "ada@example.com")
	e.MustStore(t, ada)
	evil := storetest.NewOrganization("org_2evil", orgAt, orgAt)
	evil.Name = `</span><script>alert("name")</script><img src=x onerror=alert(1)>`
	evil.Slug = `"><svg onload=alert(2)>`
	evil.ImageURL = `javascript:alert(3)`
	m := storetest.NewMembership("orgmem_2adaEvil", evil, ada.ID, "org:admin", orgAt+1, orgAt+1)
	m.Role, m.RoleName = `org:"><b>x`, `<i>Owner</i>`
	storetest.MustApply(t, e.Store, storetest.Event("msg_evil", "organizationMembership.created", m))

	r := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: e.OrgToken(t, ada.ID, "org_2evil")})
	if r.Status != http.StatusOK {
		t.Fatalf("status = %d:\n%s", r.Status, r.Body)
	}
	for _, bad := range []string{"<script>alert", "<img src=x", "<svg onload", "javascript:", "<b>x", "<i>Owner"} {
		if strings.Contains(r.Body, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;", "&lt;i&gt;Owner&lt;/i&gt;", `<span class="org-initial">&lt;</span>`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("page lacks the escaped %q", want)
		}
	}
	if strings.Contains(r.Body, `class="org-img"`) {
		t.Error("a javascript: image URL became an image")
	}
	for _, m := range scriptTag.FindAllStringSubmatch(r.Body, -1) {
		if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			t.Errorf("inline script: %s", m[0])
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}

	// The API hands the values on as data, with no image URL that is not http(s).
	api := e.Do(t, request{method: http.MethodGet, path: "/api/profile", bearer: e.OrgToken(t, ada.ID, "org_2evil")})
	orgs := orgsOf(t, api.JSON(t))
	if len(orgs) != 1 || orgs[0]["name"] != evil.Name || orgs[0]["image_url"] != nil || orgs[0]["active"] != true {
		t.Fatalf("API organizations = %v", orgs)
	}
}
