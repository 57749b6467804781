// Package tcpproxy is a TCP proxy that tests put between a program and its database
// to play the database's network trouble: a cut (every connection closed, new ones
// refused) and a hang (connections stay open but no byte moves, as when packets are
// dropped), each undone by Restore.
package tcpproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// state is what the proxy does with the bytes and connections it sees.
type state uint8

const (
	forwarding state = iota // bytes flow both ways
	hung                    // bytes wait; connections stay open
	cut                     // connections are closed, new ones reset at once
	closed                  // Close was called
)

// Proxy forwards the TCP connections it accepts to a target address. Its methods are
// safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // ends with Close, abandoning dials to the target
	cancel context.CancelFunc

	mu     sync.Mutex
	state  state
	resume chan struct{}     // closed when the proxy leaves the hung state
	conns  map[net.Conn]bool // open connections, true for the client side
	wg     sync.WaitGroup
}

// New starts a proxy on a free port of 127.0.0.1 that forwards to target
// ("host:port"). It returns an error when it cannot listen.
func New(target string) (*Proxy, error) {
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("tcpproxy: listen: %w", err)
	}
	p := &Proxy{target: target, ln: ln, ctx: ctx, cancel: cancel, resume: make(chan struct{}), conns: make(map[net.Conn]bool)}
	close(p.resume) // not hung
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the address the proxy listens on, "127.0.0.1:PORT".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection and resets new ones as soon as they are accepted, which
// a client sees as a refused connection. The port stays bound, so that Restore finds
// it again.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == closed {
		return
	}
	p.setState(cut)
	p.closeConns()
}

// Hang stops every byte: open connections stay open with their data held back, and
// new connections are accepted but not forwarded, as when a database stops answering
// without closing anything.
func (p *Proxy) Hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == closed {
		return
	}
	p.setState(hung)
}

// Restore undoes Cut or Hang: held bytes and connections are forwarded, new
// connections too.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == closed {
		return
	}
	p.setState(forwarding)
}

// Conns returns how many client connections are open through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, client := range p.conns {
		if client {
			n++
		}
	}
	return n
}

// Close stops listening, closes every connection and waits for the proxy's
// goroutines to end. Calls after the first do nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.state == closed {
		p.mu.Unlock()
		return nil
	}
	p.setState(closed)
	p.cancel()
	err := p.ln.Close()
	p.closeConns()
	p.mu.Unlock()
	p.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("tcpproxy: close: %w", err)
	}
	return nil
}

// setState moves the proxy to s, waking whatever waits for the end of a hang. The
// caller holds mu.
func (p *Proxy) setState(s state) {
	if p.state == hung && s != hung {
		close(p.resume)
	}
	if s == hung && p.state != hung {
		p.resume = make(chan struct{})
	}
	p.state = s
}

// closeConns closes every open connection. The caller holds mu.
func (p *Proxy) closeConns() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// wait blocks while the proxy hangs and reports whether bytes may flow (false once it
// is cut or closed).
func (p *Proxy) wait() bool {
	p.mu.Lock()
	for p.state == hung {
		ch := p.resume
		p.mu.Unlock()
		<-ch
		p.mu.Lock()
	}
	ok := p.state == forwarding
	p.mu.Unlock()
	return ok
}

// track registers c as open and reports whether it may be used (the proxy is not cut
// or closed). The caller closes c when it may not.
func (p *Proxy) track(c net.Conn, client bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == cut || p.state == closed {
		return false
	}
	p.conns[c] = client
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // the listener was closed
		}
		if !p.track(c, true) {
			reset(c)
			continue
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// reset closes c with a TCP reset rather than an orderly shutdown, as a refused or
// dropped connection looks to the client.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// forward connects client to the target once the proxy is not hung and copies bytes
// both ways until either side ends or the proxy is cut.
func (p *Proxy) forward(client net.Conn) {
	defer p.wg.Done()
	if !p.wait() {
		p.untrack(client)
		return
	}
	server, err := new(net.Dialer).DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		p.untrack(client)
		return
	}
	if !p.track(server, false) {
		server.Close()
		p.untrack(client)
		return
	}
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); p.pipe(server, client) }()
	go func() { defer pipes.Done(); p.pipe(client, server) }()
	pipes.Wait()
}

// pipe copies src to dst, holding each chunk back while the proxy hangs, and closes
// both when src ends, dst fails or the proxy is cut.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.untrack(dst, src)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
