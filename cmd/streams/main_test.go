package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestDemo runs `streams demo` on free ports and checks that a query it
// prints answers with a non-empty JSON value within 30 s, as the README
// promises, and that Ctrl-C (context cancellation) stops it cleanly.
func TestDemo(t *testing.T) {
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	start := time.Now()
	go func() {
		done <- run(ctx, []string{"demo", "--port", fmt.Sprint(freePort(t)), "--http", httpAddr,
			"--data-dir", t.TempDir(), "--rate", "500"}, &out, &errOut)
	}()
	url := "http://" + httpAddr + "/v1/stores/word-counts/keys/fox"
	var body map[string]any
	for {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("no answer from %s within 30 s; output:\n%s\n%s", url, out.String(), errOut.String())
		}
		time.Sleep(200 * time.Millisecond)
		resp, err := http.Get(url)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &body) == nil {
			break
		}
	}
	v, ok := body["value"].(map[string]any)
	if !ok || v["value"].(float64) < 1 {
		t.Errorf("fox's count: %v, want a positive count", body)
	}
	if !strings.Contains(out.String(), "curl "+strings.TrimSuffix(url, "/fox")) {
		t.Errorf("the demo did not print the query it answers; output:\n%s", out.String())
	}
	checkDemoWindows(t, out.String(), httpAddr)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("demo exited with %d; stderr:\n%s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30 s of Ctrl-C")
	}
	if !strings.Contains(out.String(), "stopping...") {
		t.Errorf("no clean stop in the output:\n%s", out.String())
	}
}

// checkDemoWindows runs the window query the demo printed (in output) and
// checks that it answers, within 30 s, the windows of the page /docs: one
// minute each, aligned to the minute, starting in the printed time range,
// each with a positive count stamped with a time in the window.
func checkDemoWindows(t *testing.T, output, httpAddr string) {
	t.Helper()
	m := regexp.MustCompile(`curl '(http://` + regexp.QuoteMeta(httpAddr) +
		`/v1/stores/page-views-per-minute/windows/%2Fdocs\?from=([^&]+)&to=([^']+))'`).FindStringSubmatch(output)
	if m == nil {
		t.Fatalf("the demo did not print a window query of /docs; output:\n%s", output)
	}
	url := m[1]
	from, err := time.Parse(time.RFC3339, m[2])
	if err != nil {
		t.Fatal(err)
	}
	to, err := time.Parse(time.RFC3339, m[3])
	if err != nil {
		t.Fatal(err)
	}
	if got := to.Sub(from); got != 20*time.Minute || time.Since(from) < 0 || time.Until(to) < 0 {
		t.Errorf("printed range [%v, %v] does not cover now (%v)", from, to, time.Now())
	}
	type window struct {
		Start, End int64
		Value      json.RawMessage
	}
	var body struct {
		Store, Key string
		Windows    []window
		Truncated  bool
	}
	start := time.Now()
	for {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("no window of /docs from %s within 30 s; last answer %+v", url, body)
		}
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &body) == nil && len(body.Windows) > 0 {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if body.Store != "page-views-per-minute" || body.Key != "/docs" || body.Truncated {
		t.Errorf("answer %+v, want store page-views-per-minute, key /docs, not truncated", body)
	}
	for _, w := range body.Windows {
		var v struct{ Value, Timestamp int64 }
		if err := json.Unmarshal(w.Value, &v); err != nil || v.Value < 1 || v.Timestamp < w.Start || v.Timestamp >= w.End {
			t.Errorf("window [%d, %d): value %s, want a positive count stamped within the window", w.Start, w.End, w.Value)
		}
		if w.End-w.Start != time.Minute.Milliseconds() || w.Start%time.Minute.Milliseconds() != 0 ||
			w.Start < from.UnixMilli() || w.Start > to.UnixMilli() {
			t.Errorf("window [%d, %d), want a minute starting in [%d, %d]", w.Start, w.End, from.UnixMilli(), to.UnixMilli())
		}
	}
}

func TestDescribe(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"describe"}, &out, &errOut); code != 0 {
		t.Fatalf("describe exited %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"Topologies:\n   Sub-topology: 0\n    Source: KSTREAM-SOURCE-0000000000 (topics: [text-lines])",
		"Sink: word-counts-repartition-sink (topic: word-counts-repartition)",
		"Processor: KSTREAM-AGGREGATE-0000000003 (stores: [word-counts])",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUsageAndErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), nil, &out, &errOut); code != 0 || !strings.Contains(out.String(), "usage: streams <command>") {
		t.Errorf("no arguments: code %d, output %q", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), `streams: unknown command "frobnicate"`) {
		t.Errorf("unknown command: code %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"query", "--server", "127.0.0.1:1", "get", "s"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "streams query: get takes 2 argument(s), got 1") {
		t.Errorf("bad query: code %d, stderr %q", code, errOut.String())
	}
}
