package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/pull"
)

// progress shows how a backfill goes: a bar redrawn in place on a terminal, or a log
// line every so often otherwise (a file, a pipe, a CI log).
type progress struct {
	w     io.Writer
	tty   bool
	width int
	log   *slog.Logger
	every time.Duration // between log lines
	now   func() time.Time

	phase    pull.Phase
	kind     clerksync.Kind
	start    time.Time // of the phase and kind
	lastDraw time.Time
	lastLine time.Time
	drawn    bool // a bar is on the current line
}

// newProgress returns a progress for w: a bar when w is a terminal, log lines to log
// every interval otherwise.
func newProgress(w io.Writer, log *slog.Logger, every time.Duration, now func() time.Time) *progress {
	p := &progress{w: w, log: log, every: every, now: now, width: 80}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 40 {
			p.width = width
		}
	}
	return p
}

// update shows p.
func (pr *progress) update(p pull.Progress) {
	now := pr.now()
	if p.Phase != pr.phase || p.Kind != pr.kind {
		pr.clear()
		pr.phase, pr.kind, pr.start, pr.lastLine = p.Phase, p.Kind, now, now
	}
	if pr.tty {
		if p.Done || now.Sub(pr.lastDraw) >= 100*time.Millisecond {
			pr.lastDraw = now
			pr.draw(p, now)
		}
		if p.Done {
			pr.clear()
		}
		return
	}
	if p.Done || now.Sub(pr.lastLine) >= pr.every {
		pr.lastLine = now
		pr.line(p, now)
	}
}

// clear ends the bar's line, if one is drawn.
func (pr *progress) clear() {
	if pr.drawn {
		fmt.Fprint(pr.w, "\r\033[K")
		pr.drawn = false
	}
}

func (pr *progress) draw(p pull.Progress, now time.Time) {
	done, unit := p.Counts.Seen, kindPlural(p.Kind)
	if p.Phase == pull.PhasePrune {
		unit += " checked"
	}
	text := fmt.Sprintf(" %s %s", commas(done), unit)
	if p.Total >= 0 {
		text = fmt.Sprintf(" %s/%s %s", commas(done), commas(int64(p.Total)), unit)
	}
	if rate := pr.rate(done, now); rate > 0 {
		text += fmt.Sprintf("  %s/s", commas(int64(rate)))
	}
	if eta, ok := pr.eta(p, now); ok {
		text += "  ETA " + eta
	}
	text += children(p)
	label := fmt.Sprintf("%-8s", p.Phase)
	barWidth := pr.width - len(label) - len(text) - 4
	bar := ""
	if barWidth >= 10 {
		filled := 0
		if p.Total > 0 {
			filled = int(min(1, float64(done)/float64(p.Total)) * float64(barWidth))
		}
		bar = " [" + strings.Repeat("█", filled) + strings.Repeat("░", barWidth-filled) + "]"
	}
	fmt.Fprint(pr.w, "\r\033[K"+label+bar+text)
	pr.drawn = true
}

func (pr *progress) line(p pull.Progress, now time.Time) {
	attrs := []any{"phase", string(p.Phase), "kind", kindPlural(p.Kind), "seen", p.Counts.Seen}
	if p.Total >= 0 {
		attrs = append(attrs, "total", p.Total)
	}
	if rate := pr.rate(p.Counts.Seen, now); rate > 0 {
		attrs = append(attrs, "per_second", int64(rate))
	}
	if eta, ok := pr.eta(p, now); ok {
		attrs = append(attrs, "eta", eta)
	}
	attrs = append(attrs, "created", p.Counts.Created, "updated", p.Counts.Updated, "deleted", p.Counts.Deleted)
	for _, k := range []clerksync.Kind{clerksync.KindMembership, clerksync.KindInvitation} {
		if c, ok := p.Kinds[k]; ok && p.Kind == clerksync.KindOrganization {
			attrs = append(attrs, kindPlural(k), c.Seen)
		}
	}
	pr.log.Info("progress", attrs...)
}

// children says how many memberships and invitations were read beside the
// organizations: "" for another kind.
func children(p pull.Progress) string {
	if p.Kind != clerksync.KindOrganization {
		return ""
	}
	var parts []string
	for _, k := range []clerksync.Kind{clerksync.KindMembership, clerksync.KindInvitation} {
		if c, ok := p.Kinds[k]; ok && c.Seen > 0 {
			parts = append(parts, commas(c.Seen)+" "+kindPlural(k))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "  · " + strings.Join(parts, " · ")
}

// rate returns done per second since the phase began (0 when too early to say).
func (pr *progress) rate(done int64, now time.Time) float64 {
	elapsed := now.Sub(pr.start).Seconds()
	if elapsed < 0.05 || done == 0 {
		return 0
	}
	return float64(done) / elapsed
}

// eta returns the time left at the current rate, when the total is known.
func (pr *progress) eta(p pull.Progress, now time.Time) (string, bool) {
	rate := pr.rate(p.Counts.Seen, now)
	left := int64(p.Total) - p.Counts.Seen
	if p.Total < 0 || rate == 0 || left <= 0 || p.Done {
		return "", false
	}
	return roundDuration(time.Duration(float64(left) / rate * float64(time.Second))).String(), true
}

// roundDuration rounds d for people: to seconds, to 100 ms under 10 s, to
// milliseconds under one.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// commas writes n with thousands separators: 100000 → 100,000.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
