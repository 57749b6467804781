package devemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/feedhook"
	"github.com/clerksync/clerksync/svixsig"
)

// The changes feed in the offline loop: `clerksync dev` forwards its own changes feed
// to a receiver of the emulator's, as an application's endpoint would get it, and the
// emulator lists what arrived on a page beside the profile page.

// Paths of the changes page and of the receiver.
const (
	// ChangesPath is the page listing the changes received.
	ChangesPath = "/dev/changes"
	// ChangesReceivePath is where clerksync dev forwards its changes feed.
	ChangesReceivePath = "/dev/changes/receive"
)

// maxChanges is how many received entries the page keeps, newest first.
const maxChanges = 200

// changesWait is the longest /dev/changes/wait holds a request.
const changesWait = 25 * time.Second

// ReceivedChange is an entry of the changes feed the emulator's receiver got.
type ReceivedChange struct {
	Entry clerksync.FeedEntry
	// Attempts counts the deliveries of the entry, refused ones included.
	Attempts int
	// Acknowledged says the last delivery was answered 2xx.
	Acknowledged bool
	// At is when the last delivery arrived.
	At time.Time
}

// changeLog is the emulator's receiver of the changes feed and what it got.
type changeLog struct {
	secret string
	hook   *feedhook.Handler
	view   *template.Template

	mu       sync.Mutex
	entries  []*ReceivedChange // in order of first arrival
	byID     map[string]*ReceivedChange
	failNext int           // deliveries still to refuse, as the page asked
	version  int64         // changes with every delivery
	changed  chan struct{} // closed, and replaced, with every delivery
}

func newChangeLog(e *Emulator) *changeLog {
	l := &changeLog{
		secret:  svixsig.GenerateSecret(),
		byID:    map[string]*ReceivedChange{},
		changed: make(chan struct{}),
		view:    template.Must(template.ParseFS(assets, "assets/layout.html", "assets/changes.html")),
	}
	h, err := feedhook.New(l.secret, l.receive, feedhook.WithLogger(e.log))
	if err != nil {
		panic(fmt.Sprintf("devemu: a generated secret is refused: %v", err)) // a bug
	}
	l.hook = h
	return l
}

// ChangesSecret returns the Signing Secret the emulator's receiver of the changes feed
// verifies deliveries with, for CLERKSYNC_FORWARD_SECRET.
func (e *Emulator) ChangesSecret() string { return e.changes.secret }

// ChangesURL returns the URL of the emulator's receiver of the changes feed, for
// CLERKSYNC_FORWARD_URL.
func (e *Emulator) ChangesURL() string { return e.base + ChangesReceivePath }

// Changes returns the entries the receiver got, newest first.
func (e *Emulator) Changes() []ReceivedChange {
	l := e.changes
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ReceivedChange, 0, len(l.entries))
	for i := len(l.entries) - 1; i >= 0; i-- {
		out = append(out, *l.entries[i])
	}
	return out
}

// FailNextChanges makes the receiver answer 503 to its next n deliveries, so that
// clerksync sends them again.
func (e *Emulator) FailNextChanges(n int) {
	e.changes.mu.Lock()
	defer e.changes.mu.Unlock()
	e.changes.failNext = n
}

// routes adds the changes page, the receiver and their assets to mux.
func (l *changeLog) routes(e *Emulator, mux *http.ServeMux) {
	mux.HandleFunc("GET "+ChangesPath, func(w http.ResponseWriter, r *http.Request) { l.handlePage(e, w, r) })
	mux.Handle("POST "+ChangesReceivePath, l.hook)
	mux.HandleFunc("GET /dev/changes/wait", l.handleWait)
	mux.HandleFunc("POST /dev/changes/fail", l.handleFail)
	mux.HandleFunc("GET /dev/assets/changes.js", asset("assets/changes.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /dev/assets/changes.css", asset("assets/changes.css", "text/css; charset=utf-8"))
}

// receive records a verified delivery, or refuses it when the page asked to.
func (l *changeLog) receive(_ context.Context, entry clerksync.FeedEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	rc := l.byID[entry.ID]
	if rc == nil {
		rc = &ReceivedChange{Entry: entry}
		l.byID[entry.ID] = rc
		l.entries = append(l.entries, rc)
		if len(l.entries) > maxChanges {
			delete(l.byID, l.entries[0].Entry.ID)
			l.entries = l.entries[1:]
		}
	}
	rc.Attempts++
	rc.At = time.Now()
	l.version++
	close(l.changed)
	l.changed = make(chan struct{})
	if l.failNext > 0 {
		l.failNext--
		rc.Acknowledged = false
		return fmt.Errorf("refused on purpose from the changes page: %w", feedhook.ErrUnavailable)
	}
	rc.Acknowledged = true
	return nil
}

// changesPage is what changes.html renders; Title, Stylesheet, Nav and Notice are
// the layout's.
type changesPage struct {
	Title, Stylesheet, Nav string
	Notice                 *notice
	Version                int64
	FailNext               int
	Changes                []changeView
	ReceiveURL             string
}

// changeView is a received entry as the page shows it.
type changeView struct {
	Seq                      int64
	ID, Type, Action, Object string
	Source                   string
	Fields                   []fieldView
	Attempts                 int
	Acknowledged             bool
	ISO, Clock               string
}

// fieldView is one column of an entry: before and after, as compact JSON.
type fieldView struct {
	Name, Before, After string
	HasBefore, HasAfter bool
}

func (l *changeLog) handlePage(e *Emulator, w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	d := &changesPage{Title: "Changes feed", Stylesheet: e.stylesheet, Nav: "changes", Version: l.version,
		FailNext: l.failNext, ReceiveURL: e.ChangesURL()}
	for i := len(l.entries) - 1; i >= 0; i-- {
		d.Changes = append(d.Changes, newChangeView(l.entries[i]))
	}
	l.mu.Unlock()
	d.Notice = flashCookie.Take(w, r)
	// The emulator's policy, with this page's own script, which keeps the list current.
	e.writePage(w, http.StatusOK, l.view, d, "default-src 'none'; style-src 'self'; img-src 'self' https: data:; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
}

func newChangeView(rc *ReceivedChange) changeView {
	e := rc.Entry
	v := changeView{
		Seq: e.Seq, ID: e.ID, Type: e.Type, Action: e.Action().String(), Object: e.ObjectID, Source: string(e.Source),
		Attempts: rc.Attempts, Acknowledged: rc.Acknowledged,
		ISO: rc.At.UTC().Format(time.RFC3339), Clock: rc.At.Format("15:04:05"),
	}
	fields, err := feedhook.Fields(e)
	if err != nil {
		return v
	}
	for _, f := range fields {
		if f.Name == "synced_at" || f.Name == "sync_source" || (e.Action() == clerksync.ActionDeleted) {
			continue // what every write sets; a deletion shows no columns
		}
		v.Fields = append(v.Fields, fieldView{Name: f.Name, Before: compact(f.Before), After: compact(f.After),
			HasBefore: f.Before != nil, HasAfter: f.After != nil})
	}
	return v
}

// compact shows a JSON value on one line, cut at 80 characters.
func compact(v json.RawMessage) string {
	if v == nil {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	s := b.String()
	if utf8.RuneCountInString(s) > 80 {
		s = string([]rune(s)[:79]) + "…"
	}
	return s
}

// handleWait answers when a delivery arrives after the version the page shows, or
// after a while: {"version": N}. The page's script then fetches the page again.
func (l *changeLog) handleWait(w http.ResponseWriter, r *http.Request) {
	seen, _ := strconv.ParseInt(r.URL.Query().Get("version"), 10, 64)
	timer := time.NewTimer(changesWait)
	defer timer.Stop()
	for {
		l.mu.Lock()
		version, changed := l.version, l.changed
		l.mu.Unlock()
		if version != seen {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(map[string]int64{"version": version})
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-timer.C:
			seen = -1 // answer with the version as it is
		case <-changed:
		}
	}
}

// handleFail makes the receiver refuse the next deliveries.
func (l *changeLog) handleFail(w http.ResponseWriter, r *http.Request) {
	const n = 3
	l.mu.Lock()
	l.failNext = n
	l.mu.Unlock()
	flashCookie.Set(w, r, &notice{Kind: "info", Title: fmt.Sprintf("The receiver answers 503 to the next %d deliveries.", n),
		Text: "Change a user: clerksync sends the change again after a backoff (1 s, 2 s, 4 s…) until it is acknowledged, and the object's later changes wait for it."})
	http.Redirect(w, r, ChangesPath, http.StatusSeeOther)
}

// asset serves an embedded file.
func asset(name, contentType string) http.HandlerFunc {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("devemu: read %s: %v", name, err)) // part of the binary: a bug
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(b)
	}
}
