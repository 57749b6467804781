package clerksync

import (
	"encoding/json"
	"reflect"
	"testing"
)

// referenceEqual is what jsonEqual must agree with: both documents decoded by
// encoding/json and compared whole.
func referenceEqual(a, b []byte) bool {
	var u, v any
	if json.Unmarshal(a, &u) != nil || json.Unmarshal(b, &v) != nil {
		return false
	}
	return reflect.DeepEqual(u, v)
}

var jsonEqualCases = []struct {
	a, b string
	want bool
}{
	{`{"plan":"pro","seats":3}`, `{"seats": 3, "plan": "pro"}`, true},
	{`{"plan":"pro"}`, `{"plan":"team"}`, false},
	{`{"a":1}`, `{"a":1,"b":2}`, false},
	{`{"a":1,"b":2}`, `{"a":1}`, false},
	{`{"a":1,"a":2}`, `{"a":2}`, true},
	{`{"a":1,"a":2}`, `{"a":1}`, false},
	{`{"a":[1,2,{"b":null}]}`, `{"a": [1, 2, {"b": null}]}`, true},
	{`[1,2]`, `[2,1]`, false},
	{`[1,2]`, `[1,2,3]`, false},
	{`[]`, `[ ]`, true},
	{`{}`, `{ }`, true},
	{`{}`, `[]`, false},
	{`1.0`, `1`, true},
	{`1e2`, `100`, true},
	{`0`, `false`, false},
	{`null`, `false`, false},
	{`"é"`, `"\u00e9"`, true},
	{`"😀"`, `"\ud83d\ude00"`, true},
	{`"a\/b"`, `"a/b"`, true},
	{`"a\nb"`, `"a\\nb"`, false},
	{`"ab"`, `"abc"`, false},
	{`{"tags":["a","b"],"nested":{"x":{"y":[true,false]}}}`, `{"nested": {"x": {"y": [true, false]}}, "tags": ["a", "b"]}`, true},
	{`{"nested":{"x":1}}`, `{"nested":{"x":"1"}}`, false},
}

func TestJSONEqual(t *testing.T) {
	t.Parallel()
	for _, tt := range jsonEqualCases {
		if got := jsonEqual([]byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("jsonEqual(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := jsonEqual([]byte(tt.b), []byte(tt.a)); got != tt.want {
			t.Errorf("jsonEqual(%s, %s) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
		if ref := referenceEqual([]byte(tt.a), []byte(tt.b)); ref != tt.want {
			t.Errorf("the case (%s, %s) is wrong: encoding/json says %v", tt.a, tt.b, ref)
		}
	}
}

// FuzzJSONEqual checks jsonEqual against encoding/json on every pair of documents it
// is given, and on each document against itself re-encoded (members reordered and
// spaced as PostgreSQL gives them back).
func FuzzJSONEqual(f *testing.F) {
	for _, tt := range jsonEqualCases {
		f.Add([]byte(tt.a), []byte(tt.b))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if !json.Valid(a) || !json.Valid(b) {
			return
		}
		if got, want := jsonEqual(a, b), referenceEqual(a, b); got != want {
			t.Fatalf("jsonEqual(%q, %q) = %v, encoding/json says %v", a, b, got, want)
		}
		var v any
		if json.Unmarshal(a, &v) == nil {
			again, err := json.MarshalIndent(v, "", " ")
			if err == nil && !jsonEqual(a, again) && referenceEqual(a, again) {
				t.Fatalf("jsonEqual(%q, %q) = false for the same value re-encoded", a, again)
			}
		}
	})
}
