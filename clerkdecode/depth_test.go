package clerkdecode_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

// nested returns a JSON document of levels nested objects ({"a":{"a":…{}…}}), or of
// levels nested arrays when arrays.
func nested(levels int, arrays bool) string {
	if arrays {
		return strings.Repeat("[", levels) + strings.Repeat("]", levels)
	}
	return strings.Repeat(`{"a":`, levels-1) + "{}" + strings.Repeat("}", levels-1)
}

// metadataEvent is a user.updated whose metadata members are the given documents.
func metadataEvent(public, unsafe, private string) []byte {
	return []byte(`{"type":"user.updated","object":"event","data":{"id":"user_deep","object":"user",` +
		`"first_name":"Deep","banned":true,"public_metadata":` + public + `,"unsafe_metadata":` + unsafe +
		`,"private_metadata":` + private + `,"updated_at":1716884400000}}`)
}

func TestChangeFromEvent_MetadataTooDeepIsKeptAsEmpty(t *testing.T) {
	t.Parallel()
	limit := clerkdecode.MaxMetadataDepth
	for _, tt := range []struct {
		name                            string
		public, unsafe, private         string
		keep                            bool
		wantPublic, wantUnsafe, wantPvt string
	}{
		{name: "UnsafeNested1001", public: `{"plan":"pro"}`, unsafe: nested(1001, false), private: `{}`,
			wantPublic: `{"plan":"pro"}`, wantUnsafe: `{}`},
		{name: "UnsafeAtTheLimit", public: `{}`, unsafe: nested(limit, false), private: `{}`,
			wantPublic: `{}`, wantUnsafe: nested(limit, false)},
		{name: "UnsafeOneOverTheLimit", public: `{}`, unsafe: nested(limit+1, false), private: `{}`,
			wantPublic: `{}`, wantUnsafe: `{}`},
		{name: "ArraysInsideAnObject", public: `{"x":` + nested(5000, true) + `}`, unsafe: `{}`, private: `{}`,
			wantPublic: `{}`, wantUnsafe: `{}`},
		{name: "TopLevelArray", public: nested(limit+1, true), unsafe: `{}`, private: `{}`,
			wantPublic: `{}`, wantUnsafe: `{}`},
		{name: "PrivateKept", public: `{}`, unsafe: `{}`, private: nested(2000, false), keep: true,
			wantPublic: `{}`, wantUnsafe: `{}`, wantPvt: `{}`},
		{name: "PrivateCut", public: `{}`, unsafe: nested(2000, false), private: nested(2000, false),
			wantPublic: `{}`, wantUnsafe: `{}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := metadataEvent(tt.public, tt.unsafe, tt.private)
			orig := bytes.Clone(body)
			c := clerkdecode.ChangeFromEvent("msg_deep", body, clerkdecode.Options{KeepPrivateMetadata: tt.keep})
			if !bytes.Equal(body, orig) {
				t.Fatal("ChangeFromEvent modified the body")
			}
			if c.Op != clerksync.OpUpsert {
				t.Fatalf("Op = %v (%s), want the user applied", c.Op, c.Error)
			}
			p := c.Profile()
			if !p.Banned || p.FirstName != "Deep" {
				t.Fatalf("profile = %+v, want the rest of the user applied", p)
			}
			checkJSON(t, "public_metadata", p.PublicMetadata, tt.wantPublic)
			checkJSON(t, "unsafe_metadata", p.UnsafeMetadata, tt.wantUnsafe)
			if tt.keep {
				checkJSON(t, "private_metadata", p.PrivateMetadata, tt.wantPvt)
			}
			// Raw and the kept body say the same as the columns.
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(p.Raw, &raw); err != nil {
				t.Fatalf("Raw: %v", err)
			}
			checkJSON(t, "raw.public_metadata", raw["public_metadata"], tt.wantPublic)
			checkJSON(t, "raw.unsafe_metadata", raw["unsafe_metadata"], tt.wantUnsafe)
			if tt.keep {
				checkJSON(t, "raw.private_metadata", raw["private_metadata"], tt.wantPvt)
			}
			var kept struct{ Data map[string]json.RawMessage }
			if err := json.Unmarshal(c.Body, &kept); err != nil {
				t.Fatalf("Body: %v", err)
			}
			checkJSON(t, "body unsafe_metadata", kept.Data["unsafe_metadata"], tt.wantUnsafe)
		})
	}
}

func TestDecodeUser_MetadataTooDeepIsKeptAsEmpty(t *testing.T) {
	t.Parallel()
	data := []byte(`{"id":"user_deep","unsafe_metadata":` + nested(1001, false) + `,"updated_at":1}`)
	p, err := clerkdecode.DecodeUser(data, clerkdecode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkJSON(t, "unsafe_metadata", p.UnsafeMetadata, `{}`)
	checkJSON(t, "raw", p.Raw, `{"id":"user_deep","unsafe_metadata":{},"updated_at":1}`)
}

// checkJSON fails unless got is the JSON value want.
func checkJSON(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s = %.80s…: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", what, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("%s = %.80s…, want %.80s…", what, gb, wb)
	}
}
