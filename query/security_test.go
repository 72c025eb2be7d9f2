package query_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/internal/testcerts"
	"github.com/seed992c72d9/streams/query"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
)

const (
	clientToken = "client-token-0123456789"
	peerToken   = "peer-token-9876543210"
)

// secured is a fake cluster whose two instances are served with the given
// handler options (and TLS configuration), and record the requests
// forwarded to them.
type secured struct {
	*fakeCluster
	sa, sb *httptest.Server
	urlA   string
	// hopAuth are the Authorization headers of forwarded requests.
	mu      sync.Mutex
	hopAuth []string
}

func newSecured(t *testing.T, opts query.HandlerOptions, tlsA, tlsB *tls.Config) *secured {
	t.Helper()
	s := &secured{fakeCluster: newFakeCluster(t, query.HandlerOptions{})}
	mk := func(f *fakeInst, cfg *tls.Config) *httptest.Server {
		h := query.NewHandler(f, opts)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(query.HopHeader) != "" {
				s.mu.Lock()
				s.hopAuth = append(s.hopAuth, r.Header.Get("Authorization"))
				s.mu.Unlock()
			}
			h.ServeHTTP(w, r)
		}))
		if cfg != nil {
			srv.TLS = cfg
			srv.StartTLS()
		} else {
			srv.Start()
		}
		t.Cleanup(srv.Close)
		f.mu.Lock()
		f.endpoint = srv.Listener.Addr().String()
		f.mu.Unlock()
		return srv
	}
	s.sa, s.sb = mk(s.a, tlsA), mk(s.b, tlsB)
	s.urlA = s.sa.URL
	s.hostsMu.Lock()
	s.hosts[0].Endpoint, s.hosts[1].Endpoint = s.a.Endpoint(), s.b.Endpoint()
	s.hostsMu.Unlock()
	return s
}

func (s *secured) hops() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.hopAuth...)
}

// TestAuthTokens checks bearer tokens on every route, open health checks,
// and the credentials of forwarded requests.
func TestAuthTokens(t *testing.T) {
	c := newSecured(t, query.HandlerOptions{Auth: &query.Auth{Tokens: []string{clientToken, peerToken}}, ForwardToken: peerToken}, nil, nil)
	k0, k2 := c.keyOn(0), c.keyOn(2) // k0 is on A, k2 on B
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	for _, path := range []string{"/v1/stores", "/v1/stores/counts", "/v1/stores/counts/keys/" + k0, "/v1/stores/counts/keys/" + k2,
		"/v1/stores/counts/range", "/v1/stores/windows/windows/" + k0, "/v1/stores/sessions/sessions/" + k0, "/v1/metadata",
		"/v1/metadata/stores/counts/keys/" + k0, "/v1/topology", "/nope", "/v1/stores/counts/keys/" + k0 + "?bad=1"} {
		t.Run(path, func(t *testing.T) {
			a := get(t, c.urlA, path)
			a.expect(t, http.StatusUnauthorized, "unauthorized")
			if a.header.Get("WWW-Authenticate") != `Bearer realm="streams"` || !strings.Contains(a.raw, "authentication required") {
				t.Fatalf("401 without a challenge: %v %s", a.header, a.raw)
			}
			a = get(t, c.urlA, path, bearer("wrong-token-0123456789")...)
			a.expect(t, http.StatusUnauthorized, "unauthorized")
			if !strings.Contains(a.raw, "the bearer token is not valid") {
				t.Fatal(a.raw)
			}
			a = get(t, c.urlA, path, bearer(clientToken)...)
			if a.status == http.StatusUnauthorized {
				t.Fatalf("the right token got %s", a.raw)
			}
		})
	}
	t.Run("reads with the right token", func(t *testing.T) {
		for _, k := range []string{k0, k2} {
			a := get(t, c.urlA, "/v1/stores/counts/keys/"+k, bearer(clientToken)...)
			a.expect(t, 200, "")
			if a.body["key"] != k || a.body["value"].(map[string]any)["value"] != float64(c.counts[k]) {
				t.Fatalf("read of %s: %s", k, a.raw)
			}
		}
		// Another accepted token, and the scheme in any case.
		get(t, c.urlA, "/v1/stores/counts/keys/"+k0, "Authorization", "bearer "+peerToken).expect(t, 200, "")
	})
	t.Run("forwarded requests carry the instance's token, not the client's", func(t *testing.T) {
		before := len(c.hops())
		get(t, c.urlA, "/v1/stores/counts/keys/"+k2, bearer(clientToken)...).expect(t, 200, "")
		get(t, c.urlA, "/v1/stores/counts/range?limit=1000", bearer(clientToken)...).expect(t, 200, "")
		hops := c.hops()[before:]
		if len(hops) < 2 {
			t.Fatalf("%d forwarded requests, want at least 2", len(hops))
		}
		for _, h := range hops {
			if h != "Bearer "+peerToken {
				t.Fatalf("a forwarded request carried %q", h)
			}
		}
	})
	t.Run("malformed credentials", func(t *testing.T) {
		for _, hdr := range [][]string{
			{"Authorization", "Basic " + clientToken},
			{"Authorization", "Bearer"},
			{"Authorization", "Bearer "},
			{"Authorization", clientToken},
			{"Authorization", "Bearer " + clientToken + "x"},
			{"Authorization", "Bearer " + clientToken[:len(clientToken)-1]},
		} {
			get(t, c.urlA, "/v1/metadata", hdr...).expect(t, http.StatusUnauthorized, "unauthorized")
		}
		req, _ := http.NewRequest(http.MethodGet, c.urlA+"/v1/metadata", nil)
		req.Header.Add("Authorization", "Bearer "+clientToken)
		req.Header.Add("Authorization", "Bearer wrong")
		do(t, req).expect(t, http.StatusUnauthorized, "unauthorized")
		req, _ = http.NewRequest(http.MethodPost, c.urlA+"/v1/metadata", strings.NewReader("x"))
		do(t, req).expect(t, http.StatusUnauthorized, "unauthorized")
	})
	t.Run("health checks are open unless protected", func(t *testing.T) {
		get(t, c.urlA, "/healthz").expect(t, 200, "")
		get(t, c.urlA, "/readyz").expect(t, 200, "")
		h := httptest.NewServer(query.NewHandler(c.a, query.HandlerOptions{Auth: &query.Auth{Tokens: []string{clientToken}}, ProtectHealth: true}))
		defer h.Close()
		get(t, h.URL, "/healthz").expect(t, http.StatusUnauthorized, "unauthorized")
		get(t, h.URL, "/readyz").expect(t, http.StatusUnauthorized, "unauthorized")
		get(t, h.URL, "/healthz", bearer(clientToken)...).expect(t, 200, "")
	})
	t.Run("Protect", func(t *testing.T) {
		auth := &query.Auth{Tokens: []string{clientToken}}
		h := httptest.NewServer(auth.Protect(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metrics") })))
		defer h.Close()
		get(t, h.URL, "/metrics").expect(t, http.StatusUnauthorized, "unauthorized")
		if a := get(t, h.URL, "/metrics", bearer(clientToken)...); a.status != 200 || a.raw != "metrics" {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		var none *query.Auth
		if none.Enabled() || !none.Allow(httptest.NewRequest(http.MethodGet, "/", nil)) {
			t.Fatal("a nil Auth refuses requests")
		}
	})
	t.Run("Go client", func(t *testing.T) {
		ctx := t.Context()
		cl, err := query.NewClient([]string{c.a.Endpoint()}, query.ClientOptions{Token: clientToken})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{k0, k2} {
			v, _, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, cl, "counts", k, serde.String())
			if err != nil || v.Value != c.counts[k] {
				t.Fatalf("Get(%s) = %v, %v", k, v, err)
			}
		}
		n := 0
		for _, err := range query.Range[string, state.ValueAndTimestamp[int64]](ctx, cl, "counts", nil, nil) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != len(c.counts) {
			t.Fatalf("Range: %d entries, want %d", n, len(c.counts))
		}
		anon, _ := query.NewClient([]string{c.a.Endpoint()}, query.ClientOptions{})
		start := time.Now()
		_, _, err = query.Get[string, int64](ctx, anon, "counts", k0, nil)
		var qe *query.Error
		if !errors.As(err, &qe) || qe.Status != http.StatusUnauthorized || qe.Code != "unauthorized" || time.Since(start) > time.Second {
			t.Fatalf("Get without a token: %v after %v", err, time.Since(start))
		}
	})
}

// TestTLSAndClientCertificates serves both instances over TLS with client
// certificates as credentials: instances verify each other when they
// forward, and present their own certificate.
func TestTLSAndClientCertificates(t *testing.T) {
	ca := testcerts.NewCA(t, "query-ca")
	srvA, srvB := ca.Issue(t, "127.0.0.1"), ca.Issue(t, "127.0.0.1")
	serverTLS := func(l *testcerts.Leaf) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{l.TLS}, ClientCAs: ca.Pool(), ClientAuth: tls.VerifyClientCertIfGiven}
	}
	forward := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{srvA.TLS}}
	c := newSecured(t, query.HandlerOptions{Auth: &query.Auth{ClientCerts: true}, ForwardTLS: forward}, serverTLS(srvA), serverTLS(srvB))
	k0, k2 := c.keyOn(0), c.keyOn(2)
	client := ca.Issue(t, "reader")
	httpsClient := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs}}}
	}
	getWith := func(hc *http.Client, path string) (answer, error) {
		resp, err := hc.Get(c.urlA + path)
		if err != nil {
			return answer{}, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{status: resp.StatusCode, raw: string(b)}, nil
	}

	t.Run("client certificate", func(t *testing.T) {
		for _, k := range []string{k0, k2} {
			a, err := getWith(httpsClient(client.TLS), "/v1/stores/counts/keys/"+k)
			if err != nil || a.status != 200 || !strings.Contains(a.raw, fmt.Sprintf(`"value":{"value":%d`, c.counts[k])) {
				t.Fatalf("read of %s: %v %d %s", k, err, a.status, a.raw)
			}
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		a, err := getWith(httpsClient(), "/v1/stores/counts/keys/"+k0)
		if err != nil || a.status != http.StatusUnauthorized || !strings.Contains(a.raw, "client certificate") {
			t.Fatalf("%v %d %s", err, a.status, a.raw)
		}
		if a, err := getWith(httpsClient(), "/healthz"); err != nil || a.status != 200 {
			t.Fatalf("healthz without a certificate: %v %d", err, a.status)
		}
	})
	t.Run("certificate of another authority", func(t *testing.T) {
		other := testcerts.NewCA(t, "other").Issue(t, "intruder")
		// Go's client offers no certificate the server's authorities did
		// not sign: the request is unauthenticated.
		if a, err := getWith(httpsClient(other.TLS), "/v1/metadata"); err != nil || a.status != http.StatusUnauthorized {
			t.Fatalf("a foreign client certificate: %v %d %s", err, a.status, a.raw)
		}
		// A client that insists fails the handshake.
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &other.TLS, nil }}}}
		if a, err := getWith(hc, "/v1/metadata"); err == nil {
			t.Fatalf("a foreign client certificate got %d %s", a.status, a.raw)
		}
	})
	t.Run("plain HTTP", func(t *testing.T) {
		resp, err := http.Get(strings.Replace(c.urlA, "https://", "http://", 1) + "/v1/metadata")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("plain HTTP to the TLS server: %d", resp.StatusCode)
			}
		}
	})
	t.Run("Go client", func(t *testing.T) {
		cl, err := query.NewClient([]string{c.a.Endpoint()}, query.ClientOptions{
			TLSConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLS}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{k0, k2} {
			v, meta, err := query.Get[string, state.ValueAndTimestamp[int64]](t.Context(), cl, "counts", k, serde.String())
			if err != nil || v.Value != c.counts[k] || meta.ServedBy == "" {
				t.Fatalf("Get(%s) = %v %+v, %v", k, v, meta, err)
			}
		}
	})
	t.Run("a peer whose certificate does not verify is not trusted", func(t *testing.T) {
		other := testcerts.NewCA(t, "other").Issue(t, "127.0.0.1")
		impostor := httptest.NewUnstartedServer(query.NewHandler(c.b, query.HandlerOptions{}))
		impostor.TLS = &tls.Config{Certificates: []tls.Certificate{other.TLS}}
		impostor.StartTLS()
		defer impostor.Close()
		c.hostsMu.Lock()
		saved := c.hosts[1].Endpoint
		c.hosts[1].Endpoint = impostor.Listener.Addr().String()
		c.hostsMu.Unlock()
		defer func() { c.hostsMu.Lock(); c.hosts[1].Endpoint = saved; c.hostsMu.Unlock() }()
		a, err := getWith(httpsClient(client.TLS), "/v1/stores/counts/keys/"+k2)
		if err != nil || a.status != http.StatusServiceUnavailable || !strings.Contains(a.raw, "certificate") {
			t.Fatalf("forwarding to an impostor: %v %d %s", err, a.status, a.raw)
		}
	})
}

// TestLimits checks that the limits answer 400 naming the limit.
func TestLimits(t *testing.T) {
	c := newSecured(t, query.HandlerOptions{MaxKeyBytes: 32, MaxPageSize: 50, MaxResults: 20, MaxRequestBytes: 2048}, nil, nil)
	for _, tc := range []struct {
		name, path string
		hdr        []string
		want       string
	}{
		{"key", "/v1/stores/counts/keys/" + strings.Repeat("k", 33), nil, "key is 33 bytes long, more than the limit MaxKeyBytes = 32"},
		{"range bound", "/v1/stores/counts/range?from=" + strings.Repeat("k", 40), nil, "from is 40 bytes long, more than the limit MaxKeyBytes = 32"},
		{"page size", "/v1/stores/counts/range?limit=51", nil, "limit 51 is more than the limit MaxPageSize = 50"},
		{"window results", "/v1/stores/windows/windows/k?limit=21", nil, "limit 21 is more than the limit MaxResults = 20"},
		{"request line", "/v1/stores/counts/keys/k?minPosition=" + strings.Repeat("x", 3000), nil, "more than the limit MaxRequestBytes = 2048"},
		{"headers", "/v1/metadata", []string{"X-Padding", strings.Repeat("p", 3000)}, "more than the limit MaxRequestBytes = 2048"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, c.urlA, tc.path, tc.hdr...)
			a.expect(t, http.StatusBadRequest, "bad_request")
			if !strings.Contains(a.body["error"].(string), tc.want) {
				t.Fatalf("error %q, want %q", a.body["error"], tc.want)
			}
		})
	}
	t.Run("body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, c.urlA+"/v1/metadata", strings.NewReader("x"))
		a := do(t, req)
		a.expect(t, http.StatusBadRequest, "bad_request")
		if !strings.Contains(a.raw, "no request body") {
			t.Fatal(a.raw)
		}
	})
	get(t, c.urlA, "/v1/stores/counts/range?limit=50").expect(t, 200, "")
	get(t, c.urlA, "/v1/stores/counts/keys/"+c.keyOn(2)).expect(t, 200, "")
}

// stalledPeer listens and accepts connections but never answers.
func stalledPeer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestStalledConnections checks that 100 stalled connections, and 100
// requests held up by a stalled instance, do not keep a normal query from
// answering; and that past the concurrency limit requests get 503.
func TestStalledConnections(t *testing.T) {
	c := newSecured(t, query.HandlerOptions{MaxConcurrent: 32, MaxForwardsPerPeer: 8, ForwardTimeout: 3 * time.Second}, nil, nil)
	k0, k2 := c.keyOn(0), c.keyOn(2)
	// B's tasks now run on an instance that accepts and never answers.
	stalled := stalledPeer(t)
	c.hostsMu.Lock()
	c.hosts[1].Endpoint = stalled
	c.hostsMu.Unlock()
	normal := func() {
		t.Helper()
		start := time.Now()
		get(t, c.urlA, "/v1/stores/counts/keys/"+k0).expect(t, 200, "")
		if d := time.Since(start); d > time.Second {
			t.Fatalf("a local read took %v", d)
		}
	}

	t.Run("stalled clients", func(t *testing.T) {
		for range 100 {
			conn, err := net.Dial("tcp", c.a.Endpoint())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Half a request, then nothing.
			if _, err := io.WriteString(conn, "GET /v1/stores/counts/keys/"+k0+" HTTP/1.1\r\nHost: x\r\n"); err != nil {
				t.Fatal(err)
			}
		}
		normal()
	})

	t.Run("requests held up by a stalled instance", func(t *testing.T) {
		var wg sync.WaitGroup
		var overloaded, timedOut, other atomic.Int64
		start := time.Now()
		for range 100 {
			wg.Go(func() {
				resp, err := http.Get(c.urlA + "/v1/stores/counts/keys/" + k2)
				if err != nil {
					other.Add(1)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 503 && strings.Contains(string(b), `"code":"overloaded"`) && resp.Header.Get("Retry-After") != "":
					overloaded.Add(1)
				case resp.StatusCode == 503 && strings.Contains(string(b), `"code":"unavailable"`):
					timedOut.Add(1)
				default:
					other.Add(1)
					t.Errorf("read through the stalled instance: %d %s", resp.StatusCode, b)
				}
			})
		}
		time.Sleep(200 * time.Millisecond)
		normal()
		get(t, c.urlA, "/healthz").expect(t, 200, "")
		wg.Wait()
		t.Logf("100 reads through a stalled instance: %d overloaded, %d timed out, %d other, in %v",
			overloaded.Load(), timedOut.Load(), other.Load(), time.Since(start))
		if timedOut.Load() > 8 || overloaded.Load()+timedOut.Load() != 100 || time.Since(start) > 10*time.Second {
			t.Fatal("want at most MaxForwardsPerPeer (8) forwarded, the rest refused at once, all within the forward timeout")
		}
	})

	t.Run("concurrency limit", func(t *testing.T) {
		c2 := newSecured(t, query.HandlerOptions{MaxConcurrent: 2, MaxForwardsPerPeer: 2, ForwardTimeout: 2 * time.Second}, nil, nil)
		c2.hostsMu.Lock()
		c2.hosts[1].Endpoint = stalled
		c2.hostsMu.Unlock()
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { _, _ = http.Get(c2.urlA + "/v1/stores/counts/keys/" + k2) })
		}
		time.Sleep(200 * time.Millisecond)
		a := get(t, c2.urlA, "/v1/stores/counts/keys/"+k0)
		a.expect(t, http.StatusServiceUnavailable, "overloaded")
		if !strings.Contains(a.raw, "MaxConcurrent") {
			t.Fatal(a.raw)
		}
		get(t, c2.urlA, "/healthz").expect(t, 200, "")
		wg.Wait()
		get(t, c2.urlA, "/v1/stores/counts/keys/"+k0).expect(t, 200, "")
	})
}

// TestSlowReaderReleasesSlot checks that a client that does not read its
// answer does not hold a slot.
func TestSlowReaderReleasesSlot(t *testing.T) {
	c := newSecured(t, query.HandlerOptions{MaxConcurrent: 1, MaxPageSize: 1000}, nil, nil)
	// A client sends requests for big pages and never reads the answers.
	conn, err := net.Dial("tcp", c.a.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := bufio.NewWriter(conn)
	for range 50 {
		fmt.Fprintf(w, "GET /v1/stores/counts/range?limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.urlA+"/v1/stores/counts/keys/"+c.keyOn(0), nil)
	do(t, req).expect(t, 200, "")
}

// TestNoRedirects is the regression test of a fuzzing find: paths with "."
// or ".." segments were redirected (307) by http.ServeMux to the cleaned
// path, another resource (the key ".." read as the store's description).
func TestNoRedirects(t *testing.T) {
	c := newSecured(t, query.HandlerOptions{}, nil, nil)
	for _, path := range []string{"/.", "/v1/stores/counts/keys/..", "/v1/stores/counts/keys/.", "/v1/stores/counts/./keys/k001",
		"/v1/stores//counts", "/v1/stores/counts/keys/k001/..", "/v1/../v1/metadata"} {
		a := get(t, c.urlA, path)
		a.expect(t, http.StatusNotFound, "not_found")
		if a.header.Get("Location") != "" {
			t.Fatalf("%s redirected to %s", path, a.header.Get("Location"))
		}
	}
	// The keys "." and ".." are keys like others, percent-encoded.
	for _, k := range []string{".", "..", "x/..", "../x"} {
		a := get(t, c.urlA, "/v1/stores/counts/keys/"+query.EscapeSegment(k))
		a.expect(t, http.StatusNotFound, "key_not_found")
		if a.body["key"] != k {
			t.Fatalf("key %q read as %v", k, a.body["key"])
		}
		cl, _ := query.NewClient([]string{c.a.Endpoint()}, query.ClientOptions{})
		if _, _, err := query.Get[string, int64](t.Context(), cl, "counts", k, serde.String()); !errors.Is(err, query.ErrNotFound) {
			t.Fatalf("Get(%q): %v", k, err)
		}
	}
}
