package kstream

import (
	"fmt"
	"reflect"

	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

const (
	aggregatePrefix = "KSTREAM-AGGREGATE-"
	reducePrefix    = "KSTREAM-REDUCE-"
	toTablePrefix   = "KSTREAM-TOTABLE-"
	toStreamPrefix  = "KTABLE-TOSTREAM-"
)

// GroupedStream is a stream grouped by key, ready for an aggregation. When
// the stream's keys may have changed upstream, the aggregation repartitions
// it first through "<application.id>-<name>-repartition", where name is the
// WithRepartitionName option or the aggregation's store name.
type GroupedStream[K, V any] struct {
	s       Stream[K, V]
	ks      serde.Serde[K]
	vs      serde.Serde[V]
	repName string
	// op is "GroupBy" or "GroupByKey", for error messages.
	op string
}

// GroupByKey groups the stream by its current key. Options: WithKeySerde,
// WithValueSerde (for the repartition topic and stores), WithRepartitionName.
func GroupByKey[K, V any](s Stream[K, V], opts ...Option) GroupedStream[K, V] {
	o := parseOptions(s.b, "GroupByKey", []string{optKeySerde, optValueSerde, optGrouped}, opts)
	return GroupedStream[K, V]{s: s, repName: o.GroupedName, op: "GroupByKey",
		ks: typedOrKnown(s.b, "GroupByKey", "key serde", o.KeySerde, s.keySerde),
		vs: typedOrKnown(s.b, "GroupByKey", "value serde", o.ValueSerde, s.valueSerde)}
}

// GroupBy groups the stream by the key selector computes for each record,
// which always repartitions before the aggregation. Options: Named (the key
// selecting node), WithKeySerde, WithValueSerde, WithRepartitionName.
func GroupBy[K, V, KR any](s Stream[K, V], selector func(key K, value V) KR, opts ...Option) GroupedStream[KR, V] {
	o := parseOptions(s.b, "GroupBy", []string{optName, optKeySerde, optValueSerde, optGrouped}, opts)
	name := o.NodeName(s.b, keySelectPrefix)
	rekeyed := Stream[KR, V]{b: s.b, node: name, sources: s.sources, valueSerde: s.valueSerde, repartition: true}
	topology.AddProcessor(s.b, name, func() processor.Processor[K, V, KR, V] {
		return &selectKeyProc[K, V, KR]{selector: selector}
	}, s.node)
	return GroupedStream[KR, V]{s: rekeyed, repName: o.GroupedName, op: "GroupBy",
		ks: typedOrKnown(s.b, "GroupBy", "key serde", o.KeySerde, serde.Serde[KR](nil)),
		vs: typedOrKnown(s.b, "GroupBy", "value serde", o.ValueSerde, s.valueSerde)}
}

// groupingSerde returns the serde of the grouping's keys or values (for the
// store and the repartition topic): the grouping's, else the built-in one.
// The error names the aggregation and says where to pass one.
func groupingSerde[K, V, T any](g GroupedStream[K, V], op, name, part string, known serde.Serde[T]) serde.Serde[T] {
	if known != nil {
		return known
	}
	if s, ok := serde.For[T](); ok {
		return s
	}
	opt := "WithKeySerde"
	if part == "value" {
		opt = "WithValueSerde"
	}
	g.s.b.Err(fmt.Errorf("kstream: %s %s: no %s serde for type %s; pass one to %s with kstream.%s",
		op, name, part, reflect.TypeFor[T](), g.op, opt))
	return nil
}

func typedOrKnown[T any](b *topology.Builder, op, what string, fromOption any, known serde.Serde[T]) serde.Serde[T] {
	if fromOption != nil {
		return typedOption[serde.Serde[T]](b, op, what, fromOption)
	}
	return known
}

// Count counts the records of each key into a table kept in a store named
// store. Records with a null key or value are dropped and counted. Options:
// Named, WithCaching, WithLogging.
func Count[K, V any](g GroupedStream[K, V], store string, opts ...Option) ktable.Table[K, int64] {
	return aggregate(g, "Count", aggregatePrefix, store, serde.Int64(), opts, func(r processor.Record[K, V], agg int64, _ bool) int64 {
		return agg + 1
	})
}

// Reduce combines the values of each key with reducer, the first value being
// the initial aggregate, into a table kept in store. Options: Named,
// WithCaching, WithLogging.
func Reduce[K, V any](g GroupedStream[K, V], reducer func(agg, value V) V, store string, opts ...Option) ktable.Table[K, V] {
	return aggregateWith(g, "Reduce", reducePrefix, store, g.vs, opts, func(r processor.Record[K, V], agg V, has bool) V {
		if !has {
			return r.Value
		}
		return reducer(agg, r.Value)
	})
}

// Aggregate folds the values of each key into an aggregate that initializer
// starts, kept in a table in store. Options: Named, WithValueSerde (of the
// aggregate; built-in types need none), WithCaching, WithLogging.
func Aggregate[K, V, VA any](g GroupedStream[K, V], initializer func() VA, aggregator func(key K, value V, agg VA) VA, store string, opts ...Option) ktable.Table[K, VA] {
	return aggregateWith(g, "Aggregate", aggregatePrefix, store, nil, opts, func(r processor.Record[K, V], agg VA, has bool) VA {
		if !has {
			agg = initializer()
		}
		return aggregator(r.Key, r.Value, agg)
	})
}

func aggregate[K, V any](g GroupedStream[K, V], op, prefix, store string, vs serde.Serde[int64], opts []Option, fn func(processor.Record[K, V], int64, bool) int64) ktable.Table[K, int64] {
	return aggregateWith(g, op, prefix, store, vs, opts, fn)
}

// aggregateWith adds a stream aggregation as Kafka Streams'
// GroupedStreamAggregateBuilder does: a repartition when keys may have
// changed, then the aggregating processor and its timestamped store.
func aggregateWith[K, V, VA any](g GroupedStream[K, V], op, prefix, store string, vs serde.Serde[VA], opts []Option, fn func(processor.Record[K, V], VA, bool) VA) ktable.Table[K, VA] {
	b := g.s.b
	o := parseOptions(b, op, []string{optName, optValueSerde, optCaching, optLogging}, opts)
	if err := state.ValidateName(store); err != nil {
		b.Err(fmt.Errorf("kstream: %s: %w", op, err))
	}
	name := o.NodeName(b, prefix)
	ks := groupingSerde(g, op, name, "key", g.ks)
	vs = resolveSerde(b, op+" "+name, "value", o.ValueSerde, vs)
	src := g.s
	if src.repartition {
		base := store
		if g.repName != "" {
			base = g.repName
		}
		// Without serdes (an error Build reports), leave the repartition
		// out rather than report its nodes too.
		if rvs := groupingSerde(g, op, name, "value", g.vs); ks != nil && rvs != nil {
			src = repartitionOnce(src, base, ks, rvs)
		}
	}
	old := dsl.NewOldValues(true)
	topology.AddProcessor(b, name, func() processor.Processor[K, V, K, ktable.Change[VA]] {
		return &streamAggProc[K, V, VA]{store: store, fn: fn, old: old}
	}, src.node)
	b.AddStateStore(state.TimestampedKeyValueStoreBuilder(store, ks, vs, o.StoreOptions()...), name)
	return ktable.Wrap(ktable.Spec[K, VA]{Builder: b, Node: name, KeySerde: ks, ValueSerde: vs, Store: store,
		Old: old, Sources: src.sourceNodes()})
}

// streamAggProc is Kafka Streams' KStreamAggregate and KStreamReduce.
type streamAggProc[K, V, VA any] struct {
	ctx   processor.Context[K, ktable.Change[VA]]
	store string
	s     *dsl.TableStore[K, VA]
	fwd   *dsl.Forwarder[K, VA]
	old   *dsl.OldValues
	fn    func(processor.Record[K, V], VA, bool) VA
	nulls dsl.Nulls[K, V]
}

func (p *streamAggProc[K, V, VA]) Init(ctx processor.Context[K, ktable.Change[VA]]) error {
	s, err := processor.GetStore[*dsl.TableStore[K, VA]](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.s = ctx, s
	p.fwd = dsl.NewForwarder(ctx, s, p.old.On())
	p.nulls = dsl.NewNulls[K, V]()
	return nil
}

func (p *streamAggProc[K, V, VA]) Close() error { return nil }

func (p *streamAggProc[K, V, VA]) Process(r processor.Record[K, V]) error {
	if p.nulls.KeyNull(r) {
		dsl.Dropped(p.ctx, exec.DropNullKey)
		return nil
	}
	if p.nulls.ValueNull(r) {
		dsl.Dropped(p.ctx, exec.DropNullValue)
		return nil
	}
	oldVT, had, err := p.s.Get(r.Key)
	if err != nil {
		return err
	}
	ts := r.Timestamp
	if had {
		ts = max(ts, oldVT.Timestamp)
	}
	agg := p.fn(r, oldVT.Value, had)
	if err := p.s.Put(r.Key, state.ValueAndTimestamp[VA]{Value: agg, Timestamp: ts}); err != nil {
		return err
	}
	c := ktable.Change[VA]{New: agg, HasNew: true}
	if had {
		c.Old, c.HasOld = oldVT.Value, true
	}
	return p.fwd.MaybeForward(processor.Convert(r, r.Key, c, false, false).WithTimestamp(ts))
}

// ToTable turns the stream into a table kept in a store named store: each
// record sets its key's value, a null value deletes it, and a record with a
// null key is dropped. A stream whose keys may have changed is repartitioned
// first, through "<application.id>-<node>-repartition" where node is the
// ToTable node's name, as Kafka Streams' toTable does. Options: Named,
// WithCaching, WithLogging.
func ToTable[K, V any](s Stream[K, V], store string, opts ...Option) ktable.Table[K, V] {
	o := parseOptions(s.b, "ToTable", []string{optName, optCaching, optLogging}, opts)
	if err := state.ValidateName(store); err != nil {
		s.b.Err(fmt.Errorf("kstream: ToTable: %w", err))
	}
	name := o.NodeName(s.b, toTablePrefix)
	ks := resolveSerde(s.b, "ToTable "+name, "key", nil, s.keySerde)
	vs := resolveSerde(s.b, "ToTable "+name, "value", nil, s.valueSerde)
	if s.repartition && ks != nil && vs != nil {
		s = RepartitionThrough(s, name, generatedName.MatchString(name), ks, vs, nil, 0)
	}
	return ktable.Materialize(s.b, s.node, name, s.sourceNodes(), ks, vs, store, o.StoreOptions())
}

// FromTable returns the stream of a table's updates: each update becomes a
// record with the new value, and a delete a record with a null value (a
// tombstone). Options: Named.
func FromTable[K, V any](t ktable.Table[K, V], opts ...Option) Stream[K, V] {
	b := t.Builder()
	o := parseOptions(b, "FromTable", []string{optName}, opts)
	name := o.NodeName(b, toStreamPrefix)
	topology.AddProcessor(b, name, func() processor.Processor[K, ktable.Change[V], K, V] {
		return &toStreamProc[K, V]{}
	}, t.NodeName())
	return Stream[K, V]{b: b, node: name, keySerde: t.KeySerde(), valueSerde: t.ValueSerde(), sources: t.Sources()}
}

type toStreamProc[K, V any] struct{ ctx processor.Context[K, V] }

func (p *toStreamProc[K, V]) Init(ctx processor.Context[K, V]) error { p.ctx = ctx; return nil }
func (p *toStreamProc[K, V]) Close() error                           { return nil }
func (p *toStreamProc[K, V]) Process(r processor.Record[K, ktable.Change[V]]) error {
	out := processor.Convert(r, r.Key, r.Value.New, true, false)
	if !r.Value.HasNew {
		out = out.WithNulls(r.KeyIsNull(), true)
	}
	return p.ctx.Forward(out)
}
