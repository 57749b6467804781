package clerkdecode_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clerksync/clerksync"
)

// readFile returns the content of testdata/name.
func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// testdataFiles returns the paths of every .json file under testdata.
func testdataFiles(tb testing.TB) []string {
	tb.Helper()
	var files []string
	for _, dir := range []string{"clerk", "openapi", "events", "users"} {
		m, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		tb.Fatal("no testdata")
	}
	return files
}

// profileOpts compares profiles field by field, metadata as JSON values (nil apart),
// ignoring Raw (checked on its own) and SyncedAt (set by stores).
var profileOpts = cmp.Options{
	cmpopts.IgnoreFields(clerksync.Profile{}, "Raw", "SyncedAt"),
	cmp.Transformer("JSON", func(m json.RawMessage) any {
		if m == nil {
			return "<nil>"
		}
		var v any
		if err := json.Unmarshal(m, &v); err != nil {
			return "<invalid JSON: " + string(m) + ">"
		}
		return v
	}),
}

// decodeObject decodes b, which must be a JSON object, with encoding/json.
func decodeObject(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("not a JSON object: %v: %s", err, b)
	}
	if m == nil {
		tb.Fatalf("not a JSON object: %s", b)
	}
	return m
}

// withoutPrivate returns the user object m without private_metadata.
func withoutPrivate(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != "private_metadata" {
			out[k] = v
		}
	}
	return out
}

// within reports whether sub lies in the memory of b: it is a sub-slice, not a copy.
func within(sub, b []byte) bool {
	if len(sub) == 0 || len(b) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return p >= start && p+uintptr(len(sub)) <= start+uintptr(len(b))
}

// same reports whether a and b are the same slice.
func same(a, b []byte) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// checkProfileRaw checks that p.Raw is the user object data as sent, minus
// private_metadata unless keep, and, unless buf is nil, that Raw is a sub-slice of buf.
func checkProfileRaw(tb testing.TB, p *clerksync.Profile, data, buf []byte, keep bool) {
	tb.Helper()
	if !json.Valid(p.Raw) {
		tb.Fatalf("Raw is not valid JSON: %s", p.Raw)
	}
	got := decodeObject(tb, p.Raw)
	want := decodeObject(tb, data)
	if !keep {
		if _, ok := got["private_metadata"]; ok {
			tb.Fatalf("Raw has private_metadata: %s", p.Raw)
		}
		want = withoutPrivate(want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Fatalf("Raw differs from the user object (-want +got):\n%s", diff)
	}
	if buf != nil && !within(p.Raw, buf) {
		tb.Fatalf("Raw is a copy, want a sub-slice of the payload")
	}
	// With nothing to cut, Raw is the object byte for byte.
	if keep || !bytes.Contains(data, []byte("private")) {
		if !bytes.Equal(p.Raw, bytes.TrimSpace(data)) {
			tb.Fatalf("Raw = %s, want the bytes as sent %s", p.Raw, data)
		}
	}
	for _, m := range []json.RawMessage{p.PublicMetadata, p.UnsafeMetadata, p.PrivateMetadata} {
		if m != nil && !json.Valid(m) {
			tb.Fatalf("metadata is not valid JSON: %s", m)
		}
	}
}

// jsonUnmarshal is json.Unmarshal, named for what tests compare against.
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
