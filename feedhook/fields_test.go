package feedhook_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/feedhook"
)

func TestFields(t *testing.T) {
	t.Parallel()
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	for _, tt := range []struct {
		name  string
		entry clerksync.FeedEntry
		want  []feedhook.Field
	}{
		{"Created", clerksync.FeedEntry{Type: "profile.created",
			Data: raw(`{"user_id":"user_1","email":"a@example.com","phone":null,"banned":false}`)},
			[]feedhook.Field{{Name: "user_id", After: raw(`"user_1"`)}, {Name: "email", After: raw(`"a@example.com"`)}, {Name: "banned", After: raw(`false`)}}},
		{"Updated", clerksync.FeedEntry{Type: "profile.updated",
			Data:     raw(`{"user_id":"user_1","email":"b@example.com","first_name":null,"updated_at":2}`),
			Previous: raw(`{"email":"a@example.com","first_name":"Ada","updated_at":1}`)},
			[]feedhook.Field{{Name: "email", Before: raw(`"a@example.com"`), After: raw(`"b@example.com"`)},
				{Name: "first_name", Before: raw(`"Ada"`), After: raw(`null`)},
				{Name: "updated_at", Before: raw(`1`), After: raw(`2`)}}},
		{"TableOrder", clerksync.FeedEntry{Type: "profile.created", Kind: clerksync.KindUser,
			Data: raw(`{"email":"a@example.com","user_id":"user_1","last_name":"L","first_name":"F"}`)},
			[]feedhook.Field{{Name: "user_id", After: raw(`"user_1"`)}, {Name: "email", After: raw(`"a@example.com"`)},
				{Name: "first_name", After: raw(`"F"`)}, {Name: "last_name", After: raw(`"L"`)}}},
		{"Deleted", clerksync.FeedEntry{Type: "membership.deleted",
			Data: raw(`{"membership_id":"orgmem_1"}`), Previous: raw(`{"membership_id":"orgmem_1","org_id":"org_1","role_name":null}`)},
			[]feedhook.Field{{Name: "membership_id", Before: raw(`"orgmem_1"`)}, {Name: "org_id", Before: raw(`"org_1"`)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := feedhook.Fields(tt.entry)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Fields (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := feedhook.Fields(clerksync.FeedEntry{Type: "profile.created", Data: raw(`[1]`)}); err == nil {
		t.Error("Fields of an entry whose data is an array succeeded")
	}
}
