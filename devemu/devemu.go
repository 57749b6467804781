// Package devemu is a Clerk emulator for trying clerksync on a laptop with no Clerk
// account and no tunnel: the fake Backend API of package clerkfake, a key set and
// session tokens from session.Issuer, a development sign-in page, pages to create,
// change and delete users and organizations (members, roles, invitations), and
// signed webhooks sent to clerksync's own webhook route for every change, unless a
// change is marked as a missed event.
//
// It is for development only: its sign-in trusts whoever clicks, and every page says
// so. `clerksync dev` mounts it beside the real routes.
package devemu

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/session"
	"github.com/clerksync/clerksync/svixsig"
)

// Paths of the emulator, under Prefix.
const (
	// Prefix is where the emulator's routes live; everything else goes to the
	// application (clerksync's routes).
	Prefix = "/dev/"
	// SignInPath is the development sign-in page.
	SignInPath = "/dev/sign-in"
	// SignOutPath is where a form posts to sign the developer out.
	SignOutPath = "/dev/sign-out"
	// APIPath is where the fake Backend API is served: its base URL, with /v1, is
	// BaseURL + APIPath + "/v1".
	APIPath = "/dev/clerk"
	// JWKSPath serves the key set of the session tokens.
	JWKSPath = "/dev/clerk/.well-known/jwks.json"
	// WebhookPath is clerksync's webhook route, where the emulator sends its events.
	WebhookPath = "/api/webhooks/clerk"
)

// Config configures an Emulator.
type Config struct {
	// BaseURL is the origin the server listens on, such as http://127.0.0.1:3000:
	// where the emulator sends webhooks and serves its avatars and API. Required.
	BaseURL string
	// WebhookSecret signs the webhooks (whsec_…); a new one is generated when empty.
	WebhookSecret string
	// Stylesheet is the URL of the stylesheet the pages share with clerksync's.
	Stylesheet string
	// Store, when set, lets the emulator's page show which users clerksync has
	// synced, and how recently.
	Store clerksync.Store
	// Logger receives a line per webhook sent; nothing is logged when nil.
	Logger *slog.Logger
	// HTTPClient sends the webhooks; a client with a 10 s timeout when nil.
	HTTPClient *http.Client
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Emulator plays Clerk for one clerksync server. It is safe for concurrent use.
type Emulator struct {
	base       string
	secret     string
	signingKey []byte
	cookieKey  []byte
	stylesheet string
	log        *slog.Logger
	client     *http.Client
	now        func() time.Time
	fake       *clerkfake.Server
	issuer     *session.Issuer
	views      *views

	mu         sync.Mutex
	store      clerksync.Store
	skip       map[string]int // user id → changes whose webhook is to be skipped
	skipOrg    map[string]int // organization id → changes under way whose webhooks are skipped
	deliveries []Delivery     // newest last, at most maxDeliveries
	seq        uint64         // of the last delivery recorded

	changes *changeLog // the receiver of clerksync's changes feed (changes.go)
}

// maxDeliveries is how many deliveries the emulator's page lists.
const maxDeliveries = 50

// New returns an Emulator for the server at cfg.BaseURL. It returns an error if
// BaseURL is not an http(s) origin or the webhook secret is malformed.
func New(cfg Config) (*Emulator, error) {
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("devemu: base URL %q is not an http(s) origin", cfg.BaseURL)
	}
	e := &Emulator{
		base:       base,
		secret:     cfg.WebhookSecret,
		stylesheet: cfg.Stylesheet,
		log:        cfg.Logger,
		client:     cfg.HTTPClient,
		now:        cfg.Now,
		store:      cfg.Store,
		skip:       make(map[string]int),
		skipOrg:    make(map[string]int),
	}
	if e.secret == "" {
		e.secret = svixsig.GenerateSecret()
	}
	key, err := svixsig.DecodeSecret(e.secret)
	if err != nil {
		return nil, fmt.Errorf("devemu: webhook secret: %w", err)
	}
	e.signingKey = key
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.client == nil {
		e.client = &http.Client{Timeout: 10 * time.Second}
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.cookieKey = make([]byte, 32)
	_, _ = rand.Read(e.cookieKey)
	e.fake = clerkfake.New(clerkfake.WithClock(e.now))
	// Development instances get 60 s tokens too; the sign-in cookie lets the
	// emulator mint a fresh one on every request, as Clerk's JavaScript would.
	e.issuer, err = session.NewIssuer(session.IssuerConfig{Now: e.now})
	if err != nil {
		return nil, fmt.Errorf("devemu: %w", err)
	}
	e.views = mustParseViews()
	e.changes = newChangeLog(e)
	e.fake.OnChange(e.onChange)
	e.fake.OnOrgChange(e.onOrgChange)
	return e, nil
}

// Fake returns the fake Backend API, to change users from code as the emulator's page
// does (each change sends its webhook).
func (e *Emulator) Fake() *clerkfake.Server { return e.fake }

// Issuer returns the issuer of the session tokens.
func (e *Emulator) Issuer() *session.Issuer { return e.issuer }

// WebhookSecret returns the secret the webhooks are signed with, for
// CLERK_WEBHOOK_SECRET.
func (e *Emulator) WebhookSecret() string { return e.secret }

// SecretKey returns the secret key the fake Backend API accepts, for CLERK_SECRET_KEY.
func (e *Emulator) SecretKey() string { return e.fake.SecretKey() }

// APIURL returns the fake Backend API's base URL, for CLERK_API_URL.
func (e *Emulator) APIURL() string { return e.base + APIPath + "/v1" }

// JWKSURL returns the URL of the session tokens' key set, for CLERK_JWKS_URL.
func (e *Emulator) JWKSURL() string { return e.base + JWKSPath }

// UseStore lets the emulator's page show what clerksync has stored.
func (e *Emulator) UseStore(s clerksync.Store) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.store = s
}

func (e *Emulator) currentStore() clerksync.Store {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.store
}

// Wrap returns a handler that serves the emulator under Prefix and app everywhere
// else, with a fresh session token for the developer signed in through the emulator,
// and that sends / to the emulator's page. It answers only requests addressed to the
// base URL's host or to localhost, 127.0.0.1 or [::1] on its port, others 421.
func (e *Emulator) Wrap(app http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Prefix, e.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(Prefix, http.StatusSeeOther))
	mux.Handle("/", e.withSession(app))
	return e.checkHost(mux)
}

// seedUser is one of the users the emulator starts with.
type seedUser struct {
	first, last, email, username, phone, metadata string
	// missed: the user signed up before clerksync was set up, so no webhook told it.
	missed bool
}

var seedUsers = []seedUser{
	{"Ada", "Lovelace", "ada@example.com", "ada", "+442079460958", `{"plan":"pro","role":"admin"}`, false},
	{"Grace", "Hopper", "grace@example.com", "grace", "", `{"plan":"team","seats":12}`, false},
	{"Alan", "Turing", "alan@example.com", "alan", "", `{"plan":"free"}`, false},
	{"Katherine", "Johnson", "katherine@example.com", "katherine", "+12025550147", `{"plan":"pro"}`, true},
}

// Seed creates the demonstration users, sending their user.created webhooks, except
// for one who signed up before clerksync was set up: signing in as her shows the
// profile page syncing a missing user on the spot. Then an organization, Acme Inc,
// created by Ada with Grace as a member and Alan invited, each with its webhooks. It
// returns an error if an object cannot be created or a webhook cannot be delivered.
func (e *Emulator) Seed() error {
	var errs []error
	ids := map[string]string{}
	for _, s := range seedUsers {
		u, d, err := e.CreateUser(UserInput{
			FirstName: s.first, LastName: s.last, Email: s.email, Username: s.username,
			Phone: s.phone, PublicMetadata: s.metadata, SkipWebhook: s.missed,
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d != nil && d.Error != "" {
			errs = append(errs, fmt.Errorf("seed %s %s: webhook: %s", s.first, s.last, d.Error))
		}
		ids[s.first] = u.ID
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	org, ds, err := e.CreateOrganization(OrgInput{Name: "Acme Inc", CreatedBy: ids["Ada"]})
	if err != nil {
		return fmt.Errorf("seed an organization: %w", err)
	}
	more, err := e.AddMember(org.ID, ids["Grace"], "org:member", false)
	ds = append(ds, more...)
	if err == nil {
		more, err = e.Invite(org.ID, "alan@example.com", "org:member", false)
		ds = append(ds, more...)
	}
	if err != nil {
		return fmt.Errorf("seed an organization: %w", err)
	}
	for _, d := range ds {
		if !d.OK() {
			errs = append(errs, fmt.Errorf("seed an organization: %s: %s", d.Type, d.Error))
		}
	}
	return errors.Join(errs...)
}

// UserInput describes a user to create or the new values of one to change. Empty
// fields are left as they are when changing (a new user gets generated values).
type UserInput struct {
	FirstName, LastName, Email, Username, Phone string
	// PublicMetadata is a JSON object; empty leaves it unchanged.
	PublicMetadata string
	// SkipWebhook makes the change silently: no webhook is sent, as when Clerk's
	// delivery is lost. clerksync then learns of it only by syncing.
	SkipWebhook bool
}

// ErrInvalidInput wraps what is wrong with a UserInput.
var ErrInvalidInput = errors.New("invalid input")

// metadata parses in.PublicMetadata: nil when empty, an ErrInvalidInput when it is not
// a JSON object.
func (in *UserInput) metadata() (json.RawMessage, error) {
	s := strings.TrimSpace(in.PublicMetadata)
	if s == "" {
		return nil, nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(s), &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%w: public metadata must be a JSON object, such as {\"plan\": \"pro\"}", ErrInvalidInput)
	}
	return json.RawMessage(s), nil
}

// CreateUser creates a user in the fake Clerk and, unless in.SkipWebhook, sends its
// user.created webhook. It returns the user and the delivery (nil when skipped).
func (e *Emulator) CreateUser(in UserInput) (*clerkfake.User, *Delivery, error) {
	meta, err := in.metadata()
	if err != nil {
		return nil, nil, err
	}
	u := clerkfake.NewUser(clerkfake.UserParams{
		FirstName: strings.TrimSpace(in.FirstName), LastName: strings.TrimSpace(in.LastName),
		Email: strings.TrimSpace(in.Email), Username: strings.TrimSpace(in.Username),
		Phone: strings.TrimSpace(in.Phone), PublicMetadata: meta, CreatedAt: e.now(),
	})
	u.ImageURL = e.avatarURL(u.ID)
	e.markSkip(u.ID, in.SkipWebhook)
	err = e.fake.AddUser(u)
	if err != nil {
		e.unmarkSkip(u.ID, in.SkipWebhook)
		if errors.Is(err, clerkfake.ErrIdentifierTaken) {
			return nil, nil, fmt.Errorf("%w: that email address or username is taken", ErrInvalidInput)
		}
		return nil, nil, fmt.Errorf("create user: %w", err)
	}
	return u, e.lastDelivery(u.ID, clerkfake.EventUserCreated), nil
}

// UpdateUser changes the user id as Clerk's dashboard would and, unless
// in.SkipWebhook, sends the user.updated webhook.
func (e *Emulator) UpdateUser(id string, in UserInput) (*clerkfake.User, *Delivery, error) {
	meta, err := in.metadata()
	if err != nil {
		return nil, nil, err
	}
	email := strings.TrimSpace(in.Email)
	if email != "" && !strings.Contains(email, "@") {
		return nil, nil, fmt.Errorf("%w: %q is not an email address", ErrInvalidInput, email)
	}
	e.markSkip(id, in.SkipWebhook)
	u, err := e.fake.UpdateUser(id, func(u *clerkfake.User) {
		set := func(dst **string, v string) {
			if v = strings.TrimSpace(v); v != "" {
				*dst = &v
			}
		}
		set(&u.FirstName, in.FirstName)
		set(&u.LastName, in.LastName)
		set(&u.Username, in.Username)
		if email != "" {
			for i := range u.EmailAddresses {
				if u.PrimaryEmailAddressID != nil && u.EmailAddresses[i].ID == *u.PrimaryEmailAddressID {
					u.EmailAddresses[i].EmailAddress = email
					u.EmailAddresses[i].UpdatedAt = e.now().UnixMilli()
				}
			}
		}
		if meta != nil {
			u.PublicMetadata = meta
		}
	})
	if err != nil {
		e.unmarkSkip(id, in.SkipWebhook)
		switch {
		case errors.Is(err, clerkfake.ErrIdentifierTaken):
			return nil, nil, fmt.Errorf("%w: that email address or username is taken", ErrInvalidInput)
		}
		return nil, nil, fmt.Errorf("update user: %w", err)
	}
	return u, e.lastDelivery(id, clerkfake.EventUserUpdated), nil
}

// DeleteUser deletes the user id and, unless skipWebhook, sends user.deleted.
func (e *Emulator) DeleteUser(id string, skipWebhook bool) (*Delivery, error) {
	e.markSkip(id, skipWebhook)
	if err := e.fake.DeleteUser(id); err != nil {
		e.unmarkSkip(id, skipWebhook)
		return nil, fmt.Errorf("delete user: %w", err)
	}
	return e.lastDelivery(id, clerkfake.EventUserDeleted), nil
}

// markSkip marks the next change of id as one whose webhook is not sent, when skip
// is set. The fake calls the change hook on the goroutine that makes the change, so
// the mark is consumed by exactly that change.
func (e *Emulator) markSkip(id string, skip bool) {
	if !skip {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.skip[id]++
}

// unmarkSkip takes back a mark whose change failed (the hook was not called).
func (e *Emulator) unmarkSkip(id string, skip bool) {
	if !skip {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.takeSkip(id)
}

// takeSkip consumes a mark of id and reports whether there was one. The caller holds
// mu.
func (e *Emulator) takeSkip(id string) bool {
	if e.skip[id] == 0 {
		return false
	}
	if e.skip[id]--; e.skip[id] == 0 {
		delete(e.skip, id)
	}
	return true
}

// user returns the user id from the fake Clerk.
func (e *Emulator) user(id string) (*clerkfake.User, bool) { return e.fake.User(id) }

// avatarURL is where the emulator serves a user's avatar: an image of their initials,
// since Clerk's image service is not reachable offline.
func (e *Emulator) avatarURL(id string) string {
	return e.base + Prefix + "avatars/" + id + ".svg"
}
