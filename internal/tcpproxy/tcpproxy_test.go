package tcpproxy_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clerksync/clerksync/internal/tcpproxy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoServer starts a server that answers every line with the same line, and stops it
// when tb ends.
func echoServer(tb testing.TB) string {
	tb.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	conns := make(chan net.Conn, 64)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// mustProxy starts a proxy to target, closed when tb ends.
func mustProxy(tb testing.TB, target string) *tcpproxy.Proxy {
	tb.Helper()
	p, err := tcpproxy.New(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Errorf("close proxy: %v", err)
		}
	})
	return p
}

// client is one connection through the proxy.
type client struct {
	net.Conn
	r *bufio.Reader
}

func dial(tb testing.TB, addr string) *client {
	tb.Helper()
	c, err := new(net.Dialer).DialContext(context.Background(), "tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &client{Conn: c, r: bufio.NewReader(c)}
}

// roundTrip sends line and returns what comes back, or the error of reading it.
func (c *client) roundTrip(line string) (string, error) {
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := c.r.ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

func mustEcho(tb testing.TB, c *client, line string) {
	tb.Helper()
	got, err := c.roundTrip(line)
	if err != nil {
		tb.Fatalf("round trip %q: %v", line, err)
	}
	if got != line {
		tb.Fatalf("round trip %q = %q", line, got)
	}
}

func TestForward(t *testing.T) {
	t.Parallel()
	p := mustProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	mustEcho(t, c, "hello")
	mustEcho(t, c, "again")
	if got, want := p.Conns(), 1; got != want {
		t.Fatalf("Conns = %d, want %d", got, want)
	}
}

func TestCutAndRestore(t *testing.T) {
	t.Parallel()
	p := mustProxy(t, echoServer(t))
	before := dial(t, p.Addr())
	mustEcho(t, before, "before")

	p.Cut()
	if _, err := before.roundTrip("during"); err == nil {
		t.Fatal("a connection open before the cut still works")
	}
	// A new connection is reset: at once, or at its first read.
	if c, err := new(net.Dialer).DialContext(context.Background(), "tcp", p.Addr()); err == nil {
		refused := &client{Conn: c, r: bufio.NewReader(c)}
		_, err := refused.roundTrip("new")
		c.Close()
		if err == nil {
			t.Fatal("a connection made during the cut works")
		}
	}
	if got, want := p.Conns(), 0; got != want {
		t.Fatalf("Conns during the cut = %d, want %d", got, want)
	}

	p.Restore()
	mustEcho(t, dial(t, p.Addr()), "after")
}

func TestHangAndRestore(t *testing.T) {
	t.Parallel()
	p := mustProxy(t, echoServer(t))
	open := dial(t, p.Addr())
	mustEcho(t, open, "before")

	p.Hang()
	// Bytes written now are held back, not lost.
	if _, err := io.WriteString(open, "held\n"); err != nil {
		t.Fatal(err)
	}
	// A short read deadline can only fail this check if the proxy forwards while it
	// hangs; a slow machine makes it pass, never fail.
	if err := open.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got, err := open.r.ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read while hung = %q, %v; want a timeout", got, err)
	}
	if err := open.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	// A new connection is accepted and waits.
	late := dial(t, p.Addr())
	if _, err := io.WriteString(late, "late\n"); err != nil {
		t.Fatal(err)
	}

	p.Restore()
	if got, err := open.r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("after restore, read = %q, %v; want the held line", got, err)
	}
	if got, err := late.r.ReadString('\n'); err != nil || got != "late\n" {
		t.Fatalf("after restore, new connection read = %q, %v; want its line", got, err)
	}
	mustEcho(t, open, "after")
}

func TestCutWhileHung(t *testing.T) {
	t.Parallel()
	p := mustProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	mustEcho(t, c, "before")
	p.Hang()
	if _, err := io.WriteString(c, "held\n"); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if got, err := c.r.ReadString('\n'); err == nil {
		t.Fatalf("read after a cut = %q, want an error", got)
	}
	p.Restore()
	mustEcho(t, dial(t, p.Addr()), "after")
}

func TestTargetDown(t *testing.T) {
	t.Parallel()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	p := mustProxy(t, target)
	if _, err := dial(t, p.Addr()).roundTrip("x"); err == nil {
		t.Fatal("round trip to a target that is down succeeded")
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	p, err := tcpproxy.New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	mustEcho(t, c, "before")
	p.Hang()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.roundTrip("after"); err == nil {
		t.Fatal("a connection works after Close")
	}
	if c, err := new(net.Dialer).DialContext(context.Background(), "tcp", p.Addr()); err == nil {
		c.Close()
		t.Fatal("the proxy still accepts connections after Close")
	}
}
