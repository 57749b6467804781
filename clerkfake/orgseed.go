package clerkfake

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// SeedOrganizations adds n organizations created over the n minutes before now, with
// memberships spread over them (the first member of each an admin, the others
// members), drawn from the users the server has: organization i has the users
// i·k … i·k+k-1 (modulo the number of users) for its k members. It calls no hook. It
// is quick enough for load tests: 10,000 organizations with 100,000 memberships take
// well under a second, and are marshalled only when listed. It returns an error when
// memberships are asked for and there are no users, or fewer users than the members
// one organization needs.
func (s *Server) SeedOrganizations(n, memberships int) error {
	if n <= 0 {
		return nil
	}
	s.store.mu.RLock()
	users := make([]PublicUserData, len(s.store.byCreated))
	for i, r := range s.store.byCreated {
		users[i] = r.public
	}
	s.store.mu.RUnlock()
	per := (memberships + n - 1) / n
	switch {
	case memberships > 0 && len(users) == 0:
		return fmt.Errorf("seed organizations: %d memberships need users: seed users first", memberships)
	case per > len(users):
		return fmt.Errorf("seed organizations: %d members per organization, but only %d users", per, len(users))
	}
	rng := s.rng()
	now := s.now()
	st := s.orgs
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ensureRoles(now.Add(-time.Duration(n+1)*time.Minute).UnixMilli(), rng)
	admin, member := st.role("org:admin"), st.role("org:member")
	adminPerms, memberPerms := permissionKeys(admin), permissionKeys(member)
	empty := json.RawMessage(`{}`)
	entries := make([]*orgEntry, 0, n)
	left := memberships
	for i := range n {
		created := now.Add(-time.Duration(n-i) * time.Minute)
		ms := created.UnixMilli()
		id := newID("org_", created, rng)
		slug := fmt.Sprintf("org-%d-%s", len(st.used), id[len(id)-6:])
		e := &orgEntry{org: Organization{
			Object: "organization", ID: id, Name: fmt.Sprintf("%s %s", pick(rng, lastNames), pick(rng, orgSuffixes)),
			Slug: slug, AdminDeleteEnabled: true, PublicMetadata: empty, PrivateMetadata: empty,
			CreatedAt: ms, UpdatedAt: ms,
		}}
		if _, taken := st.slugs[slug]; taken || st.used[id] {
			return fmt.Errorf("seed organizations: %s: %w", slug, ErrSlugTaken)
		}
		k := min(per, left)
		left -= k
		e.members = make([]*Membership, 0, k)
		e.byUser = make(map[string]*Membership, k)
		for j := range k {
			u := users[(i*per+j)%len(users)]
			m := &Membership{
				Object: organizationMembershipType, ID: newID("orgmem_", created, rng), Role: member.Key,
				RoleName: member.Name, Permissions: memberPerms, PublicMetadata: empty, PrivateMetadata: empty,
				PublicUserData: u, CreatedAt: ms + int64(j)*1000, UpdatedAt: ms + int64(j)*1000,
			}
			if j == 0 {
				m.Role, m.RoleName, m.Permissions = admin.Key, admin.Name, adminPerms
				e.org.CreatedBy = u.UserID
			}
			st.addMember(e, m)
		}
		st.orgs[id] = e
		st.slugs[slug] = id
		st.used[id] = true
		entries = append(entries, e)
	}
	st.order = append(st.order, entries...)
	slices.SortFunc(st.order, func(a, b *orgEntry) int {
		return compareKeys(sortKey{a.org.CreatedAt, a.org.ID}, sortKey{b.org.CreatedAt, b.org.ID})
	})
	return nil
}

var orgSuffixes = []string{"Labs", "Inc", "Studio", "Systems", "Group", "Works", "Partners", "Analytics", "Cloud", "Foods"}
