package web

import "context"

// ReadyStore is a store that can tell whether it takes writes now, not only whether
// it answers: both of clerksync's stores are (a full disk, a write lock held by
// another process, a read-only PostgreSQL).
type ReadyStore interface {
	Ready(ctx context.Context) error
}

// storeReady asks the store whether it takes writes, or, for a store that cannot
// tell, whether it answers a ping.
func (s *Server) storeReady(ctx context.Context) error {
	if rs, ok := s.Store.(ReadyStore); ok {
		return rs.Ready(ctx)
	}
	return s.Store.Ping(ctx)
}
