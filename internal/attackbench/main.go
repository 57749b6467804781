// Command attackbench measures the memory of a real `clerksync serve` process while
// many clients hold unsigned webhook bodies open, and after they leave.
//
//	go run ./internal/attackbench                  # make bench-attack
//	go run ./internal/attackbench -conns 200 -hold 5s
//
// It builds one clerksync binary, then starts a new serve process on a temporary SQLite
// file per attack. Each of -conns connections sends the headers of a webhook delivery
// (svix-id: a, svix-signature: v1,x, and svix-timestamp: 1 or the current time), a
// Content-Length of the body cap (1 MiB) or a chunked body, and all of the body but
// its last byte, which it holds for -hold. Then every connection closes. It prints the
// server's resident memory before, at its peak (VmHWM) and after, what the clients were
// answered, and whether a signed delivery is still applied once the attack is over.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/svixsig"
)

// secret signs the one authentic delivery sent after each attack.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// Targets of the attack, in MiB of resident memory.
const (
	targetPeakMiB  = 150
	targetAfterMiB = 100
)

type options struct {
	conns     int
	bodyBytes int
	hold      time.Duration
	settle    time.Duration
	bin       string
	args      string
}

func main() {
	var o options
	flag.IntVar(&o.conns, "conns", 1000, "connections per attack")
	flag.IntVar(&o.bodyBytes, "body-bytes", 1<<20, "Content-Length each connection announces (the server's cap by default); it sends all but the last byte")
	flag.DurationVar(&o.hold, "hold", 15*time.Second, "how long each connection holds its last byte")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "how long to watch the server's memory after the connections close")
	flag.StringVar(&o.bin, "bin", "", "clerksync binary to run (default: build ./cmd/clerksync)")
	flag.StringVar(&o.args, "args", "", "extra flags for clerksync serve, space-separated")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "attackbench:", err)
		os.Exit(1)
	}
}

// attack is one way of holding bodies open.
type attack struct {
	name      string
	timestamp func() string
	chunked   bool // no Content-Length: the body comes in chunks, never the last one
}

func stale() string   { return "1" }
func current() string { return strconv.FormatInt(time.Now().Unix(), 10) }

var attacks = []attack{
	{"stale timestamp (svix-timestamp: 1)", stale, false},
	{"current timestamp, wrong signature", current, false},
	{"current timestamp, wrong signature, chunked", current, true},
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "clerksync-attack-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(dir, "clerksync")
		fmt.Println("building clerksync …")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/clerksync").CombinedOutput(); err != nil {
			return fmt.Errorf("build clerksync: %w\n%s", err, out)
		}
	}
	fmt.Printf("attack: %d connections, each %d of %d body bytes sent and the last held for %s; memory watched for %s after\n\n",
		o.conns, o.bodyBytes-1, o.bodyBytes, o.hold, o.settle)
	failed := false
	for i, a := range attacks {
		r, err := measure(o, a, bin, filepath.Join(dir, fmt.Sprintf("attack%d.db", i)))
		if err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		r.print(a.name)
		failed = failed || !r.ok()
	}
	if failed {
		return fmt.Errorf("a memory target was missed (peak ≤ %d MiB, after ≤ %d MiB)", targetPeakMiB, targetAfterMiB)
	}
	return nil
}

// result is what one attack did to the server.
type result struct {
	before, peak, hwm int64   // bytes
	after             []int64 // RSS sampled after the connections closed, one per second
	answers           map[string]int
	accepted          int           // connections the server accepted
	sent              time.Duration // time for every connection to send its bytes (or be cut off)
	healthy           string        // what a signed delivery got after the attack
}

func (r result) ok() bool {
	return r.hwm <= targetPeakMiB<<20 && len(r.after) > 0 && r.after[len(r.after)-1] <= targetAfterMiB<<20
}

func (r result) print(name string) {
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	fmt.Printf("== %s\n", name)
	fmt.Printf("  RSS before            %7.1f MiB\n", mib(r.before))
	fmt.Printf("  RSS peak (VmHWM)      %7.1f MiB   target ≤ %d MiB: %s\n", mib(r.hwm), targetPeakMiB, mark(r.hwm <= targetPeakMiB<<20))
	fmt.Printf("  RSS peak, sampled     %7.1f MiB   (every 50 ms, until the connections closed)\n", mib(r.peak))
	var after []string
	for _, b := range r.after {
		after = append(after, fmt.Sprintf("%.0f", mib(b)))
	}
	last := int64(0)
	if len(r.after) > 0 {
		last = r.after[len(r.after)-1]
	}
	fmt.Printf("  RSS after, per second %s MiB\n", strings.Join(after, " "))
	fmt.Printf("  RSS after             %7.1f MiB   target ≤ %d MiB: %s\n", mib(last), targetAfterMiB, mark(last <= targetAfterMiB<<20))
	fmt.Printf("  connections           %d opened, bodies sent in %s\n", r.accepted, r.sent.Round(time.Millisecond))
	keys := make([]string, 0, len(r.answers))
	for k := range r.answers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, r.answers[k]))
	}
	fmt.Printf("  answers               %s\n", strings.Join(parts, ", "))
	fmt.Printf("  signed delivery after %s\n\n", r.healthy)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// measure starts a server, runs one attack against it and stops it.
func measure(o options, a attack, bin, db string) (result, error) {
	port, err := freePort()
	if err != nil {
		return result{}, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, append([]string{"serve"}, strings.Fields(o.args)...)...)
	cmd.Env = append(os.Environ(), "CLERK_WEBHOOK_SECRET="+secret, "DATABASE_URL=sqlite:"+db, "PORT="+addr, "LOG_LEVEL=warn")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start clerksync: %w", err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	base := "http://" + addr
	if err := waitReady(base, 30*time.Second); err != nil {
		return result{}, fmt.Errorf("%w\n%s", err, logs.String())
	}
	pid := cmd.Process.Pid
	var r result
	r.before = status(pid, "VmRSS")

	peak := newSampler(pid)
	r.accepted, r.sent, r.answers = hold(addr, o, a)
	r.peak = peak.stop()
	r.hwm = status(pid, "VmHWM")
	for i := 0; i < int(o.settle/time.Second); i++ {
		time.Sleep(time.Second)
		r.after = append(r.after, status(pid, "VmRSS"))
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		return r, fmt.Errorf("clerksync exited during the attack\n%s", logs.String())
	}
	r.healthy = signedDelivery(base)
	return r, nil
}

// hold runs the attack: every connection sends its headers and all but the last body
// byte, holds, then closes. It returns how many connections were opened, how long the
// sending took, and the status lines of the answers (or what happened instead).
func hold(addr string, o options, a attack) (int, time.Duration, map[string]int) {
	var (
		mu      sync.Mutex
		answers = map[string]int{}
		opened  int
		wg      sync.WaitGroup
		sentWG  sync.WaitGroup
	)
	count := func(k string) {
		mu.Lock()
		answers[k]++
		mu.Unlock()
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	end := time.Now().Add(o.hold)
	start := time.Now()
	for i := 0; i < o.conns; i++ {
		wg.Add(1)
		sentWG.Add(1)
		go func() {
			defer wg.Done()
			sent := false
			defer func() {
				if !sent {
					sentWG.Done()
				}
			}()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				count("dial failed")
				return
			}
			defer c.Close()
			mu.Lock()
			opened++
			mu.Unlock()
			length := fmt.Sprintf("Content-Length: %d", o.bodyBytes)
			if a.chunked {
				length = "Transfer-Encoding: chunked"
			}
			hdr := fmt.Sprintf("POST /api/webhooks/clerk HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
				"svix-id: a\r\nsvix-timestamp: %s\r\nsvix-signature: v1,x\r\n%s\r\n\r\n", addr, a.timestamp(), length)
			_ = c.SetWriteDeadline(end)
			if _, err := io.WriteString(c, hdr); err != nil {
				count("cut off while sending headers")
				return
			}
			left := o.bodyBytes - 1
			for left > 0 {
				n := min(left, len(chunk))
				var err error
				if a.chunked {
					_, err = fmt.Fprintf(c, "%x\r\n%s\r\n", n, chunk[:n])
				} else {
					_, err = c.Write(chunk[:n])
				}
				if err != nil {
					break // the server answered and closed; its answer is read below
				}
				left -= n
			}
			sentWG.Done()
			sent = true
			_ = c.SetReadDeadline(end)
			line, err := bufio.NewReader(c).ReadString('\n')
			switch {
			case err == nil:
				count(strings.TrimSpace(line))
			case errors.Is(err, os.ErrDeadlineExceeded):
				count("held to the end, no answer")
			default:
				count("closed without an answer")
			}
			// Hold the connection for the whole attack, answered or not.
			time.Sleep(time.Until(end))
		}()
	}
	sentWG.Wait()
	sent := time.Since(start)
	wg.Wait()
	return opened, sent, answers
}

// signedDelivery sends one authentic user.created and says what it got.
func signedDelivery(base string) string {
	key, err := svixsig.DecodeSecret(secret)
	if err != nil {
		return err.Error()
	}
	now := time.Now()
	body := clerkfake.WebhookEvent(clerkfake.EventUserCreated, clerkfake.NewUser(clerkfake.UserParams{ID: "user_2attackAAAAAAAAAAAAAAAAAAAA", UpdatedAt: now}), now)
	req, err := http.NewRequest(http.MethodPost, base+"/api/webhooks/clerk", bytes.NewReader(body))
	if err != nil {
		return err.Error()
	}
	svixsig.SetHeaders(req.Header, key, "msg_after_attack", now, body)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return "failed: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + " " + strings.TrimSpace(string(b))
}

// sampler polls a process's resident memory and keeps the largest value seen.
type sampler struct {
	done chan struct{}
	max  chan int64
}

func newSampler(pid int) *sampler {
	s := &sampler{done: make(chan struct{}), max: make(chan int64, 1)}
	go func() {
		var peak int64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, status(pid, "VmRSS"))
			select {
			case <-s.done:
				s.max <- peak
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() int64 {
	close(s.done)
	return <-s.max
}

// status returns a memory field of /proc/PID/status (VmRSS, VmHWM) in bytes, 0 when it
// cannot be read.
func status(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func waitReady(base string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("clerksync at %s not ready after %s", base, limit)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
