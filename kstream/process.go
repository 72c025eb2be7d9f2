package kstream

import (
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// Process plugs a Processor API processor into the stream. The processor may
// change keys, so a later grouping or join repartitions. Options: Named,
// WithStores (stores the processor uses), WithKeySerde, WithValueSerde.
func Process[K, V, KR, VR any](s Stream[K, V], supplier processor.Supplier[K, V, KR, VR], opts ...Option) Stream[KR, VR] {
	const op = "Process"
	o := parseOptions(s.b, op, []string{optName, optStores, optKeySerde, optValueSerde}, opts)
	name := o.ExactName(s.b, processorPrefix)
	topology.AddProcessor(s.b, name, supplier, s.node)
	s.b.ConnectProcessorAndStateStores(name, o.Stores...)
	return Stream[KR, VR]{b: s.b, node: name, sources: s.sources, repartition: true,
		keySerde:   typedOption[serde.Serde[KR]](s.b, op, "key serde", o.KeySerde),
		valueSerde: typedOption[serde.Serde[VR]](s.b, op, "value serde", o.ValueSerde)}
}

// ProcessValues plugs a fixed-key processor into the stream: it can change
// values but not keys, so no repartitioning follows. Options: Named,
// WithStores, WithValueSerde.
func ProcessValues[K, V, VR any](s Stream[K, V], supplier processor.FixedKeySupplier[K, V, VR], opts ...Option) Stream[K, VR] {
	const op = "ProcessValues"
	o := parseOptions(s.b, op, []string{optName, optStores, optValueSerde}, opts)
	name := o.ExactName(s.b, processValuesPrefix)
	topology.AddFixedKeyProcessor(s.b, name, supplier, s.node)
	s.b.ConnectProcessorAndStateStores(name, o.Stores...)
	return Stream[K, VR]{b: s.b, node: name, sources: s.sources, keySerde: s.keySerde, repartition: s.repartition,
		valueSerde: typedOption[serde.Serde[VR]](s.b, op, "value serde", o.ValueSerde)}
}
