package streams_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

func wordCountTopology(t testing.TB) *topology.Topology {
	b := topology.NewBuilder()
	lines := kstream.From(b, "lines", serde.String(), serde.String())
	words := kstream.FlatMapValues(lines, func(v string) []string { return strings.Fields(v) })
	counts := kstream.Count(kstream.GroupBy(words, func(_, w string) string { return w }), "counts")
	kstream.FromTable(counts).To("counts-out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestWordCountEndToEnd(t *testing.T) {
	c := kafkatest.Cluster(t, 2, "lines", "counts-out")
	brokers := c.ListenAddrs()
	text := []string{"the quick brown fox", "jumps over the lazy dog", "the dog sleeps", "a fox a dog"}
	var recs []*kgo.Record
	want := map[string]int64{}
	for i, line := range text {
		recs = append(recs, &kgo.Record{Topic: "lines", Key: []byte(fmt.Sprint(i)), Value: []byte(line)})
		for _, w := range strings.Fields(line) {
			want[w]++
		}
	}
	kafkatest.Produce(t, brokers, recs...)

	app, err := streams.New(wordCountTopology(t), streams.Config{
		ApplicationID: "wc", Brokers: brokers, StateDir: t.TempDir(), CacheMaxBytes: -1, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx) }()

	var total int64
	for _, n := range want {
		total += n
	}
	out := kafkatest.ReadUntil(t, brokers, "counts-out", 20*time.Second, func(rs []*kgo.Record) bool {
		select {
		case err := <-errc:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		return int64(len(rs)) >= total
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
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
			t.Errorf("word %q: counts %v, want %v", w, seen[w], exp)
		}
	}
	if len(out) != int(total) {
		t.Errorf("%d output records, want %d", len(out), total)
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
