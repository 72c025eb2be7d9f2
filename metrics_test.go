package streams_test

import (
	"context"
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
		"streams_restore_records_total", "streams_rebalances_total",
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
}

func scrapeRegistry(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	return scrape(t, promHandler(reg))
}

func promHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
