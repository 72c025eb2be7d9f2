// Package ktable is the table DSL: tables built from topics or aggregations,
// their transformations, joins and re-groupings.
//
// A [Table] is a changelog: each record updates the value of its key, and a
// null value deletes it. Table operators forward updates downstream as
// changes carrying the new value and, where an operator needs it, the old
// one. Tables built from topics and aggregations are kept in state stores
// (named by the caller, so the store and its changelog topic keep their
// names as the topology evolves); derived tables are kept in a store only
// when given [Materialized].
package ktable

import (
	"fmt"
	"slices"

	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

// Change is an update of a table row: the new value and, when downstream
// operators asked for it, the old one. A Change without New is a delete.
type Change[V any] = dsl.Change[V]

// Node name prefixes, as Kafka Streams names its table nodes.
const (
	sourcePrefix      = "KSTREAM-SOURCE-"
	tableSourcePrefix = "KTABLE-SOURCE-"
	filterPrefix      = "KTABLE-FILTER-"
	mapValuesPrefix   = "KTABLE-MAPVALUES-"
	joinThisPrefix    = "KTABLE-JOINTHIS-"
	joinOtherPrefix   = "KTABLE-JOINOTHER-"
	mergePrefix       = "KTABLE-MERGE-"
	selectPrefix      = "KTABLE-SELECT-"
	aggregatePrefix   = "KTABLE-AGGREGATE-"
	reducePrefix      = "KTABLE-REDUCE-"
	sinkPrefix        = "KSTREAM-SINK-"
)

// Table is a typed table. It is a small value: copying it is cheap.
type Table[K, V any] struct {
	b       *topology.Builder
	node    string
	ks      serde.Serde[K]
	vs      serde.Serde[V]
	store   string
	getter  *dsl.GetterSupplier[K, V]
	old     *dsl.OldValues
	sources []string
	// win is set for windowed tables: when their windows close.
	win *WindowClose[K]
}

// Spec holds what it takes to wrap a table produced by an existing node.
// Packages that extend the DSL (such as kstream's aggregations) use it.
type Spec[K, V any] struct {
	Builder *topology.Builder
	// Node forwards records of Change[V].
	Node       string
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Store is the table's timestamped store, or "" when not materialized.
	Store string
	// Getter reads the table's values; nil for a materialized table (then
	// it reads Store).
	Getter *dsl.GetterSupplier[K, V]
	// Old is the table's send-old-values switch.
	Old *dsl.OldValues
	// Sources are the names of the source nodes the table comes from.
	Sources []string
	// Window is set for windowed tables (windowed aggregations): when
	// their windows close, which Suppress(UntilWindowCloses) needs.
	Window *WindowClose[K]
}

// Wrap returns the table described by s.
func Wrap[K, V any](s Spec[K, V]) Table[K, V] {
	g := s.Getter
	if g == nil && s.Store != "" {
		g = dsl.StoreGetter[K, V](s.Store)
	}
	old := s.Old
	if old == nil {
		old = dsl.NewOldValues(s.Store != "")
	}
	return Table[K, V]{b: s.Builder, node: s.Node, ks: s.KeySerde, vs: s.ValueSerde, store: s.Store,
		getter: g, old: old, sources: slices.Clone(s.Sources), win: s.Window}
}

// Builder returns the topology builder of the table.
func (t Table[K, V]) Builder() *topology.Builder { return t.b }

// NodeName returns the node forwarding the table's changes.
func (t Table[K, V]) NodeName() string { return t.node }

// StoreName returns the table's store, or "" when it is not materialized.
func (t Table[K, V]) StoreName() string { return t.store }

// KeySerde returns the table's key serde, or nil.
func (t Table[K, V]) KeySerde() serde.Serde[K] { return t.ks }

// ValueSerde returns the table's value serde, or nil.
func (t Table[K, V]) ValueSerde() serde.Serde[V] { return t.vs }

// Getter returns how processors look up the table's values.
func (t Table[K, V]) Getter() *dsl.GetterSupplier[K, V] { return t.getter }

// EnableSendingOldValues makes the table's updates carry old values.
func (t Table[K, V]) EnableSendingOldValues() { t.old.Enable() }

// Sources returns the names of the source nodes the table comes from.
func (t Table[K, V]) Sources() []string { return slices.Clone(t.sources) }

// From returns the table of the records of topic, materialized in a store
// named store: each record sets its key's value, a record with a null value
// deletes the key, and a record with a null key is dropped. Options: Named
// (names the table source processor; its source node is named
// "<name>-source", as in Kafka Streams), WithCaching, WithLogging.
func From[K, V any](b *topology.Builder, topic string, ks serde.Serde[K], vs serde.Serde[V], store string, opts ...Option) Table[K, V] {
	const op = "From"
	o := parseOptions(b, op, []string{optName, optCaching, optLogging}, opts)
	if err := state.ValidateName(store); err != nil {
		b.Err(fmt.Errorf("ktable: From %q: %w", topic, err))
	}
	sourceName := o.SuffixedName(b, "-source", sourcePrefix)
	procName := o.NodeName(b, tableSourcePrefix)
	topology.AddSource(b, sourceName, ks, vs, topic)
	t := Materialize(b, sourceName, procName, []string{sourceName}, ks, vs, store, o.StoreOptions())
	return t
}

// Materialize adds a table source processor under parent, which turns a
// stream of records into a table kept in store, and returns the table.
// kstream's ToTable uses it.
func Materialize[K, V any](b *topology.Builder, parent, name string, sources []string, ks serde.Serde[K], vs serde.Serde[V], store string, opts []state.StoreOption) Table[K, V] {
	old := dsl.NewOldValues(true)
	topology.AddProcessor(b, name, func() processor.Processor[K, V, K, Change[V]] {
		return &sourceProc[K, V]{store: store, old: old}
	}, parent)
	b.AddStateStore(state.TimestampedKeyValueStoreBuilder(store, ks, vs, opts...), name)
	return Table[K, V]{b: b, node: name, ks: ks, vs: vs, store: store,
		getter: dsl.StoreGetter[K, V](store), old: old, sources: sources}
}

// sourceProc is Kafka Streams' KTableSource: it puts each record in the
// table's store and forwards the change.
type sourceProc[K, V any] struct {
	ctx   processor.Context[K, Change[V]]
	store string
	s     *dsl.TableStore[K, V]
	fwd   *dsl.Forwarder[K, V]
	old   *dsl.OldValues
	nulls dsl.Nulls[K, V]
}

func (p *sourceProc[K, V]) Init(ctx processor.Context[K, Change[V]]) error {
	s, err := processor.GetStore[*dsl.TableStore[K, V]](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.s = ctx, s
	p.fwd = dsl.NewForwarder(ctx, s, p.old.On())
	p.nulls = dsl.NewNulls[K, V]()
	return nil
}

func (p *sourceProc[K, V]) Close() error { return nil }

func (p *sourceProc[K, V]) Process(r processor.Record[K, V]) error {
	if p.nulls.KeyNull(r) {
		dsl.Dropped(p.ctx, exec.DropNullKey)
		return nil
	}
	oldVT, hadOld, err := p.s.Get(r.Key)
	if err != nil {
		return err
	}
	if hadOld && r.Timestamp < oldVT.Timestamp {
		p.ctx.Logger().Debug("out-of-order table update", "store", p.store, "timestamp", r.Timestamp, "previous", oldVT.Timestamp)
	}
	var c Change[V]
	if p.nulls.ValueNull(r) {
		if _, _, err := p.s.Delete(r.Key); err != nil {
			return err
		}
	} else {
		if err := p.s.Put(r.Key, state.ValueAndTimestamp[V]{Value: r.Value, Timestamp: r.Timestamp}); err != nil {
			return err
		}
		c.New, c.HasNew = r.Value, true
	}
	if hadOld {
		c.Old, c.HasOld = oldVT.Value, true
	}
	return p.fwd.MaybeForward(processor.Convert(r, r.Key, c, false, false))
}
