package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestBatchedHistogram checks that a batched histogram exports the
// observations its local histograms added, in Prometheus' buckets (upper
// bounds inclusive), and nothing a local histogram holds until it is added.
func TestBatchedHistogram(t *testing.T) {
	h := newBatchedHistogram("test_latency_seconds", "A test histogram.", []float64{0.1, 1})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(h)
	scrape := func() string {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, mf := range mfs {
			hist := mf.GetMetric()[0].GetHistogram()
			for _, bk := range hist.GetBucket() {
				fmt.Fprintf(&b, "le=%g:%d ", bk.GetUpperBound(), bk.GetCumulativeCount())
			}
			fmt.Fprintf(&b, "count=%d sum=%.2f", hist.GetSampleCount(), hist.GetSampleSum())
		}
		return b.String()
	}
	a, b := h.local(), h.local()
	for _, v := range []float64{0.05, 0.1, 0.5} {
		a.observe(v)
	}
	b.observe(2)
	if got, want := scrape(), "le=0.1:0 le=1:0 count=0 sum=0.00"; got != want {
		t.Fatalf("before any add: got %q, want %q", got, want)
	}
	h.add(a)
	if got, want := scrape(), "le=0.1:2 le=1:3 count=3 sum=0.65"; got != want {
		t.Fatalf("after adding a: got %q, want %q", got, want)
	}
	h.add(b)
	h.add(a) // emptied by the first add: adds nothing
	if got, want := scrape(), "le=0.1:2 le=1:3 count=4 sum=2.65"; got != want {
		t.Fatalf("after adding b: got %q, want %q", got, want)
	}
}
