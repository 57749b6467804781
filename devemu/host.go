package devemu

import (
	"net/http"
	"net/url"
	"strings"
)

// allowedHosts returns the Host values the emulator's server answers to: the base
// URL's, and the loopback names with its port (localhost, 127.0.0.1, [::1]).
func allowedHosts(base string) map[string]bool {
	hosts := map[string]bool{}
	u, err := url.Parse(base)
	if err != nil {
		return hosts
	}
	hosts[strings.ToLower(u.Host)] = true
	port := u.Port()
	for _, name := range []string{"localhost", "127.0.0.1", "[::1]"} {
		if port == "" {
			hosts[name] = true // the scheme's default port
			continue
		}
		hosts[name+":"+port] = true
	}
	return hosts
}

// checkHost answers 421 to a request whose Host header is not one of this server's
// names. The emulator lets whoever reaches it sign in as any fake user and change
// users; a web page on another site could reach it through DNS rebinding (its own
// name made to resolve to 127.0.0.1), and such a request carries that site's name as
// its Host.
func (e *Emulator) checkHost(next http.Handler) http.Handler {
	allowed := allowedHosts(e.base)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed[strings.ToLower(r.Host)] {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusMisdirectedRequest)
			_, _ = w.Write([]byte("clerksync dev answers only to " + e.base + " (or localhost, 127.0.0.1, [::1] on its port): open it by one of those names\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
