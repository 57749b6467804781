package devemu_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestWrap_HostCheck checks that the emulator answers only to its own names, so that
// a page on another site cannot reach it through DNS rebinding.
func TestWrap_HostCheck(t *testing.T) {
	t.Parallel()
	e := MustRunEmulator(t)
	port := e.URL[strings.LastIndexByte(e.URL, ':')+1:]
	for _, tt := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:" + port, true},
		{"localhost:" + port, true},
		{"LOCALHOST:" + port, true},
		{"[::1]:" + port, true},
		{"rebind.attacker.example:" + port, false},
		{"localhost.attacker.example:" + port, false},
		{"127.0.0.1:1", false},
		{"localhost", false},
	} {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/dev/", "/dev/sign-in", "/whoami"} {
				req, err := http.NewRequest(http.MethodGet, e.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = tt.host
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if got := resp.StatusCode == http.StatusMisdirectedRequest; got == tt.ok {
					t.Fatalf("GET %s with Host %s: %d %s", path, tt.host, resp.StatusCode, body)
				}
			}
		})
	}
}
