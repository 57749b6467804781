package clerksync

import "context"

// ObjectReader reads live objects; every Store is one.
type ObjectReader interface {
	Object(ctx context.Context, key ObjectKey) (Object, error)
	Objects(ctx context.Context, kind Kind, f ObjectFilter) ([]Object, error)
}

// ReadProfile returns the profile of userID from r, or an error with code ENOTFOUND:
// what Store.Profile answers, for stores that read profiles as any other object.
func ReadProfile(ctx context.Context, r ObjectReader, userID string) (*Profile, error) {
	o, err := r.Object(ctx, UserKey(userID))
	if err != nil {
		return nil, err
	}
	return o.(*Profile), nil
}

// ReadProfiles returns up to limit profiles from r with user_id > after, ordered by
// user_id: what Store.Profiles answers.
func ReadProfiles(ctx context.Context, r ObjectReader, after string, limit int) ([]Profile, error) {
	objs, err := r.Objects(ctx, KindUser, ObjectFilter{After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Profile, len(objs))
	for i, o := range objs {
		out[i] = *o.(*Profile)
	}
	return out, nil
}
