package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/internal/flash"
	"github.com/clerksync/clerksync/session"
)

// pageData is what the page templates render.
type pageData struct {
	Title       string
	Development bool
	DevLinks    bool
	Script      bool
	UserID      string
	CSRF        string
	Account     *account // the signed-in user, shown in the header with a Sign out button
	SignOutURL  string
	Notice      *notice
	Profile     *profileView
	Message     *message
}

// account is the signed-in user as the page header shows them: their name and email
// address; else the email address, the username or, for a user without a row yet, the
// user id.
type account struct {
	UserID    string
	Primary   string
	Secondary string
	IsID      bool // Primary is the user id
}

// newAccount returns the header's account for userID, whose row p may be nil (not
// synced yet).
func newAccount(userID string, p *clerksync.Profile) *account {
	a := &account{UserID: userID}
	switch {
	case p != nil && p.Name() != "":
		a.Primary, a.Secondary = p.Name(), p.Email
	case p != nil && p.Email != "":
		a.Primary = p.Email
	case p != nil && p.Username != "":
		a.Primary = "@" + p.Username
	default:
		a.Primary, a.IsID = userID, true
	}
	return a
}

// notice is the result of a sync shown above the fields.
type notice = flash.Notice

// message is the content of a page that shows no profile: sign in, not configured,
// an error.
type message struct {
	Kind        string // signin, unconfigured, error
	Heading     string
	Text        string
	Steps       []string
	Hint        string
	Action      string
	ActionLabel string
}

// profileView is a profile row as the page shows it.
type profileView struct {
	UserID         string
	DisplayName    string
	Initials       string
	Email          string
	EmailVerified  bool
	Username       string
	Phone          string
	ImageURL       string
	ExternalID     string
	PublicMetadata string
	Banned, Locked bool
	CreatedAbs     string
	SyncedISO      string
	SyncedAbs      string
	SyncedRel      string
	Source         string
	SourceLabel    string
	Changed        map[string]bool
	// Orgs is the Organizations section.
	Orgs *orgsView
}

// newProfileView prepares p for the page, as seen at now.
func newProfileView(p *clerksync.Profile, now time.Time, changed []string) *profileView {
	v := &profileView{
		UserID:         p.UserID,
		DisplayName:    p.Name(),
		Initials:       initials(p),
		Email:          p.Email,
		EmailVerified:  p.EmailVerified,
		Username:       p.Username,
		Phone:          p.Phone,
		ImageURL:       safeImageURL(p.ImageURL),
		ExternalID:     p.ExternalID,
		PublicMetadata: prettyJSON(p.PublicMetadata),
		Banned:         p.Banned,
		Locked:         p.Locked,
		SyncedISO:      p.SyncedAt.UTC().Format(time.RFC3339Nano),
		SyncedAbs:      p.SyncedAt.UTC().Format("Jan 2, 2006, 15:04:05 UTC"),
		SyncedRel:      relativeTime(now.Sub(p.SyncedAt)),
		Source:         string(p.SyncSource),
		SourceLabel:    sourceLabel(p.SyncSource),
		Changed:        make(map[string]bool, len(changed)),
	}
	if v.DisplayName == "" {
		v.DisplayName = firstNonEmpty(p.Username, p.Email, p.UserID)
	}
	if p.CreatedAt != 0 {
		v.CreatedAbs = time.UnixMilli(p.CreatedAt).UTC().Format("January 2, 2006")
	} else {
		v.CreatedAbs = "—"
	}
	for _, f := range changed {
		v.Changed[f] = true
	}
	return v
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// initials returns up to two letters for the avatar fallback.
func initials(p *clerksync.Profile) string {
	var b strings.Builder
	for _, s := range []string{p.FirstName, p.LastName} {
		if r, _ := utf8.DecodeRuneInString(s); r != utf8.RuneError {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	if b.Len() == 0 {
		if r, _ := utf8.DecodeRuneInString(firstNonEmpty(p.Username, p.Email)); r != utf8.RuneError {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	if b.Len() == 0 {
		return "?"
	}
	return b.String()
}

// safeImageURL returns u if it is an http(s) URL, so that a stored value cannot smuggle
// another scheme into the page; html/template escapes it besides.
func safeImageURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "https" && parsed.Scheme != "http") || parsed.Host == "" {
		return ""
	}
	return u
}

// prettyJSON indents a metadata object for the page.
func prettyJSON(m json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, jsonObject(m), "", "  "); err != nil {
		return "{}"
	}
	return b.String()
}

func sourceLabel(s clerksync.Source) string {
	switch s {
	case clerksync.SourceWebhook:
		return "Webhook"
	case clerksync.SourceAPI:
		return "Clerk API"
	case clerksync.SourceBackfill:
		return "Backfill"
	}
	return string(s)
}

// relativeTime says how long ago something happened, d ago; profile.js says the same.
func relativeTime(d time.Duration) string {
	s := int(d / time.Second)
	switch {
	case s < 10:
		return "just now"
	case s < 60:
		return fmt.Sprintf("%d seconds ago", s)
	}
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch m := s / 60; {
	case m < 60:
		return plural(m, "minute")
	case m < 24*60:
		return plural(m/60, "hour")
	default:
		return plural(m/(24*60), "day")
	}
}

// setPageHeaders sets the headers of every HTML page: no inline script or style, no
// framing, no caching of personal data, no leaking of the URL.
func (h *profileHandler) setPageHeaders(w http.ResponseWriter) {
	img := "'self' https: data:"
	if h.cfg.Development {
		// The emulator serves avatars over plain http from this machine.
		img += " http://127.0.0.1:* http://localhost:*"
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src "+img+
		"; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
}

// render writes a page with status.
func (h *profileHandler) render(w http.ResponseWriter, status int, t *template.Template, d *pageData) {
	d.Development = h.cfg.Development
	d.DevLinks = h.cfg.Development
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.Error("Profile page could not be rendered", attrError, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.setPageHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderMessage writes a page that shows m instead of a profile.
func (h *profileHandler) renderMessage(w http.ResponseWriter, status int, title string, m *message) {
	h.render(w, status, h.views.message, &pageData{Title: title, Message: m})
}

// signInMessage explains how to sign in, with a link to the sign-in page when there
// is one.
func (h *profileHandler) signInMessage(r *http.Request, reason string) *message {
	m := &message{
		Kind:    "signin",
		Heading: "Sign in to see your profile",
		Text: "This page shows the profile clerksync keeps for the signed-in Clerk user. " +
			"It reads who you are from Clerk's session, so sign in to the application first.",
		Steps: []string{
			"Sign in with the application's Clerk sign-in.",
			"Come back to this page in the same browser: Clerk's __session cookie tells clerksync who you are.",
		},
	}
	if reason != "" {
		m.Text = "Your session could not be used (" + reason + "). " + m.Text
	}
	if h.cfg.SignInURL != "" {
		m.Action = signInLink(h.cfg.SignInURL, h.selfOrigin(r)+"/profile")
		m.ActionLabel = "Sign in"
		if h.cfg.Development {
			m.ActionLabel = "Sign in with a development user"
		}
	}
	return m
}

// signInLink adds Clerk's redirect_url parameter to the sign-in URL.
func signInLink(signIn, back string) string {
	u, err := url.Parse(signIn)
	if err != nil {
		return signIn
	}
	q := u.Query()
	if q.Get("redirect_url") == "" {
		q.Set("redirect_url", back)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// pageAuth authenticates a page request, answering the page that explains why when it
// cannot. It returns nil claims when it has answered.
func (h *profileHandler) pageAuth(w http.ResponseWriter, r *http.Request) *session.Claims {
	if h.cfg.Sessions == nil {
		h.renderMessage(w, http.StatusServiceUnavailable, "Not configured", &message{
			Kind:    "unconfigured",
			Heading: "The profile page is not configured",
			Text:    "clerksync receives Clerk's webhooks on this server, but it has not been told how to check who is signed in.",
			Hint:    h.cfg.NotConfiguredHint + ".",
		})
		return nil
	}
	claims, err := h.authenticate(r)
	if err == nil {
		return claims
	}
	status, e := authErrorAnswer(err)
	if status == http.StatusUnauthorized {
		reason := ""
		if !errors.Is(err, session.ErrNoToken) {
			reason = e.Message
		}
		m := h.signInMessage(r, reason)
		if errors.Is(err, session.ErrNoToken) && r.URL.Query().Get("signed_out") != "" {
			m.Heading, m.Text = "You are signed out", "Sign in again to see your profile."
		}
		h.renderMessage(w, http.StatusUnauthorized, "Sign in", m)
		return nil
	}
	h.log.Warn("Session token could not be checked", attrError, err)
	h.renderMessage(w, status, "Try again", &message{Kind: "error", Heading: "Signing in is unavailable for a moment", Text: e.Message + "."})
	return nil
}

// handlePage shows the signed-in user's profile and the Sync User Data button.
func (h *profileHandler) handlePage(w http.ResponseWriter, r *http.Request) {
	claims := h.pageAuth(w, r)
	if claims == nil {
		return
	}
	d := &pageData{Title: "Your profile", Script: true, UserID: claims.Subject, CSRF: h.csrfToken(claims), SignOutURL: h.signOutURL()}
	var changed []string
	if d.Notice = flashCookie.Take(w, r); d.Notice != nil {
		changed = d.Notice.Changed
	}

	p, synced, err := h.ensure(r.Context(), claims.Subject)
	switch {
	case err == nil:
		if synced && d.Notice == nil {
			d.Notice = &notice{Kind: "success", Title: "Welcome!", Text: "Your profile was just read from Clerk."}
		}
		d.Profile = newProfileView(p, h.now(), changed)
		d.Account = newAccount(claims.Subject, p)
	case errors.Is(err, errUserGone):
		h.renderMessage(w, http.StatusGone, "Deleted", &message{Kind: "error", Heading: "This user has been deleted",
			Text: "Clerk no longer has this user, so clerksync removed its profile. Sign in with another account."})
		return
	default:
		// No row, and it could not be read from Clerk now: show the page with the
		// button, and why.
		d.Account = newAccount(claims.Subject, nil)
		_, e := h.apiErrorFor(claims.Subject, err)
		if d.Notice == nil {
			d.Notice = &notice{Kind: "error", Title: "Not synced yet.", Text: sentence(e.Message)}
		}
	}
	if d.Profile != nil {
		d.Profile.Orgs = h.pageOrganizations(r.Context(), claims)
	}
	h.render(w, http.StatusOK, h.views.profile, d)
}

// handlePageSync is the Sync User Data button without JavaScript: a form post with a
// CSRF token, answered with a redirect back to the page and a one-time notice.
func (h *profileHandler) handlePageSync(w http.ResponseWriter, r *http.Request) {
	claims := h.pageAuth(w, r)
	if claims == nil {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !h.validCSRF(claims, r.PostForm.Get("csrf_token")) || h.checkOrigin(r, claims, false) != nil {
		h.log.Warn("Profile form refused: missing or wrong CSRF token, or foreign origin", attrUserID, claims.Subject)
		h.renderMessage(w, http.StatusForbidden, "Refused", &message{Kind: "error", Heading: "This request was refused",
			Text:   "The form did not come from your profile page. Open the page again and press Sync User Data.",
			Action: "/profile", ActionLabel: "Back to your profile"})
		return
	}
	fl := &notice{}
	a, err := h.syncAnswer(r.Context(), claims)
	switch {
	case err == nil:
		fl.Kind, fl.Title, fl.Text = describeSync(a)
		for _, c := range a.Changes {
			fl.Changed = append(fl.Changed, c.Field)
		}
	case errors.Is(err, errUserGone):
		h.renderMessage(w, http.StatusGone, "Deleted", &message{Kind: "error", Heading: "This user has been deleted",
			Text: "Clerk no longer has this user, so clerksync removed its profile."})
		return
	default:
		_, e := h.apiErrorFor(claims.Subject, err)
		fl.Kind, fl.Title, fl.Text = "error", "Sync failed.", sentence(e.Message)
	}
	flashCookie.Set(w, r, fl)
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
}

// describeSync says what a sync did, as profile.js does.
func describeSync(a syncAnswer) (kind, title, text string) {
	switch {
	case a.Status == "created":
		return "success", "Synced.", "Your profile was read from Clerk for the first time."
	case len(a.Changes) == 0 && a.Status == "stale":
		return "info", "Already up to date.", "A newer version had already arrived by webhook."
	case len(a.Changes) == 0:
		return "info", "Already up to date.", "Clerk has nothing newer than what is shown."
	}
	labels := make([]string, len(a.Changes))
	for i, c := range a.Changes {
		labels[i] = c.Label
	}
	n := "1 field changed: "
	if len(a.Changes) > 1 {
		n = fmt.Sprintf("%d fields changed: ", len(a.Changes))
	}
	return "success", "Synced from Clerk.", n + strings.Join(labels, ", ") + "."
}

// sentence capitalizes msg and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// flashCookie carries the result of a form post to the page it redirects to.
var flashCookie = flash.Cookie{Name: "clerksync_flash", Path: "/profile"}
