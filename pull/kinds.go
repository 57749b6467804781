package pull

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

// kindSet says which kinds of objects a backfill imports.
type kindSet [clerksync.KindPermission + 1]bool

// newKindSet returns the set of kinds, every kind for none.
func newKindSet(kinds []clerksync.Kind) kindSet {
	var s kindSet
	for _, k := range kinds {
		if k.Valid() {
			s[k] = true
		}
	}
	if len(kinds) == 0 {
		for _, k := range clerksync.Kinds {
			s[k] = true
		}
	}
	return s
}

// orgSide reports whether the set needs the organization list: to import
// organizations, or to find the memberships and invitations listed per organization.
func (s kindSet) orgSide() bool {
	return s[clerksync.KindOrganization] || s[clerksync.KindMembership] || s[clerksync.KindInvitation]
}

// KindNames are the names ParseKinds accepts, in the order a backfill imports them.
var KindNames = []string{"users", "roles", "permissions", "organizations", "memberships", "invitations"}

// ParseKinds reads a comma-separated list of kinds to import, as backfill's --only
// takes it: users, organizations, memberships, invitations, roles, permissions
// (singular names too). "" means every kind. organizations alone brings the
// memberships and invitations of the organizations with it; naming memberships or
// invitations as well imports exactly what is named. It returns an EINVALID error
// naming an unknown kind.
func ParseKinds(s string) ([]clerksync.Kind, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var kinds []clerksync.Kind
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		k, ok := clerksync.ParseKind(strings.TrimSuffix(name, "s"))
		if !ok {
			k, ok = clerksync.ParseKind(name)
		}
		if !ok {
			return nil, clerksync.Errorf(clerksync.EINVALID, "%q is not a kind of object: use %s", name, strings.Join(KindNames, ", "))
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	if slices.Contains(kinds, clerksync.KindOrganization) &&
		!slices.Contains(kinds, clerksync.KindMembership) && !slices.Contains(kinds, clerksync.KindInvitation) {
		kinds = append(kinds, clerksync.KindMembership, clerksync.KindInvitation)
	}
	return kinds, nil
}

// decodeObject decodes one object of kind k from Clerk's JSON.
func (s *Syncer) decodeObject(k clerksync.Kind, raw []byte) (clerksync.Object, error) {
	switch k {
	case clerksync.KindUser:
		return clerkdecode.DecodeUser(raw, s.Decode)
	case clerksync.KindOrganization:
		return clerkdecode.DecodeOrganization(raw, s.Decode)
	case clerksync.KindMembership:
		return clerkdecode.DecodeMembership(raw, s.Decode)
	case clerksync.KindInvitation:
		return clerkdecode.DecodeInvitation(raw, s.Decode)
	case clerksync.KindRole:
		return clerkdecode.DecodeRole(raw)
	case clerksync.KindPermission:
		return clerkdecode.DecodePermission(raw)
	}
	return nil, fmt.Errorf("no decoder for kind %d", k)
}

// decoded is a page of objects of one kind, decoded one by one so that one object
// in an unexpected shape does not hold up the others.
type decoded struct {
	objects []clerksync.Object
	ids     []string // of every object that has one, decodable or not
	invalid int
}

func (s *Syncer) decodeObjects(k clerksync.Kind, raws []json.RawMessage, log *slog.Logger) decoded {
	d := decoded{objects: make([]clerksync.Object, 0, len(raws)), ids: make([]string, 0, len(raws))}
	for i, raw := range raws {
		o, err := s.decodeObject(k, raw)
		if err == nil {
			d.objects = append(d.objects, o)
			d.ids = append(d.ids, o.ObjectKey().ID)
			continue
		}
		d.invalid++
		var head struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &head) == nil && head.ID != "" {
			d.ids = append(d.ids, head.ID)
		}
		log.Warn("skipped an object of Clerk's listing that clerksync cannot decode", attrKind, k.String(), attrObjectID, head.ID, "index", i, attrError, err)
	}
	return d
}
