package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/clerksync/clerksync/session"
)

// SessionRevoker ends a Clerk session, so that the user is signed out everywhere that
// session was used; *clerkapi.Client is one.
type SessionRevoker interface {
	RevokeSession(ctx context.Context, sessionID string) error
}

// signOutPath is where the header's Sign out button posts unless
// ProfileConfig.SignOutURL says otherwise.
const signOutPath = "/profile/sign-out"

// signedOutPage is where signing out ends: the page, saying that the visitor is signed
// out.
const signedOutPage = "/profile?signed_out=1"

// signOutURL returns where the header's Sign out button posts.
func (h *profileHandler) signOutURL() string {
	if h.cfg.SignOutURL != "" {
		return h.cfg.SignOutURL
	}
	return signOutPath
}

// handleSignOut is the header's Sign out button, without JavaScript (Clerk's own
// sign-out runs in Clerk's JavaScript, which this page does not load). It revokes the
// session through the Clerk Backend API when a Revoker is configured, which signs the
// user out of the application too; it expires Clerk's session cookies on this origin
// in any case; then it shows the page, signed out. A signed-in request must carry the
// page's form token, so that another site cannot sign people out.
func (h *profileHandler) handleSignOut(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if h.cfg.Sessions != nil {
		if claims, err := h.authenticate(r); err == nil {
			if err := r.ParseForm(); err != nil || !h.validCSRF(claims, r.PostForm.Get("csrf_token")) || h.checkOrigin(r, claims, false) != nil {
				h.log.Warn("Sign-out refused: missing or wrong CSRF token, or foreign origin", attrUserID, claims.Subject)
				h.renderMessage(w, http.StatusForbidden, "Refused", &message{Kind: "error", Heading: "This request was refused",
					Text:   "The sign-out did not come from your profile page. Open the page again and press Sign out.",
					Action: "/profile", ActionLabel: "Back to your profile"})
				return
			}
			h.revoke(r.Context(), claims)
		}
	}
	expireSessionCookies(w, r)
	http.Redirect(w, r, signedOutPage, http.StatusSeeOther)
}

// revoke ends the session of claims with Clerk, when a Revoker is configured. A
// failure is logged: the cookies are expired all the same.
func (h *profileHandler) revoke(ctx context.Context, claims *session.Claims) {
	if h.cfg.Revoker == nil || claims.SessionID == "" {
		h.log.Info("Signed out of the profile page (the Clerk session stays: no CLERK_SECRET_KEY to revoke it)", attrUserID, claims.Subject)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.SyncTimeout)
	defer cancel()
	if err := h.cfg.Revoker.RevokeSession(ctx, claims.SessionID); err != nil {
		h.log.Warn("Signed out of the profile page, but the Clerk session could not be revoked", attrUserID, claims.Subject, attrError, err)
		return
	}
	h.log.Info("Signed out: Clerk session revoked", attrUserID, claims.Subject)
}

// expireSessionCookies tells the browser to drop Clerk's session cookies on this
// origin: __session and its suffixed variants (__session_xxxxxxxx), which Clerk sets
// beside it for each instance.
func expireSessionCookies(w http.ResponseWriter, r *http.Request) {
	expired := map[string]bool{session.CookieName: false}
	for _, c := range r.Cookies() {
		if c.Name == session.CookieName || strings.HasPrefix(c.Name, session.CookieName+"_") {
			expired[c.Name] = false
		}
	}
	for name := range expired {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, SameSite: http.SameSiteLaxMode})
	}
}
