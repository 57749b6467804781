// Package serveproc runs `clerksync serve` as a process of its own, for the commands
// that measure or attack a real server (bench-attack, hostile).
package serveproc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/syncbuf"
	"github.com/clerksync/clerksync/svixsig"
)

// Secret is the webhook signing secret the servers are started with.
const Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// Build builds clerksync into dir and returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "clerksync")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/clerksync").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build clerksync: %w\n%s", err, out)
	}
	return bin, nil
}

// Proc is a running `clerksync serve`.
type Proc struct {
	// URL is the server's base URL, such as http://127.0.0.1:3000.
	URL string
	// Addr is its host:port.
	Addr string

	cmd  *exec.Cmd
	logs syncbuf.Buffer
	done chan struct{}
	err  error // how the process exited, valid once done is closed
}

// Start starts bin serve on a free loopback port with the environment env (besides
// CLERK_WEBHOOK_SECRET=Secret, PORT and this process's environment) and args, and
// waits until /healthz answers.
func Start(bin string, env map[string]string, args ...string) (*Proc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p, err := Launch(bin, addr, env, nil, args...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if code, _ := Get(ctx, p.URL+"/healthz"); code == http.StatusOK {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("clerksync exited at start:\n%s", p.Logs())
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("clerksync not up after 30s:\n%s", p.Logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Launch starts bin serve listening on addr with the environment env (besides
// CLERK_WEBHOOK_SECRET=Secret, PORT and this process's environment) and args, and
// returns at once, without waiting for it to answer: a test that kills and starts a
// server again and again on the same address uses it. The server's output goes to
// out as well as to Logs when out is not nil.
func Launch(bin, addr string, env map[string]string, out io.Writer, args ...string) (*Proc, error) {
	p := &Proc{URL: "http://" + addr, Addr: addr, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	p.cmd.Env = append(os.Environ(), "CLERK_WEBHOOK_SECRET="+Secret, "PORT="+addr)
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	var w io.Writer = &p.logs
	if out != nil {
		w = io.MultiWriter(&p.logs, out)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start clerksync: %w", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// PID returns the server's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Running reports whether the server has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Logs returns what the server wrote so far.
func (p *Proc) Logs() string { return p.logs.String() }

// Stop stops the server with SIGTERM, and SIGKILL after 30 s.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Terminate stops the server with SIGTERM, waits for it to exit and returns how it
// exited: nil for a clean stop.
func (p *Proc) Terminate() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal clerksync: %w", err)
	}
	<-p.done
	return p.err
}

// Kill kills the server with SIGKILL and waits for it to exit.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Memory returns a memory field of the server's /proc/PID/status (VmRSS, VmHWM) in
// bytes, 0 when it cannot be read.
func (p *Proc) Memory(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// OpenFiles returns how many file descriptors the server holds, -1 when unknown.
func (p *Proc) OpenFiles() int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID()))
	if err != nil {
		return -1
	}
	return len(entries)
}

// Get sends GET url and returns the status code and body.
func Get(ctx context.Context, url string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// Deliver sends body signed with Secret as delivery id and returns the status code
// and the answer.
func (p *Proc) Deliver(id string, body []byte) (int, string) {
	key, err := svixsig.DecodeSecret(Secret)
	if err != nil {
		return 0, err.Error()
	}
	req, err := http.NewRequest(http.MethodPost, p.URL+"/api/webhooks/clerk", bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	svixsig.SetHeaders(req.Header, key, id, time.Now(), body)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// UserEvent returns a realistic user.created or user.updated body about user id at
// version updated.
func UserEvent(eventType, id string, updated time.Time) []byte {
	return clerkfake.WebhookEvent(eventType, clerkfake.NewUser(clerkfake.UserParams{ID: id, UpdatedAt: updated}), updated)
}
