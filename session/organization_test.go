package session_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync/session"
)

// TestMintActiveOrganization: a token minted with an active organization carries it in
// Clerk's version 2 shape (o, with the role key without its org: prefix), and Verify
// reads it back as the claims of the active organization.
func TestMintActiveOrganization(t *testing.T) {
	t.Parallel()
	_, iss, _, v := setup(t, session.Config{})
	for _, tt := range []struct {
		name string
		org  *session.TokenOrganization
		o    map[string]any // the o claim as minted, nil for none
		want [3]string      // OrganizationID, OrganizationSlug, OrganizationRole
	}{
		{"Admin", &session.TokenOrganization{ID: "org_2acme", Slug: "acme", Role: "org:admin"},
			map[string]any{"id": "org_2acme", "slg": "acme", "rol": "admin"}, [3]string{"org_2acme", "acme", "org:admin"}},
		{"CustomRoleNoSlug", &session.TokenOrganization{ID: "org_2beta", Role: "org:billing_manager"},
			map[string]any{"id": "org_2beta", "rol": "billing_manager"}, [3]string{"org_2beta", "", "org:billing_manager"}},
		{"None", nil, nil, [3]string{}},
		{"NoID", &session.TokenOrganization{Slug: "acme"}, nil, [3]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := MustMint(t, iss, session.Token{Subject: "user_2abc", Organization: tt.org})
			payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
			if err != nil {
				t.Fatal(err)
			}
			var claims map[string]any
			if err := json.Unmarshal(payload, &claims); err != nil {
				t.Fatal(err)
			}
			o, _ := claims["o"].(map[string]any)
			if diff := cmp.Diff(tt.o, o); diff != "" {
				t.Fatalf("o claim (-want +got):\n%s", diff)
			}
			if _, ok := claims["org_id"]; ok {
				t.Fatal("a version 2 token carries org_id")
			}
			c, err := v.Verify(context.Background(), token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got := [3]string{c.OrganizationID, c.OrganizationSlug, c.OrganizationRole}; got != tt.want {
				t.Fatalf("active organization = %q, want %q", got, tt.want)
			}
			if c.Version != 2 {
				t.Fatalf("Version = %d, want 2", c.Version)
			}
		})
	}
}
