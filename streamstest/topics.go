package streamstest

import (
	"errors"
	"fmt"
	"time"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
)

// Record is a record piped into or read from a topic. Partition is where the
// record was written (for records read from an output topic). KeyNull and
// ValueNull mark a null key or value (a tombstone), which Key and Value
// cannot tell apart from a zero value for most types.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp int64
	Headers   processor.Headers
	Partition int32
	KeyNull   bool
	ValueNull bool
}

// ErrNoRecord is returned when reading an output topic that holds no
// unread record.
var ErrNoRecord = errors.New("streamstest: no record to read")

// InputTopic pipes typed records into a topic of the driver.
type InputTopic[K, V any] struct {
	d       *Driver
	topic   string
	ks      serde.Serde[K]
	vs      serde.Serde[V]
	next    int64
	advance int64
}

// InputOption configures an InputTopic.
type InputOption func(*inputConfig)

type inputConfig struct {
	start    *int64
	advance  time.Duration
	internal bool
}

// StartAt sets the timestamp of the first record piped without one (default:
// the driver's wall-clock time when the topic is created).
func StartAt(ts int64) InputOption { return func(c *inputConfig) { c.start = &ts } }

// AutoAdvance moves the timestamp of records piped without one forward by d
// after each record (default 0).
func AutoAdvance(d time.Duration) InputOption { return func(c *inputConfig) { c.advance = d } }

// NewInputTopic returns an input topic that encodes records with the given
// serdes. topic is named as in the topology.
func NewInputTopic[K, V any](d *Driver, topic string, ks serde.Serde[K], vs serde.Serde[V], opts ...InputOption) *InputTopic[K, V] {
	var c inputConfig
	for _, o := range opts {
		o(&c)
	}
	in := &InputTopic[K, V]{d: d, topic: d.resolve(topic), ks: ks, vs: vs, next: d.clock, advance: c.advance.Milliseconds()}
	if c.start != nil {
		in.next = *c.start
	}
	return in
}

func (in *InputTopic[K, V]) stamp() int64 {
	ts := in.next
	in.next += in.advance
	return ts
}

// Pipe pipes a record with the topic's next automatic timestamp.
func (in *InputTopic[K, V]) Pipe(key K, value V) error {
	return in.PipeRecord(Record[K, V]{Key: key, Value: value, Timestamp: in.stamp()})
}

// PipeAt pipes a record with the given timestamp (milliseconds).
func (in *InputTopic[K, V]) PipeAt(key K, value V, timestamp int64) error {
	return in.PipeRecord(Record[K, V]{Key: key, Value: value, Timestamp: timestamp})
}

// PipeValue pipes a record without a key (a null key).
func (in *InputTopic[K, V]) PipeValue(value V) error {
	return in.PipeRecord(Record[K, V]{Value: value, KeyNull: true, Timestamp: in.stamp()})
}

// PipeTombstone pipes a record with a null value for key.
func (in *InputTopic[K, V]) PipeTombstone(key K, timestamp int64) error {
	return in.PipeRecord(Record[K, V]{Key: key, ValueNull: true, Timestamp: timestamp})
}

// PipeRecord pipes rec to the partition Kafka's default partitioner chooses
// for its key. rec.Partition is ignored.
func (in *InputTopic[K, V]) PipeRecord(rec Record[K, V]) error {
	return in.pipe(rec, -1)
}

// PipeRecordTo pipes rec to the given partition.
func (in *InputTopic[K, V]) PipeRecordTo(rec Record[K, V], partition int32) error {
	return in.pipe(rec, partition)
}

func (in *InputTopic[K, V]) pipe(rec Record[K, V], partition int32) error {
	var key, value []byte
	var err error
	if !rec.KeyNull {
		if key, err = in.ks.Serialize(rec.Key); err != nil {
			return fmt.Errorf("streamstest: serializing the key for %q: %w", in.topic, err)
		}
	}
	if !rec.ValueNull {
		if value, err = in.vs.Serialize(rec.Value); err != nil {
			return fmt.Errorf("streamstest: serializing the value for %q: %w", in.topic, err)
		}
	}
	return in.d.PipeRaw(in.topic, partition, key, value, rec.Timestamp, rec.Headers)
}

// PipeRaw pipes a record of raw bytes into topic (its name in Kafka), to the
// given partition or, when partition is negative, to the one the default
// partitioner chooses. Use it to pipe bytes no serde produces, such as a
// corrupt record.
func (d *Driver) PipeRaw(topic string, partition int32, key, value []byte, timestamp int64, headers processor.Headers) error {
	ti := d.topic(topic)
	if !ti.hasReader && ti.global == nil {
		return fmt.Errorf("streamstest: no source reads topic %q", topic)
	}
	n := ti.partitions
	if partition < 0 {
		partition = d.partitionFor(topic, key, n)
	} else if int(partition) >= n {
		return fmt.Errorf("streamstest: topic %q has %d partition(s); there is no partition %d", topic, n, partition)
	}
	if len(headers) == 0 {
		headers = nil
	}
	return d.pipe(ti, exec.RawRecord{
		Topic: topic, Partition: partition, Offset: ti.nextOffset(partition),
		Key: key, Value: value, Timestamp: timestamp, Headers: headers,
	})
}

// OutputTopic reads what the topology wrote to a topic, in the order it was
// written.
type OutputTopic[K, V any] struct {
	d     *Driver
	topic string
	ks    serde.Serde[K]
	vs    serde.Serde[V]
}

// NewOutputTopic returns a reader of topic that decodes with the given
// serdes.
func NewOutputTopic[K, V any](d *Driver, topic string, ks serde.Serde[K], vs serde.Serde[V]) *OutputTopic[K, V] {
	return &OutputTopic[K, V]{d: d, topic: topic, ks: ks, vs: vs}
}

func (o *OutputTopic[K, V]) queue() *queue {
	q := o.d.outputs[o.topic]
	if q == nil {
		q = &queue{}
		o.d.outputs[o.topic] = q
	}
	return q
}

// IsEmpty reports whether every record written so far has been read.
func (o *OutputTopic[K, V]) IsEmpty() bool { return o.Len() == 0 }

// Len returns the number of unread records.
func (o *OutputTopic[K, V]) Len() int {
	q := o.queue()
	return len(q.recs) - q.head
}

// ReadRecord reads the next record, or returns ErrNoRecord.
func (o *OutputTopic[K, V]) ReadRecord() (Record[K, V], error) {
	q := o.queue()
	if q.head == len(q.recs) {
		return Record[K, V]{}, fmt.Errorf("%w in topic %q", ErrNoRecord, o.topic)
	}
	raw := q.recs[q.head]
	q.recs[q.head] = exec.OutRecord{}
	q.head++
	if q.head == len(q.recs) {
		q.recs, q.head = q.recs[:0], 0
	}
	return o.decode(raw)
}

func (o *OutputTopic[K, V]) decode(raw exec.OutRecord) (Record[K, V], error) {
	rec := Record[K, V]{Timestamp: raw.Timestamp, Headers: raw.Headers, Partition: raw.Partition,
		KeyNull: raw.Key == nil, ValueNull: raw.Value == nil}
	var err error
	if rec.Key, err = o.ks.Deserialize(raw.Key); err != nil {
		return rec, fmt.Errorf("streamstest: decoding a key from %q: %w", o.topic, err)
	}
	if rec.Value, err = o.vs.Deserialize(raw.Value); err != nil {
		return rec, fmt.Errorf("streamstest: decoding a value from %q: %w", o.topic, err)
	}
	return rec, nil
}

// ReadRecords reads every unread record.
func (o *OutputTopic[K, V]) ReadRecords() ([]Record[K, V], error) {
	var out []Record[K, V]
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ReadKeyValues reads every unread record as key-value pairs.
func (o *OutputTopic[K, V]) ReadKeyValues() ([]KeyValue[K, V], error) {
	recs, err := o.ReadRecords()
	out := make([]KeyValue[K, V], len(recs))
	for i, r := range recs {
		out[i] = KeyValue[K, V]{r.Key, r.Value}
	}
	return out, err
}

// KeyValue is a key and a value read from an output topic.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}
