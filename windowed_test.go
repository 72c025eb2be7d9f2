package streams_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/internal/murmur2"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// TestWindowedCountEndToEnd runs a suppressed tumbling-window count against
// a broker: each window's final count is produced once, after stream time
// passes its end plus grace; a record beyond grace is dropped and counted.
// Stream time is per task, so each of the two partitions gets the same
// sequence of events on its own two keys.
func TestWindowedCountEndToEnd(t *testing.T) {
	const parts = 2
	c := kafkatest.Cluster(t, parts, "clicks", "clicks-per-10s")
	brokers := c.ListenAddrs()

	b := topology.NewBuilder()
	clicks := kstream.From(b, "clicks", serde.String(), serde.String())
	counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(clicks),
		window.Tumbling(10*time.Second).WithGrace(3*time.Second)), "clicks-10s")
	final := counts.Suppress(window.UntilWindowCloses(window.Unbounded()), ktable.Named("final"))
	kstream.FromTable(final).To("clicks-per-10s")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	// Two keys per partition, found by the partitioner the sinks and the
	// producer share.
	keys := make([][]string, parts)
	for i := 0; len(keys[0]) < 2 || len(keys[1]) < 2; i++ {
		k := fmt.Sprintf("user-%d", i)
		if p := murmur2.Partition([]byte(k), parts); len(keys[p]) < 2 {
			keys[p] = append(keys[p], k)
		}
	}
	// Per partition, seconds of event time: the window [0s,10s) takes 1, 3,
	// 9 and, at stream time 12 s, 8 (end 10 > 12 - 3); at stream time 14 s,
	// 2 is late (end 10 <= 14 - 3). 40 s closes [0s,10s) and [10s,20s).
	events := []struct {
		key int
		sec int64
	}{{0, 1}, {1, 3}, {0, 9}, {0, 12}, {1, 8}, {0, 14}, {1, 2}, {0, 40}}
	var recs []*kgo.Record
	for _, e := range events {
		for p := range parts {
			recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte(keys[p][e.key]), Value: []byte("click"),
				Timestamp: time.UnixMilli(e.sec * 1000)})
		}
	}
	kafkatest.Produce(t, brokers, recs...)

	reg := prometheus.NewRegistry()
	app, err := streams.New(topo, streams.Config{
		ApplicationID: "windowed", Brokers: brokers, StateDir: t.TempDir(), Registerer: reg, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx) }()
	const wantPerPartition = 3
	out := kafkatest.ReadUntil(t, brokers, "clicks-per-10s", 30*time.Second, func(rs []*kgo.Record) bool {
		select {
		case err := <-errc:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		return len(rs) >= parts*wantPerPartition
	})
	// Nothing more may follow: the window [40s,50s) is still open.
	time.Sleep(500 * time.Millisecond)
	out = kafkatest.ReadAll(t, brokers, "clicks-per-10s", len(out), 300*time.Millisecond)
	late := lateDrops(t, reg)
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	got := make([][]string, parts)
	for _, r := range out {
		wk, err := window.TimeWindowedSerde(serde.String(), 10_000).Deserialize(r.Key)
		if err != nil {
			t.Fatal(err)
		}
		got[r.Partition] = append(got[r.Partition], fmt.Sprintf("%s=%d @%d", wk, binary.BigEndian.Uint64(r.Value), r.Timestamp.UnixMilli()))
	}
	for p := range parts {
		k0, k1 := keys[p][0], keys[p][1]
		// Final results leave the buffer in window-end order, then by key.
		want := []string{
			fmt.Sprintf("[%s@0/10000]=2 @9000", k0),
			fmt.Sprintf("[%s@0/10000]=2 @8000", k1),
			fmt.Sprintf("[%s@10000/20000]=2 @14000", k0),
		}
		if k1 < k0 {
			want[0], want[1] = want[1], want[0]
		}
		if strings.Join(got[p], "\n") != strings.Join(want, "\n") {
			t.Errorf("partition %d:\n got %q\nwant %q", p, got[p], want)
		}
	}
	if late != parts {
		t.Errorf("late records dropped = %v, want %d", late, parts)
	}
}

// lateDrops sums streams_dropped_records_total{reason="late"}.
func lateDrops(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "streams_dropped_records_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == "late" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}
