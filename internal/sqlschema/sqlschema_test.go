package sqlschema_test

import (
	"errors"
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

func TestDeleteInChunks(t *testing.T) {
	left := 12
	calls := 0
	n, err := sqlschema.DeleteInChunks(5, func() (int, error) {
		calls++
		d := min(left, 5)
		left -= d
		return d, nil
	})
	if n != 12 || err != nil || calls != 3 {
		t.Fatalf("DeleteInChunks = %d, %v after %d calls; want 12, nil after 3", n, err, calls)
	}
	boom := errors.New("boom")
	calls = 0
	n, err = sqlschema.DeleteInChunks(5, func() (int, error) {
		calls++
		if calls == 2 {
			return 0, boom
		}
		return 5, nil
	})
	if n != 5 || !errors.Is(err, boom) || calls != 2 {
		t.Fatalf("DeleteInChunks = %d, %v after %d calls; want 5, boom after 2", n, err, calls)
	}
}
