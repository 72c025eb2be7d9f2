package kstream

import (
	"fmt"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// Node name prefixes, as Kafka Streams names its DSL nodes.
const (
	sourcePrefix        = "KSTREAM-SOURCE-"
	sinkPrefix          = "KSTREAM-SINK-"
	filterPrefix        = "KSTREAM-FILTER-"
	mapPrefix           = "KSTREAM-MAP-"
	mapValuesPrefix     = "KSTREAM-MAPVALUES-"
	flatMapPrefix       = "KSTREAM-FLATMAP-"
	flatMapValuesPrefix = "KSTREAM-FLATMAPVALUES-"
	keySelectPrefix     = "KSTREAM-KEY-SELECT-"
	peekPrefix          = "KSTREAM-PEEK-"
	foreachPrefix       = "KSTREAM-FOREACH-"
	branchPrefix        = "KSTREAM-BRANCH-"
	mergePrefix         = "KSTREAM-MERGE-"
	repartitionPrefix   = "KSTREAM-REPARTITION-"
	processorPrefix     = "KSTREAM-PROCESSOR-"
	processValuesPrefix = "KSTREAM-PROCESSVALUES-"
)

// Stream is a typed stream of records: an unbounded sequence of independent
// key-value facts. A Stream is a small value; copying it is cheap, and every
// operator returns a new one.
type Stream[K, V any] struct {
	b          *topology.Builder
	node       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	// repartition is set after an operator that may change keys, so that a
	// later grouping or join repartitions first.
	repartition bool
	// sources are the source nodes the stream comes from, for
	// co-partitioning checks.
	sources []string
}

func (s Stream[K, V]) sourceNodes() []string { return append([]string(nil), s.sources...) }

// Sources returns the names of the source nodes the stream comes from.
func (s Stream[K, V]) Sources() []string { return s.sourceNodes() }

// Builder returns the topology builder the stream belongs to.
func (s Stream[K, V]) Builder() *topology.Builder { return s.b }

// NodeName returns the name of the node that produces the stream.
func (s Stream[K, V]) NodeName() string { return s.node }

// KeySerde returns the key serde the stream knows, or nil.
func (s Stream[K, V]) KeySerde() serde.Serde[K] { return s.keySerde }

// ValueSerde returns the value serde the stream knows, or nil.
func (s Stream[K, V]) ValueSerde() serde.Serde[V] { return s.valueSerde }

// RepartitionRequired reports whether an operator upstream may have changed
// keys, so that grouping or joining this stream repartitions it first.
func (s Stream[K, V]) RepartitionRequired() bool { return s.repartition }

// Wrap returns the stream produced by an existing node. Packages that extend
// the DSL use it; serdes may be nil.
func Wrap[K, V any](b *topology.Builder, node string, keySerde serde.Serde[K], valueSerde serde.Serde[V], repartitionRequired bool, sources []string) Stream[K, V] {
	return Stream[K, V]{b: b, node: node, keySerde: keySerde, valueSerde: valueSerde, repartition: repartitionRequired, sources: sources}
}

// From returns the stream of records read from topic, decoded with the given
// serdes. Options: Named, WithTimestampExtractor, WithWallClockTime,
// WithInvalidTimestamp.
func From[K, V any](b *topology.Builder, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...Option) Stream[K, V] {
	return FromTopics(b, []string{topic}, keySerde, valueSerde, opts...)
}

// FromTopics returns the stream of records read from several topics.
func FromTopics[K, V any](b *topology.Builder, topics []string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...Option) Stream[K, V] {
	const op = "From"
	o := parseOptions(b, op, []string{optName, optExtractor, optWallClock, optInvalidTS}, opts)
	name := o.NodeName(b, sourcePrefix)
	topology.AddSourceWith(b, topology.Source[K, V]{
		Name: name, Topics: topics, KeySerde: keySerde, ValueSerde: valueSerde,
		TimestampExtractor: typedOption[processor.TimestampExtractor[K, V]](b, op, "timestamp extractor", o.Extractor),
		WallClockTime:      o.WallClock,
		InvalidTimestamp:   o.InvalidTS,
	})
	return Stream[K, V]{b: b, node: name, keySerde: keySerde, valueSerde: valueSerde, sources: []string{name}}
}

// add wires a processor under the stream and returns the new node's name.
func addProcessor[K, V, KR, VR any](s Stream[K, V], name string, supplier processor.Supplier[K, V, KR, VR]) string {
	topology.AddProcessor(s.b, name, supplier, s.node)
	return name
}

func mustSameBuilder[K, V any](op string, s, other Stream[K, V]) error {
	if s.b != other.b {
		return fmt.Errorf("kstream: %s: streams from different builders", op)
	}
	return nil
}
