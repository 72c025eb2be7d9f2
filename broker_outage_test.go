package streams_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// outageBroker is a one-broker kfake cluster that keeps its data in a
// directory and listens on a fixed port, so that it can be stopped and
// started again with the same data at the same address.
type outageBroker struct {
	t       *testing.T
	dir     string
	port    int
	c       *kfake.Cluster
	brokers []string
}

func newOutageBroker(t *testing.T, partitions int32, topics ...string) *outageBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b := &outageBroker{t: t, dir: t.TempDir(), port: port, brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}}
	b.start(kfake.SeedTopics(partitions, topics...))
	t.Cleanup(func() {
		if b.c != nil {
			b.c.Close()
		}
	})
	return b
}

func (b *outageBroker) start(extra ...kfake.Opt) {
	b.t.Helper()
	opts := append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(b.port), kfake.DataDir(b.dir),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, extra...)
	// The port was free when it was picked; another socket may hold it
	// for a moment while the broker is down.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := kfake.NewCluster(opts...)
		if err == nil {
			b.c = c
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("starting the broker on port %d: %v", b.port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *outageBroker) stop() {
	b.c.Close()
	b.c = nil
}

// logBuffer collects an application's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimRight(l.buf.String(), "\n"), "\n")
}

// readQuiet reads topic from the start with read_committed isolation until
// it has at least min records and then no new record arrives for a second
// (so that a duplicate has time to show), calling check at every poll.
func readQuiet(t *testing.T, brokers []string, topic string, min int, timeout time.Duration, check func()) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for len(out) < min || time.Since(last) < time.Second {
		check()
		if time.Now().After(deadline) {
			t.Fatalf("reading %s: %d records after %v, want %d", topic, len(out), timeout, min)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		f := cl.PollFetches(ctx)
		cancel()
		n := len(out)
		f.EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) != n {
			last = time.Now()
		}
	}
	return out
}

// TestBrokerOutage stops the only broker while an exactly-once word count
// runs, keeps it down for longer than the commit interval and the request
// timeouts, and starts it again with the same data at the same address: the
// application retries (and logs the outage) instead of failing, and a
// read_committed reader sees every word's counts exactly once, in order.
//
// In "idle", the broker stops once the first half of the input is processed
// and its output committed. In "mid-transaction", it stops while the thread
// is in the middle of the first half (held at a line by a gate, with records
// of its open transaction sent), and the thread goes on processing while the
// broker is down, so it has to end that transaction against a broker that is
// not there.
func TestBrokerOutage(t *testing.T) {
	t.Run("idle", func(t *testing.T) { runBrokerOutage(t, 100, false) })
	t.Run("mid-transaction", func(t *testing.T) { runBrokerOutage(t, 1000, true) })
}

// gatedWordCountTopology is wordCountTopology, except that processing the
// line whose key is gateKey (the first time) signals reached and waits for
// release.
func gatedWordCountTopology(t testing.TB, gateKey string, reached, release chan struct{}) *topology.Topology {
	var once sync.Once
	b := topology.NewBuilder()
	lines := kstream.From(b, "lines", serde.String(), serde.String())
	words := kstream.FlatMapValuesWithKey(lines, func(k, v string) []string {
		if k == gateKey {
			once.Do(func() {
				close(reached)
				<-release
			})
		}
		return strings.Fields(v)
	})
	counts := kstream.Count(kstream.GroupBy(words, func(_, w string) string { return w }), "counts")
	kstream.FromTable(counts).To("counts-out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func runBrokerOutage(t *testing.T, lines int, midway bool) {
	b := newOutageBroker(t, 2, "lines", "counts-out")
	logs := &logBuffer{}
	defer func() {
		if t.Failed() {
			t.Logf("application log:\n%s", strings.Join(logs.lines(), "\n"))
		}
	}()

	// The input: 2*lines lines of three words each, over 10 words, in two
	// halves.
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"}
	half := func(from, to int) ([]*kgo.Record, int) {
		var recs []*kgo.Record
		n := 0
		for i := from; i < to; i++ {
			line := fmt.Sprintf("%s %s %s", words[i%len(words)], words[(i*3+1)%len(words)], words[(i*7+2)%len(words)])
			recs = append(recs, &kgo.Record{Topic: "lines", Key: []byte(fmt.Sprint(i)), Value: []byte(line)})
			n += len(strings.Fields(line))
		}
		return recs, n
	}
	first, n1 := half(0, lines)
	second, n2 := half(lines, 2*lines)
	total := n1 + n2
	want := map[string]int64{}
	for _, r := range append(append([]*kgo.Record(nil), first...), second...) {
		for _, w := range strings.Fields(string(r.Value)) {
			want[w]++
		}
	}

	// The test's own steps go to the application's log, between its lines.
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	step := func(msg string, args ...any) { logger.Info("TEST: "+msg, args...) }
	topo := wordCountTopology(t)
	reached, release := make(chan struct{}), make(chan struct{})
	if midway {
		topo = gatedWordCountTopology(t, fmt.Sprint(lines/2), reached, release)
	}
	released := false
	app, err := streams.New(topo, streams.Config{
		ApplicationID: "outage", Brokers: b.brokers, StateDir: t.TempDir(), CacheMaxBytes: -1, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = app.Run(ctx)
	}()
	// However the test ends, the application stops before the broker and
	// the state directory go away.
	defer func() {
		if !released {
			close(release)
		}
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30 s of the cancellation")
		}
	}()
	alive := func(when string) {
		t.Helper()
		select {
		case <-done:
			t.Fatalf("%s: Run returned: %v", when, runErr)
		default:
		}
		if s := app.State(); s == streams.Error || s == streams.NotRunning {
			t.Fatalf("%s: application state %s", when, s)
		}
	}

	if midway {
		// A quarter first, processed and committed before the gate.
		q := lines / 4
		kafkatest.Produce(t, b.brokers, first[:q]...)
		kafkatest.ReadUntil(t, b.brokers, "counts-out", 30*time.Second, func(rs []*kgo.Record) bool {
			alive("processing the first quarter")
			return len(rs) >= 3*q
		})
		step("first quarter processed")
		kafkatest.Produce(t, b.brokers, first[q:]...)
	} else {
		kafkatest.Produce(t, b.brokers, first...)
	}
	step("first half produced", "lines", len(first), "words", n1)
	if midway {
		select {
		case <-reached:
		case <-done:
			t.Fatalf("Run returned before the gate: %v", runErr)
		case <-time.After(30 * time.Second):
			t.Fatal("the thread did not reach the gate within 30 s")
		}
		// Give the records of the open transaction time to reach the
		// broker.
		time.Sleep(200 * time.Millisecond)
		step("stopping the broker while the thread is held in the middle of the first half",
			"partitions", kafkatest.Diagnose(b.brokers, "outage", "lines", "counts-out", "outage-counts-repartition", "outage-counts-changelog"))
	} else {
		kafkatest.ReadUntil(t, b.brokers, "counts-out", 30*time.Second, func(rs []*kgo.Record) bool {
			alive("processing the first half")
			return len(rs) >= n1
		})
		step("stopping the broker after the first half's output")
	}

	// The outage: longer than the commit interval (100 ms), franz-go's
	// backoffs (up to 5 s here) and the group's heartbeat interval.
	logsBefore := len(logs.lines())
	b.stop()
	if midway {
		// The thread processes the rest of the first half with the
		// broker down.
		released = true
		close(release)
	}
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end); {
		alive("while the broker is down")
		time.Sleep(100 * time.Millisecond)
	}
	var logged []string
	for _, l := range logs.lines()[logsBefore:] {
		if (strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR")) &&
			(strings.Contains(l, "broker") || strings.Contains(l, "connection") || strings.Contains(l, "dial")) {
			logged = append(logged, l)
		}
	}
	if len(logged) == 0 {
		t.Errorf("the outage was not logged: no warning or error mentions the broker or the connection")
	}

	step("starting the broker again")
	b.start()
	kafkatest.Produce(t, b.brokers, second...)
	step("second half produced", "lines", len(second), "words", n2)
	out := readQuiet(t, b.brokers, "counts-out", total, 40*time.Second, func() { alive("processing the second half") })
	step("every output seen", "outputs", len(out))
	// The store's changelog ends at every word's total.
	changelog := readQuiet(t, b.brokers, "outage-counts-changelog", len(want), 20*time.Second, func() { alive("reading the changelog") })
	alive("after the second half")
	cancel()
	<-done
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}

	final := map[string]int64{}
	for _, r := range changelog {
		final[string(r.Key)] = int64(binary.BigEndian.Uint64(r.Value))
	}
	for w, n := range want {
		if final[w] != n {
			t.Errorf("word %q: the changelog ends at %d, want %d", w, final[w], n)
		}
	}
	// Without the cache, every word's counts arrive one by one, in order.
	seen := map[string][]int64{}
	for _, r := range out {
		seen[string(r.Key)] = append(seen[string(r.Key)], int64(binary.BigEndian.Uint64(r.Value)))
	}
	for w, n := range want {
		var exp []int64
		for i := int64(1); i <= n; i++ {
			exp = append(exp, i)
		}
		if fmt.Sprint(seen[w]) != fmt.Sprint(exp) {
			t.Errorf("word %q: %d counts %v, want 1..%d", w, len(seen[w]), seen[w], n)
		}
	}
	if len(out) != total {
		t.Errorf("%d output records, want %d", len(out), total)
	}
	if !t.Failed() {
		t.Logf("%d outputs exact after a %d-line input and an 8 s outage; the outage was logged %d times, first: %s",
			len(out), 2*lines, len(logged), logged[0])
	}
}
