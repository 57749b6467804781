package sqlschema_test

import (
	"strings"
	"testing"

	"github.com/clerksync/clerksync/internal/sqlschema"
)

func TestProfileUpsertSet(t *testing.T) {
	t.Parallel()
	set := sqlschema.ProfileUpsertSet
	if strings.Contains(set, "user_id") {
		t.Fatalf("the upsert would assign the key: %s", set)
	}
	for _, c := range sqlschema.ProfileColumns[1:] {
		if !strings.Contains(set, c+" = excluded."+c) {
			t.Errorf("the upsert leaves %s as it was", c)
		}
	}
}

func TestNulls(t *testing.T) {
	t.Parallel()
	if sqlschema.Text("") != nil || sqlschema.Text("a") != "a" {
		t.Error("Text must bind NULL for \"\" and the string otherwise")
	}
	if sqlschema.Millis(0) != nil || sqlschema.Millis(5) != int64(5) {
		t.Error("Millis must bind NULL for 0 and the value otherwise")
	}
}
