// Package logwriter writes log output from a goroutine of its own, so that concurrent
// loggers never wait on each other's write system calls.
//
// slog's handlers write each record with one Write call under a mutex of their own;
// with the output a pipe or a file, every record is a system call made while every
// other goroutine that logs waits for the mutex. A Writer instead appends the record to
// a buffer and returns; its goroutine writes whatever has accumulated in one call. When
// nothing else is logging, a line is written as soon as that goroutine runs, a few
// microseconds later; under load, lines that arrive during one write go out together in
// the next, in the order they were written.
package logwriter

import (
	"io"
	"sync"
)

// maxPending bounds the output waiting to be written: past it, Write waits for the
// destination, as it would without a Writer, rather than holding unbounded memory.
const maxPending = 1 << 20

// maxKept is the largest buffer kept for reuse once written.
const maxKept = 64 << 10

// Writer is an io.Writer that hands writes to a goroutine writing to the destination.
// It is safe for concurrent use. Close (or Flush) before the process exits, or the last
// lines may be lost.
type Writer struct {
	dst  io.Writer
	wake chan struct{} // output is pending
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the goroutine has returned

	mu       sync.Mutex
	drained  *sync.Cond // broadcast when a write ends
	pending  []byte     // written to the Writer, not yet to dst
	spare    []byte     // a written buffer, for reuse
	flushing bool       // the goroutine is writing to dst
	closed   bool
}

// New returns a Writer writing to dst and starts its goroutine.
func New(dst io.Writer) *Writer {
	l := &Writer{dst: dst, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	l.drained = sync.NewCond(&l.mu)
	go l.run()
	return l
}

// Write queues p to be written and returns len(p). It blocks only while more than
// maxPending bytes wait for the destination. After Close it writes p directly.
// Errors of the destination are not reported: there is nowhere to report a failure to
// log.
func (l *Writer) Write(p []byte) (int, error) {
	l.mu.Lock()
	for len(l.pending) >= maxPending && !l.closed {
		l.drained.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		return l.dst.Write(p)
	}
	first := len(l.pending) == 0
	l.pending = append(l.pending, p...)
	l.mu.Unlock()
	if first {
		select {
		case l.wake <- struct{}{}:
		default: // a wake-up is already on its way
		}
	}
	return len(p), nil
}

func (l *Writer) run() {
	defer close(l.done)
	for {
		select {
		case <-l.wake:
			l.drain()
		case <-l.stop:
			l.drain()
			return
		}
	}
}

// drain writes pending output until there is none.
func (l *Writer) drain() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.pending) > 0 {
		buf := l.pending
		l.pending, l.spare = l.spare[:0], nil
		l.flushing = true
		l.mu.Unlock()
		_, _ = l.dst.Write(buf)
		l.mu.Lock()
		l.flushing = false
		if cap(buf) <= maxKept {
			l.spare = buf[:0]
		}
		l.drained.Broadcast()
	}
}

// Flush waits until everything written before it has reached the destination.
func (l *Writer) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for (len(l.pending) > 0 || l.flushing) && !l.closed {
		l.drained.Wait()
	}
}

// Close writes what is pending and stops the goroutine; later writes go straight to the
// destination. It does not close the destination. Calls after the first do nothing.
func (l *Writer) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	l.Flush()
	l.mu.Lock()
	l.closed = true
	l.drained.Broadcast()
	l.mu.Unlock()
	close(l.stop)
	<-l.done // its last drain wrote what was queued between the Flush and now
	return nil
}
