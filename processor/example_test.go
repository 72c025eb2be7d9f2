package processor_test

import (
	"fmt"
	"time"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// rateCounter counts the records it receives and, every 10 seconds of stream
// time, forwards how many arrived since the last report.
type rateCounter struct {
	ctx processor.Context[string, int64]
	n   int64
}

func (p *rateCounter) Init(ctx processor.Context[string, int64]) error {
	p.ctx = ctx
	_, err := ctx.Schedule(10*time.Second, processor.StreamTime, func(now int64) error {
		rec := processor.NewRecord("count", p.n, now)
		p.n = 0
		return p.ctx.Forward(rec)
	})
	return err
}

func (p *rateCounter) Process(processor.Record[string, string]) error {
	p.n++
	return nil
}

func (p *rateCounter) Close() error { return nil }

// A custom processor with a stream-time punctuation. Stream-time
// punctuations are aligned to multiples of the interval and fire when a
// record moves stream time past one; a jump over several intervals fires
// once. The first fires as soon as the task has a stream time.
func Example_punctuation() {
	b := topology.NewBuilder()
	topology.AddSource(b, "events", serde.String(), serde.String(), "events")
	topology.AddProcessor(b, "rate", func() processor.Processor[string, string, string, int64] {
		return &rateCounter{}
	}, "events")
	topology.AddSink(b, "rates", "rates", serde.String(), serde.Int64(), "rate")
	t, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}

	d, _ := streamstest.New(t)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "events", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "rates", serde.String(), serde.Int64())
	for _, ts := range []int64{1_000, 5_000, 12_000, 13_000, 9_000, 31_000} {
		in.PipeAt("k", "v", ts)
		for !out.IsEmpty() {
			r, _ := out.ReadRecord()
			fmt.Printf("after record at %6d: %s=%d at %d\n", ts, r.Key, r.Value, r.Timestamp)
		}
	}
	// Output:
	// after record at   1000: count=1 at 1000
	// after record at  12000: count=2 at 12000
	// after record at  31000: count=3 at 31000
}

// metadata prints what its context knows about the record being processed.
type metadata struct {
	ctx processor.Context[string, string]
}

func (p *metadata) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *metadata) Close() error                                     { return nil }
func (p *metadata) Process(r processor.Record[string, string]) error {
	m, _ := p.ctx.RecordMetadata()
	fmt.Printf("app=%s task=%s %s/%d@%d ts=%d streamTime=%d\n",
		p.ctx.ApplicationID(), p.ctx.TaskID(), m.Topic, m.Partition, m.Offset, r.Timestamp, p.ctx.StreamTime())
	return nil
}

// What a processor's Context tells about the record being processed. Stream
// time is the largest timestamp the task has seen: a late record does not move
// it back.
func ExampleContext() {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), "in")
	topology.AddProcessor(b, "meta", func() processor.Processor[string, string, string, string] {
		return &metadata{}
	}, "in")
	t, _ := b.Build()

	d, _ := streamstest.New(t, streamstest.WithApplicationID("demo"))
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	in.PipeAt("a", "x", 500)
	in.PipeAt("b", "y", 200)
	// Output:
	// app=demo task=0_0 in/0@0 ts=500 streamTime=500
	// app=demo task=0_0 in/0@1 ts=200 streamTime=500
}

// tagger is a fixed-key processor: it can change values (here, their type)
// and headers but not keys.
type tagger struct {
	ctx processor.FixedKeyContext[string, int64]
}

func (p *tagger) Init(ctx processor.FixedKeyContext[string, int64]) error { p.ctx = ctx; return nil }
func (p *tagger) Close() error                                            { return nil }
func (p *tagger) Process(r processor.FixedKeyRecord[string, string]) error {
	out := processor.WithValue(r, int64(len(r.Value()))).WithHeaders(r.Headers().With("len-of", []byte(r.Value())))
	return p.ctx.Forward(out)
}

func ExampleFixedKeyProcessor() {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), "in")
	topology.AddFixedKeyProcessor(b, "tag", func() processor.FixedKeyProcessor[string, string, int64] {
		return &tagger{}
	}, "in")
	topology.AddSink(b, "out", "out", serde.String(), serde.Int64(), "tag")
	t, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := streamstest.New(t)
	defer d.Close()
	streamstest.NewInputTopic(d, "in", serde.String(), serde.String()).PipeAt("k", "hello", 0)
	r, _ := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadRecord()
	v, _ := r.Headers.Last("len-of")
	fmt.Printf("%s %d len-of=%s\n", r.Key, r.Value, v)
	// Output:
	// k 5 len-of=hello
}

// Null marks: Tombstone builds a record with a null value; WithValue clears
// the mark; a struct literal is never null.
func ExampleTombstone() {
	t := processor.Tombstone[string, string]("user-1", 1000)
	fmt.Println(t.KeyIsNull(), t.ValueIsNull())

	u := t.WithValue("")
	fmt.Println(u.ValueIsNull())

	l := processor.Record[string, string]{Key: "k"}
	fmt.Println(l.KeyIsNull(), l.ValueIsNull())

	// Convert changes types and keeps the marks it is told to keep.
	c := processor.Convert(t, t.Key, 0, true, true)
	fmt.Println(c.ValueIsNull())
	// Output:
	// false true
	// false
	// false false
	// true
}

func ExampleHeaders() {
	h := processor.Headers{{Key: "trace", Value: []byte("a")}}
	h2 := h.With("trace", []byte("b")).With("tenant", []byte("t1"))
	v, ok := h2.Last("trace")
	fmt.Println(string(v), ok, len(h), len(h2))
	fmt.Println(len(h2.Without("trace")))
	// Output:
	// b true 1 3
	// 1
}
