package query_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/seed992c72d9/streams/query"
)

// BenchmarkHandlerGet measures a local key read through the handler,
// without the network.
func BenchmarkHandlerGet(b *testing.B) {
	c := newFakeCluster(b, query.HandlerOptions{})
	h := query.NewHandler(c.a, query.HandlerOptions{})
	k := c.keyOn(0)
	req := httptest.NewRequest(http.MethodGet, "/v1/stores/counts/keys/"+k, nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
