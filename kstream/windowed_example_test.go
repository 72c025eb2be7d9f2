package kstream_test

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// The examples of docs/windows.md. Each pipes records with explicit
// timestamps (ms) and prints what the topology writes:
// "[key@start/end] value @timestamp", tombstones as <null>.

func exampleDriver(b *topology.Builder) (*streamstest.Driver, func(key string, ts int64)) {
	t, err := b.Build()
	if err != nil {
		panic(err)
	}
	d, err := streamstest.New(t)
	if err != nil {
		panic(err)
	}
	in := streamstest.NewInputTopic(d, "clicks", serde.String(), serde.String())
	return d, func(key string, ts int64) {
		if err := in.PipeAt(key, "click", ts); err != nil {
			panic(err)
		}
	}
}

func examplePrint[V any](d *streamstest.Driver, topic string, ks serde.Serde[window.Windowed[string]], vs serde.Serde[V]) {
	recs, err := streamstest.NewOutputTopic(d, topic, ks, vs).ReadRecords()
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		v := fmt.Sprint(r.Value)
		if r.ValueNull {
			v = "<null>"
		}
		fmt.Printf("%v %s @%d\n", r.Key, v, r.Timestamp)
	}
}

// Tumbling windows of 10 s with a grace period of 5 s: the record at 4 s
// that arrives after 12 s still counts in [0 s, 10 s); the one at 3 s after
// 16 s is late (the window closed at 15 s), dropped and counted.
func ExampleCountWindowed() {
	b := topology.NewBuilder()
	clicks := kstream.From(b, "clicks", serde.String(), serde.String())
	perWindow := window.Tumbling(10 * time.Second).WithGrace(5 * time.Second)
	counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(clicks), perWindow), "clicks-per-10s")
	kstream.FromTable(counts).To("counts") // the windowed key serde comes with the table

	d, pipe := exampleDriver(b)
	defer d.Close()
	pipe("alice", 1_000)
	pipe("alice", 12_000)
	pipe("alice", 4_000)
	pipe("alice", 16_000)
	pipe("alice", 3_000)
	examplePrint(d, "counts", window.TimeWindowedSerde(serde.String(), 10_000), serde.Int64())
	fmt.Println("late:", d.Dropped("late"))
	// Output:
	// [alice@0/10000] 1 @1000
	// [alice@10000/20000] 1 @12000
	// [alice@0/10000] 2 @4000
	// [alice@10000/20000] 2 @16000
	// late: 1
}

// Hopping windows of 10 s every 5 s: each record falls in two windows.
func ExampleWindowedBy_hopping() {
	b := topology.NewBuilder()
	clicks := kstream.From(b, "clicks", serde.String(), serde.String())
	hopping := window.Hopping(10*time.Second, 5*time.Second)
	counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(clicks), hopping), "clicks-hopping")
	kstream.FromTable(counts).To("counts")

	d, pipe := exampleDriver(b)
	defer d.Close()
	pipe("alice", 7_000)
	pipe("alice", 11_000)
	examplePrint(d, "counts", window.TimeWindowedSerde(serde.String(), 10_000), serde.Int64())
	// Output:
	// [alice@0/10000] 1 @7000
	// [alice@5000/15000] 1 @7000
	// [alice@5000/15000] 2 @11000
	// [alice@10000/20000] 1 @11000
}

// The SlidingWindows example of Kafka Streams: a time difference of 5 s and
// records at 8 s, 9.2 s and 12.4 s make five windows.
func ExampleSlidingWindowedBy() {
	b := topology.NewBuilder()
	clicks := kstream.From(b, "clicks", serde.String(), serde.String())
	sliding := window.Sliding(5 * time.Second)
	counts := kstream.CountWindowed(kstream.SlidingWindowedBy(kstream.GroupByKey(clicks), sliding), "clicks-sliding")
	kstream.FromTable(counts).To("counts")

	d, pipe := exampleDriver(b)
	defer d.Close()
	pipe("A", 8_000)
	pipe("A", 9_200)
	pipe("A", 12_400)
	examplePrint(d, "counts", window.TimeWindowedSerde(serde.String(), 5_000), serde.Int64())
	// Output:
	// [A@3000/8000] 1 @8000
	// [A@8001/13001] 1 @9200
	// [A@4200/9200] 2 @9200
	// [A@8001/13001] 2 @12400
	// [A@9201/14201] 1 @12400
	// [A@7400/12400] 3 @12400
}

// Sessions with an inactivity gap of 5 s: the record at 6 s bridges the
// sessions [1 s, 1 s] and [10 s, 10 s], which are replaced (tombstones)
// by the merged session.
func ExampleCountSessions() {
	b := topology.NewBuilder()
	clicks := kstream.From(b, "clicks", serde.String(), serde.String())
	sessions := window.Session(5 * time.Second).WithGrace(10 * time.Second)
	counts := kstream.CountSessions(kstream.SessionWindowedBy(kstream.GroupByKey(clicks), sessions), "sessions",
		kstream.WithCaching(false))
	kstream.FromTable(counts).To("sessions")

	d, pipe := exampleDriver(b)
	defer d.Close()
	pipe("bob", 1_000)
	pipe("bob", 10_000)
	pipe("bob", 6_000)
	examplePrint(d, "sessions", window.SessionWindowedSerde(serde.String()), serde.Int64())
	// Output:
	// [bob@1000/1000] 1 @1000
	// [bob@10000/10000] 1 @10000
	// [bob@1000/1000] <null> @1000
	// [bob@10000/10000] <null> @10000
	// [bob@1000/10000] 3 @10000
}

// Final results: Suppress(UntilWindowCloses) emits each window once, when
// stream time reaches its end plus the grace period.
func Example_suppressUntilWindowCloses() {
	b := topology.NewBuilder()
	clicks := kstream.From(b, "clicks", serde.String(), serde.String())
	perWindow := window.Tumbling(10 * time.Second).WithGrace(5 * time.Second)
	counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(clicks), perWindow), "clicks-per-10s")
	final := counts.Suppress(window.UntilWindowCloses(window.Unbounded()))
	kstream.FromTable(final).To("final-counts")

	d, pipe := exampleDriver(b)
	defer d.Close()
	pipe("alice", 1_000)
	pipe("alice", 4_000)
	pipe("bob", 9_000)
	pipe("alice", 14_000) // [0 s, 10 s) closes at 15 s: nothing yet
	examplePrint(d, "final-counts", window.TimeWindowedSerde(serde.String(), 10_000), serde.Int64())
	fmt.Println("--")
	pipe("bob", 15_000)
	examplePrint(d, "final-counts", window.TimeWindowedSerde(serde.String(), 10_000), serde.Int64())
	// Output:
	// --
	// [alice@0/10000] 2 @4000
	// [bob@0/10000] 1 @9000
}

// Emit-on-window-close: the aggregation itself forwards each window once,
// when it closes, without a suppression buffer.
func ExampleEmitOnWindowClose() {
	b := topology.NewBuilder()
	clicks := kstream.From(b, "clicks", serde.String(), serde.String())
	perWindow := window.Tumbling(10 * time.Second).WithGrace(5 * time.Second)
	counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(clicks), perWindow), "clicks-per-10s",
		kstream.EmitOnWindowClose())
	kstream.FromTable(counts).To("final-counts")

	d, pipe := exampleDriver(b)
	defer d.Close()
	pipe("alice", 1_000)
	pipe("alice", 4_000)
	pipe("bob", 9_000)
	pipe("alice", 15_000)
	examplePrint(d, "final-counts", window.TimeWindowedSerde(serde.String(), 10_000), serde.Int64())
	// Output:
	// [alice@0/10000] 2 @4000
	// [bob@0/10000] 1 @9000
}

// Rate limiting: UntilTimeLimit emits each key's latest value once 10 s of
// stream time have passed since its first held update.
func Example_suppressUntilTimeLimit() {
	b := topology.NewBuilder()
	clicks := kstream.From(b, "clicks", serde.String(), serde.String())
	totals := kstream.Count(kstream.GroupByKey(clicks), "clicks-total")
	limited := totals.Suppress(window.UntilTimeLimit(10*time.Second, window.MaxRecords(10_000).EmitEarlyWhenFull()))
	kstream.FromTable(limited).To("totals")

	t, _ := b.Build()
	d, _ := streamstest.New(t)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "clicks", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "totals", serde.String(), serde.Int64())
	for _, ts := range []int64{0, 2_000, 5_000, 9_000, 10_000, 12_000} {
		in.PipeAt("alice", "click", ts)
	}
	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Printf("%s %d @%d\n", r.Key, r.Value, r.Timestamp)
	}
	// Output:
	// alice 5 @10000
}

// TimestampFromValue takes event time from the value.
func ExampleTimestampFromValue() {
	b := topology.NewBuilder()
	// Values are "<epoch ms>,<page>".
	eventTime := kstream.TimestampFromValue[string](func(v string) int64 {
		ms, _, _ := strings.Cut(v, ",")
		t, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			return -1 // invalid: the source's WithInvalidTimestamp policy decides
		}
		return t
	})
	views := kstream.From(b, "views", serde.String(), serde.String(), kstream.WithTimestampExtractor(eventTime))
	views.To("stamped")

	t, _ := b.Build()
	d, _ := streamstest.New(t)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "views", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "stamped", serde.String(), serde.String())
	in.PipeAt("alice", "1700000000000,/home", 5) // the Kafka timestamp, 5, is ignored
	recs, _ := out.ReadRecords()
	fmt.Println(recs[0].Value, recs[0].Timestamp)
	// Output:
	// 1700000000000,/home 1700000000000
}
