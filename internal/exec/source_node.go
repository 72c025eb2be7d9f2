package exec

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
)

var errNilProcessor = errors.New("processor supplier returned nil")

// InvalidTimestampPolicy says what a source does with a record whose
// timestamp is negative.
type InvalidTimestampPolicy int

const (
	// FailOnInvalidTimestamp fails processing with an error naming the
	// record.
	FailOnInvalidTimestamp InvalidTimestampPolicy = iota
	// SkipOnInvalidTimestamp drops the record and counts it.
	SkipOnInvalidTimestamp
	// UsePartitionTimeOnInvalidTimestamp gives the record its partition's
	// time, and fails when the partition has no time yet.
	UsePartitionTimeOnInvalidTimestamp
)

// SourceConfig configures a source node.
type SourceConfig[K, V any] struct {
	Topics     []Topic
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Extractor returns a record's event time; nil uses the Kafka record
	// timestamp.
	Extractor processor.TimestampExtractor[K, V]
	// WallClock stamps records with the wall-clock time instead.
	WallClock bool
	// InvalidTimestamp says what to do with negative timestamps.
	InvalidTimestamp InvalidTimestampPolicy
}

// SourceFactory returns the factory of a source node.
func SourceFactory[K, V any](cfg SourceConfig[K, V]) Factory {
	return sourceFactory[K, V]{cfg}
}

type sourceFactory[K, V any] struct{ cfg SourceConfig[K, V] }

func (sourceFactory[K, V]) Kind() Kind { return KindSource }
func (sourceFactory[K, V]) In() Types  { return Types{} }
func (sourceFactory[K, V]) Out() Types { return Types{reflect.TypeFor[K](), reflect.TypeFor[V]()} }

func (f sourceFactory[K, V]) New(name string) (Node, error) {
	n := &sourceNode[K, V]{nodeBase: nodeBase{name: name}, cfg: f.cfg}
	// Fetched bytes are never modified or reused: serdes that can decode
	// them without a copy do.
	n.keyBorrow, _ = f.cfg.KeySerde.(serde.Borrower[K])
	n.valueBorrow, _ = f.cfg.ValueSerde.(serde.Borrower[V])
	return n, nil
}

// Entry is an input record waiting to be processed, with its extracted
// timestamp.
type Entry struct {
	Raw RawRecord
	// TS is the record's event time, set by Stamp.
	TS int64
	// Skip is set when the record is to be dropped (invalid timestamp under
	// the skip policy).
	Skip    bool
	decoded any
	src     source
}

// source is implemented by source nodes.
type source interface {
	Node
	topics() []Topic
	// stamp sets e's source and timestamp.
	stamp(e *Entry) error
	process(e *Entry) error
}

type sourceNode[K, V any] struct {
	nodeBase
	cfg      SourceConfig[K, V]
	children childList[K, V]
	// keyBorrow and valueBorrow are the serdes, when they are Borrowers.
	keyBorrow   serde.Borrower[K]
	valueBorrow serde.Borrower[V]
}

func (n *sourceNode[K, V]) topics() []Topic { return n.cfg.Topics }

func (n *sourceNode[K, V]) addChild(c Node) error {
	return n.children.add(n.name, sourceFactory[K, V]{}.Out(), c)
}

func (n *sourceNode[K, V]) init() error  { return nil }
func (n *sourceNode[K, V]) close() error { return nil }

func (n *sourceNode[K, V]) decode(raw *RawRecord) (processor.Record[K, V], error) {
	var rec processor.Record[K, V]
	var k K
	var v V
	var err error
	if n.keyBorrow != nil {
		k, err = n.keyBorrow.DeserializeBorrowed(raw.Key)
	} else {
		k, err = n.cfg.KeySerde.Deserialize(raw.Key)
	}
	if err != nil {
		return rec, deserErr(raw, "key", err)
	}
	if n.valueBorrow != nil {
		v, err = n.valueBorrow.DeserializeBorrowed(raw.Value)
	} else {
		v, err = n.cfg.ValueSerde.Deserialize(raw.Value)
	}
	if err != nil {
		return rec, deserErr(raw, "value", err)
	}
	rec = processor.Record[K, V]{Key: k, Value: v, Timestamp: raw.Timestamp, Headers: raw.Headers}
	if raw.Key == nil || raw.Value == nil {
		rec = rec.WithNulls(raw.Key == nil, raw.Value == nil)
	}
	return rec, nil
}

func deserErr(raw *RawRecord, part string, err error) error {
	return &processor.DeserializationError{
		Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Part: part,
		Key: raw.Key, Value: raw.Value, Timestamp: raw.Timestamp, Headers: raw.Headers, Err: err,
	}
}

func (n *sourceNode[K, V]) stamp(e *Entry) error {
	e.src = n
	switch {
	case n.cfg.WallClock:
		e.TS = n.task.env.WallClock()
	case n.cfg.Extractor != nil:
		rec, err := n.decode(&e.Raw)
		if err != nil {
			return err
		}
		e.TS = n.cfg.Extractor(rec, n.task.PartitionTime(e.Raw.Topic, e.Raw.Partition))
		e.decoded = &rec
	default:
		e.TS = e.Raw.Timestamp
	}
	if e.TS >= 0 {
		return nil
	}
	switch n.cfg.InvalidTimestamp {
	case SkipOnInvalidTimestamp:
		e.Skip = true
		return nil
	case UsePartitionTimeOnInvalidTimestamp:
		if partitionTime := n.task.PartitionTime(e.Raw.Topic, e.Raw.Partition); partitionTime >= 0 {
			e.TS = partitionTime
			return nil
		}
		return &NodeError{Node: n.name, Err: fmt.Errorf(
			"record at %s/%d offset %d has invalid timestamp %d and its partition has no time yet",
			e.Raw.Topic, e.Raw.Partition, e.Raw.Offset, e.TS)}
	}
	return &NodeError{Node: n.name, Err: fmt.Errorf(
		"record at %s/%d offset %d has invalid (negative) timestamp %d",
		e.Raw.Topic, e.Raw.Partition, e.Raw.Offset, e.TS)}
}

func (n *sourceNode[K, V]) process(e *Entry) error {
	var rec processor.Record[K, V]
	if d, ok := e.decoded.(*processor.Record[K, V]); ok {
		rec = *d
	} else {
		var err error
		if rec, err = n.decode(&e.Raw); err != nil {
			return err
		}
	}
	rec.Timestamp = e.TS
	n.task.advanceTime(e)
	return n.children.forward(rec)
}
