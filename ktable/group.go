package ktable

import (
	"bytes"
	"fmt"

	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

// GroupedTable is a table re-keyed for an aggregation: each row of the source
// table contributes its selected value to the group of its selected key, and
// leaves its old group when it changes or is deleted.
type GroupedTable[K, V any] struct {
	b       *topology.Builder
	node    string
	ks      serde.Serde[K]
	vs      serde.Serde[V]
	repName string
	// rep is shared by the copies of a grouping: it keeps the source of
	// its repartition topic once an aggregation created it.
	rep *groupedRepartition
}

type groupedRepartition struct{ source string }

// GroupBy re-groups t by the key selector returns for each row, through a
// repartition topic. A selected pair whose key or value is nil (for pointer,
// slice, map or interface types) is not sent, as Kafka Streams skips null
// pairs. Options: Named, WithKeySerde, WithValueSerde (of the selected keys
// and values), WithRepartitionName.
func GroupBy[K, V, KR, VR any](t Table[K, V], selector func(key K, value V) (KR, VR), opts ...Option) GroupedTable[KR, VR] {
	b := t.b
	o := parseOptions(b, "GroupBy", []string{optName, optKeySerde, optValueSerde, optGrouped}, opts)
	name := o.NodeName(b, selectPrefix)
	g := GroupedTable[KR, VR]{b: b, node: name, repName: o.GroupedName, rep: &groupedRepartition{}}
	g.ks = resolveSerde(b, "GroupBy "+name, "key", o.KeySerde, serde.Serde[KR](nil))
	g.vs = resolveSerde(b, "GroupBy "+name, "value", o.ValueSerde, serde.Serde[VR](nil))
	t.EnableSendingOldValues()
	ks := g.ks
	topology.AddProcessor(b, name, func() processor.Processor[K, Change[V], KR, Change[VR]] {
		return &repartitionMapProc[K, V, KR, VR]{selector: selector, ks: ks,
			keyNull: dsl.NullCheck[KR](), valueNull: dsl.NullCheck[VR]()}
	}, t.node)
	return g
}

// repartitionMapProc is Kafka Streams' KTableRepartitionMap: it sends the old
// row's value to its old group as a subtraction and the new row's value to
// its new group as an addition, in one record when the group is the same. A
// selected pair whose key or value is null (nil) is not sent.
type repartitionMapProc[K, V, KR, VR any] struct {
	ctx       processor.Context[KR, Change[VR]]
	selector  func(K, V) (KR, VR)
	ks        serde.Serde[KR]
	keyNull   func(KR) bool
	valueNull func(VR) bool
}

func (p *repartitionMapProc[K, V, KR, VR]) Init(ctx processor.Context[KR, Change[VR]]) error {
	p.ctx = ctx
	return nil
}

func (p *repartitionMapProc[K, V, KR, VR]) Close() error { return nil }

// selected reports whether a selected pair is not null.
func (p *repartitionMapProc[K, V, KR, VR]) selected(k KR, v VR) bool {
	return (p.keyNull == nil || !p.keyNull(k)) && (p.valueNull == nil || !p.valueNull(v))
}

func (p *repartitionMapProc[K, V, KR, VR]) Process(r processor.Record[K, Change[V]]) error {
	if r.KeyIsNull() {
		return fmt.Errorf("the key of a row of the grouped table is null")
	}
	var nk, ok KR
	var nv, ov VR
	c := r.Value
	hasNew, hasOld := c.HasNew, c.HasOld
	if hasNew {
		nk, nv = p.selector(r.Key, c.New)
		hasNew = p.selected(nk, nv)
	}
	if hasOld {
		ok, ov = p.selector(r.Key, c.Old)
		hasOld = p.selected(ok, ov)
	}
	if hasNew && hasOld {
		nb, err := p.ks.Serialize(nk)
		if err != nil {
			return err
		}
		ob, err := p.ks.Serialize(ok)
		if err != nil {
			return err
		}
		if bytes.Equal(nb, ob) {
			return p.ctx.Forward(processor.Convert(r, nk, Change[VR]{New: nv, Old: ov, HasNew: true, HasOld: true}, false, false))
		}
	}
	if hasOld {
		if err := p.ctx.Forward(processor.Convert(r, ok, Change[VR]{Old: ov, HasOld: true}, false, false)); err != nil {
			return err
		}
	}
	if hasNew {
		return p.ctx.Forward(processor.Convert(r, nk, Change[VR]{New: nv, HasNew: true}, false, false))
	}
	return nil
}

// Count counts the rows in each group, in a store named store. Options:
// Named, WithCaching, WithLogging.
func Count[K, V any](g GroupedTable[K, V], store string, opts ...Option) Table[K, int64] {
	return aggregate(g, "Count", aggregatePrefix, store, serde.Int64(), opts, func() *tableAggProc[K, V, int64] {
		return &tableAggProc[K, V, int64]{
			add: func(_ K, _ V, agg int64, _ bool) int64 { return agg + 1 },
			sub: func(_ K, _ V, agg int64) int64 { return agg - 1 }}
	})
}

// Reduce combines the values of each group: adder adds a row's value to the
// aggregate, subtractor removes a row's old value. The first value of a group
// is its initial aggregate. Options: Named, WithCaching, WithLogging.
func Reduce[K, V any](g GroupedTable[K, V], adder, subtractor func(agg, value V) V, store string, opts ...Option) Table[K, V] {
	return aggregate(g, "Reduce", reducePrefix, store, g.vs, opts, func() *tableAggProc[K, V, V] {
		return &tableAggProc[K, V, V]{
			add: func(_ K, v V, agg V, has bool) V {
				if !has {
					return v
				}
				return adder(agg, v)
			},
			sub: func(_ K, v V, agg V) V { return subtractor(agg, v) }}
	})
}

// Aggregate folds the values of each group: initializer starts a group's
// aggregate, adder adds a row's value, subtractor removes a row's old value.
// Options: Named, WithValueSerde (of the aggregate; built-in types need
// none), WithCaching, WithLogging.
func Aggregate[K, V, VA any](g GroupedTable[K, V], initializer func() VA, adder, subtractor func(key K, value V, agg VA) VA, store string, opts ...Option) Table[K, VA] {
	return aggregate(g, "Aggregate", aggregatePrefix, store, nil, opts, func() *tableAggProc[K, V, VA] {
		return &tableAggProc[K, V, VA]{
			add: func(k K, v V, agg VA, has bool) VA {
				if !has {
					agg = initializer()
				}
				return adder(k, v, agg)
			},
			sub: subtractor}
	})
}

// aggregate adds a table aggregation as Kafka Streams' KGroupedTable does: a
// sink to the repartition topic "<store or repartition name>-repartition", a
// source reading it, and the aggregating processor with its store.
func aggregate[K, V, VA any](g GroupedTable[K, V], op, prefix, store string, vs serde.Serde[VA], opts []Option, newProc func() *tableAggProc[K, V, VA]) Table[K, VA] {
	b := g.b
	o := parseOptions(b, op, []string{optName, optValueSerde, optCaching, optLogging}, opts)
	if err := state.ValidateName(store); err != nil {
		b.Err(fmt.Errorf("ktable: %s: %w", op, err))
	}
	sinkName := o.SuffixedName(b, "-sink", sinkPrefix)
	sourceName := o.SuffixedName(b, "-source", sourcePrefix)
	aggName := o.NodeName(b, prefix)
	topic := store
	if g.repName != "" {
		topic = g.repName
	}
	topic += "-repartition"
	vs = resolveSerde(b, op+" "+aggName, "value", o.ValueSerde, vs)
	if g.ks == nil || g.vs == nil {
		// GroupBy reported the missing serde; leave the repartition out
		// rather than report its nodes too.
		sourceName = g.node
	} else if g.repName != "" && g.rep.source != "" {
		// A second aggregation of a grouping with a repartition name
		// reads the same topic, as in Kafka Streams.
		sourceName = g.rep.source
	} else {
		b.AddInternalTopic(topology.InternalTopic{Name: topic})
		var cs serde.Serde[Change[V]]
		if g.vs != nil {
			cs = dsl.ChangeSerde(g.vs)
		}
		topology.AddSink(b, sinkName, topic, g.ks, cs, g.node)
		topology.AddSource(b, sourceName, g.ks, cs, topic)
		if g.rep != nil {
			g.rep.source = sourceName
		}
	}
	old := dsl.NewOldValues(true)
	topology.AddProcessor(b, aggName, func() processor.Processor[K, Change[V], K, Change[VA]] {
		p := newProc()
		p.store, p.old = store, old
		return p
	}, sourceName)
	b.AddStateStore(state.TimestampedKeyValueStoreBuilder(store, g.ks, vs, o.StoreOptions()...), aggName)
	return Wrap(Spec[K, VA]{Builder: b, Node: aggName, KeySerde: g.ks, ValueSerde: vs, Store: store, Old: old,
		Sources: []string{sourceName}})
}

// tableAggProc is Kafka Streams' KTableAggregate and KTableReduce: it
// subtracts a row's old value from its group's aggregate and adds its new
// one.
type tableAggProc[K, V, VA any] struct {
	ctx   processor.Context[K, Change[VA]]
	store string
	s     *dsl.TableStore[K, VA]
	fwd   *dsl.Forwarder[K, VA]
	old   *dsl.OldValues
	add   func(k K, v V, agg VA, has bool) VA
	sub   func(k K, v V, agg VA) VA
}

func (p *tableAggProc[K, V, VA]) Init(ctx processor.Context[K, Change[VA]]) error {
	s, err := processor.GetStore[*dsl.TableStore[K, VA]](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.s = ctx, s
	p.fwd = dsl.NewForwarder(ctx, s, p.old.On())
	return nil
}

func (p *tableAggProc[K, V, VA]) Close() error { return nil }

func (p *tableAggProc[K, V, VA]) Process(r processor.Record[K, Change[V]]) error {
	if r.KeyIsNull() {
		return fmt.Errorf("the key of a record for table aggregate %q is null", p.store)
	}
	oldVT, had, err := p.s.Get(r.Key)
	if err != nil {
		return err
	}
	agg, hasAgg := oldVT.Value, had
	ts := r.Timestamp
	if r.Value.HasOld && had {
		agg = p.sub(r.Key, r.Value.Old, agg)
		ts = max(r.Timestamp, oldVT.Timestamp)
	}
	if r.Value.HasNew {
		agg = p.add(r.Key, r.Value.New, agg, hasAgg)
		hasAgg = true
		if had {
			ts = max(r.Timestamp, oldVT.Timestamp)
		}
	}
	var c Change[VA]
	if hasAgg {
		err = p.s.Put(r.Key, state.ValueAndTimestamp[VA]{Value: agg, Timestamp: ts})
		c.New, c.HasNew = agg, true
	} else {
		_, _, err = p.s.Delete(r.Key)
	}
	if err != nil {
		return err
	}
	if had {
		c.Old, c.HasOld = oldVT.Value, true
	}
	return p.fwd.MaybeForward(processor.Convert(r, r.Key, c, false, false).WithTimestamp(ts))
}
