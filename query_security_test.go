package streams_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/internal/testcerts"
	"github.com/seed992c72d9/streams/query"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
)

const (
	securedToken = "reader-token-7f3a9c2e51d04b68"
	peerTok      = "peer-token-0c4d8e1f2a3b5c6d"
)

// secureGet sends an HTTPS GET with an optional bearer token.
func secureGet(t testing.TB, hc *http.Client, addr, path, token string, hdr ...string) httpAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := httpAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: string(b)}
	_ = json.Unmarshal(b, &a.body)
	return a
}

// TestQuerySecurityCluster runs three instances whose query servers use
// TLS and bearer tokens (from an environment variable), and reads every key
// through each of them: forwarded reads verify the peer and carry the
// instances' token.
func TestQuerySecurityCluster(t *testing.T) {
	c := kafkatest.Cluster(t, 8, "input", "output")
	brokers := strings.Join(c.ListenAddrs(), ",")
	const app = "query-secure"
	ca := testcerts.NewCA(t, "query-ca")
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	ps := make([]*kafkatest.Process, len(addrs))
	for i, addr := range addrs {
		leaf := ca.Issue(t, "127.0.0.1")
		ps[i] = startInstance(t, app, brokers, t.TempDir(), "eos", "STREAMS_TEST_QUERY_ADDR="+addr,
			"STREAMS_TEST_QUERY_CERT="+leaf.CertFile, "STREAMS_TEST_QUERY_KEY="+leaf.KeyFile, "STREAMS_TEST_QUERY_CA="+ca.File(t),
			"STREAMS_TEST_QUERY_TOKENS_ENV=STREAMS_TEST_QUERY_TOKENS", "STREAMS_TEST_QUERY_TOKENS="+peerTok+","+securedToken,
			"STREAMS_TEST_QUERY_PROTECT_METRICS=1")
	}
	waitStable(t, ps, time.Second, 60*time.Second)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	d := newQueryDataSet(150)
	d.produce(t, c)
	deadline := time.Now().Add(60 * time.Second)
	for _, k := range d.keys() {
		for {
			a := secureGet(t, hc, addrs[0], "/v1/stores/counts/keys/"+url.PathEscape(k), securedToken)
			if a.status == http.StatusOK && string(a.body["value"]) == d.wantValue(k) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("key %s: %d %s", k, a.status, a.raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitStable(t, ps, 500*time.Millisecond, 30*time.Second)
	k := d.keys()[0]

	t.Run("tokens", func(t *testing.T) {
		for _, addr := range addrs {
			if a := secureGet(t, hc, addr, "/v1/stores/counts/keys/"+k, ""); a.status != 401 || a.str("code") != "unauthorized" {
				t.Fatalf("no token: %d %s", a.status, a.raw)
			}
			if a := secureGet(t, hc, addr, "/v1/stores/counts/keys/"+k, "wrong-token-0123456789abcdef"); a.status != 401 || a.str("code") != "unauthorized" {
				t.Fatalf("wrong token: %d %s", a.status, a.raw)
			}
			if a := secureGet(t, hc, addr, "/v1/stores/counts/keys/"+k, securedToken); a.status != 200 || string(a.body["value"]) != d.wantValue(k) {
				t.Fatalf("right token: %d %s", a.status, a.raw)
			}
			if a := secureGet(t, hc, addr, "/v1/metadata", ""); a.status != 401 {
				t.Fatalf("metadata without a token: %d %s", a.status, a.raw)
			}
		}
	})

	t.Run("every key through every instance", func(t *testing.T) {
		forwarded := 0
		for _, k := range d.keys() {
			var served []string
			for _, addr := range addrs {
				a := secureGet(t, hc, addr, "/v1/stores/counts/keys/"+url.PathEscape(k), securedToken)
				if a.status != 200 || string(a.body["value"]) != d.wantValue(k) {
					t.Fatalf("key %s through %s: %d %s; want %s", k, addr, a.status, a.raw, d.wantValue(k))
				}
				served = append(served, a.str("servedBy"))
				if a.str("servedBy") != addr {
					forwarded++
				}
			}
			if served[0] != served[1] || served[1] != served[2] {
				t.Fatalf("key %s served by %v", k, served)
			}
		}
		if want := len(d.count) * 2; forwarded != want {
			t.Fatalf("%d reads forwarded, want %d", forwarded, want)
		}
		// A range over every partition, read through one instance.
		n, token := 0, ""
		for {
			path := "/v1/stores/counts/range?limit=40"
			if token != "" {
				path += "&token=" + url.QueryEscape(token)
			}
			a := secureGet(t, hc, addrs[1], path, securedToken)
			var entries []json.RawMessage
			if a.status != 200 || json.Unmarshal(a.body["entries"], &entries) != nil {
				t.Fatalf("range: %d %s", a.status, a.raw)
			}
			n += len(entries)
			if token = a.str("next"); token == "" {
				break
			}
		}
		if n != len(d.count) {
			t.Fatalf("range: %d entries, want %d", n, len(d.count))
		}
	})

	t.Run("Go client", func(t *testing.T) {
		cl, err := query.NewClient(addrs[2:], query.ClientOptions{Token: securedToken, TLSConfig: &tls.Config{RootCAs: ca.Pool()}})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range d.keys() {
			v, _, err := query.Get[string, state.ValueAndTimestamp[int64]](t.Context(), cl, "counts", k, serde.String())
			if err != nil || v.Value != d.count[k] || v.Timestamp != d.ts[k] {
				t.Fatalf("Get(%s) = %+v, %v", k, v, err)
			}
		}
		n := 0
		for _, err := range query.Range[string, state.ValueAndTimestamp[int64]](t.Context(), cl, "counts", nil, nil) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != len(d.count) {
			t.Fatalf("Range: %d, want %d", n, len(d.count))
		}
	})

	t.Run("health open, metrics protected, plain HTTP refused", func(t *testing.T) {
		for _, addr := range addrs {
			if a := secureGet(t, hc, addr, "/healthz", ""); a.status != 200 {
				t.Fatalf("healthz: %d %s", a.status, a.raw)
			}
			if a := secureGet(t, hc, addr, "/readyz", ""); a.status != 200 {
				t.Fatalf("readyz: %d %s", a.status, a.raw)
			}
			if a := secureGet(t, hc, addr, "/metrics", ""); a.status != 401 {
				t.Fatalf("metrics without a token: %d %.200s", a.status, a.raw)
			}
			if a := secureGet(t, hc, addr, "/metrics", securedToken); a.status != 200 || !strings.Contains(a.raw, "streams_records_processed_total") {
				t.Fatalf("metrics: %d %.200s", a.status, a.raw)
			}
			a, err := tryGet(addr, "/v1/metadata")
			if err == nil && a.status != http.StatusBadRequest {
				t.Fatalf("plain HTTP: %d %s", a.status, a.raw)
			}
		}
	})

	t.Run("hosts outside the assignment are never called", func(t *testing.T) {
		// An impostor with a certificate of the same authority: TLS alone
		// would not stop a request to it.
		var calls atomic.Int64
		evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusTeapot)
		}))
		evil.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "127.0.0.1").TLS}}
		evil.StartTLS()
		defer evil.Close()
		evilEP := evil.Listener.Addr().String()
		for _, k := range d.keys()[:20] {
			for _, tc := range [][]string{
				{"Host", evilEP},
				{"X-Forwarded-Host", evilEP, "Forwarded", "host=" + evilEP},
				{query.HopHeader, evilEP},
			} {
				a := secureGet(t, hc, addrs[0], "/v1/stores/counts/keys/"+k, securedToken, tc...)
				if a.status != 200 && !(tc[0] == query.HopHeader && a.status == 503) {
					t.Fatalf("key %s with %v: %d %s", k, tc, a.status, a.raw)
				}
			}
		}
		a := secureGet(t, hc, addrs[0], "/v1/stores/counts/keys/"+url.PathEscape("https://"+evilEP+"/x"), securedToken)
		if a.status != 404 {
			t.Fatalf("absolute URL as key: %d %s", a.status, a.raw)
		}
		a = secureGet(t, hc, addrs[0], "/v1/stores/counts/keys/"+k+"?endpoint="+evilEP, securedToken)
		if a.status != 400 {
			t.Fatalf("endpoint parameter: %d %s", a.status, a.raw)
		}
		if n := calls.Load(); n != 0 {
			t.Fatalf("the host outside the assignment got %d requests", n)
		}
	})

	t.Run("limits", func(t *testing.T) {
		a := secureGet(t, hc, addrs[0], "/v1/stores/counts/keys/"+strings.Repeat("k", 17<<10), securedToken)
		if a.status != 400 || !strings.Contains(a.str("error"), "MaxKeyBytes = 16384") {
			t.Fatalf("long key: %d %.300s", a.status, a.raw)
		}
		a = secureGet(t, hc, addrs[0], "/v1/stores/counts/range?limit=5000", securedToken)
		if a.status != 400 || !strings.Contains(a.str("error"), "MaxPageSize = 1000") {
			t.Fatalf("large page: %d %s", a.status, a.raw)
		}
		a = secureGet(t, hc, addrs[0], "/v1/metadata", securedToken, "X-Padding", strings.Repeat("p", 70<<10))
		if a.status != 400 || !strings.Contains(a.str("error"), "MaxRequestBytes = 65536") {
			t.Fatalf("large request: %d %.300s", a.status, a.raw)
		}
	})

	t.Run("100 stalled connections", func(t *testing.T) {
		for i := range 100 {
			conn, err := net.Dial("tcp", addrs[0])
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if i%2 == 0 {
				// Half a TLS handshake.
				_, _ = conn.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01})
			}
		}
		// Half an HTTP request over TLS, too.
		for range 10 {
			conn, err := tls.Dial("tcp", addrs[0], &tls.Config{RootCAs: ca.Pool()})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET /v1/metadata HTTP/1.1\r\nHost: x\r\n")
		}
		start := time.Now()
		a := secureGet(t, hc, addrs[0], "/v1/stores/counts/keys/"+k, securedToken)
		if a.status != 200 || time.Since(start) > time.Second {
			t.Fatalf("a read next to 110 stalled connections: %d after %v", a.status, time.Since(start))
		}
	})

	for _, p := range ps {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Error(err)
		}
	}
}
