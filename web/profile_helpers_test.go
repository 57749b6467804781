package web_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/engine"
	"github.com/clerksync/clerksync/internal/syncbuf"
	"github.com/clerksync/clerksync/pull"
	"github.com/clerksync/clerksync/session"
	"github.com/clerksync/clerksync/sqlite"
	"github.com/clerksync/clerksync/storetest"
	"github.com/clerksync/clerksync/svixsig"
	"github.com/clerksync/clerksync/web"
)

// testKey is one RSA key for every test: generating one takes a while.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// appOrigin is an authorized party: the application's own pages, on another origin.
const appOrigin = "https://app.example.com"

// profileEnv is a web.Server with the profile routes over a real SQLite store, the
// fake Clerk Backend API and an issuer of session tokens, all on one fake clock.
type profileEnv struct {
	URL    string
	Clock  *storetest.Clock
	Store  clerksync.Store
	Engine *engine.Engine
	Fake   *clerkfake.Server
	Issuer *session.Issuer
	Logs   *logBuffer
}

// logBuffer keeps the server's log lines; safe for the server and the test to share.
type logBuffer = syncbuf.Buffer

// profileOptions adjusts the environment of one test.
type profileOptions struct {
	noProfile   bool // Server.Profile nil
	noSessions  bool // ProfileConfig.Sessions nil
	noSyncer    bool // ProfileConfig.Syncer nil
	noParties   bool // no authorized parties: this server's own origin only
	publicURL   string
	syncTimeout time.Duration
	revoker     web.SessionRevoker // ProfileConfig.Revoker
}

// MustRunProfileServer starts the environment and stops it when the test ends.
func MustRunProfileServer(tb testing.TB, opt profileOptions) *profileEnv {
	tb.Helper()
	clock := storetest.NewClock(storetest.Epoch)
	store, err := sqlite.Open(filepath.Join(tb.TempDir(), "clerksync.db"), sqlite.WithNow(clock.Now))
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng := engine.New(store, engine.Config{Logger: logger})

	fake := clerkfake.New(clerkfake.WithClock(clock.Now), clerkfake.WithRateLimit(0, time.Second))
	api := httptest.NewServer(fake)
	client, err := clerkapi.New(clerkapi.Config{
		BaseURL: api.URL + "/v1", SecretKey: fake.SecretKey(), MaxRetries: -1, RateLimit: -1, Now: clock.Now,
	})
	if err != nil {
		tb.Fatalf("clerkapi: %v", err)
	}
	issuer, err := session.NewIssuer(session.IssuerConfig{Key: testKey(), Now: clock.Now})
	if err != nil {
		tb.Fatalf("issuer: %v", err)
	}
	parties := []string{appOrigin}
	if opt.noParties {
		parties = nil
	}
	verifier, err := session.NewVerifier(session.Config{PEMKey: issuer.PublicKeyPEM(), AuthorizedParties: parties, Now: clock.Now})
	if err != nil {
		tb.Fatalf("verifier: %v", err)
	}
	webhooks, err := svixsig.NewVerifier([]string{webhookSecret})
	if err != nil {
		tb.Fatalf("svixsig: %v", err)
	}

	srv := &web.Server{Store: store, Engine: eng, Verifier: webhooks, Logger: logger}
	if !opt.noProfile {
		cfg := &web.ProfileConfig{
			Sessions:          verifier,
			Syncer:            &pull.Syncer{Client: client, Engine: eng, Store: store, Logger: logger},
			AuthorizedParties: parties,
			PublicURL:         opt.publicURL,
			SignInURL:         "https://accounts.example.com/sign-in",
			SyncTimeout:       opt.syncTimeout,
			Revoker:           opt.revoker,
			Now:               clock.Now,
		}
		if opt.noSessions {
			cfg.Sessions = nil
		}
		if opt.noSyncer {
			cfg.Syncer = nil
		}
		srv.Profile = cfg
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		ts.Close()
		api.Close()
		if err := eng.Close(); err != nil {
			tb.Errorf("close engine: %v", err)
		}
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return &profileEnv{URL: ts.URL, Clock: clock, Store: store, Engine: eng, Fake: fake, Issuer: issuer, Logs: logs}
}

// webhookSecret signs the webhooks of these tests.
const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// MustCreateUser creates a user in the fake Clerk, without storing it in clerksync.
func (e *profileEnv) MustCreateUser(tb testing.TB, first, last, email string) *clerkfake.User {
	tb.Helper()
	u, err := e.Fake.CreateUser(clerkfake.UserParams{FirstName: first, LastName: last, Email: email,
		PublicMetadata: json.RawMessage(`{"plan":"free"}`)})
	if err != nil {
		tb.Fatalf("create user: %v", err)
	}
	return u
}

// MustStore stores u in clerksync as its webhook would.
func (e *profileEnv) MustStore(tb testing.TB, u *clerkfake.User) {
	tb.Helper()
	body := clerkfake.WebhookEvent(clerkfake.EventUserCreated, u, e.Clock.Now())
	key, err := svixsig.DecodeSecret(webhookSecret)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.URL+"/api/webhooks/clerk", strings.NewReader(string(body)))
	if err != nil {
		tb.Fatal(err)
	}
	svixsig.SetHeaders(req.Header, key, "msg_"+u.ID, time.Now(), body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("webhook for %s: %d", u.ID, resp.StatusCode)
	}
}

// Token mints a session token for userID made for azp ("" for none).
func (e *profileEnv) Token(tb testing.TB, userID, azp string) string {
	tb.Helper()
	tok, err := e.Issuer.Mint(session.Token{Subject: userID, SessionID: "sess_" + userID, AuthorizedParty: azp})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// Profile returns userID's row, or nil.
func (e *profileEnv) Profile(tb testing.TB, userID string) *clerksync.Profile {
	tb.Helper()
	p, err := e.Store.Profile(context.Background(), userID)
	if clerksync.ErrorCode(err) == clerksync.ENOTFOUND {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// reply is an answer read whole.
type reply struct {
	Status int
	Header http.Header
	Body   string
}

// JSON decodes the body into a map.
func (r reply) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		tb.Fatalf("answer %d is not JSON: %v\n%s", r.Status, err, r.Body)
	}
	return m
}

// request describes one request to the server.
type request struct {
	method, path string
	bearer       string // Authorization: Bearer
	cookie       string // __session cookie
	origin       string
	referer      string
	form         url.Values
	cookies      []*http.Cookie
}

// Do sends req without following redirects.
func (e *profileEnv) Do(tb testing.TB, req request) reply {
	tb.Helper()
	var body io.Reader
	if req.form != nil {
		body = strings.NewReader(req.form.Encode())
	}
	r, err := http.NewRequest(req.method, e.URL+req.path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if req.form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if req.bearer != "" {
		r.Header.Set("Authorization", "Bearer "+req.bearer)
	}
	if req.cookie != "" {
		r.AddCookie(&http.Cookie{Name: session.CookieName, Value: req.cookie})
	}
	for _, c := range req.cookies {
		r.AddCookie(c)
	}
	if req.origin != "" {
		r.Header.Set("Origin", req.origin)
	}
	if req.referer != "" {
		r.Header.Set("Referer", req.referer)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(r)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// forgedPost is a form post that a page's form must refuse.
type forgedPost struct {
	name   string
	form   url.Values
	origin string
}

// PostForged posts each forged form to path with the session cookie token, in a
// subtest of its own: without the page's form token csrf, with a wrong one, from
// another site, and the more given; refused checks each answer.
func (e *profileEnv) PostForged(t *testing.T, path, token, csrf string, more []forgedPost, refused func(t *testing.T, r reply)) {
	t.Helper()
	forged := append([]forgedPost{
		{"NoToken", url.Values{}, ""},
		{"WrongToken", url.Values{"csrf_token": {"AAAA"}}, ""},
		{"ForeignOrigin", url.Values{"csrf_token": {csrf}}, "https://evil.example"},
	}, more...)
	for _, tt := range forged {
		t.Run(tt.name, func(t *testing.T) {
			refused(t, e.Do(t, request{method: http.MethodPost, path: path, cookie: token, form: tt.form, origin: tt.origin}))
		})
	}
}

// MustRunWithAda starts a profile server with opt whose store holds the user Ada
// Lovelace, as her webhook would leave her.
func MustRunWithAda(t *testing.T, opt profileOptions) (*profileEnv, *clerkfake.User) {
	t.Helper()
	e := MustRunProfileServer(t, opt)
	u := e.MustCreateUser(t, "Ada", "Lovelace", "ada@example.com")
	e.MustStore(t, u)
	return e, u
}

// MustRunOrgsServer starts a profile server whose store holds Ada and Bob, members of
// the organizations of seedOrganizations.
func MustRunOrgsServer(t *testing.T) (e *profileEnv, ada, bob *clerkfake.User) {
	t.Helper()
	e = MustRunProfileServer(t, profileOptions{})
	ada = e.MustCreateUser(t, "Ada", "Lovelace", "ada@example.com")
	bob = e.MustCreateUser(t, "Bob", "Babbage", "bob@example.com")
	e.MustStore(t, ada)
	e.MustStore(t, bob)
	seedOrganizations(t, e, ada.ID, bob.ID)
	return e, ada, bob
}
