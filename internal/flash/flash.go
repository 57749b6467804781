// Package flash carries a one-time notice across the redirect that follows a form post
// (post, redirect, get), in a short-lived cookie.
package flash

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
)

// maxAge is how long a notice waits for the page the form redirects to.
const maxAge = 60

// Notice is a one-time message shown on the page a form redirects to.
type Notice struct {
	// Kind is success, error or info; a notice of another kind is not shown.
	Kind  string `json:"k"`
	Title string `json:"t"`
	Text  string `json:"x,omitempty"`
	// Changed names what a sync changed, for the page to highlight.
	Changed []string `json:"c,omitempty"`
}

// Cookie is where a page keeps its notices: the cookie's name and the path of the
// pages it is sent to.
type Cookie struct{ Name, Path string }

// Set stores n for the next page under c's path. A notice that does not encode is
// dropped: a notice is a courtesy, never the result itself.
func (c Cookie) Set(w http.ResponseWriter, r *http.Request, n *Notice) {
	b, err := json.Marshal(n)
	if err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: c.Name, Value: base64.RawURLEncoding.EncodeToString(b), Path: c.Path,
		MaxAge: maxAge, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

// Take returns the pending notice, or nil, and clears the cookie so that it shows once.
// A cookie is whatever the browser sends: one that does not decode, or whose kind is
// not one the pages know, gives nil (its text is escaped by the templates like any
// other).
func (c Cookie) Take(w http.ResponseWriter, r *http.Request) *Notice {
	ck, err := r.Cookie(c.Name)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: c.Name, Path: c.Path, MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil
	}
	var n Notice
	if json.Unmarshal(b, &n) != nil {
		return nil
	}
	switch n.Kind {
	case "success", "error", "info":
		return &n
	}
	return nil
}
