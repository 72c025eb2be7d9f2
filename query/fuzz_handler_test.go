package query_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/seed992c72d9/streams/query"
)

// FuzzHandler sends requests with arbitrary paths and query strings to an
// instance of a fake cluster (reads of keys it holds, and of keys it
// forwards to the other instance): every answer is a client error, a
// found or missing key, or a 503, with a JSON body; never a 5xx of the
// handler's own or a panic.
func FuzzHandler(f *testing.F) {
	for _, s := range [][2]string{
		{"/v1/stores/counts/keys/k001", ""},
		{"/v1/stores/counts/keys/k002", "minPosition=input/0:1&allowStandby=true"},
		{"/v1/stores/counts/range", "from=k0&to=k1&limit=7"},
		{"/v1/stores/counts/range", "token=eyJ2IjoxLCJzIjoiY291bnRzIiwicCI6MywiYSI6ImF3PT0ifQ&limit=3"},
		{"/v1/stores/counts/range", "partition=2&limit=1000"},
		{"/v1/stores/byid/keys/42", ""},
		{"/v1/stores/byid/range", "from=-5&to=9223372036854775807"},
		{"/v1/stores/windows/windows/k003", "from=0&to=2024-01-01T00:00:00Z&limit=2"},
		{"/v1/stores/sessions/sessions/k004", "from=100&to=50"},
		{"/v1/metadata/stores/byid/keys/7", ""},
		{"/v1/stores/%2e%2e/keys/x", ""},
		{"/v1/stores/counts/keys/a%2Fb", "x=1"},
		{"/v1/metadata", "a"},
		{"/healthz", ""},
	} {
		f.Add(s[0], s[1])
	}
	c := newFakeCluster(f, query.HandlerOptions{})
	h := query.NewHandler(c.a, query.HandlerOptions{MaxPageSize: 100, MaxResults: 10})
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		u, err := url.Parse(path)
		if err != nil || u.Path == "" || u.Path[0] != '/' || u.Host != "" || u.Scheme != "" || u.RawQuery != "" {
			return
		}
		if _, err := url.ParseQuery(rawQuery); err != nil {
			rawQuery = url.QueryEscape(rawQuery)
		}
		target := u.EscapedPath()
		if rawQuery != "" {
			target += "?" + rawQuery
		}
		// Not httptest.NewRequest: it panics on a target with a space,
		// which a client cannot send anyway.
		req, err := http.NewRequest(http.MethodGet, "http://a"+target, nil)
		if err != nil {
			return
		}
		req.RequestURI = target
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200, 400, 404, 405, 503:
		default:
			t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
		}
		if w.Header().Get("Content-Type") == "application/json" && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("GET %s: invalid JSON %q", target, w.Body)
		}
	})
}
