package web

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
)

// ChangesConfig configures GET /api/changes, the changes feed read by the
// application.
type ChangesConfig struct {
	// Token is the bearer token callers must present (CLERKSYNC_API_TOKEN); the route
	// answers 503 "not configured" without one.
	Token string
	// Feed is read for the entries; the server's Store when nil (and it keeps one).
	Feed clerksync.FeedStore
	// Notify, when set, returns a channel closed when new entries may have been
	// committed (see internal/broadcast); a long poll also looks again every
	// PollEvery in any case, for entries other processes commit.
	Notify func() <-chan struct{}
	// PollEvery is how often a long poll reads the feed when not notified; 250 ms
	// when 0.
	PollEvery time.Duration
}

// Limits of GET /api/changes.
const (
	// MaxChangesWait is the longest a long poll waits for new entries.
	MaxChangesWait = 60 * time.Second
	// DefaultChangesLimit is how many entries a call returns when it does not say.
	DefaultChangesLimit = 100
)

// changesAnswer is the body of GET /api/changes.
type changesAnswer struct {
	Changes []clerksync.FeedEntry `json:"changes"`
	// Next is the cursor for the next call: the seq of the last entry returned, or
	// the after given when none was.
	Next int64 `json:"next"`
}

// handleChanges answers GET /api/changes?after=SEQ&limit=N&wait=30s&types=T,…: the
// entries after SEQ in seq order, waiting up to wait for one when there is none.
func (s *Server) handleChanges(w http.ResponseWriter, r *http.Request) {
	cfg := s.Changes
	if cfg == nil || cfg.Token == "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"error": "the changes API is not configured: set CLERKSYNC_API_TOKEN on the server and send it as a bearer token"})
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(cfg.Token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="clerksync"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token (Authorization: Bearer $CLERKSYNC_API_TOKEN)"})
		return
	}
	feed := cfg.Feed
	if feed == nil {
		feed, _ = s.Store.(clerksync.FeedStore)
	}
	if feed == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "this store keeps no changes feed"})
		return
	}
	f, wait, msg := parseChangesQuery(r)
	if msg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
		return
	}
	// The server's write timeout is for webhooks; a long poll may take longer.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + 15*time.Second))

	ctx := r.Context()
	deadline := time.Now().Add(wait)
	every := cfg.PollEvery
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	for {
		var notified <-chan struct{}
		if cfg.Notify != nil {
			notified = cfg.Notify() // taken before reading, so no commit goes unnoticed
		}
		entries, err := feed.Changes(ctx, f)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.Logger.Warn("reading the changes feed failed", attrError, err)
			w.Header().Set("Retry-After", retryAfterUnavailable)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the database is unavailable, retry later"})
			return
		}
		left := time.Until(deadline)
		if len(entries) > 0 || left <= 0 {
			next := f.After
			if len(entries) > 0 {
				next = entries[len(entries)-1].Seq
			} else {
				entries = []clerksync.FeedEntry{}
			}
			writeJSON(w, http.StatusOK, changesAnswer{Changes: entries, Next: next})
			return
		}
		t := time.NewTimer(min(left, every))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-notified:
		case <-t.C:
		}
		t.Stop()
	}
}

// parseChangesQuery reads the query of GET /api/changes; msg says what is wrong.
func parseChangesQuery(r *http.Request) (f clerksync.FeedFilter, wait time.Duration, msg string) {
	q := r.URL.Query()
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return f, 0, "after must be the seq of an entry (a number, 0 from the start)"
		}
		f.After = n
	}
	f.Limit = DefaultChangesLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > clerksync.MaxPage {
			return f, 0, "limit must be a number from 1 to " + strconv.Itoa(clerksync.MaxPage)
		}
		f.Limit = n
	}
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			n, nerr := strconv.Atoi(v) // seconds
			if nerr != nil {
				return f, 0, "wait must be a duration such as 30s"
			}
			d = time.Duration(n) * time.Second
		}
		if d < 0 || d > MaxChangesWait {
			return f, 0, "wait must be between 0 and " + MaxChangesWait.String()
		}
		wait = d
	}
	for _, v := range q["types"] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if !clerksync.ValidFeedPattern(p) {
				return f, 0, "types: " + strconv.Quote(p) + " matches no type of change (use profile.created, membership.*, …)"
			}
			f.Types = append(f.Types, p)
		}
	}
	return f, wait, ""
}
