package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// HealthcheckCommand asks a running clerksync whether it is up: the HEALTHCHECK of a
// container image that has no curl.
type HealthcheckCommand struct {
	*Main
}

// Run GETs the health URL and returns nil for a 200 answer within the timeout, an
// error (exit status 1) for anything else. It prints one line either way.
func (c *HealthcheckCommand) Run(ctx context.Context, args []string) error {
	var (
		target  string
		timeout time.Duration
	)
	fs := newFlagSet("healthcheck [flags]",
		"Ask the clerksync serving on this machine whether it is up: GET /healthz (or --url) must answer 200 within --timeout.\n"+
			"Exits 0 and prints ok, or exits 1 and says why. For a container's HEALTHCHECK: the image has no curl.", c.Stderr)
	fs.StringVar(&target, "url", "", "URL to GET (default: http://127.0.0.1:$PORT/healthz, port 3000 when PORT is unset; /readyz also checks the database)")
	fs.DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	if err := parseFlagsOnly(fs, args, "healthcheck", "give the address with --url"); err != nil {
		return err
	}
	if target == "" {
		var err error
		if target, err = healthURL(c.Getenv); err != nil {
			return err
		}
	} else if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--url %q is not an http(s) URL, such as http://127.0.0.1:3000/healthz", target)
	}
	if timeout <= 0 {
		return usagef("--timeout %s must be positive, such as 3s", timeout)
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usagef("--url %q: %v", target, err)
	}
	req.Header.Set("User-Agent", "clerksync-healthcheck/"+Version())
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		var ue *url.Error // says "Get URL" again: keep only its cause
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		return fmt.Errorf("unhealthy: GET %s: %w", target, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: GET %s answered %s", target, resp.Status)
	}
	fmt.Fprintf(c.Stdout, "ok: GET %s answered %s\n", target, resp.Status)
	return nil
}

// healthURL returns the /healthz URL of the server that PORT makes serve listen on,
// reached over loopback when it listens on every address.
func healthURL(getenv func(string) string) (string, error) {
	addr := addrFromEnv(getenv)
	setting, value := addrSetting(false, addr, getenv)
	if err := checkAddr(setting, value, addr); err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}
