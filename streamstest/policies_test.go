package streamstest_test

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

func newDriver(t *testing.T, b *topology.Builder, opts ...streamstest.Option) *streamstest.Driver {
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

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", want)
	}
	if err.Error() != want {
		t.Fatalf("error:\n got %q\nwant %q", err.Error(), want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// timeProbe forwards records unchanged and logs each with the task's stream
// time and the record's position in its input topic. A stream-time
// punctuation every 100ms logs when it fires.
type timeProbe[V any] struct {
	ctx processor.Context[string, V]
	log *[]string
}

func (p *timeProbe[V]) Init(ctx processor.Context[string, V]) error {
	p.ctx = ctx
	_, err := ctx.Schedule(100*time.Millisecond, processor.StreamTime, func(ts int64) error {
		*p.log = append(*p.log, fmt.Sprintf("punctuate @%d", ts))
		return nil
	})
	return err
}

func (p *timeProbe[V]) Close() error { return nil }

func (p *timeProbe[V]) Process(r processor.Record[string, V]) error {
	m, _ := p.ctx.RecordMetadata()
	*p.log = append(*p.log, fmt.Sprintf("%s=%v @%d stream-time=%d from %s/%d@%d",
		r.Key, r.Value, r.Timestamp, p.ctx.StreamTime(), m.Topic, m.Partition, m.Offset))
	return p.ctx.Forward(r)
}

func probe[V any](log *[]string) processor.Supplier[string, V, string, V] {
	return func() processor.Processor[string, V, string, V] { return &timeProbe[V]{log: log} }
}

func int64Bytes(v int64) []byte {
	b, _ := serde.Int64().Serialize(v)
	return b
}

func readAll[K, V any](t *testing.T, out *streamstest.OutputTopic[K, V]) []streamstest.Record[K, V] {
	t.Helper()
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func wantRecords[K, V any](t *testing.T, got, want []streamstest.Record[K, V]) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records:\n got %+v\nwant %+v", got, want)
	}
}

func wantLog(t *testing.T, got *[]string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("log:\n got %q\nwant %q", *got, want)
	}
	*got = nil
}

func int64Topology(log *[]string, opts ...kstream.Option) *topology.Builder {
	b := topology.NewBuilder()
	s := kstream.From(b, "input", serde.String(), serde.Int64(), opts...)
	kstream.Process(s, probe[int64](log)).To("output", kstream.WithKeySerde(serde.String()), kstream.WithValueSerde(serde.Int64()))
	return b
}

func TestDeserializationErrorFailsByDefault(t *testing.T) {
	var log []string
	d := newDriver(t, int64Topology(&log))
	err := d.PipeRaw("input", 0, []byte("k"), []byte{1, 2, 3}, 10, processor.Headers{{Key: "h", Value: []byte("v")}})
	wantErr(t, err, "task 0_0: deserializing the value of the record at input/0 offset 0: serde.Int64: wrong data size: got 3 bytes, want 8")
	var de *processor.DeserializationError
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not a *processor.DeserializationError", err)
	}
	want := &processor.DeserializationError{Topic: "input", Partition: 0, Offset: 0, Part: "value",
		Key: []byte("k"), Value: []byte{1, 2, 3}, Timestamp: 10,
		Headers: processor.Headers{{Key: "h", Value: []byte("v")}}, Err: de.Err}
	if !reflect.DeepEqual(de, want) {
		t.Errorf("DeserializationError = %+v, want %+v", de, want)
	}
	if !errors.Is(err, serde.ErrSize) {
		t.Errorf("errors.Is(err, serde.ErrSize) = false")
	}
	wantLog(t, &log)
	if got := d.DroppedAll(); len(got) != 0 {
		t.Errorf("DroppedAll = %v, want none", got)
	}
}

func TestDeserializationErrorNamesKeyPartitionAndOffset(t *testing.T) {
	b := topology.NewBuilder()
	kstream.From(b, "input", serde.Int64(), serde.String()).To("output")
	d := newDriver(t, b, streamstest.WithPartitions("input", 2))
	must(t, d.PipeRaw("input", 1, int64Bytes(7), []byte("ok"), 1, nil))
	err := d.PipeRaw("input", 1, []byte("short"), []byte("v"), 2, nil)
	wantErr(t, err, "task 0_1: deserializing the key of the record at input/1 offset 1: serde.Int64: wrong data size: got 5 bytes, want 8")
	out := streamstest.NewOutputTopic(d, "output", serde.Int64(), serde.String())
	wantRecords(t, readAll(t, out), []streamstest.Record[int64, string]{{Key: 7, Value: "ok", Timestamp: 1}})
}

func TestDeserializationErrorSkip(t *testing.T) {
	var log []string
	d := newDriver(t, int64Topology(&log), streamstest.WithDeserializationHandler(processor.SkipOnDeserializationError))
	out := streamstest.NewOutputTopic(d, "output", serde.String(), serde.Int64())

	// The undecodable record is dropped and counted, and has no effect on
	// time: it neither advances stream time nor fires punctuations.
	must(t, d.PipeRaw("input", 0, []byte("bad"), []byte{1, 2, 3}, 1000, nil))
	if got := d.Dropped("deserialization-error"); got != 1 {
		t.Errorf(`Dropped("deserialization-error") = %d, want 1`, got)
	}
	wantLog(t, &log)
	must(t, d.PipeRaw("input", 0, []byte("k"), int64Bytes(7), 10, nil))
	wantLog(t, &log, "k=7 @10 stream-time=10 from input/0@1", "punctuate @10")
	wantRecords(t, readAll(t, out), []streamstest.Record[string, int64]{{Key: "k", Value: 7, Timestamp: 10}})
	if got, want := d.DroppedAll(), map[string]int64{"deserialization-error": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("DroppedAll = %v, want %v", got, want)
	}
}

func TestDeserializationHandlerSeesTheRecord(t *testing.T) {
	var log []string
	var seen []*processor.DeserializationError
	d := newDriver(t, int64Topology(&log), streamstest.WithPartitions("input", 2),
		streamstest.WithDeserializationHandler(func(e *processor.DeserializationError) processor.ErrorAction {
			seen = append(seen, e)
			return processor.Skip
		}))
	h := processor.Headers{{Key: "trace", Value: []byte("t1")}}
	must(t, d.PipeRaw("input", 1, nil, []byte("xy"), 5, h))
	if len(seen) != 1 {
		t.Fatalf("handler called %d times, want 1", len(seen))
	}
	e := seen[0]
	got := fmt.Sprintf("%s/%d@%d part=%s key=%v value=%q ts=%d headers=%v err=%v",
		e.Topic, e.Partition, e.Offset, e.Part, e.Key, e.Value, e.Timestamp, e.Headers, e.Err)
	if want := `input/1@0 part=value key=[] value="xy" ts=5 headers=[{trace [116 49]}] err=serde.Int64: wrong data size: got 2 bytes, want 8`; got != want {
		t.Errorf("handler saw\n %s\nwant\n %s", got, want)
	}
	if e.Key != nil {
		t.Errorf("Key = %#v, want nil (a null key)", e.Key)
	}
	if got := d.Dropped("deserialization-error"); got != 1 {
		t.Errorf(`Dropped("deserialization-error") = %d, want 1`, got)
	}
}

func TestDeserializationDeadLetterWithoutTopicFails(t *testing.T) {
	var log []string
	d := newDriver(t, int64Topology(&log), streamstest.WithDeserializationHandler(processor.DeadLetterOnDeserializationError))
	err := d.PipeRaw("input", 0, []byte("k"), []byte{1}, 10, nil)
	wantErr(t, err, "task 0_0: deserializing the value of the record at input/0 offset 0: serde.Int64: wrong data size: got 1 bytes, want 8")
	if got := d.DroppedAll(); len(got) != 0 {
		t.Errorf("DroppedAll = %v, want none", got)
	}
}

func TestInvalidTimestampFail(t *testing.T) {
	var log []string
	d := newDriver(t, int64Topology(&log))
	err := d.PipeRaw("input", 0, []byte("k"), int64Bytes(1), -5, nil)
	wantErr(t, err, "task 0_0: processing the record at input/0 offset 0: KSTREAM-SOURCE-0000000000: record at input/0 offset 0 has invalid (negative) timestamp -5")
	wantLog(t, &log)
}

func TestInvalidTimestampSkip(t *testing.T) {
	var log []string
	d := newDriver(t, int64Topology(&log, kstream.WithInvalidTimestamp(topology.SkipOnInvalidTimestamp)))
	out := streamstest.NewOutputTopic(d, "output", serde.String(), serde.Int64())
	must(t, d.PipeRaw("input", 0, []byte("a"), int64Bytes(1), -1, nil))
	must(t, d.PipeRaw("input", 0, []byte("b"), int64Bytes(2), -7, nil))
	wantLog(t, &log)
	must(t, d.PipeRaw("input", 0, []byte("c"), int64Bytes(3), 20, nil))
	wantLog(t, &log, "c=3 @20 stream-time=20 from input/0@2", "punctuate @20")
	wantRecords(t, readAll(t, out), []streamstest.Record[string, int64]{{Key: "c", Value: 3, Timestamp: 20}})
	if got, want := d.DroppedAll(), map[string]int64{"invalid-timestamp": 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("DroppedAll = %v, want %v", got, want)
	}
}

func TestInvalidTimestampUsePartitionTime(t *testing.T) {
	var log []string
	d := newDriver(t, int64Topology(&log, kstream.WithInvalidTimestamp(topology.UsePartitionTimeOnInvalidTimestamp)),
		streamstest.WithPartitions("input", 2))
	out := streamstest.NewOutputTopic(d, "output", serde.String(), serde.Int64())

	err := d.PipeRaw("input", 0, []byte("a"), int64Bytes(1), -1, nil)
	wantErr(t, err, "task 0_0: processing the record at input/0 offset 0: KSTREAM-SOURCE-0000000000: record at input/0 offset 0 has invalid timestamp -1 and its partition has no time yet")
	must(t, d.PipeRaw("input", 0, []byte("b"), int64Bytes(2), 100, nil))
	must(t, d.PipeRaw("input", 0, []byte("c"), int64Bytes(3), 40, nil))
	must(t, d.PipeRaw("input", 0, []byte("d"), int64Bytes(4), -3, nil))
	// Partition 1 has no time of its own yet.
	err = d.PipeRaw("input", 1, []byte("e"), int64Bytes(5), -1, nil)
	wantErr(t, err, "task 0_1: processing the record at input/1 offset 0: KSTREAM-SOURCE-0000000000: record at input/1 offset 0 has invalid timestamp -1 and its partition has no time yet")
	wantLog(t, &log,
		"b=2 @100 stream-time=100 from input/0@1", "punctuate @100",
		"c=3 @40 stream-time=100 from input/0@2",
		"d=4 @100 stream-time=100 from input/0@3")
	wantRecords(t, readAll(t, out), []streamstest.Record[string, int64]{
		{Key: "b", Value: 2, Timestamp: 100},
		{Key: "c", Value: 3, Timestamp: 40},
		{Key: "d", Value: 4, Timestamp: 100},
	})
	if got := d.DroppedAll(); len(got) != 0 {
		t.Errorf("DroppedAll = %v, want none", got)
	}
}

func TestTimestampExtractorFromValue(t *testing.T) {
	var log []string
	var partitionTimes []int64
	// Values are "<event time>|<payload>".
	extract := func(r processor.Record[string, string], partitionTime int64) int64 {
		partitionTimes = append(partitionTimes, partitionTime)
		ts, err := strconv.ParseInt(strings.SplitN(r.Value, "|", 2)[0], 10, 64)
		if err != nil {
			return -1
		}
		return ts
	}
	b := topology.NewBuilder()
	s := kstream.From(b, "input", serde.String(), serde.String(),
		kstream.WithTimestampExtractor(extract), kstream.WithInvalidTimestamp(topology.SkipOnInvalidTimestamp))
	kstream.Process(s, probe[string](&log)).To("output", kstream.WithKeySerde(serde.String()), kstream.WithValueSerde(serde.String()))
	d := newDriver(t, b)
	in := streamstest.NewInputTopic(d, "input", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "output", serde.String(), serde.String())
	must(t, in.PipeAt("a", "500|x", 1))
	must(t, in.PipeAt("b", "300|y", 2))
	must(t, in.PipeAt("c", "oops", 3))
	must(t, in.PipeAt("d", "700|z", 4))
	wantLog(t, &log,
		"a=500|x @500 stream-time=500 from input/0@0", "punctuate @500",
		"b=300|y @300 stream-time=500 from input/0@1",
		"d=700|z @700 stream-time=700 from input/0@3", "punctuate @700")
	if want := []int64{-1, 500, 500, 500}; !reflect.DeepEqual(partitionTimes, want) {
		t.Errorf("extractor saw partition times %v, want %v", partitionTimes, want)
	}
	wantRecords(t, readAll(t, out), []streamstest.Record[string, string]{
		{Key: "a", Value: "500|x", Timestamp: 500},
		{Key: "b", Value: "300|y", Timestamp: 300},
		{Key: "d", Value: "700|z", Timestamp: 700},
	})
	if got := d.Dropped("invalid-timestamp"); got != 1 {
		t.Errorf(`Dropped("invalid-timestamp") = %d, want 1`, got)
	}
}

func TestTimestampExtractorDeserializationError(t *testing.T) {
	// With an extractor the record is decoded before its time is known; a
	// decoding error is handled the same way.
	var log []string
	extract := func(r processor.Record[string, int64], _ int64) int64 { return r.Value }
	b := int64Topology(&log, kstream.WithTimestampExtractor(extract))
	d := newDriver(t, b)
	err := d.PipeRaw("input", 0, []byte("k"), []byte{0}, 10, nil)
	wantErr(t, err, "task 0_0: deserializing the value of the record at input/0 offset 0: serde.Int64: wrong data size: got 1 bytes, want 8")
	must(t, d.PipeRaw("input", 0, []byte("k"), int64Bytes(42), 10, nil))
	wantLog(t, &log, "k=42 @42 stream-time=42 from input/0@1", "punctuate @42")
}

func TestWallClockTimeSource(t *testing.T) {
	var log []string
	d := newDriver(t, int64Topology(&log, kstream.WithWallClockTime()), streamstest.WithWallClock(time.UnixMilli(5000)))
	out := streamstest.NewOutputTopic(d, "output", serde.String(), serde.Int64())
	must(t, d.PipeRaw("input", 0, []byte("a"), int64Bytes(1), 10, nil))
	must(t, d.AdvanceWallClock(1500*time.Millisecond))
	// Even an invalid record timestamp is replaced by the wall-clock time.
	must(t, d.PipeRaw("input", 0, []byte("b"), int64Bytes(2), -1, nil))
	wantRecords(t, readAll(t, out), []streamstest.Record[string, int64]{
		{Key: "a", Value: 1, Timestamp: 5000},
		{Key: "b", Value: 2, Timestamp: 6500},
	})
	wantLog(t, &log,
		"a=1 @5000 stream-time=5000 from input/0@0", "punctuate @5000",
		"b=2 @6500 stream-time=6500 from input/0@1", "punctuate @6500")
}
