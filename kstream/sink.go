package kstream

import (
	"strings"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// To writes the stream to topic. Records keep their timestamps and headers;
// a null key or value is written as null. Options: Named, WithKeySerde,
// WithValueSerde, WithPartitioner.
func (s Stream[K, V]) To(topic string, opts ...Option) {
	s.to("To", topic, nil, opts)
}

// ToFunc writes each record to the topic extractor returns for it. Options:
// Named, WithKeySerde, WithValueSerde, WithPartitioner.
func (s Stream[K, V]) ToFunc(extractor processor.TopicNameExtractor[K, V], opts ...Option) {
	s.to("ToFunc", "", extractor, opts)
}

func (s Stream[K, V]) to(op, topic string, extractor processor.TopicNameExtractor[K, V], opts []Option) {
	o := parseOptions(s.b, op, []string{optName, optKeySerde, optValueSerde, optPartitioner}, opts)
	name := o.NodeName(s.b, sinkPrefix)
	ks := resolveSerde(s.b, op+" "+name, "key", o.KeySerde, s.keySerde)
	part := typedOption[processor.Partitioner[K, V]](s.b, op, "partitioner", o.Partitioner)
	if part == nil {
		part = windowedPartitioner[K, V](ks)
	}
	topology.AddSinkWith(s.b, topology.Sink[K, V]{
		Name:        name,
		Parents:     []string{s.node},
		Topic:       topic,
		TopicFunc:   extractor,
		KeySerde:    ks,
		ValueSerde:  resolveSerde(s.b, op+" "+name, "value", o.ValueSerde, s.valueSerde),
		Partitioner: part,
	})
}

// Repartition writes the stream to an internal topic,
// "<application.id>-<name>-repartition", and reads it back, so that records
// are partitioned by their current key (or by a custom partitioner). Name
// the operator with Named to keep the topic name stable as the topology
// evolves. Options: Named, WithKeySerde, WithValueSerde, WithPartitioner,
// WithPartitions.
func (s Stream[K, V]) Repartition(opts ...Option) Stream[K, V] {
	const op = "Repartition"
	o := parseOptions(s.b, op, []string{optName, optKeySerde, optValueSerde, optPartitioner, optPartitions}, opts)
	base, generated := o.Name, false
	if base == "" {
		base, generated = s.b.NewName(repartitionPrefix), true
	}
	ks := resolveSerde(s.b, op+" "+base, "key", o.KeySerde, s.keySerde)
	vs := resolveSerde(s.b, op+" "+base, "value", o.ValueSerde, s.valueSerde)
	part := typedOption[processor.Partitioner[K, V]](s.b, op, "partitioner", o.Partitioner)
	return RepartitionThrough(s, base, generated, ks, vs, part, o.Partitions)
}

// RepartitionThrough adds the nodes of a repartition through the internal
// topic "<base>-repartition": a pass-through processor, a sink and a source,
// named as Kafka Streams names them. Packages that extend the DSL use it.
func RepartitionThrough[K, V any](s Stream[K, V], base string, generatedName bool, ks serde.Serde[K], vs serde.Serde[V], partitioner processor.Partitioner[K, V], partitions int) Stream[K, V] {
	topic := base
	if !strings.HasSuffix(topic, "-repartition") {
		topic += "-repartition"
	}
	// Always burn three indexes, as Kafka Streams does, so that later
	// generated names do not depend on whether this one was named.
	sinkName := s.b.NewName(sinkPrefix)
	filterName := s.b.NewName(filterPrefix)
	sourceName := s.b.NewName(sourcePrefix)
	if !generatedName {
		sinkName, filterName, sourceName = topic+"-sink", topic+"-filter", topic+"-source"
	}
	s.b.AddInternalTopic(topology.InternalTopic{Name: topic, Partitions: partitions})
	topology.AddProcessor(s.b, filterName, passSupplier[K, V], s.node)
	topology.AddSinkWith(s.b, topology.Sink[K, V]{
		Name: sinkName, Parents: []string{filterName}, Topic: topic,
		KeySerde: ks, ValueSerde: vs, Partitioner: partitioner,
	})
	topology.AddSource(s.b, sourceName, ks, vs, topic)
	return Stream[K, V]{b: s.b, node: sourceName, keySerde: ks, valueSerde: vs, sources: []string{sourceName}}
}
