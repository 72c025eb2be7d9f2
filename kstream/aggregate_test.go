package kstream_test

// Driver tests of the stream aggregations, ToTable and FromTable. Where Kafka
// Streams' own unit tests (KGroupedStreamImplTest, KStreamAggregate,
// KTableSourceTest) pin a scenario, the input and the expected output are
// theirs.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// aggDriver builds b and starts a driver that is closed with the test.
func aggDriver(t testing.TB, b *topology.Builder, opts ...streamstest.Option) *streamstest.Driver {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	d, err := streamstest.New(topo, opts...)
	if err != nil {
		t.Fatalf("streamstest.New: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func aggMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// aggFmt formats output records as "key=value@timestamp", with <null> for a
// null key or value.
func aggFmt[K, V any](recs []streamstest.Record[K, V]) string {
	out := make([]string, len(recs))
	for i, r := range recs {
		k, v := fmt.Sprint(r.Key), fmt.Sprint(r.Value)
		if r.KeyNull {
			k = "<null>"
		}
		if r.ValueNull {
			v = "<null>"
		}
		out[i] = fmt.Sprintf("%s=%s@%d", k, v, r.Timestamp)
	}
	return strings.Join(out, " ")
}

// aggRead reads every unread record of out and formats them with aggFmt.
func aggRead[K, V any](t testing.TB, out *streamstest.OutputTopic[K, V]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	aggMust(t, err)
	return aggFmt(recs)
}

func aggWant(t testing.TB, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// aggTable formats a table store's rows as "key=value@timestamp".
func aggTable[K, V any](t testing.TB, d *streamstest.Driver, store string) string {
	t.Helper()
	rows, err := streamstest.ReadKeyValueStore[K, state.ValueAndTimestamp[V]](d, store)
	aggMust(t, err)
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%v=%v@%d", r.Key, r.Value.Value, r.Value.Timestamp)
	}
	return strings.Join(out, " ")
}

// aggPipeKGroupedStream pipes the input of KGroupedStreamImplTest's
// processData: the last record is a tombstone, which aggregations drop.
func aggPipeKGroupedStream(t testing.TB, in *streamstest.InputTopic[string, string]) {
	t.Helper()
	aggMust(t, in.PipeAt("1", "A", 5))
	aggMust(t, in.PipeAt("2", "B", 1))
	aggMust(t, in.PipeAt("1", "C", 3))
	aggMust(t, in.PipeAt("1", "D", 10))
	aggMust(t, in.PipeAt("3", "E", 8))
	aggMust(t, in.PipeAt("3", "F", 9))
	aggMust(t, in.PipeTombstone("3", 11))
}

// KGroupedStreamImplTest.shouldCountAndMaterializeResults,
// shouldReduceAndMaterializeResults and shouldAggregateAndMaterializeResults:
// the stores hold the aggregate with the largest timestamp of the records
// aggregated, and the null value is dropped and counted. The output topics
// show every update (the driver commits after each record).
func TestAggGroupByKeyCountReduceAggregate(t *testing.T) {
	b := topology.NewBuilder()
	grouped := kstream.GroupByKey(kstream.From(b, "topic", serde.String(), serde.String()))
	kstream.FromTable(kstream.Count(grouped, "count")).To("count-out")
	kstream.FromTable(kstream.Reduce(grouped, func(agg, v string) string { return agg + "+" + v }, "reduce")).To("reduce-out")
	kstream.FromTable(kstream.Aggregate(grouped, func() string { return "0" },
		func(_, v, agg string) string { return agg + "+" + v }, "aggregate")).To("aggregate-out")
	d := aggDriver(t, b)
	aggPipeKGroupedStream(t, streamstest.NewInputTopic(d, "topic", serde.String(), serde.String()))

	aggWant(t, "count store", aggTable[string, int64](t, d, "count"), "1=3@10 2=1@1 3=2@9")
	aggWant(t, "reduce store", aggTable[string, string](t, d, "reduce"), "1=A+C+D@10 2=B@1 3=E+F@9")
	aggWant(t, "aggregate store", aggTable[string, string](t, d, "aggregate"), "1=0+A+C+D@10 2=0+B@1 3=0+E+F@9")

	// Every update, stamped with the max of the record's and the previous
	// aggregate's timestamps: "1"@3 leaves the aggregate at 5.
	aggWant(t, "count-out", aggRead(t, streamstest.NewOutputTopic(d, "count-out", serde.String(), serde.Int64())),
		"1=1@5 2=1@1 1=2@5 1=3@10 3=1@8 3=2@9")
	aggWant(t, "reduce-out", aggRead(t, streamstest.NewOutputTopic(d, "reduce-out", serde.String(), serde.String())),
		"1=A@5 2=B@1 1=A+C@5 1=A+C+D@10 3=E@8 3=E+F@9")
	aggWant(t, "aggregate-out", aggRead(t, streamstest.NewOutputTopic(d, "aggregate-out", serde.String(), serde.String())),
		"1=0+A@5 2=0+B@1 1=0+A+C@5 1=0+A+C+D@10 3=0+E@8 3=0+E+F@9")

	// Each of the three aggregations dropped the tombstone.
	if got := d.Dropped("null-value"); got != 3 {
		t.Errorf(`Dropped("null-value") = %d, want 3`, got)
	}
}

// Records with a null key are dropped by an aggregation and counted; with
// GroupByKey they never reach a repartition topic.
func TestAggNullKeyDropped(t *testing.T) {
	b := topology.NewBuilder()
	counts := kstream.Count(kstream.GroupByKey(kstream.From(b, "in", serde.String(), serde.String())), "counts")
	kstream.FromTable(counts).To("out")
	d := aggDriver(t, b)
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	aggMust(t, in.PipeAt("a", "x", 1))
	aggMust(t, in.PipeRecord(streamstest.Record[string, string]{Value: "y", KeyNull: true, Timestamp: 2}))
	aggMust(t, in.PipeRecord(streamstest.Record[string, string]{KeyNull: true, ValueNull: true, Timestamp: 3}))
	aggMust(t, in.PipeAt("a", "z", 4))
	aggWant(t, "out", aggRead(t, streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64())), "a=1@1 a=2@4")
	aggWant(t, "store", aggTable[string, int64](t, d, "counts"), "a=2@4")
	if got := d.DroppedAll(); fmt.Sprint(got) != "map[null-key:2]" {
		t.Errorf("dropped = %v, want map[null-key:2]", got)
	}
}

// GroupBy re-keys the stream and repartitions it through
// "<app>-<store>-repartition" before counting, so every key is counted in
// one task, whichever partition its records came from. A record with a null
// key gets a key from the selector and is counted; a record whose value is
// null also gets a key, goes through the repartition topic as a tombstone
// and is dropped by the aggregation.
func TestAggGroupByRepartitions(t *testing.T) {
	b := topology.NewBuilder()
	words := kstream.From(b, "words", serde.String(), serde.String())
	counts := kstream.Count(kstream.GroupBy(words, func(_, w string) string { return w }), "counts")
	kstream.FromTable(counts).To("counts-out")
	d := aggDriver(t, b, streamstest.WithPartitions("words", 3))
	if n := d.Partitions("counts-repartition"); n != 3 {
		t.Fatalf("repartition topic has %d partitions, want 3", n)
	}
	in := streamstest.NewInputTopic(d, "words", serde.String(), serde.String())
	pipe := func(r streamstest.Record[string, string], p int32) { aggMust(t, in.PipeRecordTo(r, p)) }
	pipe(streamstest.Record[string, string]{Key: "l1", Value: "a", Timestamp: 10}, 0)
	pipe(streamstest.Record[string, string]{Key: "l2", Value: "b", Timestamp: 5}, 1)
	pipe(streamstest.Record[string, string]{Key: "l3", Value: "a", Timestamp: 12}, 2)
	pipe(streamstest.Record[string, string]{Value: "a", KeyNull: true, Timestamp: 20}, 1)
	pipe(streamstest.Record[string, string]{Key: "l4", ValueNull: true, Timestamp: 30}, 0)
	pipe(streamstest.Record[string, string]{Key: "l5", Value: "b", Timestamp: 4}, 2)

	out := streamstest.NewOutputTopic(d, "counts-out", serde.String(), serde.Int64())
	recs, err := out.ReadRecords()
	aggMust(t, err)
	aggWant(t, "counts-out", aggFmt(recs), "a=1@10 b=1@5 a=2@12 a=3@20 b=2@5")
	// Each key is counted by the one task that owns its partition of the
	// repartition topic.
	parts := map[string]int32{}
	for _, r := range recs {
		if p, ok := parts[r.Key]; ok && p != r.Partition {
			t.Errorf("key %q counted in partitions %d and %d", r.Key, p, r.Partition)
		}
		parts[r.Key] = r.Partition
	}
	rows := []string{"a=3@20", "b=2@5"}
	if parts["b"] < parts["a"] {
		rows[0], rows[1] = rows[1], rows[0]
	}
	aggWant(t, "store", aggTable[string, int64](t, d, "counts"), strings.Join(rows, " "))
	aggWant(t, "dropped", fmt.Sprint(d.DroppedAll()), "map[null-value:1]")
}

// The developer guide's record cache example (memory-mgmt.html), checked on
// the changes an aggregation forwards (new and old values): summing 1, 20
// and 300 for key A with D=5 in between.
func TestAggCacheGuideExample(t *testing.T) {
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprintf("caching=%v", caching), func(t *testing.T) {
			b := topology.NewBuilder()
			sums := kstream.Aggregate(kstream.GroupByKey(kstream.From(b, "in", serde.String(), serde.Int64())),
				func() int64 { return 0 }, func(_ string, v, agg int64) int64 { return agg + v }, "sums",
				kstream.WithCaching(caching))
			var log []string
			sums.EnableSendingOldValues()
			topology.AddProcessor(b, "changes", aggChangeLogger[int64](&log), sums.NodeName())
			d := aggDriver(t, b, streamstest.WithManualCommit())
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
			aggMust(t, in.PipeAt("A", 1, 1))
			aggMust(t, in.PipeAt("D", 5, 2))
			aggMust(t, in.PipeAt("A", 20, 3))
			aggMust(t, in.PipeAt("A", 300, 4))
			before := strings.Join(log, " ")
			aggMust(t, d.Commit())
			after := strings.Join(log, " ")
			if caching {
				aggWant(t, "before commit", before, "")
				// By each key's latest update, as Kafka Streams' cache.
				aggWant(t, "after commit", after, "D=(5, null)@2 A=(321, null)@4")
			} else {
				aggWant(t, "before commit", before, "A=(1, null)@1 D=(5, null)@2 A=(21, 1)@3 A=(321, 21)@4")
				aggWant(t, "after commit", after, before)
			}
		})
	}
}

// aggChangeLogger records the changes a table forwards as
// "key=(new, old)@timestamp".
func aggChangeLogger[V any](log *[]string) processor.Supplier[string, ktable.Change[V], string, ktable.Change[V]] {
	return func() processor.Processor[string, ktable.Change[V], string, ktable.Change[V]] {
		return &aggChangeProc[V]{log: log}
	}
}

type aggChangeProc[V any] struct {
	log *[]string
}

func (p *aggChangeProc[V]) Init(processor.Context[string, ktable.Change[V]]) error { return nil }
func (p *aggChangeProc[V]) Close() error                                           { return nil }
func (p *aggChangeProc[V]) Process(r processor.Record[string, ktable.Change[V]]) error {
	nv, ov := "null", "null"
	if r.Value.HasNew {
		nv = fmt.Sprint(r.Value.New)
	}
	if r.Value.HasOld {
		ov = fmt.Sprint(r.Value.Old)
	}
	*p.log = append(*p.log, fmt.Sprintf("%s=(%s, %s)@%d", r.Key, nv, ov, r.Timestamp))
	return nil
}

// ToTable: each record sets its key, a null value deletes it, a record with
// a null key is dropped and counted. FromTable turns deletes back into
// tombstones. A tombstone for a key the table never held is forwarded only
// without the cache (the cache drops the delete of a key its store does not
// hold), as in Kafka Streams' KTableSource and CachingKeyValueStore.
func TestAggToTableFromTable(t *testing.T) {
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprintf("caching=%v", caching), func(t *testing.T) {
			b := topology.NewBuilder()
			tbl := kstream.ToTable(kstream.From(b, "in", serde.String(), serde.String()), "tbl", kstream.WithCaching(caching))
			kstream.FromTable(tbl).To("out")
			d := aggDriver(t, b)
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			aggMust(t, in.PipeAt("a", "1", 1))
			aggMust(t, in.PipeAt("b", "2", 2))
			aggMust(t, in.PipeTombstone("a", 3))
			aggMust(t, in.PipeRecord(streamstest.Record[string, string]{Value: "x", KeyNull: true, Timestamp: 4}))
			aggMust(t, in.PipeTombstone("never", 5))
			aggMust(t, in.PipeAt("b", "3", 6))
			want := "a=1@1 b=2@2 a=<null>@3 never=<null>@5 b=3@6"
			if caching {
				want = "a=1@1 b=2@2 a=<null>@3 b=3@6"
			}
			out := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String())
			recs, err := out.ReadRecords()
			aggMust(t, err)
			aggWant(t, "out", aggFmt(recs), want)
			if !recs[2].ValueNull || recs[2].KeyNull {
				t.Errorf("delete forwarded as %+v, want a tombstone", recs[2])
			}
			aggWant(t, "store", aggTable[string, string](t, d, "tbl"), "b=3@6")
			aggWant(t, "dropped", fmt.Sprint(d.DroppedAll()), "map[null-key:1]")
		})
	}
}

// Every store update goes to the store's changelog topic,
// "<application id>-<store>-changelog", with the aggregate's timestamp;
// deletes are tombstones.
func TestAggChangelog(t *testing.T) {
	b := topology.NewBuilder()
	src := kstream.From(b, "in", serde.String(), serde.String())
	kstream.Count(kstream.GroupByKey(src), "counts")
	kstream.ToTable(src, "latest")
	d := aggDriver(t, b, streamstest.WithApplicationID("app"))
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	aggMust(t, in.PipeAt("a", "x", 5))
	aggMust(t, in.PipeAt("a", "y", 3))
	aggMust(t, in.PipeAt("b", "z", 7))
	aggMust(t, in.PipeTombstone("a", 9))
	aggWant(t, "counts changelog", aggRead(t, streamstest.NewOutputTopic(d, "app-counts-changelog", serde.String(), serde.Int64())),
		"a=1@5 a=2@5 b=1@7")
	aggWant(t, "latest changelog", aggRead(t, streamstest.NewOutputTopic(d, "app-latest-changelog", serde.String(), serde.String())),
		"a=x@5 a=y@3 b=z@7 a=<null>@9")
}

// Describe of the word count of Kafka Streams' tutorial, in its current
// naming: the repartition nodes are named after the store.
func TestAggDescribeWordCount(t *testing.T) {
	b := topology.NewBuilder()
	source := kstream.From(b, "streams-plaintext-input", serde.String(), serde.String())
	words := kstream.FlatMapValues(source, func(v string) []string { return strings.Fields(strings.ToLower(v)) })
	counts := kstream.Count(kstream.GroupBy(words, func(_, w string) string { return w }), "counts-store")
	kstream.FromTable(counts).To("streams-wordcount-output")
	topo, err := b.Build()
	aggMust(t, err)
	want := `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])
      --> KSTREAM-FLATMAPVALUES-0000000001
    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])
      --> KSTREAM-KEY-SELECT-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
      --> counts-store-repartition-filter
      <-- KSTREAM-FLATMAPVALUES-0000000001
    Processor: counts-store-repartition-filter (stores: [])
      --> counts-store-repartition-sink
      <-- KSTREAM-KEY-SELECT-0000000002
    Sink: counts-store-repartition-sink (topic: counts-store-repartition)
      <-- counts-store-repartition-filter

  Sub-topology: 1
    Source: counts-store-repartition-source (topics: [counts-store-repartition])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])
      --> KTABLE-TOSTREAM-0000000007
      <-- counts-store-repartition-source
    Processor: KTABLE-TOSTREAM-0000000007 (stores: [])
      --> KSTREAM-SINK-0000000008
      <-- KSTREAM-AGGREGATE-0000000003
    Sink: KSTREAM-SINK-0000000008 (topic: streams-wordcount-output)
      <-- KTABLE-TOSTREAM-0000000007

`
	if got := topo.Describe().String(); got != want {
		t.Errorf("Describe:\n%s\nwant:\n%s", got, want)
	}
}

// ToTable of a stream whose keys changed repartitions it first, through a
// topic named after the ToTable node, as Kafka Streams' toTable does, so
// that each key's updates reach the one task that keeps it.
func TestAggToTableRepartitions(t *testing.T) {
	b := topology.NewBuilder()
	byInitial := kstream.SelectKey(kstream.From(b, "in", serde.String(), serde.String()),
		func(_, v string) string { return v[:1] }, kstream.WithKeySerde(serde.String()))
	kstream.FromTable(kstream.ToTable(byInitial, "by-initial")).To("out")
	topo, err := b.Build()
	aggMust(t, err)
	want := `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [in])
      --> KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
      --> KSTREAM-FILTER-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000004 (stores: [])
      --> KSTREAM-SINK-0000000003
      <-- KSTREAM-KEY-SELECT-0000000001
    Sink: KSTREAM-SINK-0000000003 (topic: KSTREAM-TOTABLE-0000000002-repartition)
      <-- KSTREAM-FILTER-0000000004

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000005 (topics: [KSTREAM-TOTABLE-0000000002-repartition])
      --> KSTREAM-TOTABLE-0000000002
    Processor: KSTREAM-TOTABLE-0000000002 (stores: [by-initial])
      --> KTABLE-TOSTREAM-0000000006
      <-- KSTREAM-SOURCE-0000000005
    Processor: KTABLE-TOSTREAM-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- KSTREAM-TOTABLE-0000000002
    Sink: KSTREAM-SINK-0000000007 (topic: out)
      <-- KTABLE-TOSTREAM-0000000006

`
	aggWant(t, "Describe", topo.Describe().String(), want)
	d, err := streamstest.New(topo, streamstest.WithPartitions("in", 2))
	aggMust(t, err)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	aggMust(t, in.PipeRecordTo(streamstest.Record[string, string]{Key: "x", Value: "apple", Timestamp: 1}, 0))
	aggMust(t, in.PipeRecordTo(streamstest.Record[string, string]{Key: "y", Value: "avocado", Timestamp: 2}, 1))
	aggMust(t, in.PipeRecordTo(streamstest.Record[string, string]{Key: "z", Value: "banana", Timestamp: 3}, 1))
	aggWant(t, "out", aggRead(t, streamstest.NewOutputTopic(d, "out", serde.String(), serde.String())),
		"a=apple@1 a=avocado@2 b=banana@3")
	rows, err := streamstest.ReadTable[string, string](d, "by-initial")
	aggMust(t, err)
	got := fmt.Sprint(rows)
	if got != "[{a avocado} {b banana}]" && got != "[{b banana} {a avocado}]" {
		t.Errorf("table rows = %s", got)
	}
}
