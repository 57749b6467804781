package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"time"
)

// assets holds the page templates and the static files the pages use; nothing is
// loaded from elsewhere, so the pages work offline and under a strict
// Content-Security-Policy.
//
//go:embed assets/templates/*.html assets/static/*
var assets embed.FS

// assetPrefix is where the static files are served.
const assetPrefix = "/clerksync-assets/"

// StylesheetPath is the URL path of clerksync's stylesheet, for other pages served
// beside the profile routes (the development emulator) to share its look.
const StylesheetPath = assetPrefix + "clerksync.css"

// staticAsset is one embedded static file with the version used in its URL.
type staticAsset struct {
	body    []byte
	ctype   string
	version string
}

// staticAssets are the files under assets/static, by name, read once.
var staticAssets = func() map[string]*staticAsset {
	entries, err := fs.ReadDir(assets, "assets/static")
	if err != nil {
		panic(fmt.Sprintf("web: read embedded assets: %v", err))
	}
	m := make(map[string]*staticAsset, len(entries))
	for _, e := range entries {
		body, err := assets.ReadFile("assets/static/" + e.Name())
		if err != nil {
			panic(fmt.Sprintf("web: read embedded asset %s: %v", e.Name(), err))
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(e.Name()))
		if path.Ext(e.Name()) == ".js" {
			ctype = "text/javascript; charset=utf-8"
		}
		m[e.Name()] = &staticAsset{body: body, ctype: ctype, version: hex.EncodeToString(sum[:6])}
	}
	return m
}()

// assetURL returns the URL of a static file with its content version, so that it can
// be cached for long and still change with each release.
func assetURL(name string) (string, error) {
	a, ok := staticAssets[name]
	if !ok {
		return "", fmt.Errorf("no embedded asset %q", name)
	}
	return assetPrefix + name + "?v=" + a.version, nil
}

// handleAsset serves a static file.
func handleAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := staticAssets[r.PathValue("name")]
	if !ok || r.PathValue("name") == syncScriptName {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", `"`+a.version+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// syncScriptName is the drop-in script's file; it is served at /profile-sync.js with
// the server's default max age filled in, not under /clerksync-assets/.
const syncScriptName = "profile-sync.js"

// syncScript returns the drop-in script with maxAge as its default.
func syncScript(maxAge time.Duration) []byte {
	minutes := strconv.FormatFloat(maxAge.Minutes(), 'f', -1, 64)
	return bytes.Replace(staticAssets[syncScriptName].body, []byte("__CLERKSYNC_DEFAULT_MAX_AGE_MINUTES__"), []byte(minutes), 1)
}

// handleScript serves the drop-in sync-on-visit script. It is meant to be included
// from the application's own pages, on any origin.
func (h *profileHandler) handleScript(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if h.cfg.Sessions == nil {
		hd.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "/* clerksync: profile sync is not configured on this server: %s */\n", h.cfg.NotConfiguredHint)
		return
	}
	hd.Set("Cache-Control", "public, max-age=300")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.script))
}

// views are the parsed page templates.
type views struct {
	profile *template.Template
	message *template.Template
}

// mustParseViews parses the embedded templates; they are part of the binary, so a
// failure is a bug caught by every test.
func mustParseViews() *views {
	funcs := template.FuncMap{"asset": assetURL}
	parse := func(page string) *template.Template {
		return template.Must(template.New("").Funcs(funcs).ParseFS(assets, "assets/templates/layout.html", "assets/templates/"+page))
	}
	return &views{profile: parse("profile.html"), message: parse("message.html")}
}
