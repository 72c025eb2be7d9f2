package streamstest_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// TestShout is the example in README.md; keep the two identical
// (TestReadmeExampleInSync checks it).
func TestShout(t *testing.T) {
	// The topology: drop empty values, upper-case the rest.
	b := topology.NewBuilder()
	words := kstream.From(b, "words", serde.String(), serde.String())
	nonEmpty := words.Filter(func(_, v string) bool { return v != "" })
	kstream.MapValues(nonEmpty, strings.ToUpper).To("shouts")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	// The test: pipe records in, read what the topology wrote.
	d, err := streamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "words", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "shouts", serde.String(), serde.String())
	in.Pipe("k1", "hello")
	in.Pipe("k2", "")
	in.Pipe("k3", "world")
	got, err := out.ReadKeyValues()
	if err != nil || fmt.Sprint(got) != "[{k1 HELLO} {k3 WORLD}]" {
		t.Fatalf("got %v, %v", got, err)
	}
}

// TestReadmeExampleInSync checks that the TestShout function shown in
// README.md is the one above, so that the README's example compiles and
// passes.
func TestReadmeExampleInSync(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Skip("no README.md:", err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "func TestShout(")
	if !ok {
		t.Fatal("README.md does not show func TestShout")
	}
	body, _, ok := strings.Cut(after, "\n}\n")
	if !ok {
		t.Fatal("README.md: func TestShout has no closing brace at the start of a line")
	}
	if !strings.Contains(string(src), "func TestShout("+body+"\n}\n") {
		t.Error("README.md's TestShout differs from the one in streamstest/example_test.go")
	}
}

// Input topics stamp records piped without a timestamp: from the driver's
// wall clock (or StartAt), moving forward by AutoAdvance after each record.
func ExampleNewInputTopic() {
	b := topology.NewBuilder()
	kstream.From(b, "in", serde.String(), serde.String()).To("out")
	t, _ := b.Build()

	d, _ := streamstest.New(t)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String(),
		streamstest.StartAt(1_000), streamstest.AutoAdvance(time.Second))
	out := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String())

	in.Pipe("a", "first")      // timestamp 1000
	in.Pipe("b", "second")     // timestamp 2000
	in.PipeAt("c", "third", 7) // explicit timestamp; the automatic one is not used
	in.PipeValue("no key")     // null key, timestamp 3000
	in.PipeTombstone("d", 9)   // null value
	in.PipeRecord(streamstest.Record[string, string]{
		Key: "e", Value: "with headers", Timestamp: 10,
		Headers: processor.Headers{{Key: "source", Value: []byte("test")}},
	})

	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Printf("key=%q keyNull=%v value=%q valueNull=%v ts=%d headers=%d\n",
			r.Key, r.KeyNull, r.Value, r.ValueNull, r.Timestamp, len(r.Headers))
	}
	_, err := out.ReadRecord()
	fmt.Println(errors.Is(err, streamstest.ErrNoRecord), err)
	// Output:
	// key="a" keyNull=false value="first" valueNull=false ts=1000 headers=0
	// key="b" keyNull=false value="second" valueNull=false ts=2000 headers=0
	// key="c" keyNull=false value="third" valueNull=false ts=7 headers=0
	// key="" keyNull=true value="no key" valueNull=false ts=3000 headers=0
	// key="d" keyNull=false value="" valueNull=true ts=9 headers=0
	// key="e" keyNull=false value="with headers" valueNull=false ts=10 headers=1
	// true streamstest: no record to read in topic "out"
}

// With several partitions the driver creates one task per partition and
// routes each keyed record with Kafka's default partitioner (murmur2 of the
// serialized key), so a key always lands on the same task.
func ExampleWithPartitions() {
	b := topology.NewBuilder()
	in := kstream.From(b, "in", serde.String(), serde.String())
	kstream.Process(in, func() processor.Processor[string, string, string, string] {
		return &taskTagger{}
	}).To("out")
	t, _ := b.Build()

	d, _ := streamstest.New(t, streamstest.WithPartitions("in", 3), streamstest.WithPartitions("out", 3))
	defer d.Close()
	pipe := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, k := range []string{"alice", "carol", "dave", "alice"} {
		pipe.PipeAt(k, "v", 0)
	}
	recs, _ := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadRecords()
	for _, r := range recs {
		fmt.Printf("%s: processed by task %s, written to partition %d\n", r.Key, r.Value, r.Partition)
	}
	// Output:
	// alice: processed by task 0_0, written to partition 0
	// carol: processed by task 0_2, written to partition 2
	// dave: processed by task 0_1, written to partition 1
	// alice: processed by task 0_0, written to partition 0
}

// taskTagger replaces each value with the id of the task processing it.
type taskTagger struct {
	ctx processor.Context[string, string]
}

func (p *taskTagger) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *taskTagger) Close() error                                     { return nil }
func (p *taskTagger) Process(r processor.Record[string, string]) error {
	return p.ctx.Forward(r.WithValue(p.ctx.TaskID().String()))
}

// heartbeat forwards a record every minute of wall-clock time, whether
// records arrive or not.
type heartbeat struct {
	ctx processor.Context[string, string]
}

func (p *heartbeat) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	_, err := ctx.Schedule(time.Minute, processor.WallClockTime, func(now int64) error {
		return p.ctx.Forward(processor.NewRecord("beat", time.UnixMilli(now).UTC().Format(time.TimeOnly), now))
	})
	return err
}
func (p *heartbeat) Close() error                                   { return nil }
func (p *heartbeat) Process(processor.Record[string, string]) error { return nil }

// Wall-clock punctuations fire only when the test moves the driver's clock.
// A jump over several intervals fires a punctuation once.
func ExampleDriver_AdvanceWallClock() {
	b := topology.NewBuilder()
	in := kstream.From(b, "in", serde.String(), serde.String())
	kstream.Process(in, func() processor.Processor[string, string, string, string] {
		return &heartbeat{}
	}).To("beats")
	t, _ := b.Build()

	start := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	d, _ := streamstest.New(t, streamstest.WithWallClock(start))
	defer d.Close()
	out := streamstest.NewOutputTopic(d, "beats", serde.String(), serde.String())

	d.AdvanceWallClock(30 * time.Second)
	fmt.Println("after 30s:", out.Len())
	d.AdvanceWallClock(30 * time.Second)
	d.AdvanceWallClock(5 * time.Minute)
	kvs, _ := out.ReadKeyValues()
	fmt.Println(kvs, d.WallClock().UTC().Format(time.TimeOnly))
	// Output:
	// after 30s: 0
	// [{beat 12:01:00} {beat 12:06:00}] 12:06:00
}

// PipeRaw pipes bytes no serde would produce. By default an undecodable
// record fails processing; with SkipOnDeserializationError it is dropped and
// counted.
func ExampleDriver_PipeRaw() {
	b := topology.NewBuilder()
	kstream.From(b, "amounts", serde.String(), serde.Int64()).To("out")
	t, _ := b.Build()

	strict, _ := streamstest.New(t)
	defer strict.Close()
	err := strict.PipeRaw("amounts", -1, []byte("k"), []byte{0x01}, 0, nil)
	fmt.Println(err)
	var de *processor.DeserializationError
	fmt.Println(errors.As(err, &de), de.Part, errors.Is(err, serde.ErrSize))

	lenient, _ := streamstest.New(t, streamstest.WithDeserializationHandler(processor.SkipOnDeserializationError))
	defer lenient.Close()
	lenient.PipeRaw("amounts", -1, []byte("k"), []byte{0x01}, 0, nil)
	in := streamstest.NewInputTopic(lenient, "amounts", serde.String(), serde.Int64())
	in.PipeAt("k", 42, 0)
	kvs, _ := streamstest.NewOutputTopic(lenient, "out", serde.String(), serde.Int64()).ReadKeyValues()
	fmt.Println(kvs, lenient.Dropped("deserialization-error"))
	// Output:
	// task 0_0: deserializing the value of the record at amounts/0 offset 0: serde.Int64: wrong data size: got 1 bytes, want 8
	// true value true
	// [{k 42}] 1
}

// A negative timestamp fails processing unless the source is told otherwise
// with kstream.WithInvalidTimestamp.
func ExampleDriver_Dropped() {
	b := topology.NewBuilder()
	kstream.From(b, "strict", serde.String(), serde.String()).To("out")
	kstream.From(b, "skip", serde.String(), serde.String(),
		kstream.WithInvalidTimestamp(topology.SkipOnInvalidTimestamp)).To("out")
	kstream.From(b, "patch", serde.String(), serde.String(),
		kstream.WithInvalidTimestamp(topology.UsePartitionTimeOnInvalidTimestamp)).To("out")
	t, _ := b.Build()
	d, _ := streamstest.New(t)
	defer d.Close()

	strict := streamstest.NewInputTopic(d, "strict", serde.String(), serde.String())
	fmt.Println(strict.PipeAt("k", "v", -1))

	skip := streamstest.NewInputTopic(d, "skip", serde.String(), serde.String())
	fmt.Println(skip.PipeAt("k", "dropped", -1), d.Dropped("invalid-timestamp"))

	patch := streamstest.NewInputTopic(d, "patch", serde.String(), serde.String())
	fmt.Println(patch.PipeAt("k", "too early", -1))
	patch.PipeAt("k", "ok", 500)
	patch.PipeAt("k", "patched", -1)
	recs, _ := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadRecords()
	for _, r := range recs {
		fmt.Println(r.Value, r.Timestamp)
	}
	// Output:
	// task 0_0: processing the record at strict/0 offset 0: KSTREAM-SOURCE-0000000000: record at strict/0 offset 0 has invalid (negative) timestamp -1
	// <nil> 1
	// task 2_0: processing the record at patch/0 offset 0: KSTREAM-SOURCE-0000000004: record at patch/0 offset 0 has invalid timestamp -1 and its partition has no time yet
	// ok 500
	// patched 500
}

// failing returns an error for one value.
type failing struct {
	ctx processor.Context[string, string]
}

func (p *failing) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *failing) Close() error                                     { return nil }
func (p *failing) Process(r processor.Record[string, string]) error {
	if r.Value == "bad" {
		return errors.New("cannot handle bad")
	}
	return p.ctx.Forward(r)
}

// An error returned by a processor comes back from Pipe, naming the task,
// the input record and the node.
func ExampleInputTopic_PipeAt_error() {
	b := topology.NewBuilder()
	in := kstream.From(b, "in", serde.String(), serde.String())
	kstream.Process(in, func() processor.Processor[string, string, string, string] {
		return &failing{}
	}, kstream.Named("check")).To("out")
	t, _ := b.Build()
	d, _ := streamstest.New(t)
	defer d.Close()
	pipe := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	fmt.Println(pipe.PipeAt("k", "good", 0))
	fmt.Println(pipe.PipeAt("k", "bad", 0))
	// Output:
	// <nil>
	// task 0_0: processing the record at in/0 offset 1: check: cannot handle bad
}
