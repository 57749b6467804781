package clerkdecode_test

import (
	"errors"
	"testing"

	"github.com/clerksync/clerksync/clerkdecode"
)

func TestCutKey(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		obj  string
		key  string
		want string
	}{
		{name: "First", obj: `{"private_metadata":{"a":1},"id":"user_1"}`, key: "private_metadata", want: `{"id":"user_1"}`},
		{name: "Middle", obj: `{"id":"user_1","private_metadata":{"a":1},"updated_at":1}`, key: "private_metadata", want: `{"id":"user_1","updated_at":1}`},
		{name: "Last", obj: `{"id":"user_1","private_metadata":null}`, key: "private_metadata", want: `{"id":"user_1"}`},
		{name: "Only", obj: `{"private_metadata":{}}`, key: "private_metadata", want: `{}`},
		{name: "WhiteSpaceMiddle", obj: `{ "a" : 1 , "p" : { } , "b" : 2 }`, key: "p", want: `{ "a" : 1  , "b" : 2 }`},
		{name: "WhiteSpaceFirst", obj: "{\n  \"p\": {\"x\": \"}\"},\n  \"a\": 1\n}", key: "p", want: "{\n  \n  \"a\": 1\n}"},
		{name: "WhiteSpaceLast", obj: "{\n  \"a\": 1,\n  \"p\": [1, 2]\n}\n", key: "p", want: "{\n  \"a\": 1\n}\n"},
		{name: "WhiteSpaceOnly", obj: " { \"p\" : 1 } ", key: "p", want: " {  } "},
		{name: "StringsWithEscapesAndBraces", obj: `{"a":"\"p\":1, }","p":"x\\\"}{","b":["p",{"p":2}]}`, key: "p", want: `{"a":"\"p\":1, }","b":["p",{"p":2}]}`},
		{name: "NestedValues", obj: `{"a":1,"p":{"x":[{"y":"]}"},[[]],{}],"z":{"p":null}},"b":2}`, key: "p", want: `{"a":1,"b":2}`},
		{name: "Repeated", obj: `{"p":1,"p":2,"a":3,"p":4}`, key: "p", want: `{"a":3}`},
		{name: "AllRepeated", obj: `{"p":1,"p":2}`, key: "p", want: `{}`},
		{name: "RepeatedAfterKept", obj: `{"a":0,"p":1,"p":2}`, key: "p", want: `{"a":0}`},
		{name: "AroundKept", obj: `{"p":1,"a":0,"p":2}`, key: "p", want: `{"a":0}`},
		{name: "EscapedKey", obj: `{"a":1,"private\u005fmetadata":2}`, key: "private_metadata", want: `{"a":1}`},
		{name: "UnicodeKey", obj: `{"clé":1,"a":2}`, key: "clé", want: `{"a":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj := []byte(tt.obj)
			got, err := clerkdecode.CutKey(obj, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("CutKey(%s, %q) = %s, want %s", tt.obj, tt.key, got, tt.want)
			}
			if string(obj) != tt.obj {
				t.Errorf("CutKey changed its input to %s", obj)
			}
		})
	}
}

func TestCutKeyAbsent(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		obj  string
	}{
		{name: "Empty", obj: `{}`},
		{name: "OtherKeys", obj: `{"a":1,"b":{"c":[true,false,null]}}`},
		{name: "NestedOnly", obj: `{"a":{"p":1},"b":[{"p":2}]}`},
		{name: "AsValue", obj: `{"a":"p","b":["p"]}`},
		{name: "Prefixes", obj: `{"pp":1,"p_":2,"P":3,"":4}`},
		{name: "WhiteSpace", obj: " {\n} \t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj := []byte(tt.obj)
			got, err := clerkdecode.CutKey(obj, "p")
			if err != nil {
				t.Fatal(err)
			}
			if !same(got, obj) {
				t.Errorf("CutKey(%s) = %s, want the input itself", obj, got)
			}
		})
	}
}

func TestCutKeyErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		obj  string
		want string
	}{
		{name: "Empty", obj: ``, want: "clerk payload: invalid JSON: unexpected end of input at offset 0"},
		{name: "Array", obj: `[{"p":1}]`, want: "clerk payload: want an object, got an array at offset 0"},
		{name: "Null", obj: `null`, want: "clerk payload: want an object, got null at offset 0"},
		{name: "Unterminated", obj: `{"p":1`, want: "clerk payload: invalid JSON: unexpected end of input at offset 6"},
		{name: "NoValue", obj: `{"p":}`, want: "clerk payload: p: invalid JSON: unexpected character at offset 5"},
		{name: "Trailing", obj: `{"p":1}}`, want: "clerk payload: invalid JSON: unexpected data after the top-level value at offset 7"},
		{name: "UnquotedKey", obj: `{p:1}`, want: "clerk payload: invalid JSON: unexpected character at offset 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := clerkdecode.CutKey([]byte(tt.obj), "p")
			var de *clerkdecode.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("CutKey(%s) = %s, %v, want a *DecodeError", tt.obj, got, err)
			}
			if err.Error() != tt.want {
				t.Errorf("err = %q, want %q", err, tt.want)
			}
		})
	}
}
