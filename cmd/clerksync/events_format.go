package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clerksync/clerksync"
)

// eventJSON is an entry of the event log as --json prints it.
type eventJSON struct {
	ID         string     `json:"svix_id"`
	Type       string     `json:"type"`
	Kind       string     `json:"kind,omitempty"`
	ObjectID   string     `json:"object_id,omitempty"`
	UserID     string     `json:"user_id,omitempty"`
	Outcome    string     `json:"outcome"`
	Action     string     `json:"action"`
	Error      string     `json:"error,omitempty"`
	EventTime  *time.Time `json:"event_time,omitempty"`
	ReceivedAt time.Time  `json:"received_at"`
	Redacted   bool       `json:"redacted"`
	Attempts   int        `json:"attempts"`
	// Body is the body as kept when it is JSON; BodyText holds one that is not.
	Body     json.RawMessage `json:"body,omitempty"`
	BodyText string          `json:"body_text,omitempty"`
}

func eventToJSON(e *clerksync.Event, withBody bool) eventJSON {
	j := eventJSON{
		ID: e.ID, Type: e.Type, Kind: e.Kind.String(), ObjectID: e.ObjectID, UserID: e.UserID,
		Outcome: e.Outcome.String(), Action: e.Action.String(), Error: e.Error, ReceivedAt: e.ReceivedAt.UTC(), Redacted: e.Redacted, Attempts: e.Attempts,
	}
	if e.EventTime != 0 {
		t := time.UnixMilli(e.EventTime).UTC()
		j.EventTime = &t
	}
	if withBody && len(e.Body) > 0 {
		if json.Valid(e.Body) {
			j.Body = e.Body
		} else {
			j.BodyText = strings.ToValidUTF8(string(e.Body), "\uFFFD")
		}
	}
	return j
}

func newJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine replaces control characters (newlines, tabs) so that s keeps to its line
// and column.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncate shortens s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// plural returns "1 event" or "3 events".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
