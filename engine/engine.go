// Package engine applies changes to a store with group commit: concurrent callers queue
// their changes to a small number of writers, and each writer applies everything that has
// accumulated in one Store.Apply call — one transaction and one fsync for many deliveries —
// then answers every waiting caller with its own result.
//
// A lone change is applied at once (a writer never waits for company), the queue is
// bounded (a full queue answers ErrOverloaded instead of growing), and the outcome of
// every change is exact because the store reports one Result per change.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clerksync/clerksync"
)

// ErrClosed is returned by Apply after Close has been called.
var ErrClosed = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "engine is shutting down"}

// ErrOverloaded is returned by Apply when the write queue is full: the caller should
// answer 503 with Retry-After so that the sender retries later.
var ErrOverloaded = &clerksync.Error{Code: clerksync.EOVERLOADED, Message: "write queue is full"}

// Config tunes an Engine. The zero value is usable: one writer, batches of up to 256
// changes, a queue of 4096 requests.
type Config struct {
	// Writers is how many batches may be applied at once. SQLite has one writer; on
	// PostgreSQL several writers overlap their round trips.
	Writers int
	// MaxBatch caps how many changes one transaction carries. A request larger than
	// MaxBatch (a backfill page) is applied as a batch of its own.
	MaxBatch int
	// QueueSize bounds how many requests may wait for a writer.
	QueueSize int
	// ApplyTimeout bounds one Store.Apply call, so a hung database cannot hold callers
	// for ever. Default 10 s.
	ApplyTimeout time.Duration
	// Logger receives batch failures. Default: slog.Default().
	Logger *slog.Logger
	// OnBatch, when set, is called after every batch with its size, how long Store.Apply
	// took and its error; used for metrics.
	OnBatch func(changes int, took time.Duration, err error)
}

func (c *Config) setDefaults() {
	if c.Writers <= 0 {
		c.Writers = 1
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4096
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// request is one caller's changes waiting for a writer.
type request struct {
	ctx     context.Context // the caller's; a request whose caller gave up is skipped
	changes []clerksync.Change
	results []clerksync.Result
	err     error
	done    chan struct{}
}

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

// Engine applies changes to a Store with group commit. It is safe for concurrent use.
type Engine struct {
	store clerksync.Store
	cfg   Config
	queue chan *request

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	wg     sync.WaitGroup
}

// New starts an engine over store with cfg's writers. Call Close to stop it.
func New(store clerksync.Store, cfg Config) *Engine {
	cfg.setDefaults()
	e := &Engine{store: store, cfg: cfg, queue: make(chan *request, cfg.QueueSize)}
	for i := 0; i < cfg.Writers; i++ {
		e.wg.Add(1)
		go e.writer()
	}
	return e
}

// Apply queues changes for the next batch and waits until they are committed. It
// returns one Result per change. When the queue is full it returns ErrOverloaded at once;
// when the store fails it returns the store's error and nothing of changes is committed.
// If ctx ends while waiting, Apply returns ctx's error; the changes may still be applied.
func (e *Engine) Apply(ctx context.Context, changes ...clerksync.Change) ([]clerksync.Result, error) {
	return e.submit(ctx, changes, false)
}

// ApplyWait is Apply for bulk callers (backfill): instead of failing on a full queue it
// waits for room, so the caller is slowed down to the pace of the database.
func (e *Engine) ApplyWait(ctx context.Context, changes ...clerksync.Change) ([]clerksync.Result, error) {
	return e.submit(ctx, changes, true)
}

func (e *Engine) submit(ctx context.Context, changes []clerksync.Change, wait bool) ([]clerksync.Result, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := requestPool.Get().(*request)
	r.ctx, r.changes, r.results, r.err = ctx, changes, nil, nil

	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		requestPool.Put(r)
		return nil, ErrClosed
	}
	if wait {
		select {
		case e.queue <- r:
		case <-ctx.Done():
			e.mu.RUnlock()
			requestPool.Put(r)
			return nil, ctx.Err()
		}
	} else {
		select {
		case e.queue <- r:
		default:
			e.mu.RUnlock()
			requestPool.Put(r)
			return nil, ErrOverloaded
		}
	}
	e.mu.RUnlock()

	select {
	case <-r.done:
	case <-ctx.Done():
		// The writer still owns r and will signal done into its buffer; r is not
		// returned to the pool so that it is never reused while in flight.
		return nil, ctx.Err()
	}
	results, err := r.results, r.err
	r.ctx, r.changes, r.results, r.err = nil, nil, nil, nil
	requestPool.Put(r)
	return results, err
}

// QueueLen returns how many requests are waiting for a writer.
func (e *Engine) QueueLen() int { return len(e.queue) }

// Close stops accepting changes, waits for every queued change to be applied and
// stops the writers. It does not close the store.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.queue)
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}

// writer takes the first waiting request, gathers whatever else is already queued (up
// to MaxBatch changes, never waiting for more) and applies it all in one transaction.
func (e *Engine) writer() {
	defer e.wg.Done()
	var (
		batch []*request
		flat  []clerksync.Change
	)
	for first := range e.queue {
		batch = batch[:0]
		n := 0
		add := func(r *request) {
			// A caller that gave up (its delivery was already answered 503, or it
			// hung up) is not waited for: Svix retries it, so applying it now would
			// only delay the callers still waiting.
			if err := r.ctx.Err(); err != nil {
				r.err = err
				r.done <- struct{}{}
				return
			}
			batch = append(batch, r)
			n += len(r.changes)
		}
		add(first)
	gather:
		for n < e.cfg.MaxBatch {
			select {
			case r, ok := <-e.queue:
				if !ok {
					break gather
				}
				add(r)
			default:
				break gather
			}
		}
		if len(batch) == 0 {
			continue
		}

		flat = flat[:0]
		for _, r := range batch {
			flat = append(flat, r.changes...)
		}
		results, err := e.apply(flat)
		off := 0
		for _, r := range batch {
			if err != nil {
				r.err = err
			} else {
				r.results = results[off : off+len(r.changes) : off+len(r.changes)]
			}
			off += len(r.changes)
			r.done <- struct{}{}
		}
		clear(flat) // drop references to bodies so pooled buffers are not pinned
		clear(batch)
	}
}

// apply runs one Store.Apply with the engine's timeout. The store checks that it
// returned one result per change; a mismatch is a bug and fails the batch.
func (e *Engine) apply(changes []clerksync.Change) ([]clerksync.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.ApplyTimeout)
	defer cancel()
	start := time.Now()
	results, err := e.store.Apply(ctx, changes)
	if err == nil && len(results) != len(changes) {
		err = fmt.Errorf("store returned %d results for %d changes", len(results), len(changes))
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "database did not answer in time", Err: err}
		}
		e.cfg.Logger.Warn("apply batch failed", "changes", len(changes), "error", err)
	}
	if e.cfg.OnBatch != nil {
		e.cfg.OnBatch(len(changes), time.Since(start), err)
	}
	if err != nil {
		return nil, fmt.Errorf("apply batch of %d: %w", len(changes), err)
	}
	return results, nil
}
