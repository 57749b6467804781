package clerksync_test

import (
	"testing"

	"github.com/clerksync/clerksync"
)

func TestParseOutcome(t *testing.T) {
	t.Parallel()
	for o := clerksync.OutcomeApplied; o <= clerksync.OutcomeDeadLetter; o++ {
		got, ok := clerksync.ParseOutcome(o.String())
		if !ok || got != o {
			t.Errorf("ParseOutcome(%q) = %v, %v; want %v, true", o.String(), got, ok, o)
		}
	}
	if got, ok := clerksync.ParseOutcome("unknown"); ok {
		t.Errorf("ParseOutcome(\"unknown\") = %v, true; want false", got)
	}
}

func TestParseAction(t *testing.T) {
	t.Parallel()
	for a := clerksync.ActionNone; a <= clerksync.ActionDeleted; a++ {
		got, ok := clerksync.ParseAction(a.String())
		if !ok || got != a {
			t.Errorf("ParseAction(%q) = %v, %v; want %v, true", a.String(), got, ok, a)
		}
	}
	for _, s := range []string{"", "unknown", "Created"} {
		if got, ok := clerksync.ParseAction(s); ok {
			t.Errorf("ParseAction(%q) = %v, true; want false", s, got)
		}
	}
}
