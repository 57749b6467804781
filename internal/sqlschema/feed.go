package sqlschema

// The statements of the changes feed's bookkeeping, the same text on both stores:
// SQLite binds $N parameters by number as PostgreSQL does. Timestamps are bound as the
// store keeps them (milliseconds on SQLite, timestamptz on PostgreSQL).
const (
	// PositionSQL reads one endpoint's position ($1 endpoint).
	PositionSQL = `SELECT position FROM clerksync_forward_positions WHERE endpoint = $1`

	// SetPositionSQL records an endpoint's position ($1 endpoint, $2 seq, $3 now).
	SetPositionSQL = `INSERT INTO clerksync_forward_positions (endpoint, position, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (endpoint) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`

	// PositionsSQL reads every endpoint's position.
	PositionsSQL = `SELECT endpoint, position FROM clerksync_forward_positions`

	// PruneChangesSQL deletes up to $3 entries of the feed whose seq is at most $1 and
	// that come before the first entry recorded at $2 or later. The feed has no index on
	// created_at, which every change would write: entries are recorded in seq order
	// (give or take a writer's clock), so the first one recorded at the cutoff or later
	// bounds the range, and finding it reads only the entries about to go. Finding the
	// bound and deleting are one statement, so that an entry committed in between is
	// never deleted with the old ones. The newest entry stays: SQLite gives the next
	// entry the largest seq plus one, and PostgreSQL's readers learn where the feed ends
	// from it.
	PruneChangesSQL = `DELETE FROM clerksync_changes WHERE seq IN (
    SELECT seq FROM clerksync_changes
    WHERE seq <= $1 AND seq < coalesce((SELECT seq FROM clerksync_changes WHERE created_at >= $2 ORDER BY seq LIMIT 1), 9223372036854775807)
      AND seq < (SELECT max(seq) FROM clerksync_changes)
    ORDER BY seq LIMIT $3)`
)

// Rows is what both drivers' result sets offer (*sql.Rows, pgx.Rows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanPositions reads the rows of PositionsSQL.
func ScanPositions(rows Rows) (map[string]int64, error) {
	out := make(map[string]int64)
	for rows.Next() {
		var (
			endpoint string
			pos      int64
		)
		if err := rows.Scan(&endpoint, &pos); err != nil {
			return nil, err
		}
		out[endpoint] = pos
	}
	return out, rows.Err()
}

// DeleteInChunks calls del, which deletes up to chunk rows in a transaction of its own
// and says how many it deleted, until a call deletes fewer than chunk; it returns how
// many rows went in all. Deleting in chunks keeps each transaction short, so that none
// holds up the webhooks.
func DeleteInChunks(chunk int, del func() (int, error)) (int, error) {
	total := 0
	for {
		n, err := del()
		total += n
		if err != nil || n < chunk {
			return total, err
		}
	}
}
