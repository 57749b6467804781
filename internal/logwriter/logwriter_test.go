package logwriter

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a destination that is safe to read while the Writer writes to it and
// that counts the writes it receives.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	gate   chan struct{} // when set, each write waits for it
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	if b.gate != nil {
		<-b.gate
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Every line written by concurrent loggers arrives whole, once, and in each logger's
// order.
func TestConcurrentLinesArriveWholeAndInOrder(t *testing.T) {
	dst := &lockedBuffer{}
	w := New(dst)
	log := slog.New(slog.NewTextHandler(w, nil))
	const loggers, lines = 8, 500
	var wg sync.WaitGroup
	for g := range loggers {
		wg.Go(func() {
			for i := range lines {
				log.Info("line", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, loggers)
	got := strings.Split(strings.TrimSuffix(dst.String(), "\n"), "\n")
	if len(got) != loggers*lines {
		t.Fatalf("%d lines arrived, want %d", len(got), loggers*lines)
	}
	for _, l := range got {
		var g, i int
		if n, err := fmt.Sscanf(l[strings.Index(l, " g=")+1:], "g=%d i=%d\n", &g, &i); n != 2 {
			t.Fatalf("mangled line %q: %v", l, err)
		}
		if i != next[g] {
			t.Fatalf("logger %d: line %d arrived when %d was due", g, i, next[g])
		}
		next[g]++
	}
}

// Lines written while the destination is busy go out together in one write, and Flush
// waits for them.
func TestLinesWrittenDuringAWriteGoOutTogether(t *testing.T) {
	dst := &lockedBuffer{gate: make(chan struct{})}
	w := New(dst)
	defer w.Close()
	if _, err := io.WriteString(w, "first\n"); err != nil {
		t.Fatal(err)
	}
	waitWriting(w)
	// The goroutine is now stuck writing "first"; these queue behind it.
	for i := range 10 {
		fmt.Fprintf(w, "queued %d\n", i)
	}
	flushed := make(chan struct{})
	go func() { w.Flush(); close(flushed) }()
	dst.gate <- struct{}{} // let "first" through
	dst.gate <- struct{}{} // and the one write that carries the ten queued lines
	<-flushed
	if dst.writes != 2 {
		t.Fatalf("%d writes reached the destination, want 2", dst.writes)
	}
	if !strings.HasPrefix(dst.String(), "first\nqueued 0\n") || !strings.HasSuffix(dst.String(), "queued 9\n") {
		t.Fatalf("destination holds %q", dst.String())
	}
	dst.gate = nil
}

// Past maxPending, Write waits for the destination instead of buffering without bound.
func TestWriteWaitsWhenTooMuchIsPending(t *testing.T) {
	dst := &lockedBuffer{gate: make(chan struct{})}
	w := New(dst)
	if _, err := w.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	waitWriting(w) // the goroutine took it and waits for the destination
	big := bytes.Repeat([]byte("y"), maxPending)
	if _, err := w.Write(big); err != nil { // fills the pending buffer
		t.Fatal(err)
	}
	returned := make(chan struct{})
	go func() {
		_, _ = w.Write([]byte("z\n"))
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("Write returned with more than maxPending bytes pending")
	default:
	}
	close(dst.gate) // the destination accepts everything from now on
	<-returned
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(dst.String()), 2+maxPending+2; got != want {
		t.Fatalf("destination holds %d bytes, want %d", got, want)
	}
}

// After Close, writes go straight to the destination.
func TestWriteAfterClose(t *testing.T) {
	dst := &lockedBuffer{}
	w := New(dst)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "late\n"); err != nil {
		t.Fatal(err)
	}
	if dst.String() != "late\n" {
		t.Fatalf("destination holds %q", dst.String())
	}
}

// waitWriting waits until w's goroutine is inside a write to the destination.
func waitWriting(w *Writer) {
	for {
		w.mu.Lock()
		busy := w.flushing
		w.mu.Unlock()
		if busy {
			return
		}
		runtime.Gosched()
	}
}
