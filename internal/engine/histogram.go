package engine

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// batchedHistogram is a Prometheus histogram that threads feed in batches:
// each thread counts its observations in a localHistogram, without atomics
// or locks, and adds them here when it commits. A scrape therefore sees
// every observation up to each thread's latest commit.
type batchedHistogram struct {
	desc   *prometheus.Desc
	bounds []float64 // ascending bucket upper bounds, +Inf excluded

	mu sync.Mutex
	// counts[i] counts observations in bucket i alone (not cumulative);
	// the last one is +Inf's.
	counts []uint64
	n      uint64
	sum    float64
}

func newBatchedHistogram(name, help string, bounds []float64) *batchedHistogram {
	return &batchedHistogram{
		desc:   prometheus.NewDesc(name, help, nil, nil),
		bounds: bounds,
		counts: make([]uint64, len(bounds)+1),
	}
}

// local returns an empty localHistogram with h's buckets.
func (h *batchedHistogram) local() *localHistogram {
	return &localHistogram{bounds: h.bounds, counts: make([]uint64, len(h.bounds)+1)}
}

// add moves l's observations into h and empties l.
func (h *batchedHistogram) add(l *localHistogram) {
	if l.n == 0 {
		return
	}
	h.mu.Lock()
	for i, c := range l.counts {
		h.counts[i] += c
	}
	h.n += l.n
	h.sum += l.sum
	h.mu.Unlock()
	clear(l.counts)
	l.n, l.sum = 0, 0
}

// Describe implements prometheus.Collector.
func (h *batchedHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector.
func (h *batchedHistogram) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	buckets := make(map[float64]uint64, len(h.bounds))
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		buckets[b] = cum
	}
	n, sum := h.n, h.sum
	h.mu.Unlock()
	ch <- prometheus.MustNewConstHistogram(h.desc, n, sum, buckets)
}

// localHistogram is one thread's share of a batchedHistogram since the
// thread last added it. It is not safe for concurrent use.
type localHistogram struct {
	bounds []float64
	counts []uint64
	n      uint64
	sum    float64
}

// observe counts v in the first bucket whose upper bound is at least v, as
// Prometheus does.
func (l *localHistogram) observe(v float64) {
	i := 0
	for i < len(l.bounds) && v > l.bounds[i] {
		i++
	}
	l.counts[i]++
	l.n++
	l.sum += v
}
