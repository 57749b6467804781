package clerkdecode_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

func TestChangeFromEvent_NULBecomesReplacementCharacter(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"user.updated","data":{"id":"user_nul","first_name":"Ad\u0000a","username":"a\u0000",` +
		`"unsafe_metadata":{"k\u0000":"v\u0000","literal":"\\u0000"},"private_metadata":{"x":"\u0000"},"updated_at":1716884400000}}`)
	for _, keep := range []bool{false, true} {
		orig := bytes.Clone(body)
		c := clerkdecode.ChangeFromEvent("msg_nul", body, clerkdecode.Options{KeepPrivateMetadata: keep})
		if !bytes.Equal(body, orig) {
			t.Fatal("ChangeFromEvent modified the body")
		}
		if c.Op != clerksync.OpUpsert {
			t.Fatalf("Op = %v (%s), want the user applied", c.Op, c.Error)
		}
		p := c.Profile()
		if p.FirstName != "Ad\uFFFDa" || p.Username != "a\uFFFD" {
			t.Fatalf("first name %q, username %q: want NUL replaced by U+FFFD", p.FirstName, p.Username)
		}
		checkJSON(t, "unsafe_metadata", p.UnsafeMetadata, `{"k\ufffd":"v\ufffd","literal":"\\u0000"}`)
		if keep {
			checkJSON(t, "private_metadata", p.PrivateMetadata, `{"x":"\ufffd"}`)
		}
		for what, b := range map[string][]byte{"Raw": p.Raw, "Body": c.Body} {
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if hasNUL(v) {
				t.Fatalf("%s keeps a NUL: %s", what, b)
			}
		}
	}
}

// hasNUL reports whether a decoded JSON value holds a NUL in a string or a key.
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		for _, e := range v {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || hasNUL(e) {
				return true
			}
		}
	}
	return false
}
