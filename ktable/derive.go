package ktable

import (
	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

// Filter keeps the rows for which pred returns true. An update whose new
// value fails pred is forwarded as a delete when the row matched before, so
// that a row that stops matching leaves downstream tables; an update that
// neither matches now nor matched before is not forwarded. (Kafka Streams
// behaves so when the parent table is materialized, as every table here
// is at its root: the filter turns on the parent's old values to know what
// matched before.) Options: Named, Materialized, WithCaching, WithLogging.
func (t Table[K, V]) Filter(pred func(key K, value V) bool, opts ...Option) Table[K, V] {
	return derive(t, "Filter", filterPrefix, func(k K, v V) (V, bool) { return v, pred(k, v) }, t.vs, true, opts)
}

// FilterNot drops the rows for which pred returns true. Options: as Filter.
func (t Table[K, V]) FilterNot(pred func(key K, value V) bool, opts ...Option) Table[K, V] {
	return derive(t, "FilterNot", filterPrefix, func(k K, v V) (V, bool) { return v, !pred(k, v) }, t.vs, true, opts)
}

// MapValues transforms every value. Options: Named, Materialized,
// WithValueSerde (for the store), WithCaching, WithLogging.
func MapValues[K, V, VR any](t Table[K, V], mapper func(value V) VR, opts ...Option) Table[K, VR] {
	return MapValuesWithKey(t, func(_ K, v V) VR { return mapper(v) }, opts...)
}

// MapValuesWithKey transforms every value, given read-only access to its key.
func MapValuesWithKey[K, V, VR any](t Table[K, V], mapper func(key K, value V) VR, opts ...Option) Table[K, VR] {
	return derive(t, "MapValues", mapValuesPrefix, func(k K, v V) (VR, bool) { return mapper(k, v), true }, nil, false, opts)
}

// derive adds a processor that computes each row of a new table from the
// parent's row with fn (false drops the row), as Kafka Streams' KTableFilter
// (filter set) and KTableMapValues do.
func derive[K, V, VR any](t Table[K, V], op, prefix string, fn func(K, V) (VR, bool), known serde.Serde[VR], filter bool, opts []Option) Table[K, VR] {
	b := t.b
	o := parseOptions(b, op, []string{optName, optMaterialize, optValueSerde, optCaching, optLogging}, opts)
	name := o.NodeName(b, prefix)
	out := Table[K, VR]{b: b, node: name, ks: t.ks, sources: t.sources, win: t.win}
	out.vs = known
	if o.ValueSerde != nil {
		out.vs = dsl.TypedOption[serde.Serde[VR]](b, "ktable: "+op, "value serde", o.ValueSerde)
	}
	parentOld := t.old
	if o.Store != "" {
		out.store = o.Store
		out.getter = dsl.StoreGetter[K, VR](o.Store)
		out.old = dsl.NewOldValues(true)
		vs := resolveSerde(b, op+" "+name, "value", nil, out.vs)
		ks := resolveSerde(b, op+" "+name, "key", nil, t.ks)
		out.vs = vs
		if filter {
			// KTableFilter's constructor: with old values from a
			// materialized parent, the filter skips updates that
			// neither match now nor matched before.
			t.old.Enable()
			out.old.Enable()
		}
		topology.AddProcessor(b, name, func() processor.Processor[K, Change[V], K, Change[VR]] {
			return &deriveProc[K, V, VR]{fn: fn, store: o.Store, old: out.old, parentOld: parentOld, filter: filter}
		}, t.node)
		b.AddStateStore(state.TimestampedKeyValueStoreBuilder(o.Store, ks, vs, o.StoreOptions()...), name)
		return out
	}
	out.old = dsl.NewOldValues(false, t.old)
	if filter {
		out.old.Enable()
	}
	parentGetter := t.getter
	out.getter = &dsl.GetterSupplier[K, VR]{
		Stores: parentGetter.Stores,
		New: func(ctx processor.BaseContext) (dsl.ValueGetter[K, VR], error) {
			g, err := parentGetter.New(ctx)
			if err != nil {
				return nil, err
			}
			return dsl.GetterFunc[K, VR](func(k K) (state.ValueAndTimestamp[VR], bool, error) {
				vt, ok, err := g.Get(k)
				if err != nil || !ok {
					return state.ValueAndTimestamp[VR]{}, false, err
				}
				v, keep := fn(k, vt.Value)
				return state.ValueAndTimestamp[VR]{Value: v, Timestamp: vt.Timestamp}, keep, nil
			}), nil
		},
	}
	topology.AddProcessor(b, name, func() processor.Processor[K, Change[V], K, Change[VR]] {
		return &deriveProc[K, V, VR]{fn: fn, old: out.old, parentOld: parentOld, filter: filter}
	}, t.node)
	return out
}

type deriveProc[K, V, VR any] struct {
	ctx       processor.Context[K, Change[VR]]
	fn        func(K, V) (VR, bool)
	store     string
	s         *dsl.TableStore[K, VR]
	fwd       *dsl.Forwarder[K, VR]
	old       *dsl.OldValues
	parentOld *dsl.OldValues
	sendOld   bool
	// filter skips an update whose new and old values are both absent,
	// as KTableFilter does when it has old values; KTableMapValues
	// forwards it.
	filter bool
}

func (p *deriveProc[K, V, VR]) Init(ctx processor.Context[K, Change[VR]]) error {
	p.ctx = ctx
	p.sendOld = p.old.On()
	if p.store != "" {
		s, err := processor.GetStore[*dsl.TableStore[K, VR]](ctx, p.store)
		if err != nil {
			return err
		}
		p.s = s
		p.fwd = dsl.NewForwarder(ctx, s, p.sendOld)
	}
	return nil
}

func (p *deriveProc[K, V, VR]) Close() error { return nil }

func (p *deriveProc[K, V, VR]) Process(r processor.Record[K, Change[V]]) error {
	var c Change[VR]
	if r.Value.HasNew {
		c.New, c.HasNew = p.fn(r.Key, r.Value.New)
	}
	if p.s != nil {
		oldVT, had, err := p.s.Get(r.Key)
		if err != nil {
			return err
		}
		if p.filter && p.sendOld && !c.HasNew && !had {
			return nil
		}
		if c.HasNew {
			err = p.s.Put(r.Key, state.ValueAndTimestamp[VR]{Value: c.New, Timestamp: r.Timestamp})
		} else {
			_, _, err = p.s.Delete(r.Key)
		}
		if err != nil {
			return err
		}
		if had {
			c.Old, c.HasOld = oldVT.Value, true
		}
		return p.fwd.MaybeForward(processor.Convert(r, r.Key, c, true, false))
	}
	if p.sendOld && r.Value.HasOld {
		c.Old, c.HasOld = p.fn(r.Key, r.Value.Old)
	}
	if p.filter && p.sendOld && !c.HasNew && !c.HasOld {
		return nil
	}
	return p.ctx.Forward(processor.Convert(r, r.Key, c, true, false))
}
