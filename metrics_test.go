package streams_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/processor"
)

// scrape reads /metrics and returns each family's samples summed by name
// (counters, gauges; histograms by their count).
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("/metrics answered %d", w.Code)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				out[name] += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[name] += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[name] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestMetrics scrapes the documented metric families while an application
// counts records, restores its store and skips an undecodable record, and
// checks that each family exists and moves.
func TestMetrics(t *testing.T) {
	c := kafkatest.Cluster(t, 2, "input", "output")
	brokers := c.ListenAddrs()
	want := map[string]int64{}
	produceCounted(t, brokers, 0, 400, want)
	topo, err := countTopology()
	if err != nil {
		t.Fatal(err)
	}
	// A first instance writes the changelog, so that the second restores.
	run := func(reg *prometheus.Registry, until func(*streams.App) bool) {
		app, err := streams.New(topo, streams.Config{ApplicationID: "metrics", Brokers: brokers, StateDir: t.TempDir(),
			Registerer: reg, ProcessingErrorHandler: processor.SkipOnProcessingError})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- app.Run(ctx) }()
		deadline := time.Now().Add(60 * time.Second)
		for !until(app) {
			if time.Now().After(deadline) {
				t.Fatal("timed out waiting for the application")
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	first := prometheus.NewRegistry()
	run(first, func(*streams.App) bool { return scrapeRegistry(t, first)["streams_records_processed_total"] >= 400 })

	changelog := len(kafkatest.ReadAll(t, brokers, "metrics-counts-changelog", 1, 300*time.Millisecond))

	reg := prometheus.NewRegistry()
	var before map[string]float64
	run(reg, func(app *streams.App) bool {
		if app.State() != streams.Running {
			return false
		}
		if before == nil {
			before = scrapeRegistry(t, reg)
			kafkatest.Produce(t, brokers, &kgo.Record{Topic: "input", Key: []byte("k00"), Value: []byte("poison")})
			produceCounted(t, brokers, 400, 200, want)
			return false
		}
		now := scrapeRegistry(t, reg)
		return now["streams_records_processed_total"]-before["streams_records_processed_total"] >= 200 &&
			now["streams_dropped_records_total"] >= 1
	})
	after := scrapeRegistry(t, reg)
	for _, name := range []string{
		"streams_records_processed_total", "streams_process_latency_seconds", "streams_end_to_end_latency_seconds",
		"streams_commit_latency_seconds", "streams_commits_total", "streams_dropped_records_total",
		"streams_restore_records_total", "streams_rebalances_total", "streams_store_operation_latency_seconds",
	} {
		if after[name] <= 0 {
			t.Errorf("%s = %v, want it to have moved", name, after[name])
		}
	}
	if after["streams_records_processed_total"] <= before["streams_records_processed_total"] {
		t.Errorf("streams_records_processed_total did not move after the first scrape")
	}
	if after["streams_restore_records_total"] != float64(changelog) {
		t.Errorf("streams_restore_records_total = %v, want the changelog's %d records", after["streams_restore_records_total"], changelog)
	}
	for _, name := range []string{"streams_aborts_total", "streams_restore_remaining_records", "streams_application_state", "streams_consumer_lag_records"} {
		if _, ok := after[name]; !ok {
			t.Errorf("family %s is missing", name)
		}
	}
	// The count reads and writes its store "counts" per record and flushes
	// it per commit; it never deletes or iterates.
	lat := storeLatencySamples(t, reg)
	sampled := map[string]bool{}
	for series, n := range lat {
		sampled[series] = n > 0
	}
	if want := map[string]bool{"counts/delete": false, "counts/flush": true, "counts/get": true, "counts/put": true,
		"counts/range": false}; !maps.Equal(sampled, want) {
		t.Errorf("streams_store_operation_latency_seconds series (store/op: samples) %v; want samples in %v", lat, want)
	}
}

// storeLatencySamples returns the sample count of each series of
// streams_store_operation_latency_seconds, by "store/op".
func storeLatencySamples(t *testing.T, reg *prometheus.Registry) map[string]uint64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, f := range fams {
		if f.GetName() != "streams_store_operation_latency_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if len(labels) != 2 {
				t.Errorf("store latency series with labels %v, want store and op", labels)
			}
			out[labels["store"]+"/"+labels["op"]] += m.GetHistogram().GetSampleCount()
		}
	}
	return out
}

func scrapeRegistry(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	return scrape(t, promHandler(reg))
}

func promHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
