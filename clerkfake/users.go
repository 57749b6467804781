package clerkfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// CreateUser builds a user from p with NewUser, created now by the server's clock,
// stores it and calls the change hooks with user.created. Parts p leaves out are
// generated so that they are unique in the server. It returns ErrUserExists or
// ErrIdentifierTaken when p's id, email address or username is in use.
func (s *Server) CreateUser(p UserParams) (*User, error) {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.now()
	}
	// Identifiers the caller chose fail at once; generated ones that collide with
	// earlier users are drawn again.
	s.store.mu.RLock()
	_, emailTaken := s.store.emails[strings.ToLower(p.Email)]
	_, usernameTaken := s.store.usernames[strings.ToLower(p.Username)]
	s.store.mu.RUnlock()
	if (p.Email != "" && emailTaken) || (p.Username != "" && usernameTaken) {
		return nil, fmt.Errorf("create user: %w", ErrIdentifierTaken)
	}
	redraw := p.Seed == 0 && (p.Email == "" || p.Username == "" || (p.Rich && len(p.ExtraEmails) == 0))
	for attempt := 0; ; attempt++ {
		q := p
		if q.Seed == 0 {
			s.store.mu.Lock()
			q.Seed = s.store.nextSeed()
			s.store.mu.Unlock()
		}
		u := NewUser(q)
		err := s.AddUser(u)
		if errors.Is(err, ErrIdentifierTaken) && redraw && attempt < 100 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return u, nil
	}
}

// AddUser stores u as it is and calls the change hooks with user.created. It
// returns ErrUserExists when u's id is or was in use, and ErrIdentifierTaken when
// another user has one of its email addresses or its username.
func (s *Server) AddUser(u *User) error {
	c := clone(u)
	r, err := newRecord(c)
	if err != nil {
		return err
	}
	s.store.mu.Lock()
	err = s.store.insert(r)
	s.store.mu.Unlock()
	if err != nil {
		return err
	}
	s.notify(EventUserCreated, c)
	return nil
}

// UpdateUser changes the user id with f and stores the result, as a change made in
// Clerk's dashboard would: updated_at moves to the current time, at least one
// millisecond past the old value, unless f set it itself. It calls the change
// hooks with user.updated and returns the new state of the user, or
// ErrUserNotFound, or ErrIdentifierTaken.
func (s *Server) UpdateUser(id string, f func(*User)) (*User, error) {
	u, _, err := s.mutate(id, func(u *User) error {
		f(u)
		return nil
	})
	return u, err
}

// mutate applies f to the stored user id and stores the result with updated_at
// bumped. It returns the new user and its marshalled form. An error from f is
// returned as is and nothing changes.
func (s *Server) mutate(id string, f func(*User) error) (*User, []byte, error) {
	st := s.store
	st.mu.Lock()
	old, ok := st.byID[id]
	if !ok {
		st.mu.Unlock()
		return nil, nil, fmt.Errorf("update %s: %w", id, ErrUserNotFound)
	}
	var u User
	if err := json.Unmarshal(old.raw, &u); err != nil {
		st.mu.Unlock()
		return nil, nil, fmt.Errorf("decode stored user %s: %w", id, err)
	}
	if err := f(&u); err != nil {
		st.mu.Unlock()
		return nil, nil, err
	}
	if u.ID != id {
		st.mu.Unlock()
		return nil, nil, fmt.Errorf("update %s: the id of a user cannot change", id)
	}
	if u.UpdatedAt == old.updated {
		u.UpdatedAt = max(s.now().UnixMilli(), old.updated+1)
	}
	next, err := newRecord(&u)
	if err == nil {
		err = st.replace(old, next)
	}
	st.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	s.notify(EventUserUpdated, clone(&u))
	return &u, next.raw, nil
}

// DeleteUser deletes the user id and calls the change hooks with user.deleted. The
// id is never used again. It returns ErrUserNotFound for an unknown id.
func (s *Server) DeleteUser(id string) error {
	_, err := s.deleteUser(id)
	return err
}

func (s *Server) deleteUser(id string) (*User, error) {
	st := s.store
	st.mu.Lock()
	r, ok := st.byID[id]
	if ok {
		st.remove(r)
	}
	st.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("delete %s: %w", id, ErrUserNotFound)
	}
	// Clerk removes the memberships of a deleted user with it; the user.deleted
	// webhook is all it sends.
	s.dropUserMemberships(id)
	u, err := decodeUser(r.raw)
	if err != nil {
		return nil, err
	}
	s.notify(EventUserDeleted, clone(u))
	return u, nil
}

// User returns the user id, or false when there is none.
func (s *Server) User(id string) (*User, bool) {
	s.store.mu.RLock()
	r, ok := s.store.byID[id]
	s.store.mu.RUnlock()
	if !ok {
		return nil, false
	}
	u, err := decodeUser(r.raw)
	if err != nil {
		return nil, false
	}
	return u, true
}

// Users returns every user, oldest first.
func (s *Server) Users() []*User {
	s.store.mu.RLock()
	records := slices.Clone(s.store.byCreated)
	s.store.mu.RUnlock()
	users := make([]*User, 0, len(records))
	for _, r := range records {
		if u, err := decodeUser(r.raw); err == nil {
			users = append(users, u)
		}
	}
	return users
}

// Len returns the number of users.
func (s *Server) Len() int {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	return len(s.store.byID)
}

// Seed adds n generated users created over the n minutes before now, as users who
// signed up before clerksync was set up: a mix of plain and rich users, some with a
// phone number, metadata, an external id or a ban. The users depend only on the
// server's seed and on how many were seeded before. Seed calls no change hook. The
// users are built and marshalled on every core at once, once: 100,000 users cost
// about 3 s of CPU time and 400 MB, and are then listed without further work. It
// returns ErrIdentifierTaken if a generated email address or username is in use.
func (s *Server) Seed(n int) error {
	if n <= 0 {
		return nil
	}
	st := s.store
	st.mu.Lock()
	first := st.draws
	st.draws += uint64(n)
	st.mu.Unlock()
	now := s.now()

	records := make([]*record, n)
	errs := make([]error, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				index := first + uint64(i) + 1
				u := seedUser(mix(st.seed, index), index, now.Add(-time.Duration(n-i)*time.Minute), now)
				records[i], errs[i] = newRecord(u)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range records {
		if _, ok := st.byID[r.id]; ok || !st.identifiersFree(r) {
			return fmt.Errorf("seed %s: %w", r.id, ErrIdentifierTaken)
		}
		if _, ok := st.deleted[r.id]; ok {
			return fmt.Errorf("seed %s: %w", r.id, ErrUserExists)
		}
	}
	// One sort beats n sorted inserts.
	for _, r := range records {
		st.byID[r.id] = r
		st.indexIdentifiers(r)
	}
	st.byCreated = append(st.byCreated, records...)
	st.byUpdated = append(st.byUpdated, records...)
	slices.SortFunc(st.byCreated, func(a, b *record) int { return compareKeys(createdKey(a), createdKey(b)) })
	slices.SortFunc(st.byUpdated, func(a, b *record) int { return compareKeys(updatedKey(a), updatedKey(b)) })
	return nil
}

// seedUser returns the seeded user number index, created around created and last
// changed at some point before now.
func seedUser(seed, index uint64, created, now time.Time) *User {
	rng := newRand(seed)
	created = created.Add(-time.Duration(rng.Int64N(int64(30 * time.Second))))
	first, last := pick(rng, firstNames), pick(rng, lastNames)
	domain := pick(rng, emailDomains)
	p := UserParams{
		Seed:      mix(seed, 1),
		FirstName: first,
		LastName:  last,
		Email:     fmt.Sprintf("%s.%s.%d@%s", asciiLower(first), asciiLower(last), index, domain),
		Username:  fmt.Sprintf("%s%s%d", asciiLower(first), asciiLower(firstRune(last)), index),
		CreatedAt: created,
	}
	if age := now.Sub(created); age > 0 && rng.IntN(2) == 0 {
		p.UpdatedAt = created.Add(time.Duration(rng.Int64N(int64(min(age, 30*24*time.Hour)))))
		p.LastSignInAt = p.UpdatedAt
	}
	switch index % 3 {
	case 0:
		p.Rich = true
		p.ExtraEmails = []string{fmt.Sprintf("%s%s.%d@%s", asciiLower(firstRune(first)), asciiLower(last), index, pick(rng, emailDomains))}
	case 1:
		if rng.IntN(2) == 0 {
			p.Phone = fmt.Sprintf("+1%d55501%02d", 201+rng.IntN(780), rng.IntN(100))
		}
	}
	if index%4 == 2 {
		p.PublicMetadata = json.RawMessage(fmt.Sprintf(`{"plan":"pro","seats":%d}`, 1+rng.IntN(50)))
	}
	if index%5 == 4 {
		p.ExternalID = fmt.Sprintf("ext_%d", index)
	}
	p.Banned = index%50 == 7
	return NewUser(p)
}

func decodeUser(raw []byte) (*User, error) {
	var u User
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, fmt.Errorf("decode stored user: %w", err)
	}
	return &u, nil
}

// clone returns a deep copy of u.
func clone(u *User) *User {
	b, err := json.Marshal(u)
	if err != nil {
		c := *u
		return &c
	}
	var c User
	if err := json.Unmarshal(b, &c); err != nil {
		c = *u
	}
	return &c
}
