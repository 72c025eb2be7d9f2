package kstream_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

type winEvent struct {
	key string
	ts  int64
}

// winRandomEvents returns n events over a few keys with timestamps that
// mostly advance, often go back (within and beyond any grace period) and
// sometimes jump ahead.
func winRandomEvents(r *rand.Rand, n int) []winEvent {
	keys := []string{"a", "b", "c", "d"}[:1+r.IntN(4)]
	var out []winEvent
	now := int64(r.IntN(50))
	for range n {
		ts := now
		switch x := r.IntN(10); {
		case x < 5:
			now += int64(r.IntN(4))
			ts = now
		case x < 8:
			ts = max(0, now-int64(r.IntN(25)))
		case x < 9:
			now += int64(r.IntN(60))
			ts = now
		default:
			ts = max(0, now-int64(r.IntN(200)))
		}
		out = append(out, winEvent{keys[r.IntN(len(keys))], ts})
	}
	return out
}

type winKey struct {
	key   string
	start int64
}

// winBruteForce counts the accepted records of each window: a record counts
// in a window that holds it unless the window had closed, its end at or
// before the stream time (including the record) minus the grace period.
func winBruteForce(events []winEvent, size, advance, grace int64) (counts map[winKey]int64, late int64, streamTime int64) {
	counts = map[winKey]int64{}
	streamTime = -1
	for _, e := range events {
		streamTime = max(streamTime, e.ts)
		for start := int64(0); start <= e.ts; start += advance {
			if e.ts >= start+size {
				continue
			}
			if start+size <= streamTime-grace {
				late++
				continue
			}
			counts[winKey{e.key, start}]++
		}
	}
	return counts, late, streamTime
}

// TestWindowedCountProperty checks tumbling and hopping counts against a
// brute-force count of the accepted records, over random out-of-order
// event sequences (fixed seeds): the last update of every window, the late
// drop count, the final result of each closed window (suppression) and the
// windows emitted on close, each exactly once.
func TestWindowedCountProperty(t *testing.T) {
	for seed := range uint64(60) {
		r := rand.New(rand.NewPCG(seed, 7))
		size := int64(5 + r.IntN(20))
		advance := size
		if r.IntN(2) == 0 {
			advance = int64(1 + r.IntN(int(size)))
		}
		grace := int64(r.IntN(30))
		events := winRandomEvents(r, 150+r.IntN(150))
		commitEvery := 1 + r.IntN(20)
		// The default cache, none, or one so small that it evicts.
		cacheBytes := []int64{10 << 20, 0, 1500}[r.IntN(3)]
		name := fmt.Sprintf("seed=%d/size=%d/advance=%d/grace=%d/commit=%d/cache=%d", seed, size, advance, grace, commitEvery, cacheBytes)
		t.Run(name, func(t *testing.T) {
			winCheckCounts(t, events, size, advance, grace, commitEvery, cacheBytes)
		})
	}
}

func winCheckCounts(t *testing.T, events []winEvent, size, advance, grace int64, commitEvery int, cacheBytes int64) {
	b := topology.NewBuilder()
	w := window.Hopping(time.Duration(size)*time.Millisecond, time.Duration(advance)*time.Millisecond).
		WithGrace(time.Duration(grace) * time.Millisecond)
	in := kstream.From(b, "input", serde.String(), serde.String())
	counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(in), w), "counts")
	kstream.FromTable(counts).To("updates")
	kstream.FromTable(counts.Suppress(window.UntilWindowCloses(window.Unbounded()))).To("final")
	emitted := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(in), w), "emitted", kstream.EmitOnWindowClose())
	kstream.FromTable(emitted).To("emitted")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(topo, streamstest.WithManualCommit(), streamstest.WithCacheMaxBytes(cacheBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	input := streamstest.NewInputTopic(d, "input", serde.String(), serde.String())
	for i, e := range events {
		if err := input.PipeAt(e.key, "v", e.ts); err != nil {
			t.Fatal(err)
		}
		if (i+1)%commitEvery == 0 {
			if err := d.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	want, late, streamTime := winBruteForce(events, size, advance, grace)
	ks := window.TimeWindowedSerde(serde.String(), size)
	read := func(topic string) []streamstest.Record[window.Windowed[string], int64] {
		recs, err := streamstest.NewOutputTopic(d, topic, ks, serde.Int64()).ReadRecords()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	last := map[winKey]int64{}
	for _, rec := range read("updates") {
		last[winKey{rec.Key.Key, rec.Key.Window.Start}] = rec.Value
	}
	if !maps.Equal(last, want) {
		t.Errorf("last updates differ from the brute force:\n got %v\nwant %v", winSorted(last), winSorted(want))
	}
	// Both aggregations drop the same late records.
	if got := d.Dropped("late"); got != 2*late {
		t.Errorf("dropped late = %d, want %d", got, 2*late)
	}
	closed := map[winKey]int64{}
	for k, v := range want {
		if k.start+size+grace <= streamTime {
			closed[k] = v
		}
	}
	for _, topic := range []string{"final", "emitted"} {
		got := map[winKey]int64{}
		for _, rec := range read(topic) {
			k := winKey{rec.Key.Key, rec.Key.Window.Start}
			if _, dup := got[k]; dup {
				t.Errorf("%s: window %v emitted twice", topic, rec.Key)
			}
			got[k] = rec.Value
		}
		if topic == "emitted" {
			// Emit-on-close emits when stream time moves a window's close
			// past the last emit: the windows closed by the last record are
			// all out.
			for k, v := range closed {
				if _, ok := got[k]; !ok {
					t.Errorf("emitted: closed window %v=%d missing", k, v)
				}
			}
		}
		for k, v := range got {
			if want[k] != v {
				t.Errorf("%s: window %v = %d, want %d", topic, k, v, want[k])
			}
			if _, ok := closed[k]; !ok {
				t.Errorf("%s: window %v emitted before it closed", topic, k)
			}
		}
		if topic == "final" && !maps.Equal(got, closed) {
			t.Errorf("final results differ:\n got %v\nwant %v", winSorted(got), winSorted(closed))
		}
	}
}

func winSorted(m map[winKey]int64) []string {
	var out []string
	for _, k := range slices.SortedFunc(maps.Keys(m), func(a, b winKey) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		return int(a.start - b.start)
	}) {
		out = append(out, fmt.Sprintf("%s@%d=%d", k.key, k.start, m[k]))
	}
	return out
}

func TestTimestampFromValue(t *testing.T) {
	x := kstream.TimestampFromValue[string](func(v int64) int64 { return v * 10 })
	if got := x(processor.NewRecord("k", int64(7), 1), -1); got != 70 {
		t.Errorf("extracted %d, want 70", got)
	}
	if got := x(processor.Tombstone[string, int64]("k", 5), 3); got != 5 {
		t.Errorf("a null value: extracted %d, want the record's timestamp 5", got)
	}
}
