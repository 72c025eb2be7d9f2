package kstream_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// BenchmarkWindowedCount counts records per key in 1-minute tumbling
// windows (grace 30 s) through the driver: From -> GroupByKey ->
// WindowedBy -> CountWindowed (a cached, logged window store) -> FromTable
// -> To. 10,000 keys taken at random; event time advances 2 ms per record
// (30,000 records, 3 per key, per window), and 1% of the records are out of
// order, up to 20 s back (within the grace period). The driver commits
// every 1,000 records (WithManualCommit and Driver.Commit, standing for a
// commit interval); the output and changelog topics are drained then, with
// the timer stopped. One op is one record; records/s is reported.
//
// The "suppressed" case adds Suppress(UntilWindowCloses) after the count
// and writes the final results; "emit-on-close" counts with
// EmitOnWindowClose instead.
//
//	go test ./kstream -run '^$' -bench BenchmarkWindowedCount -benchtime 1000000x
func BenchmarkWindowedCount(b *testing.B) {
	const nkeys = 10_000
	keys := make([][]byte, nkeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key-%05d", i)
	}
	value := []byte("v")
	for _, c := range []struct {
		name     string
		suppress bool
		emit     bool
		dir      bool
	}{
		{name: "updates"},
		{name: "suppressed", suppress: true},
		{name: "emit-on-close", emit: true},
		{name: "pebble", dir: true},
	} {
		b.Run(c.name, func(b *testing.B) {
			tb := topology.NewBuilder()
			w := window.Tumbling(time.Minute).WithGrace(30 * time.Second)
			var opts []kstream.Option
			if c.emit {
				opts = append(opts, kstream.EmitOnWindowClose())
			}
			counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(
				kstream.From(tb, "in", serde.String(), serde.String())), w), "counts", opts...)
			if c.suppress {
				counts = counts.Suppress(window.UntilWindowCloses(window.Unbounded()))
			}
			kstream.FromTable(counts).To("out")
			topo, err := tb.Build()
			if err != nil {
				b.Fatal(err)
			}
			dopts := []streamstest.Option{streamstest.WithManualCommit()}
			if c.dir {
				dopts = append(dopts, streamstest.WithStateDir(b.TempDir()))
			}
			d, err := streamstest.New(topo, dopts...)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			var drains []*streamstest.OutputTopic[[]byte, []byte]
			for _, topic := range []string{"out", "streamstest-counts-changelog"} {
				drains = append(drains, streamstest.NewOutputTopic(d, topic, serde.Bytes(), serde.Bytes()))
			}
			written := 0
			drain := func() {
				for i, o := range drains {
					n := o.Len()
					if i == 0 {
						written += n
					}
					for range n {
						if _, err := o.ReadRecord(); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			r := rand.New(rand.NewPCG(1, 2))
			const batch = 1000
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ts := int64(i) * 2
				if r.IntN(100) == 0 {
					ts = max(0, ts-int64(r.IntN(20_000)))
				}
				if err := d.PipeRaw("in", 0, keys[r.IntN(nkeys)], value, ts, nil); err != nil {
					b.Fatal(err)
				}
				i++
				if i%batch == 0 {
					if err := d.Commit(); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					drain()
					b.StartTimer()
				}
			}
			if err := d.Commit(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			drain()
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
			if written == 0 && i > 100_000 {
				b.Fatalf("no output for %d records", i)
			}
			if late := d.Dropped("late"); late != 0 {
				b.Fatalf("%d late records", late)
			}
		})
	}
}
