package tcpproxy

import (
	"net/url"
	"testing"
)

// ForURL starts a proxy in front of the host of the database URL rawURL and returns it
// with the URL that connects through it. It skips tb when rawURL has no host to stand
// in front of (a socket path), and closes the proxy when tb ends.
func ForURL(tb testing.TB, rawURL string) (*Proxy, string) {
	tb.Helper()
	target, err := url.Parse(rawURL)
	if err != nil || target.Host == "" {
		tb.Skipf("the database URL is not a URL with a host, so no proxy can be put in front of it: %v", err)
	}
	p, err := New(target.Host)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	via := *target
	via.Host = p.Addr()
	return p, via.String()
}
