// Package broadcast wakes every waiter at once: the readers of the changes feed (long
// polls of GET /api/changes, the forwarder, in-process consumers) when the engine has
// committed new entries.
package broadcast

import "sync"

// Broadcaster wakes its waiters on Notify. The zero value is ready to use; it is safe
// for concurrent use.
type Broadcaster struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel that is closed at the next Notify: take it before checking for
// what to wait for, then wait on it.
func (b *Broadcaster) C() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Notify wakes everyone waiting on a channel C returned.
func (b *Broadcaster) Notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
