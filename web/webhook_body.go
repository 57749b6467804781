package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the limits on reading webhook bodies.
const (
	// DefaultBodyMemory is the memory that webhook bodies being read may take at once
	// by default: MaxConcurrentBodies defaults to it divided by the body cap.
	DefaultBodyMemory = 64 << 20
	// DefaultBodyWait is how long a delivery waits for one of the MaxConcurrentBodies
	// slots before it is answered 503 with Retry-After.
	DefaultBodyWait = time.Second
	// DefaultBodyReadTimeout bounds the reading of one body: Svix sends a few KB at
	// once, so a client still sending after this is holding a slot, not delivering.
	DefaultBodyReadTimeout = 5 * time.Second
)

// Bounds of the default number of concurrent bodies, whatever the cap.
const (
	minDefaultBodies = 8
	maxDefaultBodies = 1024
)

// DefaultMaxConcurrentBodies returns how many webhook bodies are read at once by
// default under a body cap of maxBody bytes: DefaultBodyMemory / maxBody, from 8 to
// 1024 (64 for the default 1 MiB cap).
func DefaultMaxConcurrentBodies(maxBody int64) int {
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	return int(min(max(DefaultBodyMemory/maxBody, minDefaultBodies), maxDefaultBodies))
}

// maxPooledBody keeps one unusually large body from pinning its buffer in the pool;
// Clerk's events are a few KB.
const maxPooledBody = 64 << 10

// bodyPool recycles webhook body buffers of up to maxPooledBody bytes. A buffer goes
// back to the pool only once the engine has answered, because the change it carries
// points into the buffer.
var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

// releaseQuiet is how long after the last large body is dropped the memory it took is
// given back to the operating system: a burst of large bodies (an attack, most likely)
// would otherwise leave the process's resident memory at its peak for minutes.
const releaseQuiet = 2 * time.Second

// Reasons a body is not read.
var (
	errBodyTooLarge = errors.New("body over the cap")
	errBodyTimeout  = errors.New("body not received in time")
	errNoBodySlot   = errors.New("too many bodies being read")
)

// bodyReader reads webhook bodies within a cap, a number of bodies at once and a time
// per body. It is safe for concurrent use.
type bodyReader struct {
	max     int64
	slots   chan struct{}
	wait    time.Duration
	timeout time.Duration

	large   atomic.Int64 // bodies held in buffers too big for the pool
	mu      sync.Mutex
	release *time.Timer // gives memory back once no large body is held
}

func newBodyReader(maxBody int64, slots int, wait, timeout time.Duration) *bodyReader {
	return &bodyReader{max: maxBody, slots: make(chan struct{}, slots), wait: wait, timeout: timeout}
}

// acquire takes a slot, waiting up to br.wait; it returns errNoBodySlot when none came
// free, or the context's error.
func (br *bodyReader) acquire(ctx context.Context) error {
	select {
	case br.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(br.wait)
	defer t.Stop()
	select {
	case br.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errNoBodySlot
	case <-ctx.Done():
		return ctx.Err()
	}
}

// done gives a slot back.
func (br *bodyReader) done() { <-br.slots }

// body is a webhook body in its buffer.
type body struct {
	pooled *[]byte // from bodyPool; holds bytes' buffer when it is small enough
	bytes  []byte
	large  bool // counted in bodyReader.large
}

// pieceSize is the size of the pieces a body without Content-Length is read into once
// it outgrows its pooled buffer: they are joined once the body is complete, so that a
// body that never completes leaves no trail of outgrown buffers behind.
const pieceSize = 64 << 10

// read reads r's body, of at most br.max bytes, within br.timeout. The buffer is sized
// from Content-Length when the request has one; otherwise the body is read in pieces
// and joined into a buffer of its size. No buffer is larger than the cap. It returns
// errBodyTooLarge, errBodyTimeout or the read error. The caller gives the body back
// with put once nothing points into it.
func (br *bodyReader) read(w http.ResponseWriter, r *http.Request) (body, error) {
	if r.ContentLength > br.max {
		return body{}, errBodyTooLarge
	}
	rc := http.NewResponseController(w)
	// The deadline is lifted once the body is in: the server's reading of the
	// connection in the background while the delivery is applied must not fail on it.
	_ = rc.SetReadDeadline(time.Now().Add(br.timeout))
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()

	b := body{pooled: bodyPool.Get().(*[]byte)}
	b.bytes = (*b.pooled)[:0]
	src := http.MaxBytesReader(w, r.Body, br.max)
	var err error
	if r.ContentLength >= 0 {
		if int64(cap(b.bytes)) < r.ContentLength {
			b.bytes = br.alloc(&b, r.ContentLength)
		}
		b.bytes = b.bytes[:r.ContentLength]
		_, err = io.ReadFull(src, b.bytes)
	} else {
		err = br.readPieces(&b, src)
	}
	if err == nil {
		err = atEOF(src)
	}
	if err != nil {
		br.put(b)
		return body{}, readErr(err)
	}
	return b, nil
}

// readPieces reads a body of unknown length into b: into its pooled buffer while it
// fits, into pieces beyond, then into one buffer of the body's size.
func (br *bodyReader) readPieces(b *body, src io.Reader) error {
	if cap(b.bytes) == 0 {
		b.bytes = make([]byte, 0, 4<<10)
	}
	n, err := readFull(src, b.bytes[:cap(b.bytes)])
	b.bytes = b.bytes[:n]
	if err != nil || n < cap(b.bytes) {
		return err
	}
	var pieces [][]byte
	total := int64(n)
	for total < br.max {
		p := make([]byte, min(pieceSize, br.max-total))
		n, err := readFull(src, p)
		total += int64(n)
		if n > 0 {
			pieces = append(pieces, p[:n])
			if total > maxPooledBody && !b.large {
				b.large = true
				br.large.Add(1)
			}
		}
		if err != nil {
			return err
		}
		if n < len(p) {
			break
		}
	}
	joined := br.alloc(b, total)[:0]
	joined = append(joined, b.bytes...)
	for _, p := range pieces {
		joined = append(joined, p...)
	}
	b.bytes = joined
	return nil
}

// readFull reads into p until it is full or the body ends (a nil error).
func readFull(src io.Reader, p []byte) (int, error) {
	n, err := io.ReadFull(src, p)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return n, err
}

// atEOF checks that nothing follows what was read: more would be over the cap (the
// server lets nothing through past a Content-Length).
func atEOF(src io.Reader) error {
	var one [1]byte
	for {
		n, err := src.Read(one[:])
		switch {
		case n > 0:
			return errBodyTooLarge
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// alloc returns a new buffer of capacity c for b, counting b as large when the buffer
// is too large for the pool.
func (br *bodyReader) alloc(b *body, c int64) []byte {
	if c > maxPooledBody && !b.large {
		b.large = true
		br.large.Add(1)
	}
	return make([]byte, 0, c)
}

// readErr classifies the error of a body read.
func readErr(err error) error {
	var tooLarge *http.MaxBytesError
	var ne interface{ Timeout() bool }
	switch {
	case errors.Is(err, errBodyTooLarge), errors.As(err, &tooLarge):
		return errBodyTooLarge
	case errors.As(err, &ne) && ne.Timeout():
		return errBodyTimeout
	}
	return err
}

// put gives the buffer of b back, once nothing points into it: to the pool when it
// is small enough, otherwise to the collector (see forget).
func (br *bodyReader) put(b body) {
	if b.pooled == nil {
		return
	}
	if cap(b.bytes) <= maxPooledBody {
		*b.pooled = b.bytes[:0]
	}
	bodyPool.Put(b.pooled)
	br.forget(b)
}

// forget notes that nothing points into b any more, without pooling its buffer (which
// may still be read elsewhere): once no large body is held, the memory they took goes
// back to the system.
func (br *bodyReader) forget(b body) {
	if b.large && br.large.Add(-1) == 0 {
		br.releaseLater()
	}
}

// releaseLater returns the heap's free memory to the operating system after
// releaseQuiet, unless another large body arrives and leaves first.
func (br *bodyReader) releaseLater() {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.release != nil {
		br.release.Reset(releaseQuiet)
		return
	}
	br.release = time.AfterFunc(releaseQuiet, func() {
		if br.large.Load() == 0 {
			debug.FreeOSMemory()
		}
	})
}

// sizeText says how large n bytes are, as people write it: "1 MiB", "64 KiB", "1500
// bytes".
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
