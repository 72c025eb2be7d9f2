package streams_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seed992c72d9/streams"
)

func TestQueryConfig(t *testing.T) {
	topo, err := countTopology()
	if err != nil {
		t.Fatal(err)
	}
	_, err = streams.New(topo, streams.Config{ApplicationID: "q", Brokers: []string{"x:1"}, QueryAddr: "8080"})
	if err == nil || !strings.Contains(err.Error(), "Config.QueryAddr") {
		t.Fatalf("New with QueryAddr 8080: %v", err)
	}

	// The handler of an instance that does not run: stores are known,
	// reads are unavailable, metrics are served from the registry.
	reg := prometheus.NewRegistry()
	app, err := streams.New(topo, streams.Config{ApplicationID: "q", Brokers: []string{"x:1"}, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	h := app.QueryHandler()
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/v1/stores", 200, `{"stores":[{"name":"counts","kind":"keyvalue","subTopology":0,"partitions":0,"changelog":"q-counts-changelog"}]}`},
		{"/v1/stores/counts/keys/a", 503, `"code":"unavailable"`},
		{"/v1/stores/counts/range", 503, `"code":"unavailable"`},
		{"/readyz", 503, `"state":"CREATED"`},
		{"/healthz", 200, `"status":"ok"`},
		{"/v1/topology", 200, "Sub-topology: 0"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: %d %s; want %d with %s", tc.path, w.Code, w.Body, tc.status, tc.want)
		}
	}
	w := httptest.NewRecorder()
	app.MetricsHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), "streams_") {
		t.Errorf("metrics: %d %.200s", w.Code, w.Body)
	}
	noReg, _ := streams.New(topo, streams.Config{ApplicationID: "q", Brokers: []string{"x:1"}})
	if noReg.MetricsHandler() != nil {
		t.Error("MetricsHandler without a Registerer")
	}
}
