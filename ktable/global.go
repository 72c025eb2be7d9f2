package ktable

import (
	"fmt"

	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

// GlobalTable is a table that every instance keeps whole: it reads every
// partition of its topic, so a stream can join it by any key it computes,
// without co-partitioning. Its topic is its changelog.
type GlobalTable[K, V any] struct {
	b     *topology.Builder
	store string
	ks    serde.Serde[K]
	vs    serde.Serde[V]
}

// Global returns the global table of topic, kept in a store named store.
// Options: Named (names the table source processor; its source node is
// named "<name>-source", as in Kafka Streams).
func Global[K, V any](b *topology.Builder, topic string, ks serde.Serde[K], vs serde.Serde[V], store string, opts ...Option) GlobalTable[K, V] {
	o := parseOptions(b, "Global", []string{optName}, opts)
	if err := state.ValidateName(store); err != nil {
		b.Err(fmt.Errorf("ktable: Global %q: %w", topic, err))
	}
	sourceName := o.SuffixedName(b, "-source", sourcePrefix)
	procName := o.NodeName(b, tableSourcePrefix)
	sb := state.TimestampedKeyValueStoreBuilder(store, ks, vs, state.WithLogging(false), state.WithCaching(false))
	old := dsl.NewOldValues(true)
	topology.AddGlobalStore(b, sb, sourceName, topic, ks, vs, procName, func() processor.Processor[K, V, K, Change[V]] {
		return &sourceProc[K, V]{store: store, old: old}
	})
	return GlobalTable[K, V]{b: b, store: store, ks: ks, vs: vs}
}

// StoreName returns the global table's store.
func (g GlobalTable[K, V]) StoreName() string { return g.store }

// Builder returns the topology builder of the table.
func (g GlobalTable[K, V]) Builder() *topology.Builder { return g.b }
