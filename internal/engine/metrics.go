package engine

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
)

// Metrics are the engine's Prometheus metrics. A Metrics built with a nil
// registerer counts without exporting, and does not time store operations.
type Metrics struct {
	Processed      *prometheus.CounterVec
	ProcessLatency *prometheus.HistogramVec
	// EndToEnd is fed by the threads in batches, when they commit.
	EndToEnd      *batchedHistogram
	CommitLatency prometheus.Histogram
	Commits       prometheus.Counter
	Aborts        prometheus.Counter
	Dropped       *prometheus.CounterVec
	// Enforced counts, by task, the waits for an empty partition that
	// ended with the task processing its other partitions anyway.
	Enforced    *prometheus.CounterVec
	RestoreDone *prometheus.CounterVec
	RestoreLeft *prometheus.GaugeVec
	Rebalances  prometheus.Counter
	State       *prometheus.GaugeVec
	Lag         *prometheus.GaugeVec
	// StoreLatency is the latency of a sample of the operations of the
	// tasks' key-value, window and session stores, by store and op (see
	// state.StoreOp and state.LatencySampleEvery).
	StoreLatency *prometheus.HistogramVec
	// exported is set when the metrics are registered.
	exported bool
}

// NewMetrics creates the metrics and registers them with reg, if not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	lat := []float64{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1}
	m := &Metrics{
		Processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streams_records_processed_total", Help: "Records processed, by task."}, []string{"task"}),
		ProcessLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "streams_process_latency_seconds", Help: "Time to process a record through a task, averaged over each batch processed.", Buckets: lat}, []string{"task"}),
		EndToEnd: newBatchedHistogram("streams_end_to_end_latency_seconds", "Time from a record's timestamp to its output being sent (updated at each commit).",
			[]float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
		CommitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "streams_commit_latency_seconds", Help: "Time to commit a thread's work.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}}),
		Commits: prometheus.NewCounter(prometheus.CounterOpts{Name: "streams_commits_total", Help: "Committed transactions (or offset commits under at-least-once)."}),
		Aborts:  prometheus.NewCounter(prometheus.CounterOpts{Name: "streams_aborts_total", Help: "Aborted transactions."}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streams_dropped_records_total", Help: "Records dropped, by task and reason."}, []string{"task", "reason"}),
		Enforced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streams_enforced_processing_total",
			Help: "Times a task, after waiting for an empty input partition (MaxTaskIdle, or records on the broker not fetched yet), processed its other partitions, by task."}, []string{"task"}),
		RestoreDone: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streams_restore_records_total", Help: "Changelog records restored, by store."}, []string{"store"}),
		RestoreLeft: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streams_restore_remaining_records", Help: "Changelog records left to restore, by store and task."}, []string{"store", "task"}),
		Rebalances: prometheus.NewCounter(prometheus.CounterOpts{Name: "streams_rebalances_total", Help: "Assignments received."}),
		State: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streams_application_state", Help: "1 for the application's current state."}, []string{"state"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streams_consumer_lag_records", Help: "Records between the committed position and the end of each input partition."}, []string{"topic", "partition"}),
		StoreLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "streams_store_operation_latency_seconds",
			Help: fmt.Sprintf("Latency of state store operations (get, put, delete, range, flush), by store and op; "+
				"1 in %d operations of each kind is timed, every flush.", state.LatencySampleEvery),
			Buckets: lat}, []string{"store", "op"}),
	}
	if reg != nil {
		m.exported = true
		for _, c := range []prometheus.Collector{m.Processed, m.ProcessLatency, m.EndToEnd, m.CommitLatency,
			m.Commits, m.Aborts, m.Dropped, m.Enforced, m.RestoreDone, m.RestoreLeft, m.Rebalances, m.State, m.Lag, m.StoreLatency} {
			_ = reg.Register(c)
		}
	}
	return m
}

// taskMetrics are one task's metric children, looked up once.
type taskMetrics struct {
	processed prometheus.Counter
	latency   prometheus.Observer
	enforced  prometheus.Counter
}

func (m *Metrics) forTask(id TaskID) *taskMetrics {
	return &taskMetrics{processed: m.Processed.WithLabelValues(id.String()), latency: m.ProcessLatency.WithLabelValues(id.String()),
		enforced: m.Enforced.WithLabelValues(id.String())}
}

// record counts a batch of n records processed in d; the latency histogram
// gets the batch's time per record once per batch, which keeps the clock and
// the histogram off the per-record path.
func (tm *taskMetrics) record(n int, d time.Duration) {
	tm.processed.Add(float64(n))
	tm.latency.Observe(d.Seconds() / float64(n))
}

func (m *Metrics) committed(d time.Duration) {
	m.Commits.Inc()
	m.CommitLatency.Observe(d.Seconds())
}

func (m *Metrics) aborted() { m.Aborts.Inc() }

func (m *Metrics) dropped(task processor.TaskID, reason string) {
	m.Dropped.WithLabelValues(task.String(), reason).Inc()
}

// RecordDropped implements exec.Metrics.
func (m *Metrics) RecordDropped(task processor.TaskID, reason string) { m.dropped(task, reason) }

// StoreOpLatency implements exec.StoreMetrics: stores observe their
// operations' latency in StoreLatency's child of their name and the op,
// which they look up once, when built. Without a registerer it returns nil:
// the stores time nothing.
func (m *Metrics) StoreOpLatency() func(store string, op state.StoreOp) state.Observer {
	if !m.exported {
		return nil
	}
	return m.storeOpLatency
}

func (m *Metrics) storeOpLatency(store string, op state.StoreOp) state.Observer {
	return m.StoreLatency.WithLabelValues(store, op.String())
}
