// Command hostile attacks a real `clerksync serve` in the ways that are too slow (or
// need too much of the machine) for the test suite, and prints what it tried and what
// held:
//
//	go run ./internal/hostile     # make hostile
//
// Slow headers and slow bodies (slowloris), a flood of idle connections, a chunked
// body over the cap, and a full disk under SQLite. The full disk needs a small file
// system of its own: it runs in a private mount namespace (unshare, as root or with
// user namespaces) on an 8 MiB tmpfs, and is skipped, saying so, where neither works.
//
// It exits 1 when something did not hold.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite"

	"github.com/clerksync/clerksync/internal/serveproc"
)

func main() {
	bin := flag.String("bin", "", "clerksync binary (default: build ./cmd/clerksync)")
	only := flag.String("only", "", "run one scenario: slow-headers, slow-body, flood, chunked, disk-full")
	inside := flag.Bool("in-namespace", false, "(internal) run disk-full inside the private mount namespace")
	flag.Parse()
	if err := run(*bin, *only, *inside); err != nil {
		if *inside {
			os.Exit(brokeInside) // the outer run says it
		}
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
}

// brokeInside is the exit code of the disk-full scenario, run in its namespace, when
// something did not hold: unshare itself exits 1 when it cannot make the namespace.
const brokeInside = 3

// report collects what each scenario tried and whether it held.
type report struct{ failed bool }

func (r *report) tried(name, what string) { fmt.Printf("== %s\n   tried: %s\n", name, what) }
func (r *report) held(format string, a ...any) {
	fmt.Printf("   held:  "+format+"\n", a...)
}
func (r *report) broke(format string, a ...any) {
	r.failed = true
	fmt.Printf("   BROKE: "+format+"\n", a...)
}
func (r *report) note(format string, a ...any) { fmt.Printf("   note:  "+format+"\n", a...) }

func run(bin, only string, inside bool) error {
	dir, err := os.MkdirTemp("", "clerksync-hostile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		fmt.Println("building clerksync …")
		if bin, err = serveproc.Build(dir); err != nil {
			return err
		}
	}
	r := &report{}
	if inside {
		diskFull(r, bin)
	} else {
		scenarios := []struct {
			name string
			run  func(*report, string, string)
		}{
			{"slow-headers", slowHeaders},
			{"slow-body", slowBody},
			{"flood", flood},
			{"chunked", chunkedOverCap},
			{"disk-full", diskFullOutside},
		}
		for _, s := range scenarios {
			if only == "" || only == s.name {
				s.run(r, bin, dir)
				fmt.Println()
			}
		}
	}
	if r.failed {
		return errors.New("something did not hold (see BROKE above)")
	}
	return nil
}

// start starts a server on a new SQLite file in dir, or reports why it could not.
func start(r *report, bin, dir, name string) *serveproc.Proc {
	p, err := serveproc.Start(bin, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, name+".db"), "LOG_LEVEL": "warn"})
	if err != nil {
		r.broke("the server did not start: %v", err)
		return nil
	}
	return p
}

// timedDelivery sends a signed user.created and says what it got and how fast.
func timedDelivery(p *serveproc.Proc, id string) (int, time.Duration) {
	t := time.Now()
	code, _ := p.Deliver(id, serveproc.UserEvent("user.created", "user_"+id, time.Now()))
	return code, time.Since(t)
}

// dialEach opens n connections to p at once and runs f on each, in a goroutine of its
// own, closing the connection when f returns; a connection that cannot be opened is
// skipped. It returns at once: wait waits for every f.
func dialEach(p *serveproc.Proc, n int, f func(c net.Conn)) (wait func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c, err := net.Dial("tcp", p.Addr)
			if err != nil {
				return
			}
			defer c.Close()
			f(c)
		})
	}
	return wg.Wait
}

func slowHeaders(r *report, bin, dir string) {
	const conns = 200
	r.tried("slow headers (slowloris)", fmt.Sprintf("%d connections each sending a request line, then one header byte a second, for 30 s", conns))
	p := start(r, bin, dir, "slow-headers")
	if p == nil {
		return
	}
	defer p.Stop()
	closedAfter := make(chan time.Duration, conns)
	wait := dialEach(p, conns, func(c net.Conn) {
		t := time.Now()
		if _, err := io.WriteString(c, "POST /api/webhooks/clerk HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
			return
		}
		for time.Since(t) < 30*time.Second {
			time.Sleep(time.Second)
			if _, err := c.Write([]byte("a")); err != nil {
				closedAfter <- time.Since(t)
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				closedAfter <- time.Since(t)
				return
			}
		}
	})
	time.Sleep(2 * time.Second)
	code, took := timedDelivery(p, "msg_slowheaders")
	wait()
	close(closedAfter)
	var n int
	var longest time.Duration
	for d := range closedAfter {
		n++
		longest = max(longest, d)
	}
	if n == conns && longest < 20*time.Second {
		r.held("the server cut off all %d connections, the last after %.1f s (ReadHeaderTimeout 10 s)", n, longest.Seconds())
	} else {
		r.broke("%d of %d connections cut off (the last after %.1f s); the rest held on for 30 s", n, conns, longest.Seconds())
	}
	if code == http.StatusOK {
		r.held("a signed delivery among them: 200 in %s", took.Round(time.Millisecond))
	} else {
		r.broke("a signed delivery among them got %d after %s", code, took.Round(time.Millisecond))
	}
}

func slowBody(r *report, bin, dir string) {
	const conns = 100
	r.tried("slow bodies", fmt.Sprintf("%d deliveries with a current timestamp and a 1,000-byte Content-Length, sending one body byte a second", conns))
	p := start(r, bin, dir, "slow-body")
	if p == nil {
		return
	}
	defer p.Stop()
	var mu sync.Mutex
	answers := map[string]int{}
	var slowest time.Duration
	wait := dialEach(p, conns, func(c net.Conn) {
		t := time.Now()
		fmt.Fprintf(c, "POST /api/webhooks/clerk HTTP/1.1\r\nHost: x\r\nsvix-id: a\r\nsvix-timestamp: %d\r\nsvix-signature: v1,x\r\nContent-Length: 1000\r\n\r\n", time.Now().Unix())
		done := make(chan string, 1)
		go func() {
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				line = "no answer: " + err.Error()
			}
			done <- strings.TrimSpace(line)
		}()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case line := <-done:
				mu.Lock()
				answers[line]++
				slowest = max(slowest, time.Since(t))
				mu.Unlock()
				return
			case <-tick.C:
				_, _ = c.Write([]byte("x"))
				if time.Since(t) > 40*time.Second {
					mu.Lock()
					answers["held for 40 s without an answer"]++
					mu.Unlock()
					return
				}
			}
		}
	})
	time.Sleep(time.Second)
	code, took := timedDelivery(p, "msg_slowbody")
	wait()
	if answers["HTTP/1.1 408 Request Timeout"]+answers["HTTP/1.1 503 Service Unavailable"] == conns {
		r.held("every slow body was answered within %.1f s: %s", slowest.Seconds(), fmtCounts(answers))
	} else {
		r.broke("slow bodies: %s", fmtCounts(answers))
	}
	if code == http.StatusOK || code == http.StatusServiceUnavailable {
		r.held("a signed delivery among them: %d in %s (503 is a retry for Svix, while the body slots are taken)", code, took.Round(time.Millisecond))
	} else {
		r.broke("a signed delivery among them got %d", code)
	}
	if code, took := timedDelivery(p, "msg_slowbody_after"); code == http.StatusOK {
		r.held("a signed delivery after them: 200 in %s", took.Round(time.Millisecond))
	} else {
		r.broke("a signed delivery after them got %d", code)
	}
}

func flood(r *report, bin, dir string) {
	const conns = 5000
	r.tried("connection flood", fmt.Sprintf("%d connections opened at once and left idle, sending nothing", conns))
	p := start(r, bin, dir, "flood")
	if p == nil {
		return
	}
	defer p.Stop()
	before := p.Memory("VmRSS")
	var open []net.Conn
	for range conns {
		c, err := net.DialTimeout("tcp", p.Addr, 5*time.Second)
		if err != nil {
			r.note("dial stopped after %d connections: %v", len(open), err)
			break
		}
		open = append(open, c)
	}
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	time.Sleep(time.Second)
	fds, rss := p.OpenFiles(), p.Memory("VmRSS")
	code, took := timedDelivery(p, "msg_flood")
	if code == http.StatusOK {
		r.held("with %d idle connections open (server: %d file descriptors, RSS %.0f → %.0f MiB), a signed delivery: 200 in %s",
			len(open), fds, mib(before), mib(rss), took.Round(time.Millisecond))
	} else {
		r.broke("with %d idle connections open, a signed delivery got %d", len(open), code)
	}
	time.Sleep(12 * time.Second)
	if fds := p.OpenFiles(); fds < 100 {
		r.held("12 s later the server had closed the idle connections (%d file descriptors left)", fds)
	} else {
		r.broke("12 s later the server still held %d file descriptors", fds)
	}
}

func chunkedOverCap(r *report, bin, dir string) {
	r.tried("chunked body over the cap", "a chunked 3 MiB body with a current timestamp, under the 1 MiB cap")
	p := start(r, bin, dir, "chunked")
	if p == nil {
		return
	}
	defer p.Stop()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		r.broke("dial: %v", err)
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/webhooks/clerk HTTP/1.1\r\nHost: x\r\nsvix-id: a\r\nsvix-timestamp: %d\r\nsvix-signature: v1,x\r\nTransfer-Encoding: chunked\r\n\r\n", time.Now().Unix())
	chunk := strings.Repeat("x", 64<<10)
	go func() {
		for range 48 {
			if _, err := fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(c, "0\r\n\r\n")
	}()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if strings.Contains(line, "413") {
		r.held("answered %q", strings.TrimSpace(line))
	} else {
		r.broke("answered %q (%v), want 413", strings.TrimSpace(line), err)
	}
	if rss := p.Memory("VmHWM"); rss < 100<<20 {
		r.held("the server's peak RSS stayed at %.0f MiB", mib(rss))
	} else {
		r.broke("the server's peak RSS reached %.0f MiB", mib(rss))
	}
}

// diskFullOutside runs the disk-full scenario in a private mount namespace, where it
// can mount a small tmpfs without touching the machine's mounts.
func diskFullOutside(r *report, bin, _ string) {
	self, err := os.Executable()
	if err != nil {
		r.tried("disk full", "SQLite on an 8 MiB tmpfs")
		r.note("skipped: %v", err)
		return
	}
	args := []string{"--mount", "--propagation", "private"}
	if os.Geteuid() != 0 {
		args = append([]string{"--user", "--map-root-user"}, args...)
	}
	args = append(args, self, "-in-namespace", "-bin", bin)
	cmd := exec.Command("unshare", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == brokeInside {
			r.failed = true
			return
		}
		r.tried("disk full", "SQLite on an 8 MiB tmpfs in a private mount namespace")
		r.note("skipped: unshare failed (%v): run as root, or where user namespaces are allowed", err)
	}
}

// diskFull runs inside the private mount namespace.
func diskFull(r *report, bin string) {
	r.tried("disk full", "SQLite on an 8 MiB tmpfs: deliveries, then the disk filled, deliveries, /readyz, the disk freed, the refused deliveries sent again")
	dir, err := os.MkdirTemp("", "clerksync-diskfull-")
	if err != nil {
		r.broke("temporary directory: %v", err)
		return
	}
	defer os.RemoveAll(dir)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		r.note("skipped: cannot mount a tmpfs here: %v", err)
		return
	}
	defer func() { _ = syscall.Unmount(dir, 0) }()
	p := start(r, bin, dir, "clerksync")
	if p == nil {
		return
	}
	defer func() {
		if p != nil {
			p.Stop()
		}
	}()
	acked := map[string]bool{}
	if code, _ := p.Deliver("msg_before", serveproc.UserEvent("user.created", "user_before", time.Now())); code == http.StatusOK {
		acked["user_before"] = true
	}

	fill := filepath.Join(dir, "fill")
	f, err := os.Create(fill)
	if err != nil {
		r.broke("create the filler: %v", err)
		return
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	if code, body := serveproc.Get(context.Background(), p.URL+"/readyz"); code == http.StatusServiceUnavailable {
		r.held("disk full: /readyz answered 503 (%s)", body)
	} else {
		r.broke("disk full: /readyz answered %d %s", code, body)
	}
	refused := map[string][]byte{}
	counts := map[int]int{}
	for i := range 20 {
		id := fmt.Sprintf("user_full%02d", i)
		body := serveproc.UserEvent("user.created", id, time.Now())
		code, _ := p.Deliver("msg_"+id, body)
		counts[code]++
		if code == http.StatusOK {
			acked[id] = true
		} else {
			refused[id] = body
		}
	}
	r.note("20 deliveries on the full disk: %v (a 200 only once written; the rest retried by Svix)", counts)
	if !p.Running() {
		r.broke("the server exited on the full disk:\n%s", p.Logs())
		return
	}
	r.held("the server kept running")

	_ = os.Remove(fill)
	ready := waitReady(p.URL, 15*time.Second)
	if !ready {
		r.note("with the disk freed, /readyz stayed 503 for 15 s: restarting the server")
		p.Stop()
		if p = start(r, bin, dir, "clerksync"); p == nil {
			return
		}
		ready = waitReady(p.URL, 15*time.Second)
	}
	if ready {
		r.held("with the disk freed, /readyz answered 200")
	} else {
		r.broke("with the disk freed, /readyz never answered 200")
	}
	again := map[int]int{}
	for id, body := range refused {
		code, _ := p.Deliver("msg_"+id, body)
		again[code]++
		if code == http.StatusOK {
			acked[id] = true
		}
	}
	if again[http.StatusOK] == len(refused) {
		r.held("the %d refused deliveries, sent again as Svix would, were applied", len(refused))
	} else {
		r.broke("the refused deliveries sent again: %v", again)
	}
	p.Stop()
	p = nil

	db, err := sql.Open("sqlite", filepath.Join(dir, "clerksync.db"))
	if err != nil {
		r.broke("open the database: %v", err)
		return
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		r.broke("integrity_check: %q %v", check, err)
	} else {
		r.held("PRAGMA integrity_check: ok")
	}
	missing := 0
	for id := range acked {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM profiles WHERE user_id = ?", id).Scan(&n); err != nil || n != 1 {
			missing++
		}
	}
	if missing == 0 {
		r.held("every one of the %d acknowledged users is in the database", len(acked))
	} else {
		r.broke("%d of %d acknowledged users are missing", missing, len(acked))
	}
}

func waitReady(base string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if code, _ := serveproc.Get(context.Background(), base+"/readyz"); code == http.StatusOK {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

func fmtCounts(m map[string]int) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
	}
	return strings.Join(parts, ", ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
