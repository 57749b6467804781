package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/feedhook"
)

// How entries of the changes feed are shown in a terminal, by changes list and tail
// and by receive.

// maxValueRunes is the most of one value a line shows, and maxSummaryRunes the most
// of a table's CHANGES cell; --json shows everything.
const (
	maxValueRunes   = 40
	maxSummaryRunes = 200
)

// entryLineHeader names the columns of entryLine.
const entryLineHeader = "SEQ      RECORDED (UTC)       TYPE                   OBJECT                            SOURCE    CHANGES"

// entryLine returns one line for e: seq, when it was recorded, type, object, source
// and what it changed.
func entryLine(e clerksync.FeedEntry) string {
	return fmt.Sprintf("%-8d %-20s %-22s %-33s %-9s %s",
		e.Seq, e.CreatedAt.UTC().Format(time.DateTime), oneLine(e.Type), oneLine(e.ObjectID), orDash(string(e.Source)), changeSummary(e))
}

// changeSummary is what e changed, on one line: the changed columns, before → after,
// for an update; the columns set for a creation; "removed" for a deletion.
func changeSummary(e clerksync.FeedEntry) string {
	if e.Action() == clerksync.ActionDeleted {
		return "removed"
	}
	fields, err := shownFields(e)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		parts = append(parts, fieldText(f))
	}
	if len(parts) == 0 {
		return "-"
	}
	return truncate(strings.Join(parts, "; "), maxSummaryRunes)
}

// fieldText shows one field: "name: before → after" for an update, "name: value"
// otherwise.
func fieldText(f feedhook.Field) string {
	switch {
	case f.Before != nil && f.After != nil:
		return f.Name + ": " + valueText(f.Before) + " → " + valueText(f.After)
	case f.Before != nil:
		return f.Name + ": " + valueText(f.Before)
	}
	return f.Name + ": " + valueText(f.After)
}

// valueText shows a JSON value compactly, on one line, cut at maxValueRunes.
func valueText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return `"` + truncate(oneLine(s), maxValueRunes) + `"`
	}
	return truncate(oneLine(string(v)), maxValueRunes)
}

// bookkeeping are the columns every write sets: what a creation shows leaves them out.
var bookkeeping = map[string]bool{"synced_at": true, "sync_source": true}

// shownFields returns the fields of e worth showing.
func shownFields(e clerksync.FeedEntry) ([]feedhook.Field, error) {
	fields, err := feedhook.Fields(e)
	out := fields[:0]
	for _, f := range fields {
		if !bookkeeping[f.Name] {
			out = append(out, f)
		}
	}
	return out, err
}

// writeEntryBlock writes e as receive prints it: a line with its seq, type, object
// and source, then one indented line per field it changed or set ("removed" for a
// deletion).
func writeEntryBlock(w io.Writer, e clerksync.FeedEntry, note string) error {
	head := fmt.Sprintf("#%d %s %s", e.Seq, oneLine(e.Type), oneLine(e.ObjectID))
	if e.Source != "" {
		head += " (" + string(e.Source) + ")"
	}
	if note != "" {
		head += "  " + note
	}
	var b strings.Builder
	b.WriteString(head + "\n")
	if e.Action() == clerksync.ActionDeleted {
		b.WriteString("    removed\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fields, err := shownFields(e)
	if err != nil {
		fmt.Fprintf(&b, "    (unreadable: %v)\n", err)
	}
	for _, f := range fields {
		b.WriteString("    " + fieldText(f) + "\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}
