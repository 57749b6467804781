package web

import (
	"html/template"
	"mime"
	"net/http"
	"strings"

	"github.com/clerksync/clerksync/internal/htmlpage"
)

// serviceRoute is one route of the server, as the service page at GET / lists it.
type serviceRoute struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	About  string `json:"about"`
	// Off says why the route answers only an explanation on this server, or is empty.
	Off string `json:"off,omitempty"`
}

// serviceInfo is what GET / answers: the service, its version and its routes.
type serviceInfo struct {
	Service string         `json:"service"`
	Version string         `json:"version"`
	About   string         `json:"about"`
	Routes  []serviceRoute `json:"routes"`
}

// serviceAbout says what clerksync is, on the service page.
const serviceAbout = "Keeps this application's database in step with its Clerk users: webhooks in, profiles out."

// routeList returns the routes Handler serves, with a note for those that are off on
// this server. A route added to Handler belongs here too.
func (s *Server) routeList() []serviceRoute {
	webhookOff, profileOff, syncOff := "", "", ""
	if s.Verifier == nil {
		webhookOff = "no webhook secret (CLERK_WEBHOOK_SECRET): this server polls the Clerk Backend API instead"
	}
	if s.Profile == nil || s.Profile.Sessions == nil {
		profileOff = "not configured: set CLERK_PUBLISHABLE_KEY so that session tokens can be verified"
	}
	if syncOff = profileOff; syncOff == "" && s.Profile.Syncer == nil {
		syncOff = "not configured: set CLERK_SECRET_KEY so that users can be read from Clerk"
	}
	routes := []serviceRoute{
		{"POST", "/api/webhooks/clerk", "Clerk's webhooks, signed by Svix: the endpoint URL to give the Clerk Dashboard", webhookOff},
		{"POST", "/api/clerk-webhook", "The same, under another name", webhookOff},
		{"GET", "/healthz", "200 while the process is up", ""},
		{"GET", "/readyz", "200 while the database answers; 503 otherwise and while shutting down", ""},
	}
	if s.Metrics != nil {
		routes = append(routes, serviceRoute{"GET", "/metrics", "Prometheus metrics", ""})
	}
	changesOff := ""
	if s.Changes == nil || s.Changes.Token == "" {
		changesOff = "not configured: set CLERKSYNC_API_TOKEN and send it as a bearer token"
	}
	routes = append(routes, serviceRoute{"GET", "/api/changes", "The changes feed: what changed in the tables, in order, from a cursor", changesOff})
	return append(routes,
		serviceRoute{"GET", "/profile", "The signed-in user's synced profile, with a Sync User Data button", profileOff},
		serviceRoute{"POST", signOutPath, "The profile page's Sign out button", profileOff},
		serviceRoute{"GET", "/api/profile", "The signed-in user's synced profile as JSON", profileOff},
		serviceRoute{"POST", "/api/profile/sync", "Sync the signed-in user from the Clerk Backend API", syncOff},
		serviceRoute{"GET", "/profile-sync.js", "Drop-in script: syncs a signed-in visitor whose row is missing or old", profileOff},
	)
}

// Routes returns the path patterns of every route Handler serves, to mount them on
// another mux: the routes of the service page (GET /), but the page itself, and the
// paths the profile page uses besides (its form's sync, its stylesheet and script).
func (s *Server) Routes() []string {
	seen := make(map[string]bool)
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, r := range s.routeList() {
		add(r.Path)
	}
	add("/profile/sync")
	add(assetPrefix)
	return out
}

// indexPage renders the service page.
var indexPage = template.Must(template.New("").Funcs(template.FuncMap{"asset": assetURL}).
	ParseFS(assets, "assets/templates/layout.html", "assets/templates/index.html"))

// handleIndex answers GET / with a page naming the service, its version and its
// routes, or with the same as JSON for a client that asks for application/json.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	info := serviceInfo{Service: "clerksync", Version: s.Version, About: serviceAbout, Routes: s.routeList()}
	if info.Version == "" {
		info.Version = "unknown"
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, info)
		return
	}
	if err := htmlpage.Write(w, http.StatusOK, indexPage, "index", info, htmlpage.Headers{
		CSP:          "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		CacheControl: "no-cache",
	}); err != nil {
		s.Logger.Error("Service page could not be rendered", attrError, err)
	}
}

// wantsJSON reports whether the request's Accept header asks for JSON rather than a
// page: it names application/json (or a +json type) and not text/html.
func wantsJSON(r *http.Request) bool {
	json, html := false, false
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch {
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			json = true
		case mt == "text/html":
			html = true
		}
	}
	return json && !html
}
