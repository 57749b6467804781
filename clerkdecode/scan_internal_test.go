package clerkdecode

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzScan checks the scanner against encoding/json: it accepts only what json.Valid
// accepts, and everything json.Valid accepts that is valid UTF-8.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `-0.0e+0`, `1E9`, `true`, `false`, `null`,
		`{"a":[1,2,{"b":null}],"c":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`,
		` { "a" : [ ] } `, `01`, `1.`, `.5`, `1e`, `-`, `+1`, `"\x"`, `"\u12"`, "\"\x01\"",
		"\"\xff\"", "\"\xed\xa0\x80\"", `{"a"}`, `{"a":1,}`, `[1,]`, `[1 2]`, `nul`, `tru`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := dec{b: b}
		err := d.skip(0)
		if err == nil {
			err = d.end()
		}
		valid := json.Valid(b)
		if err == nil && !valid {
			t.Fatalf("scanner accepts %q, json.Valid does not", b)
		}
		if err != nil && valid && utf8.Valid(b) {
			t.Fatalf("scanner rejects %q (%v), json.Valid accepts it", b, err)
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %T, want *DecodeError", err)
			}
		}
	})
}

// FuzzUnquote checks that strings decode as encoding/json decodes them, surrogate
// pairs and unpaired surrogates included.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{
		``, `plain`, `\"\\\/\b\f\n\r\t`, `\u00e9t\u00C9`, `\ud83d\ude00`, `\ud83d`, `\ud83dx`,
		`\ude00`, `\ud83d\u0041`, `\ud83d\ud83d\ude00`, `\u0000`, `zoë 山田 😀`, `\uD83D\uDE00`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		quoted := []byte(`"` + s + `"`)
		d := dec{b: quoted}
		raw, esc, err := d.str()
		if err != nil || d.i != len(quoted) {
			return
		}
		var want string
		if err := json.Unmarshal(quoted, &want); err != nil {
			t.Fatalf("scanner accepts %s, encoding/json does not: %v", quoted, err)
		}
		if got := string(text(raw, esc)); got != want {
			t.Fatalf("text of %s = %q, want %q", quoted, got, want)
		}
	})
}

func TestNeedsLook(t *testing.T) {
	t.Parallel()

	// Every byte that needs a look is found at every position of a plain word.
	for c := range 256 {
		plain := strPlain[c]
		for pos := range 8 {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			if got := needsLook(x); !plain && !got {
				t.Fatalf("needsLook misses byte %#x at %d", c, pos)
			} else if plain && got {
				t.Fatalf("needsLook flags plain byte %#x at %d", c, pos)
			}
		}
	}
}

func TestRemap(t *testing.T) {
	t.Parallel()

	b := []byte(`{"p":1,"a":{"x":2},"p":3}`)
	var cuts []span
	d := dec{b: b}
	cuts, err := d.cutMembers("p", cuts)
	if err != nil {
		t.Fatal(err)
	}
	out := cutSpans(b, cuts)
	if got, want := string(out), `{"a":{"x":2}}`; got != want {
		t.Fatalf("cut = %s, want %s", got, want)
	}
	start := strings.Index(string(b), `{"x"`)
	end := start + len(`{"x":2}`)
	if got, want := string(out[remap(cuts, start):remap(cuts, end)]), `{"x":2}`; got != want {
		t.Errorf("remapped span = %s, want %s", got, want)
	}
	if got, want := remap(cuts, len(b)), len(out); got != want {
		t.Errorf("remap(end) = %d, want %d", got, want)
	}
}
