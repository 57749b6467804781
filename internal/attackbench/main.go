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
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clerksync/clerksync/internal/serveproc"
)

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
		fmt.Println("building clerksync …")
		if bin, err = serveproc.Build(dir); err != nil {
			return err
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
	p, err := serveproc.Start(bin, map[string]string{"DATABASE_URL": "sqlite:" + db, "LOG_LEVEL": "warn"}, strings.Fields(o.args)...)
	if err != nil {
		return result{}, err
	}
	defer p.Stop()
	var r result
	r.before = p.Memory("VmRSS")

	peak := newSampler(p)
	r.accepted, r.sent, r.answers = hold(p.Addr, o, a)
	r.peak = peak.stop()
	r.hwm = p.Memory("VmHWM")
	for i := 0; i < int(o.settle/time.Second); i++ {
		time.Sleep(time.Second)
		r.after = append(r.after, p.Memory("VmRSS"))
	}
	if !p.Running() {
		return r, fmt.Errorf("clerksync exited during the attack\n%s", p.Logs())
	}
	now := time.Now()
	code, answer := p.Deliver("msg_after_attack", serveproc.UserEvent("user.created", "user_2attackAAAAAAAAAAAAAAAAAAAA", now))
	r.healthy = fmt.Sprintf("%d %s", code, answer)
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

// sampler polls a process's resident memory and keeps the largest value seen.
type sampler struct {
	done chan struct{}
	max  chan int64
}

func newSampler(p *serveproc.Proc) *sampler {
	s := &sampler{done: make(chan struct{}), max: make(chan int64, 1)}
	go func() {
		var peak int64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, p.Memory("VmRSS"))
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
