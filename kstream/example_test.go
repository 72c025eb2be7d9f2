package kstream_test

import (
	"fmt"
	"strings"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// From, Filter, MapValues and To: drop empty values, upper-case the rest.
func ExampleFrom() {
	b := topology.NewBuilder()
	words := kstream.From(b, "words", serde.String(), serde.String())
	nonEmpty := words.Filter(func(_, v string) bool { return v != "" })
	kstream.MapValues(nonEmpty, strings.ToUpper).To("shouts")

	t, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(t.Describe())

	d, _ := streamstest.New(t)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "words", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "shouts", serde.String(), serde.String())
	in.PipeAt("a", "hello", 1000)
	in.PipeAt("b", "", 2000)
	in.PipeAt("c", "world", 3000)
	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Println(r.Key, r.Value, r.Timestamp)
	}
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: KSTREAM-SOURCE-0000000000 (topics: [words])
	//       --> KSTREAM-FILTER-0000000001
	//     Processor: KSTREAM-FILTER-0000000001 (stores: [])
	//       --> KSTREAM-MAPVALUES-0000000002
	//       <-- KSTREAM-SOURCE-0000000000
	//     Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])
	//       --> KSTREAM-SINK-0000000003
	//       <-- KSTREAM-FILTER-0000000001
	//     Sink: KSTREAM-SINK-0000000003 (topic: shouts)
	//       <-- KSTREAM-MAPVALUES-0000000002
	//
	// a HELLO 1000
	// c WORLD 3000
}

// Named gives a node a stable, readable name instead of a generated one.
func ExampleNamed() {
	b := topology.NewBuilder()
	kstream.From(b, "in", serde.String(), serde.String(), kstream.Named("read-in")).
		Filter(func(k, _ string) bool { return k != "" }, kstream.Named("has-key")).
		To("out", kstream.Named("write-out"))
	t, _ := b.Build()
	fmt.Print(t.Describe())
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: read-in (topics: [in])
	//       --> has-key
	//     Processor: has-key (stores: [])
	//       --> write-out
	//       <-- read-in
	//     Sink: write-out (topic: out)
	//       <-- has-key
}

// Split routes each record to the first branch whose predicate it satisfies;
// DefaultBranch catches the rest. The returned map is keyed by branch name.
func ExampleStream_Split() {
	b := topology.NewBuilder()
	in := kstream.From(b, "numbers", serde.String(), serde.Int64())
	branches := in.Split(kstream.Named("sign-")).
		Branch(func(_ string, v int64) bool { return v < 0 }, kstream.Named("negative")).
		Branch(func(_ string, v int64) bool { return v == 0 }).
		DefaultBranch(kstream.Named("positive"))
	branches["sign-negative"].To("negatives")
	branches["sign-2"].To("zeros")
	branches["sign-positive"].To("positives")

	t, _ := b.Build()
	d, _ := streamstest.New(t)
	defer d.Close()
	in2 := streamstest.NewInputTopic(d, "numbers", serde.String(), serde.Int64())
	for i, v := range []int64{-3, 0, 7, -1} {
		in2.PipeAt(fmt.Sprint("k", i), v, 0)
	}
	for _, topic := range []string{"negatives", "zeros", "positives"} {
		kvs, _ := streamstest.NewOutputTopic(d, topic, serde.String(), serde.Int64()).ReadKeyValues()
		fmt.Println(topic, kvs)
	}
	// Output:
	// negatives [{k0 -3} {k3 -1}]
	// zeros [{k1 0}]
	// positives [{k2 7}]
}

// The node names Split and its branches get without Named.
func ExampleBranchedStream_NoDefaultBranch() {
	b := topology.NewBuilder()
	in := kstream.From(b, "in", serde.String(), serde.String())
	branches := in.Split().
		Branch(func(k, _ string) bool { return strings.HasPrefix(k, "a") }).
		Branch(func(k, _ string) bool { return strings.HasPrefix(k, "b") }).
		NoDefaultBranch() // records matching no predicate are dropped
	branches["KSTREAM-BRANCH-00000000011"].To("a-keys")
	branches["KSTREAM-BRANCH-00000000012"].To("b-keys")
	t, _ := b.Build()
	fmt.Print(t.Describe())
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: KSTREAM-SOURCE-0000000000 (topics: [in])
	//       --> KSTREAM-BRANCH-0000000001
	//     Processor: KSTREAM-BRANCH-0000000001 (stores: [])
	//       --> KSTREAM-BRANCH-00000000011, KSTREAM-BRANCH-00000000012
	//       <-- KSTREAM-SOURCE-0000000000
	//     Processor: KSTREAM-BRANCH-00000000011 (stores: [])
	//       --> KSTREAM-SINK-0000000004
	//       <-- KSTREAM-BRANCH-0000000001
	//     Processor: KSTREAM-BRANCH-00000000012 (stores: [])
	//       --> KSTREAM-SINK-0000000005
	//       <-- KSTREAM-BRANCH-0000000001
	//     Sink: KSTREAM-SINK-0000000004 (topic: a-keys)
	//       <-- KSTREAM-BRANCH-00000000011
	//     Sink: KSTREAM-SINK-0000000005 (topic: b-keys)
	//       <-- KSTREAM-BRANCH-00000000012
}

// Repartition writes the stream to the internal topic
// <application.id>-<name>-repartition and reads it back, partitioned by the
// current key. The topic splits the topology into two sub-topologies.
func ExampleStream_Repartition() {
	b := topology.NewBuilder()
	views := kstream.From(b, "page-views", serde.String(), serde.String())
	byPage := kstream.SelectKey(views, func(_, page string) string { return page })
	fmt.Println("repartition required:", byPage.RepartitionRequired())
	byPage.Repartition(kstream.Named("by-page"), kstream.WithPartitions(4)).To("views-by-page")

	t, _ := b.Build()
	fmt.Println(t.InternalTopics())
	fmt.Print(t.Describe())

	d, _ := streamstest.New(t, streamstest.WithApplicationID("pv"))
	defer d.Close()
	in := streamstest.NewInputTopic(d, "page-views", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "views-by-page", serde.String(), serde.String())
	in.PipeAt("alice", "/home", 10)
	in.PipeAt("bob", "/cart", 20)
	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Println(r.Key, r.Value, r.Timestamp)
	}
	// Output:
	// repartition required: true
	// [{by-page-repartition 4}]
	// Topologies:
	//    Sub-topology: 0
	//     Source: KSTREAM-SOURCE-0000000000 (topics: [page-views])
	//       --> KSTREAM-KEY-SELECT-0000000001
	//     Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
	//       --> by-page-repartition-filter
	//       <-- KSTREAM-SOURCE-0000000000
	//     Processor: by-page-repartition-filter (stores: [])
	//       --> by-page-repartition-sink
	//       <-- KSTREAM-KEY-SELECT-0000000001
	//     Sink: by-page-repartition-sink (topic: by-page-repartition)
	//       <-- by-page-repartition-filter
	//
	//   Sub-topology: 1
	//     Source: by-page-repartition-source (topics: [by-page-repartition])
	//       --> KSTREAM-SINK-0000000005
	//     Sink: KSTREAM-SINK-0000000005 (topic: views-by-page)
	//       <-- by-page-repartition-source
	//
	// /home /home 10
	// /cart /cart 20
}

// A type without a built-in serde needs one where it is written.
func ExampleWithValueSerde() {
	type View struct{ Page string }
	b := topology.NewBuilder()
	in := kstream.From(b, "in", serde.String(), serde.String())
	views := kstream.MapValues(in, func(p string) View { return View{p} })
	views.To("missing-serde")
	views.To("views", kstream.WithValueSerde(serde.JSON[View]()))
	_, err := b.Build()
	fmt.Println(err)
	// Output:
	// kstream: To KSTREAM-SINK-0000000002: no value serde for type kstream_test.View; pass one with kstream.WithValueSerde
	// topology: sink "KSTREAM-SINK-0000000002": key and value serdes are required
}

// FlatMapValues turns one record into several, keeping the key, timestamp
// and headers.
func ExampleFlatMapValues() {
	b := topology.NewBuilder()
	lines := kstream.From(b, "lines", serde.String(), serde.String())
	kstream.FlatMapValues(lines, strings.Fields).To("words")
	t, _ := b.Build()

	d, _ := streamstest.New(t)
	defer d.Close()
	streamstest.NewInputTopic(d, "lines", serde.String(), serde.String()).PipeAt("doc1", "to be or", 5)
	recs, _ := streamstest.NewOutputTopic(d, "words", serde.String(), serde.String()).ReadRecords()
	for _, r := range recs {
		fmt.Println(r.Key, r.Value, r.Timestamp)
	}
	// Output:
	// doc1 to 5
	// doc1 be 5
	// doc1 or 5
}

// Null marks: a tombstone (null value) keeps its mark through operators that
// leave the value alone, such as Filter, and loses it when a mapper produces
// a new value.
func ExampleMapValues_tombstones() {
	b := topology.NewBuilder()
	in := kstream.From(b, "in", serde.String(), serde.String())
	in.Filter(func(string, string) bool { return true }).To("filtered")
	kstream.MapValues(in, func(v string) string { return "<" + v + ">" }).To("mapped")
	t, _ := b.Build()

	d, _ := streamstest.New(t)
	defer d.Close()
	streamstest.NewInputTopic(d, "in", serde.String(), serde.String()).PipeTombstone("k", 0)
	for _, topic := range []string{"filtered", "mapped"} {
		r, _ := streamstest.NewOutputTopic(d, topic, serde.String(), serde.String()).ReadRecord()
		fmt.Printf("%s: value=%q null=%v\n", topic, r.Value, r.ValueNull)
	}
	// Output:
	// filtered: value="" null=true
	// mapped: value="<>" null=false
}

// counter is a Processor API processor plugged into the DSL with Process: it
// re-keys each record by its value and counts records per task.
type counter struct {
	ctx processor.Context[string, int64]
	n   int64
}

func (c *counter) Init(ctx processor.Context[string, int64]) error { c.ctx = ctx; return nil }
func (c *counter) Close() error                                    { return nil }
func (c *counter) Process(r processor.Record[string, string]) error {
	c.n++
	return c.ctx.Forward(processor.NewRecord(r.Value, c.n, r.Timestamp))
}

func ExampleProcess() {
	b := topology.NewBuilder()
	in := kstream.From(b, "in", serde.String(), serde.String())
	counted := kstream.Process(in, func() processor.Processor[string, string, string, int64] {
		return &counter{}
	}, kstream.Named("count-all"))
	counted.To("counts")
	t, _ := b.Build()

	d, _ := streamstest.New(t)
	defer d.Close()
	pipe := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	pipe.PipeAt("a", "x", 1)
	pipe.PipeAt("b", "y", 2)
	kvs, _ := streamstest.NewOutputTopic(d, "counts", serde.String(), serde.Int64()).ReadKeyValues()
	fmt.Println(kvs, counted.RepartitionRequired())
	// Output:
	// [{x 1} {y 2}] true
}
