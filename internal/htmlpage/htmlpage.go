// Package htmlpage writes the HTML pages of the service and of the Clerk emulator:
// rendered in full before anything is sent, so that a template error answers 500
// rather than half a page, and sent with the headers every page carries.
package htmlpage

import (
	"bytes"
	"html/template"
	"net/http"
)

// Headers are the headers that differ from page to page.
type Headers struct {
	// CSP is the page's Content-Security-Policy.
	CSP string
	// CacheControl is its Cache-Control, such as no-store.
	CacheControl string
}

// Write executes the template name of t with data and writes the result with status,
// Content-Type text/html, h, nosniff and a same-origin Referrer-Policy. When the
// template fails it answers 500 instead and returns the template's error (which names
// the template), for the caller to log.
func Write(w http.ResponseWriter, status int, t *template.Template, name string, data any, h Headers) error {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", h.CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", h.CacheControl)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}
