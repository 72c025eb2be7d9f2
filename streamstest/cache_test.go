package streamstest_test

// The record cache, as Kafka Streams documents it (memory-mgmt.html,
// "Record caches in the DSL"), seen through the test driver.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// cacheSumTopology sums int64 values per key into the store "sums" and writes
// the table's updates to "sums-out".
func cacheSumTopology(opts ...kstream.Option) *topology.Builder {
	b := topology.NewBuilder()
	sums := kstream.Aggregate(kstream.GroupByKey(kstream.From(b, "in", serde.String(), serde.Int64())),
		func() int64 { return 0 }, func(_ string, v, agg int64) int64 { return agg + v }, "sums", opts...)
	kstream.FromTable(sums).To("sums-out")
	return b
}

func cacheRead(t *testing.T, out *streamstest.OutputTopic[string, int64]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	must(t, err)
	parts := make([]string, len(recs))
	for i, r := range recs {
		parts[i] = fmt.Sprintf("%s=%d@%d", r.Key, r.Value, r.Timestamp)
	}
	return strings.Join(parts, " ")
}

func cacheWant(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// The developer guide's example: summing 1, 20 and 300 for key A (with D=5
// in between) sends three updates of A downstream without the cache, and
// one, 321, at the commit with it. The store is read through the cache, so
// it holds 321 before the commit either way.
func TestCacheGuideExample(t *testing.T) {
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprintf("caching=%v", caching), func(t *testing.T) {
			d := newDriver(t, cacheSumTopology(kstream.WithCaching(caching)), streamstest.WithManualCommit())
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
			out := streamstest.NewOutputTopic(d, "sums-out", serde.String(), serde.Int64())
			must(t, in.PipeAt("A", 1, 1))
			must(t, in.PipeAt("D", 5, 2))
			must(t, in.PipeAt("A", 20, 3))
			must(t, in.PipeAt("A", 300, 4))
			rows, err := streamstest.ReadTable[string, int64](d, "sums")
			must(t, err)
			cacheWant(t, "store before commit", fmt.Sprint(rows), "[{A 321} {D 5}]")
			before := cacheRead(t, out)
			must(t, d.Commit())
			after := cacheRead(t, out)
			if caching {
				cacheWant(t, "before commit", before, "")
				// Flushed in the order of each key's latest update, as
				// Kafka Streams' NamedCache does: D (at 2), then A (at 4).
				cacheWant(t, "at commit", after, "D=5@2 A=321@4")
			} else {
				cacheWant(t, "before commit", before, "A=1@1 D=5@2 A=21@3 A=321@4")
				cacheWant(t, "at commit", after, "")
			}
		})
	}
}

// Without WithManualCommit the driver commits after every input record, so
// the cache never holds an update across records: every update is
// forwarded, cache or not.
func TestCacheDriverCommitsEveryRecord(t *testing.T) {
	d := newDriver(t, cacheSumTopology(kstream.WithCaching(true)))
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
	must(t, in.PipeAt("A", 1, 1))
	must(t, in.PipeAt("A", 20, 2))
	must(t, in.PipeAt("A", 300, 3))
	cacheWant(t, "out", cacheRead(t, streamstest.NewOutputTopic(d, "sums-out", serde.String(), serde.Int64())),
		"A=1@1 A=21@2 A=321@3")
}

// With caching the changelog gets one record per key per commit (the
// latest value); without it, one per update.
func TestCacheChangelogOnePerKeyPerCommit(t *testing.T) {
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprintf("caching=%v", caching), func(t *testing.T) {
			d := newDriver(t, cacheSumTopology(kstream.WithCaching(caching)), streamstest.WithManualCommit(),
				streamstest.WithApplicationID("app"))
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
			changelog := streamstest.NewOutputTopic(d, "app-sums-changelog", serde.String(), serde.Int64())
			var got []string
			round := func(recs ...struct {
				k  string
				v  int64
				ts int64
			}) {
				for _, r := range recs {
					must(t, in.PipeAt(r.k, r.v, r.ts))
				}
				must(t, d.Commit())
				got = append(got, cacheRead(t, changelog))
			}
			type rec = struct {
				k  string
				v  int64
				ts int64
			}
			round(rec{"a", 1, 1}, rec{"a", 2, 2}, rec{"b", 1, 3}, rec{"a", 3, 4})
			round(rec{"b", 10, 5}, rec{"b", 10, 6})
			round()
			// By each key's latest update: b (at 3), then a (at 4).
			want := []string{"b=1@3 a=6@4", "b=21@6", ""}
			if !caching {
				want = []string{"a=1@1 a=3@2 b=1@3 a=6@4", "b=11@5 b=21@6", ""}
			}
			cacheWant(t, "changelog per commit", strings.Join(got, " | "), strings.Join(want, " | "))
		})
	}
}

// A cache of a few hundred bytes cannot hold the updates of many keys
// until the commit: when it is full it evicts its least recently used
// entry, and evicting a dirty entry flushes the store's dirty entries
// (Kafka Streams' NamedCache.evict), which forwards them early; so a key
// updated again after its entry was evicted is forwarded again. What is
// still cached goes downstream at the commit. Every key's last update
// carries its final value either way.
func TestCacheSmallEvictsAndForwardsEarly(t *testing.T) {
	const keys, rounds = 20, 3
	for _, size := range []int64{300, 10 << 20} {
		t.Run(fmt.Sprintf("bytes=%d", size), func(t *testing.T) {
			d := newDriver(t, cacheSumTopology(), streamstest.WithManualCommit(), streamstest.WithCacheMaxBytes(size))
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
			out := streamstest.NewOutputTopic(d, "sums-out", serde.String(), serde.Int64())
			ts := int64(0)
			for r := range rounds {
				for k := range keys {
					ts++
					must(t, in.PipeAt(fmt.Sprintf("k%02d", k), int64(r+1), ts))
				}
			}
			early, err := out.ReadRecords()
			must(t, err)
			must(t, d.Commit())
			late, err := out.ReadRecords()
			must(t, err)
			if size > 1000 {
				if len(early) != 0 || len(late) != keys {
					t.Fatalf("a large cache forwarded %d records before the commit and %d at it; want 0 and %d",
						len(early), len(late), keys)
				}
			} else if len(early) == 0 || len(early)+len(late) <= keys {
				t.Fatalf("a %d-byte cache forwarded %d updates before the commit and %d at it; "+
					"want some before it, and more than one per key", size, len(early), len(late))
			}
			last := map[string]int64{}
			for _, r := range append(early, late...) {
				if prev, ok := last[r.Key]; ok && r.Value <= prev {
					t.Errorf("key %s: update %d after %d", r.Key, r.Value, prev)
				}
				last[r.Key] = r.Value
			}
			if len(last) != keys {
				t.Fatalf("%d keys forwarded, want %d", len(last), keys)
			}
			for k, v := range last {
				if v != 6 { // 1 + 2 + 3
					t.Errorf("key %s: last update %d, want 6", k, v)
				}
			}
			rows, err := streamstest.ReadTable[string, int64](d, "sums")
			must(t, err)
			if len(rows) != keys {
				t.Fatalf("store has %d rows, want %d", len(rows), keys)
			}
			for _, r := range rows {
				if r.Value != 6 {
					t.Errorf("store: %s=%d, want 6", r.Key, r.Value)
				}
			}
		})
	}
}
