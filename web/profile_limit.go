package web

import (
	"sync"
	"time"
)

// userLimiter allows one sync per user per interval. It lives in the process: with
// several replicas a user may sync once per interval on each, which still bounds what
// a looping page can cost.
type userLimiter struct {
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	last  map[string]time.Time
	sweep time.Time // when old entries were last dropped
}

func newUserLimiter(interval time.Duration, now func() time.Time) *userLimiter {
	return &userLimiter{interval: interval, now: now, last: make(map[string]time.Time)}
}

// allow records a sync of userID and returns true, or returns how long until the
// user may sync again and false.
func (l *userLimiter) allow(userID string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if last, ok := l.last[userID]; ok {
		if next := last.Add(l.interval); now.Before(next) && !now.Before(last) {
			return next.Sub(now), false
		}
	}
	l.last[userID] = now
	// Forget users whose interval is over, now and then, so the map stays as small as
	// the number of users who synced within one interval.
	if now.Sub(l.sweep) >= l.interval {
		for id, t := range l.last {
			if now.Sub(t) >= l.interval {
				delete(l.last, id)
			}
		}
		l.sweep = now
	}
	return 0, true
}
