package postgres

import (
	"context"

	"github.com/clerksync/clerksync"
)

// Ready reports whether the store can take writes now, which Ping, a read, does not
// tell: the database answers and is not read-only (a standby after a failover that
// left the URL pointing at it, or default_transaction_read_only). It returns an error
// with code EUNAVAILABLE when the store is not ready.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	var standby bool
	var readOnly string
	err := s.pool.QueryRow(ctx, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").Scan(&standby, &readOnly)
	if err != nil {
		return unavailable("ready", err)
	}
	if standby || readOnly == "on" {
		return &clerksync.Error{
			Code:    clerksync.EUNAVAILABLE,
			Message: "postgres: the database is read-only (a standby, or default_transaction_read_only is on)",
			Hint:    "point DATABASE_URL at the primary",
		}
	}
	return nil
}
