package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// userBody is a user.updated about id at version updatedAt (ms), with extra members
// (such as `"banned":true,`) in its data.
func userBody(id string, updatedAt int64, extra string) []byte {
	return []byte(fmt.Sprintf(`{"type":"user.updated","object":"event","timestamp":%d,"data":{"object":"user","id":%q,`+
		`"first_name":"Hostile","last_name":"Input","primary_email_address_id":"idn_1",`+
		`"email_addresses":[{"id":"idn_1","object":"email_address","email_address":"hostile@example.com","verification":{"status":"verified"}}],`+
		`%s"created_at":1700000000000,"updated_at":%d}}`, updatedAt, id, extra, updatedAt))
}

// nestedObject returns {"a":{"a":…{}…}} with levels levels.
func nestedObject(levels int) string {
	return strings.Repeat(`{"a":`, levels-1) + "{}" + strings.Repeat("}", levels-1)
}

// TestHostile_DeepJSONOnBothStores sends signed users carrying JSON nested deeper
// than a store can keep, then an administrator's ban: on both stores the users are
// applied with the deep metadata kept as {}, and the ban applies.
func TestHostile_DeepJSONOnBothStores(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open storeOpener) {
		e := MustRunWebhookServerOn(t, open(t), nil)
		ctx := context.Background()
		for _, tt := range []struct {
			name, field string
			doc         string
		}{
			// unsafe_metadata is written from the browser: 1,001 levels is past SQLite's
			// json_valid, which the schema checks metadata with.
			{"Unsafe1001", "unsafe_metadata", nestedObject(1001)},
			{"UnsafeArrays5000", "unsafe_metadata", `{"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`},
			{"Public1001", "public_metadata", nestedObject(1001)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				id := "user_deep" + tt.name
				v1 := time.Now().UnixMilli()
				if status, outcome := e.Deliver(t, "msg_"+id+"_1", userBody(id, v1, `"`+tt.field+`":`+tt.doc+`,`)); status != 200 || outcome != "applied" {
					t.Fatalf("user with %s nested deep: %d %s, want 200 applied", tt.field, status, outcome)
				}
				p, err := e.Store.Profile(ctx, id)
				if err != nil {
					t.Fatalf("profile: %v", err)
				}
				doc := p.UnsafeMetadata
				if tt.field == "public_metadata" {
					doc = p.PublicMetadata
				}
				if string(compact(t, doc)) != "{}" {
					t.Fatalf("%s stored as %.60s…, want {}", tt.field, doc)
				}
				var raw map[string]json.RawMessage
				if err := json.Unmarshal(p.Raw, &raw); err != nil {
					t.Fatalf("raw: %v", err)
				}
				if string(compact(t, raw[tt.field])) != "{}" {
					t.Fatalf("raw.%s stored as %.60s…, want {}", tt.field, raw[tt.field])
				}

				// The user cannot freeze the row: an administrator's ban applies, with
				// the deep document still there.
				ban := userBody(id, v1+1000, `"banned":true,"`+tt.field+`":`+tt.doc+`,`)
				if status, outcome := e.Deliver(t, "msg_"+id+"_2", ban); status != 200 || outcome != "applied" {
					t.Fatalf("ban of a user with %s nested deep: %d %s, want 200 applied", tt.field, status, outcome)
				}
				if p, err := e.Store.Profile(ctx, id); err != nil || !p.Banned {
					t.Fatalf("after the ban: banned=%v err=%v, want banned", p != nil && p.Banned, err)
				}
			})
		}

		// NUL is valid JSON, which SQLite keeps and PostgreSQL refuses in text and jsonb:
		// on both stores it becomes U+FFFD, and the ban applies.
		t.Run("NUL", func(t *testing.T) {
			id := "user_nul"
			v1 := time.Now().UnixMilli()
			nul := `"username":"a\u0000b","unsafe_metadata":{"k\u0000":"v\u0000"},`
			if status, outcome := e.Deliver(t, "msg_nul_1", userBody(id, v1, nul)); status != 200 || outcome != "applied" {
				t.Fatalf("user with NUL: %d %s, want 200 applied", status, outcome)
			}
			if status, outcome := e.Deliver(t, "msg_nul_2", userBody(id, v1+1000, `"banned":true,`+nul)); status != 200 || outcome != "applied" {
				t.Fatalf("ban of a user with NUL: %d %s, want 200 applied", status, outcome)
			}
			p, err := e.Store.Profile(ctx, id)
			if err != nil || !p.Banned || p.Username != "a\uFFFDb" || string(compact(t, p.UnsafeMetadata)) != string(compact(t, []byte(`{"k\ufffd":"v\ufffd"}`))) {
				t.Fatalf("stored banned=%v username=%q unsafe_metadata=%s (%v): want banned, NUL replaced by U+FFFD", p.Banned, p.Username, p.UnsafeMetadata, err)
			}
		})

		// The whole body nested past the parser's limit is a dead letter on both
		// stores, answered 200; a later valid update of the user applies.
		t.Run("BodyPastTheParserLimit", func(t *testing.T) {
			id := "user_deepbody"
			v1 := time.Now().UnixMilli()
			deep := `"extra":` + strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001) + `,`
			if status, outcome := e.Deliver(t, "msg_deepbody_1", userBody(id, v1, deep)); status != 200 || outcome != "dead_letter" {
				t.Fatalf("body nested 10,001 deep: %d %s, want 200 dead_letter", status, outcome)
			}
			if status, outcome := e.Deliver(t, "msg_deepbody_2", userBody(id, v1+1, "")); status != 200 || outcome != "applied" {
				t.Fatalf("later update: %d %s, want 200 applied", status, outcome)
			}
		})

		// A body of nearly the whole cap applies on both stores.
		t.Run("HugeBody", func(t *testing.T) {
			id := "user_huge"
			big := `"unsafe_metadata":{"blob":"` + strings.Repeat("x", 1_000_000) + `"},`
			if status, outcome := e.Deliver(t, "msg_huge", userBody(id, time.Now().UnixMilli(), big)); status != 200 || outcome != "applied" {
				t.Fatalf("1 MB user: %d %s, want 200 applied", status, outcome)
			}
			p, err := e.Store.Profile(ctx, id)
			if err != nil || len(p.UnsafeMetadata) < 1_000_000 {
				t.Fatalf("1 MB user stored: %v, %d bytes of unsafe_metadata", err, len(p.UnsafeMetadata))
			}
		})
	})
}

// compact returns the JSON value m without insignificant space (PostgreSQL's jsonb
// answers "{}" as "{}", but other values with spaces).
func compact(tb testing.TB, m json.RawMessage) []byte {
	tb.Helper()
	var v any
	if err := json.Unmarshal(m, &v); err != nil {
		tb.Fatalf("not JSON: %.60s…: %v", m, err)
	}
	b, _ := json.Marshal(v)
	return b
}
