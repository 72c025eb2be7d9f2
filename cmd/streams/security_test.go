package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/seed992c72d9/streams/internal/demo"
	"github.com/seed992c72d9/streams/internal/testcerts"
)

// TestDemoSASLAndTLS runs the demo against a broker that requires TLS and
// SCRAM, configured with flags, and reads a count; then with a wrong
// password, which must fail within seconds naming the mechanism.
func TestDemoSASLAndTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	srv := ca.Issue(t, "127.0.0.1")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "demo", "demo-secret"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{srv.TLS}}),
		kfake.SeedTopics(2, demo.LinesTopic, demo.ViewsTopic, demo.WordCountTopic, demo.ViewCountTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	flags := []string{"demo", "--brokers", brokers, "--kafka-ca", ca.File(t), "--sasl-mechanism", "SCRAM-SHA-256",
		"--sasl-user", "demo", "--sasl-password-env", "STREAMS_TEST_DEMO_PASSWORD", "--rate", "500"}

	t.Run("wrong password", func(t *testing.T) {
		t.Setenv("STREAMS_TEST_DEMO_PASSWORD", "wrong")
		var out, errOut syncBuffer
		start := time.Now()
		code := run(context.Background(), append(flags, "--http", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--data-dir", t.TempDir()), &out, &errOut)
		if code != 1 || time.Since(start) > 10*time.Second || !strings.Contains(errOut.String(), `SASL SCRAM-SHA-256 authentication as "demo" failed`) {
			t.Fatalf("code %d after %v; stderr %s", code, time.Since(start), errOut.String())
		}
	})

	t.Run("right password", func(t *testing.T) {
		t.Setenv("STREAMS_TEST_DEMO_PASSWORD", "demo-secret")
		httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut syncBuffer
		done := make(chan int, 1)
		go func() { done <- run(ctx, append(flags, "--http", httpAddr, "--data-dir", t.TempDir()), &out, &errOut) }()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if time.Now().After(deadline) {
				t.Fatalf("no count within 30 s; output:\n%s\n%s", out.String(), errOut.String())
			}
			time.Sleep(200 * time.Millisecond)
			var qout, qerr bytes.Buffer
			if run(ctx, []string{"query", "--server", httpAddr, "get", demo.WordCountStore, "fox"}, &qout, &qerr) == 0 &&
				strings.Contains(qout.String(), `"value"`) {
				break
			}
		}
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("demo exited %d: %s", code, errOut.String())
		}
	})

	t.Run("flags need brokers", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"demo", "--kafka-tls"}, &out, &errOut); code != 1 ||
			!strings.Contains(errOut.String(), "need --brokers") {
			t.Fatalf("code %d: %s", code, errOut.String())
		}
	})
}

// TestQueryTLSAndToken queries a server over HTTPS with a token from the
// environment.
func TestQueryTLSAndToken(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer the-token-0123456789" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"authentication required","code":"unauthorized"}`)
			return
		}
		_, _ = io.WriteString(w, `{"applicationId":"x"}`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "127.0.0.1").TLS}}
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct {
		name  string
		args  []string
		token string
		code  int
		want  string
	}{
		{"https server", []string{"--server", "https://" + addr, "--ca", ca.File(t)}, "the-token-0123456789", 0, `"applicationId": "x"`},
		{"tls flag", []string{"--server", addr, "--tls", "--ca", ca.File(t)}, "the-token-0123456789", 0, `"applicationId": "x"`},
		{"no token", []string{"--server", "https://" + addr, "--ca", ca.File(t)}, "", 1, "401 Unauthorized"},
		{"unknown authority", []string{"--server", "https://" + addr}, "the-token-0123456789", 1, "certificate"},
		{"contradiction", []string{"--server", "http://" + addr, "--ca", ca.File(t)}, "", 1, "contradicts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STREAMS_QUERY_TOKEN", tc.token)
			var out, errOut bytes.Buffer
			code := run(context.Background(), append(append([]string{"query"}, tc.args...), "metadata"), &out, &errOut)
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Fatalf("code %d, output %s %s; want %d with %q", code, out.String(), errOut.String(), tc.code, tc.want)
			}
		})
	}
}
