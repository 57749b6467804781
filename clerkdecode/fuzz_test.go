package clerkdecode_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

// FuzzChangeFromEvent checks, for any body, that ChangeFromEvent does not panic; that
// an upsert comes only from valid JSON, with a Raw that is valid JSON without
// private_metadata (unless kept) and a profile that encoding/json agrees with; and that
// what the event log keeps is valid JSON without private metadata (unless kept).
func FuzzChangeFromEvent(f *testing.F) {
	for _, file := range testdataFiles(f) {
		f.Add(readFile(f, file[len("testdata/"):]), false)
	}
	f.Add([]byte(`{"type":"user.updated","data":{"id":"u","updated_at":1,"private_metadata":1,"private_metadata":2}}`), false)
	f.Add([]byte(`{"data":{"id":"u","updated_at":1,"private_metadata":{}},"type":"user.created"}`), true)
	f.Add([]byte("{\"type\":\"user.updated\",\"data\":{\"id\":\"u\",\"first_name\":\"\xff\",\"private_metadata\":{\"a\":1},\"updated_at\":1}}"), false)
	f.Add([]byte(`{"type":"user.updated","data":{"id":"u","private_metadata":{"a":1},"updated_at":1}} trailing`), false)
	f.Add([]byte(`{"type":"user.updated","data":{"id":"u","first_name":"a\u0000b","unsafe_metadata":{"\u0000":"\\u0000\u0000"},"private_metadata":{"x":"\u0000"},"updated_at":1}}`), true)
	f.Fuzz(func(t *testing.T, body []byte, keep bool) {
		orig := bytes.Clone(body)
		c := clerkdecode.ChangeFromEvent("msg_1", body, clerkdecode.Options{KeepPrivateMetadata: keep})
		if !bytes.Equal(body, orig) {
			t.Fatal("ChangeFromEvent modified the body")
		}
		if c.EventID != "msg_1" || c.Source != clerksync.SourceWebhook {
			t.Fatalf("EventID, Source = %q, %q", c.EventID, c.Source)
		}
		switch c.Op {
		case clerksync.OpDeadLetter:
			if c.Error == "" {
				t.Fatal("dead letter without Error")
			}
			if c.Profile() != nil {
				t.Fatal("dead letter with a Profile")
			}
			if keep {
				if !json.Valid(c.Body) && !bytes.Equal(c.Body, body) {
					t.Fatal("invalid body not kept unchanged although private metadata is kept")
				}
				return
			}
			checkDeadLetterBody(t, c.Body)
			return
		case clerksync.OpUpsert, clerksync.OpDelete, clerksync.OpIgnore:
		default:
			t.Fatalf("Op = %v", c.Op)
		}
		if c.Error != "" {
			t.Fatalf("Op %v with Error %q", c.Op, c.Error)
		}
		if !json.Valid(body) {
			t.Fatalf("%v from invalid JSON", c.Op)
		}
		if !json.Valid(c.Body) {
			t.Fatalf("Body is not valid JSON: %s", c.Body)
		}
		var kept struct{ Data map[string]json.RawMessage }
		if err := json.Unmarshal(c.Body, &kept); err != nil {
			t.Fatalf("Body: %v", err)
		}
		if _, ok := kept.Data["private_metadata"]; ok && !keep {
			t.Fatalf("Body keeps data.private_metadata: %s", c.Body)
		}
		// Kept private metadata leaves the body as it is, but for what no store could
		// keep as given (NUL, metadata nested too deeply).
		if keep && !bytes.Equal(c.Body, body) && !bytes.Contains(body, []byte(`\u0000`)) && jsonDepth(body) <= clerkdecode.MaxMetadataDepth {
			t.Fatal("Body changed although private metadata is kept")
		}
		if c.Op != clerksync.OpUpsert || c.Kind != clerksync.KindUser || !strings.HasPrefix(c.EventType, "user.") {
			// Other kinds are decoded with encoding/json; a user a session carries is
			// checked as a user below only in user events.
			return
		}

		p := c.Profile()
		if p == nil || p.UserID == "" || p.UserID != c.UserID || p.UpdatedAt <= 0 {
			t.Fatalf("upsert with profile %+v, UserID %q", p, c.UserID)
		}
		if !json.Valid(p.Raw) {
			t.Fatalf("Raw is not valid JSON: %s", p.Raw)
		}
		if !within(p.Raw, c.Body) {
			t.Fatal("Raw is not a sub-slice of Body")
		}
		var rawUser map[string]json.RawMessage
		if err := json.Unmarshal(p.Raw, &rawUser); err != nil {
			t.Fatalf("Raw: %v", err)
		}
		if _, ok := rawUser["private_metadata"]; ok && !keep {
			t.Fatalf("Raw keeps private_metadata: %s", p.Raw)
		}

		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		want, ok := referenceProfile(env.Data, keep)
		if !ok {
			t.Fatalf("encoding/json cannot decode the user that ChangeFromEvent decoded: %s", env.Data)
		}
		want.SyncSource = clerksync.SourceWebhook
		if diff := cmp.Diff(want, p, profileOpts); diff != "" {
			t.Fatalf("profile differs from encoding/json's (-want +got):\n%s", diff)
		}
	})
}

// checkDeadLetterBody checks that the body a dead letter keeps, without the opt-in,
// keeps no private metadata: valid JSON has none in data (or {} where a tolerant scan
// blanked it); anything else has every private_metadata member's value blanked.
func checkDeadLetterBody(t *testing.T, kept []byte) {
	t.Helper()
	if json.Valid(kept) && utf8.Valid(kept) {
		var k struct{ Data map[string]json.RawMessage }
		if json.Unmarshal(kept, &k) == nil {
			if v, ok := k.Data["private_metadata"]; ok && string(v) != "{}" {
				t.Fatalf("dead letter keeps data.private_metadata: %s", kept)
			}
		}
		return
	}
	for rest := kept; ; {
		i := bytes.Index(rest, []byte("private_metadata"))
		if i < 0 {
			return
		}
		rest = rest[i+len("private_metadata"):]
		after := bytes.TrimLeft(rest, " \t\r\n")
		if !bytes.HasPrefix(after, []byte{'"'}) {
			t.Fatalf("invalid dead letter body names private_metadata other than as a blanked member: %q", kept)
		}
		after = bytes.TrimLeft(after[1:], " \t\r\n")
		if !bytes.HasPrefix(after, []byte{':'}) || !bytes.HasPrefix(bytes.TrimLeft(after[1:], " \t\r\n"), []byte("{}")) {
			t.Fatalf("invalid dead letter body keeps a private_metadata value: %q", kept)
		}
	}
}

// FuzzCutKey checks that CutKey accepts only valid JSON objects, keeps them valid and
// removes exactly the key, leaving every other member as it was.
func FuzzCutKey(f *testing.F) {
	f.Add([]byte(`{"private_metadata":{"a":1},"id":"user_1"}`), "private_metadata")
	f.Add([]byte(`{ "a" : 1 , "p" : { } , "b" : 2 }`), "p")
	f.Add([]byte(`{"p":1,"p":2,"a":3,"p":4}`), "p")
	f.Add([]byte(`{"a":"\"p\":1, }","p":"x\\\"}{","b":["p",{"p":2}]}`), "p")
	f.Add([]byte(`{"a":1,"\u0070":2}`), "p")
	f.Add([]byte(`{"\ud83d\ude00":1,"a":2}`), "😀")
	for _, file := range testdataFiles(f) {
		f.Add(readFile(f, file[len("testdata/"):]), "data")
	}
	f.Fuzz(func(t *testing.T, obj []byte, key string) {
		got, err := clerkdecode.CutKey(obj, key)
		var in map[string]json.RawMessage
		inErr := json.Unmarshal(obj, &in)
		if err != nil {
			if inErr == nil && in != nil && utf8.Valid(obj) && bytes.Count(obj, []byte("[")) < 1000 && bytes.Count(obj, []byte("{")) < 1000 {
				t.Fatalf("CutKey(%q) failed on a valid object: %v", obj, err)
			}
			return
		}
		if inErr != nil || in == nil {
			t.Fatalf("CutKey(%q) accepted what is not a JSON object", obj)
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(got, &out); err != nil {
			t.Fatalf("CutKey(%q) = %q: invalid: %v", obj, got, err)
		}
		_, had := in[key]
		delete(in, key)
		if diff := cmp.Diff(in, out); diff != "" {
			t.Fatalf("CutKey(%q, %q) = %q (-want +got):\n%s", obj, key, got, diff)
		}
		if !had && !same(got, obj) {
			t.Fatalf("CutKey(%q, %q) = %q, want the input itself", obj, key, got)
		}
	})
}

// referenceProfile decodes a user object with encoding/json, key by exact key, as
// DecodeUser should; ok is false when encoding/json cannot.
func referenceProfile(data []byte, keep bool) (p *clerksync.Profile, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil || m == nil {
		return nil, false
	}
	p = new(clerksync.Profile)
	str := func(key string, dst *string) {
		var s *string
		if v, found := m[key]; found && json.Unmarshal(v, &s) != nil {
			ok = false
		}
		if s != nil {
			*dst = *s
		}
	}
	num := func(key string, dst *int64) {
		var n *int64
		if v, found := m[key]; found && json.Unmarshal(v, &n) != nil {
			ok = false
		}
		if n != nil {
			*dst = *n
		}
	}
	flag := func(key string, dst *bool) {
		var b *bool
		if v, found := m[key]; found && json.Unmarshal(v, &b) != nil {
			ok = false
		}
		if b != nil {
			*dst = *b
		}
	}
	meta := func(key string) json.RawMessage {
		v, found := m[key]
		if !found || string(v) == "null" || jsonDepth(v) > clerkdecode.MaxMetadataDepth {
			return json.RawMessage(`{}`)
		}
		return v
	}
	pick := func(arrayKey, valueKey, primary string) (value string, verified bool) {
		var entries []map[string]json.RawMessage
		if v, found := m[arrayKey]; found && json.Unmarshal(v, &entries) != nil {
			ok = false
		}
		if primary == "" {
			return "", false
		}
		for _, e := range entries {
			var id, val *string
			if json.Unmarshal(orNull(e["id"]), &id) != nil || json.Unmarshal(orNull(e[valueKey]), &val) != nil {
				ok = false
			}
			var verification map[string]json.RawMessage
			if json.Unmarshal(orNull(e["verification"]), &verification) != nil {
				ok = false
			}
			var status *string
			if json.Unmarshal(orNull(verification["status"]), &status) != nil {
				ok = false
			}
			if id != nil && *id == primary {
				if val != nil {
					value = *val
				}
				return value, status != nil && *status == "verified"
			}
		}
		return "", false
	}

	ok = true
	var emailID, phoneID, image, profileImage string
	str("id", &p.UserID)
	str("primary_email_address_id", &emailID)
	str("primary_phone_number_id", &phoneID)
	str("username", &p.Username)
	str("first_name", &p.FirstName)
	str("last_name", &p.LastName)
	str("image_url", &image)
	str("profile_image_url", &profileImage)
	str("external_id", &p.ExternalID)
	p.ImageURL = image
	if image == "" {
		p.ImageURL = profileImage
	}
	p.Email, p.EmailVerified = pick("email_addresses", "email_address", emailID)
	p.Phone, _ = pick("phone_numbers", "phone_number", phoneID)
	p.PublicMetadata = meta("public_metadata")
	p.UnsafeMetadata = meta("unsafe_metadata")
	if keep {
		p.PrivateMetadata = meta("private_metadata")
	}
	flag("banned", &p.Banned)
	flag("locked", &p.Locked)
	num("created_at", &p.CreatedAt)
	num("updated_at", &p.UpdatedAt)
	num("last_sign_in_at", &p.LastSignInAt)
	num("last_active_at", &p.LastActiveAt)
	// NUL, which PostgreSQL cannot keep, becomes U+FFFD wherever it is kept.
	for _, f := range []*string{&p.UserID, &p.Email, &p.Phone, &p.Username, &p.FirstName, &p.LastName, &p.ImageURL, &p.ExternalID} {
		*f = strings.ReplaceAll(*f, "\x00", "\uFFFD")
	}
	for _, m := range []*json.RawMessage{&p.PublicMetadata, &p.UnsafeMetadata, &p.PrivateMetadata} {
		*m = withoutNUL(*m)
	}
	return p, ok
}

// withoutNUL returns the JSON value m with every NUL of its strings and keys replaced
// by U+FFFD.
func withoutNUL(m json.RawMessage) json.RawMessage {
	var v any
	if m == nil || json.Unmarshal(m, &v) != nil {
		return m
	}
	var fix func(any) any
	fix = func(v any) any {
		switch v := v.(type) {
		case string:
			return strings.ReplaceAll(v, "\x00", "\uFFFD")
		case []any:
			for i := range v {
				v[i] = fix(v[i])
			}
		case map[string]any:
			out := make(map[string]any, len(v))
			for k, e := range v {
				out[strings.ReplaceAll(k, "\x00", "\uFFFD")] = fix(e)
			}
			return out
		}
		return v
	}
	b, err := json.Marshal(fix(v))
	if err != nil {
		return m
	}
	return b
}

// orNull returns v, or null when v is absent.
func orNull(v json.RawMessage) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	return v
}

// jsonDepth returns how deeply the valid JSON value v nests arrays and objects.
func jsonDepth(v []byte) int {
	depth, deepest := 0, 0
	dec := json.NewDecoder(bytes.NewReader(v))
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}
