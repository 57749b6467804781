package postgres

import (
	"strings"
	"testing"
)

// TestGenericPlans checks that the writes run with generic plans are inserts of the
// rows of arrays, whose plan cannot depend on their values or on table sizes; a
// statement that looks rows up (an UPDATE or DELETE by id) must keep a custom plan.
func TestGenericPlans(t *testing.T) {
	if len(genericPlans) < 6 {
		t.Fatalf("only %d statements with generic plans; want the upserts, placeholders, tombstones, events and feed", len(genericPlans))
	}
	for sql := range genericPlans {
		insert := strings.HasPrefix(sql, "INSERT INTO ") || strings.Contains(sql, "\n    INSERT INTO clerksync_changes ")
		if !insert || !strings.Contains(sql, "FROM unnest(") && !strings.Contains(sql, "FROM s, unnest(") {
			t.Errorf("generic plan for a statement that is not an insert from unnest:\n%s", sql)
		}
	}
	for _, w := range writes {
		for _, sql := range []string{w.hardDelete, w.softDelete} {
			if genericPlans[sql] {
				t.Errorf("generic plan for a lookup by id:\n%s", sql)
			}
		}
	}
	for _, sql := range []string{sqlRedeliveries, sqlRedact} {
		if genericPlans[sql] {
			t.Errorf("generic plan for a lookup by id:\n%s", sql)
		}
	}
}
