package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/clerksync/clerksync/internal/benchload"
)

// loadResult is what one run of the load measured.
type loadResult struct {
	Deliveries int
	Errors     int // transport errors and non-2xx answers
	Status     map[int]int
	Duration   time.Duration
	PerSecond  float64
	P50, P99   time.Duration
	PeakRSSKiB int64
	// CPU time (user and system) per measured delivery, over the measured window: of the
	// receiver's process; of the PostgreSQL server on its behalf (-1 when not measured:
	// SQLite runs inside the receiver) and of the server's other clients; of this process
	// (the load generator); and of the whole machine. Idle is the share of the machine's
	// cores left idle.
	ReceiverCPU, DatabaseCPU, OtherClientsCPU, LoadCPU, MachineCPU time.Duration
	// ServerCPU is the part of DatabaseCPU that the server's own processes (WAL writer,
	// checkpointer, autovacuum…) used, beside the receiver's backends.
	ServerCPU time.Duration
	Idle      float64
	// MeanBatch is how many changes clerksync's transactions carried on average (0 for
	// the other receivers).
	MeanBatch   float64
	BodyBytes   int
	Concurrency int
}

// together returns the CPU per delivery of the receiver and its database server.
func (r loadResult) together() time.Duration {
	return r.ReceiverCPU + max(0, r.DatabaseCPU)
}

// setCPU turns the CPU times of the measured window into times per delivery.
func (r *loadResult) setCPU(u windowUse) {
	if u.batches > 0 {
		r.MeanBatch = u.changes / u.batches
	}
	r.DatabaseCPU, r.OtherClientsCPU = -1, -1
	if r.Deliveries == 0 {
		return
	}
	per := func(d time.Duration) time.Duration { return d / time.Duration(r.Deliveries) }
	r.ReceiverCPU, r.LoadCPU, r.MachineCPU = per(u.receiver), per(u.load), per(u.busy)
	if u.database >= 0 {
		r.DatabaseCPU, r.OtherClientsCPU, r.ServerCPU = per(u.database), per(u.otherClients), per(u.background)
	}
	if u.busy+u.idle > 0 {
		r.Idle = float64(u.idle) / float64(u.busy+u.idle)
	}
}

// runLoad sends deliveries from w to url with c concurrent senders: warmup first (not
// measured), then d measured.
func runLoad(ctx context.Context, url string, w *benchload.Workload, c int, warmup, d time.Duration) loadResult {
	tr := &http.Transport{
		MaxIdleConns:        c * 2,
		MaxIdleConnsPerHost: c * 2,
		IdleConnTimeout:     time.Minute,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		status    = map[int]int{}
		errs      int
	)
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(d)
	var wg sync.WaitGroup
	for s := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), uint64(start.UnixNano())))
			var (
				dl    benchload.Delivery
				lat   []time.Duration
				local = map[int]int{}
				e     int
			)
			rd := bytes.NewReader(nil)
			for ctx.Err() == nil {
				w.Fill(rng, &dl)
				rd.Reset(dl.Body)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, io.NopCloser(rd))
				req.ContentLength = int64(len(dl.Body))
				req.Header["Content-Type"] = []string{"application/json"}
				req.Header["Svix-Id"] = []string{dl.ID}
				req.Header["Svix-Timestamp"] = []string{strconv.FormatInt(dl.Timestamp.Unix(), 10)}
				req.Header["Svix-Signature"] = []string{dl.Signature}
				t0 := time.Now()
				resp, err := client.Do(req)
				t1 := time.Now()
				code := 0
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				if t1.After(end) {
					break
				}
				if t0.Before(measureFrom) {
					continue
				}
				local[code]++
				if code/100 != 2 {
					e++
					continue
				}
				lat = append(lat, t1.Sub(t0))
			}
			mu.Lock()
			latencies = append(latencies, lat...)
			for k, v := range local {
				status[k] += v
			}
			errs += e
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(latencies)
	r := loadResult{Deliveries: len(latencies), Errors: errs, Status: status, Duration: d,
		BodyBytes: w.BodySize(), Concurrency: c}
	r.PerSecond = float64(len(latencies)) / d.Seconds()
	if n := len(latencies); n > 0 {
		r.P50 = latencies[n*50/100]
		r.P99 = latencies[min(n-1, n*99/100)]
	}
	return r
}
