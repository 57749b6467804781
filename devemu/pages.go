package devemu

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/flash"
	"github.com/clerksync/clerksync/internal/htmlpage"
)

//go:embed assets
var assets embed.FS

// views are the parsed page templates.
type views struct {
	home, signIn, user, org *template.Template
	css                     []byte
}

// mustParseViews parses the embedded templates; they are part of the binary, so a
// failure is a bug that every test catches.
func mustParseViews() *views {
	parse := func(page string) *template.Template {
		return template.Must(template.ParseFS(assets, "assets/layout.html", "assets/"+page))
	}
	css, err := assets.ReadFile("assets/dev.css")
	if err != nil {
		panic(fmt.Sprintf("devemu: read dev.css: %v", err))
	}
	return &views{home: parse("home.html"), signIn: parse("signin.html"), user: parse("user.html"), org: parse("org.html"), css: css}
}

// Handler returns the emulator's routes, under Prefix: its pages, the fake Backend
// API, the key set and the avatars. Its forms refuse cross-origin posts.
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dev/{$}", e.handleHome)
	mux.HandleFunc("GET /dev/sign-in", e.handleSignInPage)
	mux.HandleFunc("POST /dev/sign-in", e.handleSignIn)
	mux.HandleFunc("POST "+SignOutPath, e.handleSignOut)
	mux.HandleFunc("POST /dev/users", e.handleCreate)
	mux.HandleFunc("GET /dev/users/{id}", e.handleUserPage)
	mux.HandleFunc("POST /dev/users/{id}", e.handleUpdate)
	mux.HandleFunc("POST /dev/users/{id}/delete", e.handleDelete)
	e.handleOrgRoutes(mux)
	mux.HandleFunc("GET /dev/avatars/{file}", e.handleAvatar)
	mux.HandleFunc("GET /dev/assets/dev.css", e.handleCSS)
	mux.Handle(APIPath+"/v1/", http.StripPrefix(APIPath, e.fake))
	mux.Handle("GET "+JWKSPath, e.issuer)
	e.changes.routes(e, mux)
	// Browsers say where a form comes from (Sec-Fetch-Site, Origin); programs that
	// call the fake API say nothing and pass.
	return http.NewCrossOriginProtection().Handler(mux)
}

// pageData is what the emulator's templates render.
type pageData struct {
	Title       string
	Stylesheet  string
	Nav         string
	Notice      *notice
	Current     *userView
	Users       []userView
	User        *userView
	Form        UserInput
	Error       string
	Deliveries  []deliveryView
	Orgs        []orgView
	Org         *orgView
	Roles       []roleView
	RedirectURL string
	WebhookURL  string
	APIURL      string
	JWKSURL     string
}

// notice is a message shown at the top of a page.
type notice = flash.Notice

// userView is a user as the pages show them, with what clerksync holds for them.
type userView struct {
	ID, Name, Email, Username, Phone, Metadata string
	AvatarURL, Initials                        string
	Stored, StoredKind                         string
	SignedIn                                   bool
}

// deliveryView is a delivery with its time formatted.
type deliveryView struct {
	Delivery
	ISO, Clock string
}

func (e *Emulator) newUserView(ctx context.Context, u *clerkfake.User, signedIn string) userView {
	v := userView{
		ID: u.ID, Name: displayName(u), Email: primaryEmail(u), Username: derefString(u.Username),
		Phone: primaryPhone(u), Metadata: prettyJSON(u.PublicMetadata), AvatarURL: u.ImageURL,
		Initials: avatarInitials(derefString(u.FirstName), derefString(u.LastName), derefString(u.Username)),
		SignedIn: u.ID == signedIn,
	}
	v.Stored, v.StoredKind = e.storedState(ctx, u)
	return v
}

// storedState says what clerksync holds for u compared with the emulated Clerk.
func (e *Emulator) storedState(ctx context.Context, u *clerkfake.User) (string, string) {
	store := e.currentStore()
	if store == nil {
		return "", "muted"
	}
	p, err := store.Profile(ctx, u.ID)
	switch {
	case clerksync.ErrorCode(err) == clerksync.ENOTFOUND:
		return "not in clerksync", "warn"
	case err != nil:
		return "database unavailable", "bad"
	case p.UpdatedAt < u.UpdatedAt:
		return "behind Clerk", "warn"
	}
	return "in sync · " + string(p.SyncSource), "ok"
}

func prettyJSON(m json.RawMessage) string {
	var b bytes.Buffer
	if len(m) == 0 || json.Indent(&b, m, "", "  ") != nil {
		return "{}"
	}
	return b.String()
}

// render writes a page.
func (e *Emulator) render(w http.ResponseWriter, r *http.Request, status int, t *template.Template, d *pageData) {
	d.Stylesheet = e.stylesheet
	if d.Notice == nil {
		d.Notice = flashCookie.Take(w, r)
	}
	e.writePage(w, status, t, d, pageCSP)
}

// pageCSP is the Content-Security-Policy of the emulator's pages: no script.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// writePage writes the layout of t with d, never cached, under the policy csp.
func (e *Emulator) writePage(w http.ResponseWriter, status int, t *template.Template, d any, csp string) {
	if err := htmlpage.Write(w, status, t, "layout", d, htmlpage.Headers{CSP: csp, CacheControl: "no-store"}); err != nil {
		e.log.Error("Emulator: page could not be rendered", "error", err)
	}
}

// users returns every user of the emulated instance, oldest first.
func (e *Emulator) users(ctx context.Context, signedIn string) []userView {
	all := e.fake.Users()
	views := make([]userView, 0, len(all))
	for _, u := range all {
		views = append(views, e.newUserView(ctx, u, signedIn))
	}
	return views
}

// current returns the signed-in user, if any.
func (e *Emulator) current(r *http.Request) (*userView, string) {
	id, _, ok := e.signedIn(r)
	if !ok {
		return nil, ""
	}
	u, found := e.user(id)
	if !found {
		return nil, ""
	}
	v := e.newUserView(r.Context(), u, id)
	return &v, id
}

func (e *Emulator) handleHome(w http.ResponseWriter, r *http.Request) {
	cur, id := e.current(r)
	d := &pageData{
		Title: "Clerk emulator", Nav: "home", Current: cur, Users: e.users(r.Context(), id),
		Orgs:       e.orgs(r.Context()),
		WebhookURL: e.base + WebhookPath, APIURL: e.APIURL(), JWKSURL: e.JWKSURL(),
	}
	for _, dl := range e.Deliveries() {
		d.Deliveries = append(d.Deliveries, deliveryView{Delivery: dl, ISO: dl.At.UTC().Format(time.RFC3339), Clock: dl.At.Format("15:04:05")})
	}
	e.render(w, r, http.StatusOK, e.views.home, d)
}

func (e *Emulator) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	e.render(w, r, http.StatusOK, e.views.signIn, &pageData{
		Title: "Sign in", Nav: "signin", Users: e.users(r.Context(), ""), RedirectURL: e.redirectTarget(r, r.URL.Query().Get("redirect_url")),
	})
}

// handleSignIn signs in as an existing user, or creates one first (a sign-up).
func (e *Emulator) handleSignIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	target := e.redirectTarget(r, r.PostForm.Get("redirect_url"))
	id := r.PostForm.Get("user_id")
	if r.PostForm.Get("create") != "" {
		in := formInput(r)
		u, _, err := e.CreateUser(in)
		if err != nil {
			e.render(w, r, http.StatusUnprocessableEntity, e.views.signIn, &pageData{
				Title: "Sign in", Nav: "signin", Users: e.users(r.Context(), ""), RedirectURL: target, Form: in, Error: inputError(err),
			})
			return
		}
		id = u.ID
	}
	u, ok := e.user(id)
	if !ok {
		flashCookie.Set(w, r, &notice{Kind: "error", Title: "No such user.", Text: "Pick one of the users below."})
		http.Redirect(w, r, SignInPath, http.StatusSeeOther)
		return
	}
	e.signIn(w, u.ID)
	e.log.Info("Emulator: signed in as "+u.ID, "user_id", u.ID)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (e *Emulator) handleSignOut(w http.ResponseWriter, r *http.Request) {
	signOut(w)
	flashCookie.Set(w, r, &notice{Kind: "info", Title: "Signed out."})
	http.Redirect(w, r, SignInPath, http.StatusSeeOther)
}

// redirectTarget returns where to go after signing in: target when it is a path or a
// URL of this server, /profile otherwise (no open redirect).
func (e *Emulator) redirectTarget(r *http.Request, target string) string {
	if target == "" {
		return "/profile"
	}
	u, err := url.Parse(target)
	if err != nil {
		return "/profile"
	}
	if u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, "//") {
		return u.RequestURI()
	}
	if o := u.Scheme + "://" + u.Host; o == ownOrigin(r) || o == e.base {
		return u.RequestURI()
	}
	return "/profile"
}

func formInput(r *http.Request) UserInput {
	f := r.PostForm
	return UserInput{
		FirstName: f.Get("first_name"), LastName: f.Get("last_name"), Email: f.Get("email"),
		Username: f.Get("username"), PublicMetadata: f.Get("public_metadata"),
		SkipWebhook: f.Get("no_webhook") != "",
	}
}

// inputError is what the page says about a failed change.
func inputError(err error) string {
	if errors.Is(err, ErrInvalidInput) {
		msg := strings.TrimPrefix(err.Error(), ErrInvalidInput.Error()+": ")
		return strings.ToUpper(msg[:1]) + msg[1:] + "."
	}
	return "The change could not be made: " + err.Error()
}

// deliveryNotice says what became of a change's webhook.
func deliveryNotice(what string, d *Delivery) *notice {
	switch {
	case d == nil:
		return &notice{Kind: "success", Title: what + "."}
	case d.Skipped:
		return &notice{Kind: "info", Title: what + ", no webhook sent.",
			Text: "clerksync has not heard of it: open the profile page and press Sync User Data."}
	case d.OK():
		return &notice{Kind: "success", Title: what + ".", Text: fmt.Sprintf("%s delivered: clerksync answered %d %s.", d.Type, d.Status, d.Outcome)}
	}
	return &notice{Kind: "error", Title: what + ", but the webhook failed.", Text: d.Error}
}

func (e *Emulator) handleCreate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	u, d, err := e.CreateUser(formInput(r))
	if err != nil {
		flashCookie.Set(w, r, &notice{Kind: "error", Title: "User not created.", Text: inputError(err)})
	} else {
		flashCookie.Set(w, r, deliveryNotice("Created "+displayName(u), d))
	}
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (e *Emulator) handleUserPage(w http.ResponseWriter, r *http.Request) {
	u, ok := e.user(r.PathValue("id"))
	if !ok {
		flashCookie.Set(w, r, &notice{Kind: "error", Title: "No such user."})
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	v := e.newUserView(r.Context(), u, "")
	e.render(w, r, http.StatusOK, e.views.user, &pageData{
		Title: v.Name, Nav: "home", User: &v,
		Form: UserInput{FirstName: derefString(u.FirstName), LastName: derefString(u.LastName), Email: v.Email, Username: v.Username, PublicMetadata: v.Metadata},
	})
}

func (e *Emulator) handleUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	in := formInput(r)
	u, d, err := e.UpdateUser(id, in)
	if err != nil {
		cur, ok := e.user(id)
		if !ok {
			flashCookie.Set(w, r, &notice{Kind: "error", Title: "No such user."})
			http.Redirect(w, r, Prefix, http.StatusSeeOther)
			return
		}
		v := e.newUserView(r.Context(), cur, "")
		e.render(w, r, http.StatusUnprocessableEntity, e.views.user, &pageData{Title: v.Name, Nav: "home", User: &v, Form: in, Error: inputError(err)})
		return
	}
	flashCookie.Set(w, r, deliveryNotice("Updated "+displayName(u), d))
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (e *Emulator) handleDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	name := id
	if u, ok := e.user(id); ok {
		name = displayName(u)
	}
	d, err := e.DeleteUser(id, r.PostForm.Get("no_webhook") != "")
	if err != nil {
		flashCookie.Set(w, r, &notice{Kind: "error", Title: "User not deleted.", Text: inputError(err)})
	} else {
		flashCookie.Set(w, r, deliveryNotice("Deleted "+name, d))
	}
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (e *Emulator) handleCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(e.views.css)
}

// flashCookie carries a notice across the redirect after a form.
var flashCookie = flash.Cookie{Name: "clerksync_dev_flash", Path: "/dev/"}
