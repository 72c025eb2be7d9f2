package kstream

import (
	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

const (
	joinPrefix     = "KSTREAM-JOIN-"
	leftJoinPrefix = "KSTREAM-LEFTJOIN-"
)

// JoinTable joins each record of the stream with the table's current value
// for its key: joiner(value, tableValue) is forwarded with the stream
// record's key and timestamp. Only stream records trigger the join; records
// whose key is absent from the table, or whose key or value is null, produce
// nothing (the null ones are counted as dropped). A stream whose keys may
// have changed is repartitioned first. Options: Named, WithKeySerde,
// WithValueSerde (for the repartition).
func JoinTable[K, V, VT, VR any](s Stream[K, V], t ktable.Table[K, VT], joiner func(value V, tableValue VT) VR, opts ...Option) Stream[K, VR] {
	return joinTable(s, t, "JoinTable", joinPrefix, false, func(v V, tv *VT) VR { return joiner(v, *tv) }, opts)
}

// LeftJoinTable is JoinTable that keeps stream records whose key is absent
// from the table: joiner then gets nil. A record with a null key but a value
// is joined with nil too. Options: as JoinTable.
func LeftJoinTable[K, V, VT, VR any](s Stream[K, V], t ktable.Table[K, VT], joiner func(value V, tableValue *VT) VR, opts ...Option) Stream[K, VR] {
	return joinTable(s, t, "LeftJoinTable", leftJoinPrefix, true, joiner, opts)
}

func joinTable[K, V, VT, VR any](s Stream[K, V], t ktable.Table[K, VT], op, prefix string, left bool, joiner func(V, *VT) VR, opts []Option) Stream[K, VR] {
	b := s.b
	o := parseOptions(b, op, []string{optName, optKeySerde, optValueSerde}, opts)
	if s.repartition {
		// The topic is named after the join, or else after the node that
		// changed the keys, which a second join of the stream then reuses.
		base := o.Name
		if base == "" {
			base = s.node
		}
		ks := resolveSerde(b, op, "key", o.KeySerde, s.keySerde)
		vs := resolveSerde(b, op, "value", o.ValueSerde, s.valueSerde)
		s = repartitionOnce(s, base, ks, vs)
	}
	name := o.NodeName(b, prefix)
	b.AddCopartitionGroup(append(s.sourceNodes(), t.Sources()...)...)
	getter := t.Getter()
	topology.AddProcessor(b, name, func() processor.Processor[K, V, K, VR] {
		return &streamTableJoinProc[K, V, K, VT, VR]{getter: getter, left: left, joiner: joiner,
			mapKey: func(k K, _ V) K { return k }, sameKey: true}
	}, s.node)
	b.ConnectProcessorAndStateStores(name, getter.Stores...)
	return Stream[K, VR]{b: b, node: name, keySerde: s.keySerde, sources: s.sourceNodes()}
}

// JoinGlobal joins each record of the stream with the global table's value
// for the key mapper computes from the record, even when the record's own
// key is null. Records for which the global table has no value produce
// nothing; records with a null value, or for which mapper returns a null
// (nil) key, are dropped and counted. No repartitioning is needed. Options:
// Named.
func JoinGlobal[K, V, KG, VG, VR any](s Stream[K, V], g ktable.GlobalTable[KG, VG], mapper func(key K, value V) KG, joiner func(value V, globalValue VG) VR, opts ...Option) Stream[K, VR] {
	return joinGlobal(s, g, "JoinGlobal", joinPrefix, false, mapper, func(v V, gv *VG) VR { return joiner(v, *gv) }, opts)
}

// LeftJoinGlobal is JoinGlobal that keeps records the global table has no
// value for: joiner then gets nil. A record whose mapped key is null is
// dropped, unless its own key is null too: it is then joined with nil, as
// Kafka Streams does. Options: Named.
func LeftJoinGlobal[K, V, KG, VG, VR any](s Stream[K, V], g ktable.GlobalTable[KG, VG], mapper func(key K, value V) KG, joiner func(value V, globalValue *VG) VR, opts ...Option) Stream[K, VR] {
	return joinGlobal(s, g, "LeftJoinGlobal", leftJoinPrefix, true, mapper, joiner, opts)
}

func joinGlobal[K, V, KG, VG, VR any](s Stream[K, V], g ktable.GlobalTable[KG, VG], op, prefix string, left bool, mapper func(K, V) KG, joiner func(V, *VG) VR, opts []Option) Stream[K, VR] {
	b := s.b
	o := parseOptions(b, op, []string{optName}, opts)
	name := o.NodeName(b, prefix)
	store := g.StoreName()
	getter := &dsl.GetterSupplier[KG, VG]{New: func(ctx processor.BaseContext) (dsl.ValueGetter[KG, VG], error) {
		st, err := processor.GetStore[*state.KeyValueStore[KG, state.ValueAndTimestamp[VG]]](ctx, store)
		if err != nil {
			return nil, err
		}
		return dsl.GetterFunc[KG, VG](st.Get), nil
	}}
	topology.AddProcessor(b, name, func() processor.Processor[K, V, K, VR] {
		return &streamTableJoinProc[K, V, KG, VG, VR]{getter: getter, left: left, joiner: joiner, mapKey: mapper}
	}, s.node)
	return Stream[K, VR]{b: b, node: name, keySerde: s.keySerde, sources: s.sourceNodes(), repartition: s.repartition}
}

// streamTableJoinProc is Kafka Streams' KStreamKTableJoinProcessor.
type streamTableJoinProc[K, V, KT, VT, VR any] struct {
	ctx    processor.Context[K, VR]
	getter *dsl.GetterSupplier[KT, VT]
	g      dsl.ValueGetter[KT, VT]
	left   bool
	joiner func(V, *VT) VR
	mapKey func(K, V) KT
	// sameKey is set for table joins, which look the record's own key up:
	// a null key then finds nothing. Global joins map even null keys.
	sameKey bool
	nulls   dsl.Nulls[K, V]
	// mappedNull reports a null key computed by a global join's mapper.
	mappedNull func(KT) bool
}

func (p *streamTableJoinProc[K, V, KT, VT, VR]) Init(ctx processor.Context[K, VR]) error {
	g, err := p.getter.New(ctx)
	if err != nil {
		return err
	}
	p.ctx, p.g = ctx, g
	p.nulls = dsl.NewNulls[K, V]()
	p.mappedNull = dsl.NullCheck[KT]()
	return nil
}

func (p *streamTableJoinProc[K, V, KT, VT, VR]) Close() error { return nil }

// Process joins r as Kafka Streams does: a record with a null value is
// dropped; so is one whose join key (its key, or what a global join's
// mapper computes) is null, except that a left join keeps a record with a
// null key and joins it with null (or, for a global join, with what its
// mapped key finds).
func (p *streamTableJoinProc[K, V, KT, VT, VR]) Process(r processor.Record[K, V]) error {
	if p.nulls.ValueNull(r) {
		dsl.Dropped(p.ctx, exec.DropNullValue)
		return nil
	}
	keyNull := p.nulls.KeyNull(r)
	var joinKey KT
	joinKeyNull := keyNull && p.sameKey
	if !joinKeyNull {
		joinKey = p.mapKey(r.Key, r.Value)
		joinKeyNull = p.mappedNull != nil && p.mappedNull(joinKey)
	}
	if joinKeyNull && !(p.left && keyNull) {
		dsl.Dropped(p.ctx, exec.DropNullKey)
		return nil
	}
	var tv *VT
	if !joinKeyNull {
		vt, ok, err := p.g.Get(joinKey)
		if err != nil {
			return err
		}
		if ok {
			tv = &vt.Value
		}
	}
	if tv == nil && !p.left {
		return nil
	}
	return p.ctx.Forward(processor.Convert(r, r.Key, p.joiner(r.Value, tv), true, false))
}
