package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	s := MustRunServe(t, nil)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: taken, then released.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)

	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		out  string
	}{
		{"PortFromEnv", map[string]string{"PORT": port}, nil, 0, "ok: GET http://127.0.0.1:" + port + "/healthz answered 200 OK"},
		{"HostAndPortFromEnv", map[string]string{"PORT": "0.0.0.0:" + port}, nil, 0, "ok: GET http://127.0.0.1:" + port + "/healthz answered 200 OK"},
		{"Readyz", nil, []string{"--url", s.URL + "/readyz"}, 0, "answered 200 OK"},
		{"NothingListening", nil, []string{"--url", "http://" + closed + "/healthz"}, 1, "unhealthy: GET http://" + closed + "/healthz: dial tcp"},
		{"Not200", nil, []string{"--url", failing.URL + "/healthz"}, 1, "unhealthy: GET " + failing.URL + "/healthz answered 503 Service Unavailable"},
		{"NotAURL", nil, []string{"--url", "127.0.0.1:3000"}, 2, `--url "127.0.0.1:3000" is not an http(s) URL`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runMain(t, tt.env, nil, append([]string{"healthcheck"}, tt.args...)...)
			out := stdout + stderr
			if code != tt.code || !strings.Contains(out, tt.out) {
				t.Fatalf("healthcheck: exit %d, want %d with %q:\n%s", code, tt.code, tt.out, out)
			}
			if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; lines != 1 && tt.code != 2 {
				t.Fatalf("healthcheck printed %d lines, want one:\n%s", lines, out)
			}
		})
	}
}
