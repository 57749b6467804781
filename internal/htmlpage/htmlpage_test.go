package htmlpage_test

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/clerksync/clerksync/internal/htmlpage"
)

func TestWrite(t *testing.T) {
	tmpl := template.Must(template.New("page").Parse(`<p>{{.}}</p>`))
	w := httptest.NewRecorder()
	h := htmlpage.Headers{CSP: "default-src 'none'", CacheControl: "no-store"}
	if err := htmlpage.Write(w, http.StatusTeapot, tmpl, "page", "<hi>", h); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusTeapot || w.Body.String() != "<p>&lt;hi&gt;</p>" {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
	for k, v := range map[string]string{
		"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": "default-src 'none'",
		"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

func TestWriteTemplateError(t *testing.T) {
	tmpl := template.Must(template.New("page").Parse(`{{.Missing}}`))
	w := httptest.NewRecorder()
	if err := htmlpage.Write(w, http.StatusOK, tmpl, "page", 1, htmlpage.Headers{}); err == nil {
		t.Fatal("no error for a template that fails")
	}
	if w.Code != http.StatusInternalServerError || w.Header().Get("Content-Security-Policy") != "" {
		t.Fatalf("got %d with headers %v, want a plain 500", w.Code, w.Header())
	}
}
