package devemu

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/clerksync/clerksync/session"
)

// signInCookie remembers who signed in through the emulator, for as long as the
// emulator runs (its key is made at start): Clerk's long-lived client cookie.
const signInCookie = "clerksync_dev_session"

// refreshBefore is how close to expiry a session token is replaced.
const refreshBefore = 20 * time.Second

// signIn sets the sign-in cookie for userID with a new session id.
func (e *Emulator) signIn(w http.ResponseWriter, userID string) {
	sid := "sess_" + rand.Text()
	payload := base64.RawURLEncoding.EncodeToString([]byte(userID + "\x00" + sid))
	http.SetCookie(w, &http.Cookie{
		Name: signInCookie, Value: payload + "." + e.mac(payload), Path: "/",
		MaxAge: int((7 * 24 * time.Hour).Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// signOut clears the sign-in cookie and the session token.
func signOut(w http.ResponseWriter) {
	for _, c := range []*http.Cookie{
		{Name: signInCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode},
		{Name: session.CookieName, Path: "/", MaxAge: -1, SameSite: http.SameSiteLaxMode},
	} {
		http.SetCookie(w, c)
	}
}

func (e *Emulator) mac(payload string) string {
	m := hmac.New(sha256.New, e.cookieKey)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signedIn returns who signed in through the emulator, from the sign-in cookie.
func (e *Emulator) signedIn(r *http.Request) (userID, sessionID string, ok bool) {
	c, err := r.Cookie(signInCookie)
	if err != nil {
		return "", "", false
	}
	payload, mac, found := strings.Cut(c.Value, ".")
	if !found || !hmac.Equal([]byte(mac), []byte(e.mac(payload))) {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", "", false
	}
	userID, sessionID, found = strings.Cut(string(raw), "\x00")
	return userID, sessionID, found && userID != ""
}

// withSession plays Clerk's JavaScript for the developer signed in through the
// emulator: each request carries a fresh session token in the __session cookie, made
// for the page the request comes from (azp), and the browser gets it too. A request
// that brings its own bearer token is left alone; without a valid sign-in cookie any
// stale __session (from an earlier run) is dropped, so the page asks to sign in.
func (e *Emulator) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "bearer ") {
			e.refreshSession(w, r)
		}
		next.ServeHTTP(w, r)
	})
}

// refreshSession puts a current token in r's cookies.
func (e *Emulator) refreshSession(w http.ResponseWriter, r *http.Request) {
	userID, sid, ok := e.signedIn(r)
	if ok {
		if _, exists := e.user(userID); !exists {
			// Deleted in the emulator: Clerk ends the sessions of a deleted user.
			ok = false
			signOut(w)
		}
	}
	current := ""
	if c, err := r.Cookie(session.CookieName); err == nil {
		current = c.Value
	}
	if !ok {
		if current != "" {
			setRequestSession(r, "")
		}
		return
	}
	azp := pageOrigin(r)
	if current != "" && e.stillGood(current, userID, sid, azp) {
		return
	}
	token, err := e.issuer.Mint(session.Token{Subject: userID, SessionID: sid, AuthorizedParty: azp})
	if err != nil {
		e.log.Error("Emulator: could not mint a session token", "error", err)
		return
	}
	setRequestSession(r, token)
	// Not HttpOnly: Clerk's own __session cookie is readable by the page's scripts,
	// which the drop-in script relies on to tell users apart.
	http.SetCookie(w, &http.Cookie{Name: session.CookieName, Value: token, Path: "/", SameSite: http.SameSiteLaxMode})
}

// stillGood reports whether token is for userID's session sid, made for azp, and not
// about to expire. The token's signature is not checked here: clerksync does that.
func (e *Emulator) stillGood(token, userID, sid, azp string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Sub string `json:"sub"`
		Sid string `json:"sid"`
		Azp string `json:"azp"`
		Iss string `json:"iss"`
		Exp int64  `json:"exp"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return false
	}
	return c.Sub == userID && c.Sid == sid && c.Azp == azp && c.Iss == e.issuer.URL() &&
		time.Unix(c.Exp, 0).Sub(e.now()) > refreshBefore
}

// pageOrigin returns the origin of the page a request comes from: its Origin header,
// else this server's own origin. Clerk's JavaScript sets azp to the origin of the
// page that asked for the token.
func pageOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host
		}
	}
	return ownOrigin(r)
}

// ownOrigin returns the origin r was sent to.
func ownOrigin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// setRequestSession replaces the __session cookie r carries with token (none when
// token is empty), keeping its other cookies.
func setRequestSession(r *http.Request, token string) {
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if c.Name != session.CookieName {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	if token != "" {
		r.AddCookie(&http.Cookie{Name: session.CookieName, Value: token})
	}
}
