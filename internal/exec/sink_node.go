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
}

func (n *sinkNode[K, V]) addChild(c Node) error {
	return fmt.Errorf("sink %q cannot have children (got %q)", n.name, c.Name())
}

func (n *sinkNode[K, V]) init() error {
	if n.cfg.TopicFunc == nil {
		n.topic = n.cfg.Topic.Resolve(n.task.env.ApplicationID)
	}
	return nil
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
	var key, value []byte
	var err error
	if !rec.KeyIsNull() {
		if key, err = n.cfg.KeySerde.Serialize(rec.Key); err != nil {
			return &NodeError{Node: n.name, Err: fmt.Errorf("serializing the key for topic %q: %w", topic, err)}
		}
	}
	if !rec.ValueIsNull() {
		if value, err = n.cfg.ValueSerde.Serialize(rec.Value); err != nil {
			return &NodeError{Node: n.name, Err: fmt.Errorf("serializing the value for topic %q: %w", topic, err)}
		}
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
