package streamstest_test

import (
	"fmt"
	"testing"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// BenchmarkCountAggregation counts records per key through the driver:
// From -> GroupByKey -> Count (a logged, timestamped store, cached or not)
// -> FromTable -> To, over 100,000 distinct 16-byte keys taken in turn. One
// op is one record; records/s is reported too. The driver commits every
// 1,000 records (WithManualCommit and Driver.Commit), standing for a commit
// interval; the "every-record" case is the driver's default, a commit after
// each record. The output topic and the store's changelog are drained every
// 1,000 records with the timer stopped.
//
// With 100,000 keys taken in turn no key repeats within a commit interval,
// so the cache has nothing to compact; the "keys=100" case, where each key
// repeats ten times per interval, shows what compaction saves.
//
//	go test ./streamstest -run '^$' -bench BenchmarkCountAggregation -benchtime 1000000x
func BenchmarkCountAggregation(b *testing.B) {
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%012d", i)
	}
	for _, c := range []struct {
		name     string
		caching  bool
		every    int
		distinct int
	}{
		{"cache=on/commit=1000", true, 1000, 100_000},
		{"cache=off/commit=1000", false, 1000, 100_000},
		{"cache=off/commit=every-record", false, 1, 100_000},
		{"keys=100/cache=on/commit=1000", true, 1000, 100},
		{"keys=100/cache=off/commit=1000", false, 1000, 100},
	} {
		distinct := c.distinct
		b.Run(c.name, func(b *testing.B) {
			tb := topology.NewBuilder()
			counts := kstream.Count(kstream.GroupByKey(kstream.From(tb, "in", serde.String(), serde.String())),
				"counts", kstream.WithCaching(c.caching))
			kstream.FromTable(counts).To("out")
			topo, err := tb.Build()
			if err != nil {
				b.Fatal(err)
			}
			var opts []streamstest.Option
			if c.every > 1 {
				opts = append(opts, streamstest.WithManualCommit())
			}
			d, err := streamstest.New(topo, opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			out := streamstest.NewOutputTopic(d, "out", serde.Bytes(), serde.Bytes())
			changelog := streamstest.NewOutputTopic(d, "streamstest-counts-changelog", serde.Bytes(), serde.Bytes())
			written := 0
			drain := func() {
				for _, o := range []*streamstest.OutputTopic[[]byte, []byte]{out, changelog} {
					recs, err := o.ReadRecords()
					if err != nil {
						b.Fatal(err)
					}
					if o == out {
						written += len(recs)
					}
				}
			}
			const batch = 1000
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := in.PipeAt(keys[i%distinct], "v", int64(i)); err != nil {
					b.Fatal(err)
				}
				i++
				if i%batch == 0 {
					if c.every > 1 {
						if err := d.Commit(); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					drain()
					b.StartTimer()
				}
			}
			if c.every > 1 {
				if err := d.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			drain()
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
			if written == 0 || written > i {
				b.Fatalf("%d updates out for %d records in", written, i)
			}
		})
	}
}
