// Package extest holds helpers for the examples' tests: running an example
// program as `go run` would and waiting for what it prints, and running a
// topology as an application against an in-process kfake broker.
package extest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/topology"
)

// Buffer is a bytes.Buffer safe for one writer and concurrent readers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// RunFunc is an example's run function.
type RunFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

// Program is an example program running in the test.
type Program struct {
	t      testing.TB
	Out    Buffer
	Err    Buffer
	cancel context.CancelFunc
	done   chan error
}

// Start runs an example's run function with args in a goroutine, as
// `go run ./examples/<name> args...` would (Ctrl-C is Stop).
func Start(t testing.TB, run RunFunc, stdin io.Reader, args ...string) *Program {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Program{t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- run(ctx, args, stdin, &p.Out, &p.Err) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
		}
	})
	return p
}

// WaitFor waits until the program's output matches re and returns the
// first match's submatches. It fails the test if the program ends first or
// nothing matches within timeout (a bound for a hung program, not a timing
// assertion).
func (p *Program) WaitFor(re string, timeout time.Duration) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		if m := rx.FindStringSubmatch(p.Out.String()); m != nil {
			return m
		}
		select {
		case err := <-p.done:
			p.done <- err
			p.t.Fatalf("the program ended (%v) before printing %q; output:\n%s\nstderr:\n%s", err, re, p.Out.String(), p.Err.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no output matching %q within %v; output:\n%s\nstderr:\n%s", re, timeout, p.Out.String(), p.Err.String())
		}
	}
}

// Stop cancels the program's context, as Ctrl-C does, and returns what its
// run function returned.
func (p *Program) Stop() error {
	p.cancel()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatal("the program did not stop within 30 s of its context ending")
		return nil
	}
}

// Get fetches url and returns the status code and body.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// RunApp runs topo as an application on brokers until the test ends, with
// its state in a temporary directory. cfg's ApplicationID, Brokers and
// StateDir are filled in when empty.
func RunApp(t testing.TB, topo *topology.Topology, brokers []string, cfg streams.Config) *streams.App {
	t.Helper()
	if cfg.ApplicationID == "" {
		cfg.ApplicationID = strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	}
	cfg.Brokers = brokers
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	app, err := streams.New(topo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return app
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
