package exec

import (
	"fmt"
	"reflect"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
)

// SinkConfig configures a sink node. Exactly one of Topic and TopicFunc is
// set.
type SinkConfig[K, V any] struct {
	Topic       Topic
	TopicFunc   processor.TopicNameExtractor[K, V]
	KeySerde    serde.Serde[K]
	ValueSerde  serde.Serde[V]
	Partitioner processor.Partitioner[K, V]
}

// SinkFactory returns the factory of a sink node.
func SinkFactory[K, V any](cfg SinkConfig[K, V]) Factory { return sinkFactory[K, V]{cfg} }

type sinkFactory[K, V any] struct{ cfg SinkConfig[K, V] }

func (sinkFactory[K, V]) Kind() Kind { return KindSink }
func (sinkFactory[K, V]) In() Types  { return Types{reflect.TypeFor[K](), reflect.TypeFor[V]()} }
func (sinkFactory[K, V]) Out() Types { return Types{} }

func (f sinkFactory[K, V]) New(name string) (Node, error) {
	return &sinkNode[K, V]{nodeBase: nodeBase{name: name}, cfg: f.cfg}, nil
}

type sinkNode[K, V any] struct {
	nodeBase
	cfg   SinkConfig[K, V]
	topic string // resolved static topic
	// ka and va are the serdes as appenders when both can append and
	// neither is a []byte serde (which may hand out the value itself, at
	// no cost): the key and the value are then encoded into buf and copied
	// out in one allocation.
	ka  serde.Appender[K]
	va  serde.Appender[V]
	buf []byte
}

func (n *sinkNode[K, V]) addChild(c Node) error {
	return fmt.Errorf("sink %q cannot have children (got %q)", n.name, c.Name())
}

func (n *sinkNode[K, V]) init() error {
	if n.cfg.TopicFunc == nil {
		n.topic = n.cfg.Topic.Resolve(n.task.env.ApplicationID)
	}
	bytesType := reflect.TypeFor[[]byte]()
	if reflect.TypeFor[K]() != bytesType && reflect.TypeFor[V]() != bytesType {
		ka, kok := n.cfg.KeySerde.(serde.Appender[K])
		va, vok := n.cfg.ValueSerde.(serde.Appender[V])
		if kok && vok {
			n.ka, n.va = ka, va
		}
	}
	return nil
}

// encode serializes the key and the value (nil for a null one). With
// appending serdes both share one allocation.
func (n *sinkNode[K, V]) encode(rec processor.Record[K, V], topic string) (key, value []byte, err error) {
	if n.ka == nil {
		if !rec.KeyIsNull() {
			if key, err = n.cfg.KeySerde.Serialize(rec.Key); err != nil {
				return nil, nil, &NodeError{Node: n.name, Err: fmt.Errorf("serializing the key for topic %q: %w", topic, err)}
			}
		}
		if !rec.ValueIsNull() {
			if value, err = n.cfg.ValueSerde.Serialize(rec.Value); err != nil {
				return nil, nil, &NodeError{Node: n.name, Err: fmt.Errorf("serializing the value for topic %q: %w", topic, err)}
			}
		}
		return key, value, nil
	}
	buf := n.buf[:0]
	keyNull, valueNull := true, true
	if !rec.KeyIsNull() {
		if buf, keyNull, err = appendNotNull(n.ka, buf, rec.Key); err != nil {
			return nil, nil, &NodeError{Node: n.name, Err: fmt.Errorf("serializing the key for topic %q: %w", topic, err)}
		}
	}
	kl := len(buf)
	if !rec.ValueIsNull() {
		if buf, valueNull, err = appendNotNull(n.va, buf, rec.Value); err != nil {
			return nil, nil, &NodeError{Node: n.name, Err: fmt.Errorf("serializing the value for topic %q: %w", topic, err)}
		}
	}
	n.buf = buf
	// The collector keeps both slices: copy them out of the buffer.
	out := make([]byte, len(buf))
	copy(out, buf)
	if !keyNull {
		key = out[:kl:kl]
	}
	if !valueNull {
		value = out[kl:]
	}
	return key, value, nil
}

// appendNotNull appends v and reports whether it was null.
func appendNotNull[T any](a serde.Appender[T], buf []byte, v T) ([]byte, bool, error) {
	out, notNull, err := a.AppendSerialize(buf, v)
	if err != nil {
		return buf, true, err
	}
	if !notNull {
		return buf, true, nil
	}
	return out, false, nil
}

func (n *sinkNode[K, V]) close() error { return nil }

// Receive serializes rec and hands it to the task's collector.
func (n *sinkNode[K, V]) Receive(rec processor.Record[K, V]) error {
	topic := n.topic
	if n.cfg.TopicFunc != nil {
		topic = n.cfg.TopicFunc(rec)
		if topic == "" {
			return &NodeError{Node: n.name, Err: fmt.Errorf("topic name extractor returned an empty topic")}
		}
	}
	if rec.Timestamp < 0 {
		return &NodeError{Node: n.name, Err: fmt.Errorf(
			"invalid (negative) timestamp %d for a record to topic %q", rec.Timestamp, topic)}
	}
	key, value, err := n.encode(rec, topic)
	if err != nil {
		return err
	}
	partition := int32(-1)
	if n.cfg.Partitioner != nil {
		np, err := n.task.env.Collector.Partitions(topic)
		if err != nil {
			return &NodeError{Node: n.name, Err: err}
		}
		if p, ok := n.cfg.Partitioner(topic, rec.Key, rec.Value, np); ok {
			if p < 0 || p >= np {
				return &NodeError{Node: n.name, Err: fmt.Errorf(
					"partitioner returned partition %d for topic %q, which has %d partitions", p, topic, np)}
			}
			partition = int32(p)
		}
	}
	out := OutRecord{Topic: topic, Partition: partition, Key: key, Value: value,
		Timestamp: rec.Timestamp, Headers: rec.Headers}
	if err := n.task.env.Collector.Send(n.task.id, out); err != nil {
		return &NodeError{Node: n.name, Err: err}
	}
	return nil
}
