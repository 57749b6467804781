package devemu

import (
	"fmt"
	"hash/fnv"
	"html"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// avatarColors are the gradients of the avatars, picked by user id.
var avatarColors = [][2]string{
	{"#7c5cff", "#3b82f6"},
	{"#f97316", "#ef4444"},
	{"#10b981", "#0ea5e9"},
	{"#ec4899", "#8b5cf6"},
	{"#14b8a6", "#22c55e"},
	{"#f59e0b", "#f97316"},
	{"#6366f1", "#06b6d4"},
}

// handleAvatar serves a user's avatar: their initials on a gradient, as an SVG, the
// way Clerk shows users who have not uploaded an image.
func (e *Emulator) handleAvatar(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok {
		http.NotFound(w, r)
		return
	}
	letters := "?"
	if u, found := e.user(id); found {
		letters = avatarInitials(derefString(u.FirstName), derefString(u.LastName), derefString(u.Username))
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	c := avatarColors[h.Sum32()%uint32(len(avatarColors))]
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128" width="128" height="128">`+
		`<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="%s"/><stop offset="1" stop-color="%s"/></linearGradient></defs>`+
		`<rect width="128" height="128" fill="url(#g)"/>`+
		`<text x="64" y="64" dy=".35em" text-anchor="middle" font-family="system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif" font-size="50" font-weight="600" fill="#fff">%s</text></svg>`,
		c[0], c[1], html.EscapeString(letters))
}

// avatarInitials returns up to two capital letters.
func avatarInitials(first, last, username string) string {
	var b strings.Builder
	for _, s := range []string{first, last} {
		if r, _ := utf8.DecodeRuneInString(s); r != utf8.RuneError {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	if b.Len() == 0 {
		if r, _ := utf8.DecodeRuneInString(username); r != utf8.RuneError {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	if b.Len() == 0 {
		return "?"
	}
	return b.String()
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
