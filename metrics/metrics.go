// Package metrics defines clerksync's Prometheus metrics, served at GET /metrics.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clerksync/clerksync"
)

// Metrics holds every collector clerksync updates. Create one per process with New.
type Metrics struct {
	registry *prometheus.Registry

	// Deliveries counts webhook deliveries by answer: an event outcome (applied, stale,
	// duplicate, ignored, dead_letter) or a rejection: method_not_allowed (405),
	// too_large (413), bad_request (400), unauthorized (401), timeout (408: the body
	// came too slowly), busy (503: too many bodies being read at once), overloaded
	// (503: the write queue is full), unavailable and error (503).
	Deliveries *prometheus.CounterVec
	// LastVerified is the time (Unix seconds) of the last webhook delivery whose
	// signature verified: when it stops moving, Clerk stopped delivering.
	LastVerified prometheus.Gauge
	// DeliveryDuration observes how long a webhook delivery took, from its first byte
	// read to its answer.
	DeliveryDuration prometheus.Histogram
	// Changes counts applied changes by the kind of object they are about (user,
	// organization, membership, invitation, role, permission), source (webhook, api,
	// backfill) and action (created, updated, unchanged, deleted).
	Changes *prometheus.CounterVec
	// Repairs counts the changes a listing of the Clerk Backend API (a reconcile, a
	// poll, a backfill) found that webhooks had not delivered: objects it created,
	// updated or deleted, by kind and action. A few come from a poll that reads a
	// change seconds before its webhook arrives; a steady count means webhooks are lost.
	Repairs *prometheus.CounterVec
	// BatchSize observes how many changes each transaction carried (group commit).
	BatchSize prometheus.Histogram
	// BatchDuration observes how long each transaction took, commit included.
	BatchDuration prometheus.Histogram
	// BatchErrors counts transactions that failed and committed nothing.
	BatchErrors prometheus.Counter
	// ClerkRequests counts requests to the Clerk Backend API by status code.
	ClerkRequests *prometheus.CounterVec
}

// latencyBuckets are the buckets of the duration histograms, in seconds: from half a
// millisecond (a batch on SQLite) to Svix's 15 s timeout and beyond.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New creates the collectors and registers them, with Go runtime and process
// collectors, in a registry of their own.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerksync_webhook_deliveries_total",
			Help: "Webhook deliveries by answer: the event's outcome or why it was rejected.",
		}, []string{"result"}),
		LastVerified: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "clerksync_webhook_last_verified_timestamp_seconds",
			Help: "Unix time of the last webhook delivery whose signature verified (0: none since start).",
		}),
		DeliveryDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "clerksync_webhook_delivery_seconds",
			Help:    "Time from reading a webhook delivery to answering it.",
			Buckets: latencyBuckets,
		}),
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerksync_changes_total",
			Help: "Changes applied to the synced tables, by kind of object, source and action.",
		}, []string{"kind", "source", "action"}),
		Repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerksync_repairs_total",
			Help: "Changes a reconcile, poll or backfill found that webhooks had not delivered, by kind of object and action (created, updated, deleted).",
		}, []string{"kind", "action"}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "clerksync_batch_changes",
			Help:    "Changes per database transaction (group commit).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		BatchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "clerksync_batch_seconds",
			Help:    "Duration of one database transaction, commit included.",
			Buckets: latencyBuckets,
		}),
		BatchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clerksync_batch_errors_total",
			Help: "Database transactions that failed and committed nothing.",
		}),
		ClerkRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerksync_clerk_api_requests_total",
			Help: "Requests to the Clerk Backend API by HTTP status (or \"error\" for no answer).",
		}, []string{"status"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Deliveries, m.LastVerified, m.DeliveryDuration, m.Changes, m.Repairs,
		m.BatchSize, m.BatchDuration, m.BatchErrors, m.ClerkRequests,
	)
	return m
}

// Register adds further collectors (a queue depth gauge, a database pool's stats) to
// the registry. It panics if a collector is already registered, as that is a bug.
func (m *Metrics) Register(cs ...prometheus.Collector) { m.registry.MustRegister(cs...) }

// GaugeFunc registers a gauge whose value is read from f at scrape time.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// ObserveBatch records one group-commit transaction; it fits engine.Config.OnBatch.
func (m *Metrics) ObserveBatch(changes int, took time.Duration, err error) {
	m.BatchSize.Observe(float64(changes))
	m.BatchDuration.Observe(took.Seconds())
	if err != nil {
		m.BatchErrors.Inc()
	}
}

// ObserveApplied counts the applied changes of a durable batch by kind, source and
// action, whichever way they came (webhooks, polls, the sync button); it fits
// engine.Config.OnApplied. A change counts once, for the object it is about: the
// organization a membership event upserts with it, and the memberships and
// invitations a deletion removes with its object, are not counted apart. A change from
// a listing that altered a row is also a repair.
func (m *Metrics) ObserveApplied(changes []clerksync.Change, results []clerksync.Result) {
	for i, r := range results {
		if r.Outcome != clerksync.OutcomeApplied || i >= len(changes) {
			continue
		}
		c := &changes[i]
		m.Changes.WithLabelValues(c.Kind.String(), string(c.Source), r.Action.String()).Inc()
		if c.Source == clerksync.SourceBackfill && r.Action != clerksync.ActionUnchanged {
			m.Repairs.WithLabelValues(c.Kind.String(), r.Action.String()).Inc()
		}
	}
}

// Handler returns the http.Handler that serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}
