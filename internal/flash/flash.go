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

// Set stores v, as JSON, in the cookie name for the pages under path. A value that does
// not encode is dropped: a notice is a courtesy, never the result itself.
func Set(w http.ResponseWriter, r *http.Request, name, path string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: base64.RawURLEncoding.EncodeToString(b), Path: path,
		MaxAge: maxAge, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

// Take decodes the notice in the cookie name into v and clears the cookie, so that it
// shows once. It reports whether there was a notice that decoded; the caller still
// checks its fields, as a cookie is whatever the browser sends.
func Take(w http.ResponseWriter, r *http.Request, name, path string, v any) bool {
	c, err := r.Cookie(name)
	if err != nil {
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: name, Path: path, MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil
}
