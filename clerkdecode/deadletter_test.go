package clerkdecode_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

// secretValue is private metadata that must never be kept without the opt-in.
const secretValue = "078-05-1120"

// userEvent is a user.updated whose first name is first (raw bytes, perhaps not UTF-8)
// and whose private_metadata holds secretValue; tail ends the body.
func userEvent(first, tail string) []byte {
	return []byte(`{"data":{"id":"user_dead","object":"user","first_name":"` + first + `",` +
		`"private_metadata":{"ssn":"` + secretValue + `","note":"a } and a \" inside"},` +
		`"public_metadata":{},"updated_at":1716884400000},"object":"event","type":"user.updated"` + tail)
}

func TestChangeFromEvent_DeadLetterKeepsNoPrivateMetadata(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		body      []byte
		wantBody  string // what the kept body must contain ("" for none kept)
		wantUser  string
		wantError string
	}{
		{
			name:      "InvalidUTF8InName",
			body:      userEvent("Ad\xffa", "}"),
			wantBody:  "Ad\uFFFDa",
			wantUser:  "user_dead",
			wantError: "invalid UTF-8 replaced",
		},
		{
			name: "InvalidUTF8InSessionUser",
			body: []byte(`{"type":"session.created","data":{"id":"sess_1","user_id":"user_s","user":{"id":"user_s","first_name":"` + "\xfe" + `",` +
				`"private_metadata":{"ssn":"` + secretValue + `"}}}}`),
			wantBody:  `"user_id":"user_s"`,
			wantUser:  "user_s",
			wantError: "invalid UTF-8 replaced",
		},
		{
			name:      "TrailingGarbage",
			body:      userEvent("Ada", "} trailing"),
			wantBody:  `"private_metadata":{}`,
			wantError: "values of private_metadata replaced",
		},
		{
			name:      "InvalidUTF8AndTruncated",
			body:      userEvent("Ad\xffa", ""),
			wantBody:  `"private_metadata":{}`,
			wantError: "values of private_metadata replaced",
		},
		{
			name:      "TruncatedInsidePrivateMetadata",
			body:      []byte(`{"type":"user.updated","data":{"id":"user_dead","private_metadata":{"ssn":"` + secretValue),
			wantError: "body not kept",
		},
		{
			name:      "PrivateMetadataNamedInAValue",
			body:      userEvent("private_metadata", "} x"),
			wantError: "body not kept",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := clerkdecode.ChangeFromEvent("msg_dead", bytes.Clone(tt.body), clerkdecode.Options{})
			if c.Op != clerksync.OpDeadLetter {
				t.Fatalf("Op = %v, want a dead letter", c.Op)
			}
			if bytes.Contains(c.Body, []byte(secretValue)) {
				t.Fatalf("the dead letter keeps private metadata:\n%s", c.Body)
			}
			if !strings.Contains(c.Error, tt.wantError) {
				t.Fatalf("Error = %q, want it to say %q", c.Error, tt.wantError)
			}
			if tt.wantBody == "" {
				if c.Body != nil {
					t.Fatalf("Body = %q, want none", c.Body)
				}
				return
			}
			if !bytes.Contains(c.Body, []byte(tt.wantBody)) {
				t.Fatalf("Body = %s, want it to hold %s", c.Body, tt.wantBody)
			}
			if c.UserID != tt.wantUser {
				t.Fatalf("UserID = %q, want %q", c.UserID, tt.wantUser)
			}
		})
	}
}

func TestChangeFromEvent_DeadLetterKeepsBodyWhenOptedIn(t *testing.T) {
	t.Parallel()
	body := userEvent("Ad\xffa", "}")
	c := clerkdecode.ChangeFromEvent("msg_dead", bytes.Clone(body), clerkdecode.Options{KeepPrivateMetadata: true})
	if c.Op != clerksync.OpDeadLetter || !bytes.Equal(c.Body, body) {
		t.Fatalf("with private metadata kept, the dead letter's body = %q, want it as received", c.Body)
	}
}
