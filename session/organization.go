package session

import "strings"

// TokenOrganization is the active organization of a minted session token: the
// organization the person has chosen in the application's organization switcher.
// Clerk's version 2 tokens carry it in the o claim, which Verify reads into
// Claims.OrganizationID, OrganizationSlug and OrganizationRole (as it reads the
// org_id, org_slug and org_role claims of version 1 tokens).
type TokenOrganization struct {
	// ID is the organization's id (o.id), such as "org_2abc…"; required.
	ID string
	// Slug is the organization's slug (o.slg); omitted when empty.
	Slug string
	// Role is the member's role key, such as "org:admin". The token carries it
	// without the "org:" prefix (o.rol), as Clerk's do.
	Role string
}

// oClaim is the o claim of a version 2 session token.
type oClaim struct {
	ID  string `json:"id"`
	Rol string `json:"rol,omitempty"`
	Slg string `json:"slg,omitempty"`
}

// claims returns the o claim of o, nil for none.
func (o *TokenOrganization) claims() *oClaim {
	if o == nil || o.ID == "" {
		return nil
	}
	return &oClaim{ID: o.ID, Rol: strings.TrimPrefix(o.Role, "org:"), Slg: o.Slug}
}
