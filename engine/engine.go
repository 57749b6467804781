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
	"sync/atomic"
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
	// OnBatch, when set, is called after every batch with its size, how long it took
	// to become durable and its error; used for metrics.
	OnBatch func(changes int, took time.Duration, err error)
	// OnApplied, when set, is called with every durable batch and its results; used to
	// count changes by source and action.
	OnApplied func(changes []clerksync.Change, results []clerksync.Result)
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

	// With a PipelinedStore, committed batches wait here for one sync that makes them
	// all durable, while the writer goes on with the next batch.
	pipelined clerksync.PipelinedStore
	syncq     chan *committed
	syncWG    sync.WaitGroup
	// unsynced bounds how many committed batches may wait for durability. One batch
	// committing while another syncs overlaps the two; letting more pile up would only
	// make batches smaller, and every commit has a cost of its own.
	unsynced chan struct{}
	roomWait atomic.Bool // the writer waits for room in the pipeline (for tests)

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	wg     sync.WaitGroup
}

// New starts an engine over store with cfg's writers. Call Close to stop it.
func New(store clerksync.Store, cfg Config) *Engine {
	cfg.setDefaults()
	e := &Engine{store: store, cfg: cfg, queue: make(chan *request, cfg.QueueSize)}
	if p, ok := store.(clerksync.PipelinedStore); ok {
		e.pipelined = p
		e.syncq = make(chan *committed, pipelineDepth)
		e.unsynced = make(chan struct{}, pipelineDepth)
		e.syncWG.Add(1)
		go e.syncer()
	}
	for i := 0; i < cfg.Writers; i++ {
		e.wg.Add(1)
		go e.writer()
	}
	return e
}

// pipelineDepth is how many committed batches may wait for a sync at once.
const pipelineDepth = 2

// committed is a batch committed but not yet durable, waiting for the syncer.
type committed struct {
	requests []*request
	changes  []clerksync.Change
	results  []clerksync.Result
	start    time.Time
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

// SyncBacklog returns how many committed batches are waiting to be made durable (always
// 0 unless the store is a PipelinedStore).
func (e *Engine) SyncBacklog() int { return len(e.syncq) }

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
	if e.syncq != nil {
		close(e.syncq)
		e.syncWG.Wait()
	}
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
		n := 0
		batch = e.add(batch[:0], &n, first)
		if e.pipelined != nil {
			if len(batch) == 0 {
				continue
			}
			// Wait for room in the pipeline before taking more: while it is full,
			// deliveries keep queuing and the next batch is the bigger for it.
			e.roomWait.Store(true)
			e.unsynced <- struct{}{}
			e.roomWait.Store(false)
			batch = e.gatherMore(batch, &n)
			// The batch's slices now belong to the syncer; the next batch gets new ones.
			flat := make([]clerksync.Change, 0, n)
			for _, r := range batch {
				flat = append(flat, r.changes...)
			}
			start := time.Now()
			results, err := e.apply(flat, e.pipelined.ApplyCommitted)
			if err != nil {
				<-e.unsynced
				e.finish(batch, flat, nil, start, err)
			} else {
				e.syncq <- &committed{requests: batch, changes: flat, results: results, start: start}
			}
			batch = nil
			continue
		}

		batch = e.gatherMore(batch, &n)
		if len(batch) == 0 {
			continue
		}
		flat = flat[:0]
		for _, r := range batch {
			flat = append(flat, r.changes...)
		}
		start := time.Now()
		results, err := e.apply(flat, e.store.Apply)
		e.finish(batch, flat, results, start, err)
		clear(flat) // drop references to bodies so pooled buffers are not pinned
		clear(batch)
	}
}

// add appends r to batch, counting its changes in n, unless its caller gave up: a
// caller whose delivery was already answered 503, or who hung up, is not waited for —
// Svix retries it, so applying it now would only delay the callers still waiting.
func (e *Engine) add(batch []*request, n *int, r *request) []*request {
	if err := r.ctx.Err(); err != nil {
		r.err = err
		r.done <- struct{}{}
		return batch
	}
	*n += len(r.changes)
	return append(batch, r)
}

// gatherMore adds to batch whatever is already queued, up to MaxBatch changes, without
// waiting for more.
func (e *Engine) gatherMore(batch []*request, n *int) []*request {
	for *n < e.cfg.MaxBatch {
		select {
		case r, ok := <-e.queue:
			if !ok {
				return batch
			}
			batch = e.add(batch, n, r)
		default:
			return batch
		}
	}
	return batch
}

// syncer makes committed batches durable: one Sync for every batch committed since the
// last one, then it answers their callers.
func (e *Engine) syncer() {
	defer e.syncWG.Done()
	var pending []*committed
	for c := range e.syncq {
		pending = append(pending[:0], c)
	drain:
		for {
			select {
			case c, ok := <-e.syncq:
				if !ok {
					break drain
				}
				pending = append(pending, c)
			default:
				break drain
			}
		}
		err := e.pipelined.Sync()
		if err != nil {
			err = fmt.Errorf("sync %d batches: %w", len(pending), err)
			e.cfg.Logger.Error("making committed batches durable failed", "batches", len(pending), "error", err)
		}
		for _, c := range pending {
			<-e.unsynced
			e.finish(c.requests, c.changes, c.results, c.start, err)
		}
		clear(pending)
	}
}

// finish answers the callers of a batch: each its own results, or everyone err.
func (e *Engine) finish(batch []*request, changes []clerksync.Change, results []clerksync.Result, start time.Time, err error) {
	if e.cfg.OnBatch != nil {
		e.cfg.OnBatch(len(changes), time.Since(start), err)
	}
	if err == nil && e.cfg.OnApplied != nil {
		e.cfg.OnApplied(changes, results)
	}
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
}

// apply runs one apply function (Store.Apply or PipelinedStore.ApplyCommitted) with
// the engine's timeout. A store that returns a result count other than one per change
// has a bug, and the batch fails.
func (e *Engine) apply(changes []clerksync.Change, fn func(context.Context, []clerksync.Change) ([]clerksync.Result, error)) ([]clerksync.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.ApplyTimeout)
	defer cancel()
	results, err := fn(ctx, changes)
	if err == nil && len(results) != len(changes) {
		err = fmt.Errorf("store returned %d results for %d changes", len(results), len(changes))
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "database did not answer in time", Err: err}
		}
		e.cfg.Logger.Warn("apply batch failed", "changes", len(changes), "error", err)
		return nil, fmt.Errorf("apply batch of %d: %w", len(changes), err)
	}
	return results, nil
}
