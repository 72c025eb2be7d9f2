package ktable

import (
	"fmt"

	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

type joinMode int

const (
	modeInner joinMode = iota
	modeLeft           // this side is the left of a left join
	modeRight          // this side is the right of a left join
	modeOuter
)

// Join joins two tables on their keys: the result has a row for every key
// present in both, joiner(left, right). An update on either side updates
// the result; the result's timestamp is the larger of the two rows'.
// Options: Named, Materialized, WithValueSerde (for the store), WithCaching,
// WithLogging.
func Join[K, V, VO, VR any](left Table[K, V], right Table[K, VO], joiner func(left V, right VO) VR, opts ...Option) Table[K, VR] {
	return join(left, right, "Join", modeInner, modeInner,
		func(l *V, r *VO) VR { return joiner(*l, *r) }, opts)
}

// LeftJoin joins two tables keeping every left row: joiner gets nil when the
// right table has no row for the key. Options: as Join.
func LeftJoin[K, V, VO, VR any](left Table[K, V], right Table[K, VO], joiner func(left V, right *VO) VR, opts ...Option) Table[K, VR] {
	left.EnableSendingOldValues()
	return join(left, right, "LeftJoin", modeLeft, modeRight,
		func(l *V, r *VO) VR { return joiner(*l, r) }, opts)
}

// OuterJoin joins two tables keeping every row of either: joiner gets nil
// for the side that has no row for the key. Options: as Join.
func OuterJoin[K, V, VO, VR any](left Table[K, V], right Table[K, VO], joiner func(left *V, right *VO) VR, opts ...Option) Table[K, VR] {
	left.EnableSendingOldValues()
	right.EnableSendingOldValues()
	return join(left, right, "OuterJoin", modeOuter, modeOuter, joiner, opts)
}

func join[K, V, VO, VR any](left Table[K, V], right Table[K, VO], op string, thisMode, otherMode joinMode, joiner func(*V, *VO) VR, opts []Option) Table[K, VR] {
	b := left.b
	o := parseOptions(b, op, []string{optName, optMaterialize, optValueSerde, optCaching, optLogging}, opts)
	if right.b != b {
		b.Err(fmt.Errorf("ktable: %s: tables from different builders", op))
		return Table[K, VR]{b: b}
	}
	mergeName := o.NodeName(b, mergePrefix)
	thisName := o.SuffixedName(b, "-join-this", joinThisPrefix)
	otherName := o.SuffixedName(b, "-join-other", joinOtherPrefix)
	sources := append(left.Sources(), right.sources...)
	b.AddCopartitionGroup(sources...)

	out := Table[K, VR]{b: b, node: mergeName, ks: left.ks, sources: sources, win: joinedWindowClose(left.win, right.win)}
	if o.ValueSerde != nil {
		out.vs = dsl.TypedOption[serde.Serde[VR]](b, "ktable: "+op, "value serde", o.ValueSerde)
	}
	if o.Store != "" {
		out.store = o.Store
		out.old = dsl.NewOldValues(true)
		out.getter = dsl.StoreGetter[K, VR](o.Store)
	} else {
		out.old = dsl.NewOldValues(false, left.old, right.old)
		out.getter = joinGetter(left.getter, right.getter, thisMode, joiner)
	}
	resultOld := out.old
	joinerOther := func(r *VO, l *V) VR { return joiner(l, r) }
	rightGetter, leftGetter := right.getter, left.getter
	topology.AddProcessor(b, thisName, func() processor.Processor[K, Change[V], K, Change[VR]] {
		return &joinProc[K, V, VO, VR]{mode: thisMode, joiner: joiner, getter: rightGetter, old: resultOld}
	}, left.node)
	b.ConnectProcessorAndStateStores(thisName, right.getter.Stores...)
	topology.AddProcessor(b, otherName, func() processor.Processor[K, Change[VO], K, Change[VR]] {
		return &joinProc[K, VO, V, VR]{mode: otherMode, joiner: joinerOther, getter: leftGetter, old: resultOld}
	}, right.node)
	b.ConnectProcessorAndStateStores(otherName, left.getter.Stores...)
	store := o.Store
	topology.AddProcessor(b, mergeName, func() processor.Processor[K, Change[VR], K, Change[VR]] {
		return &mergeProc[K, VR]{store: store, old: resultOld}
	}, thisName, otherName)
	if store != "" {
		ks := resolveSerde(b, op+" "+mergeName, "key", nil, left.ks)
		vs := resolveSerde(b, op+" "+mergeName, "value", nil, out.vs)
		out.vs = vs
		b.AddStateStore(state.TimestampedKeyValueStoreBuilder(store, ks, vs, o.StoreOptions()...), mergeName)
	}
	return out
}

// joinProc handles the updates of one side of a table-table join, looking
// the other side up through its getter, as Kafka Streams' KTableKTable*Join
// processors do.
type joinProc[K, V1, V2, VR any] struct {
	ctx    processor.Context[K, Change[VR]]
	mode   joinMode
	joiner func(*V1, *V2) VR
	getter *dsl.GetterSupplier[K, V2]
	g      dsl.ValueGetter[K, V2]
	old    *dsl.OldValues
	send   bool
}

func (p *joinProc[K, V1, V2, VR]) Init(ctx processor.Context[K, Change[VR]]) error {
	g, err := p.getter.New(ctx)
	if err != nil {
		return err
	}
	p.ctx, p.g, p.send = ctx, g, p.old.On()
	return nil
}

func (p *joinProc[K, V1, V2, VR]) Close() error { return nil }

func (p *joinProc[K, V1, V2, VR]) Process(r processor.Record[K, Change[V1]]) error {
	if r.KeyIsNull() {
		dsl.Dropped(p.ctx, exec.DropNullKey)
		return nil
	}
	other, ok, err := p.g.Get(r.Key)
	if err != nil {
		return err
	}
	c := r.Value
	var newV, oldV *V1
	if c.HasNew {
		newV = &c.New
	}
	if c.HasOld {
		oldV = &c.Old
	}
	var v2 *V2
	ts := r.Timestamp
	if ok {
		v2 = &other.Value
		ts = max(ts, other.Timestamp)
	}
	var out Change[VR]
	switch p.mode {
	case modeInner:
		if !ok {
			return nil
		}
		if newV != nil {
			out.New, out.HasNew = p.joiner(newV, v2), true
		}
		if p.send && oldV != nil {
			out.Old, out.HasOld = p.joiner(oldV, v2), true
		}
	case modeLeft:
		if !ok && newV == nil && oldV == nil {
			return nil
		}
		if newV != nil {
			out.New, out.HasNew = p.joiner(newV, v2), true
		}
		if p.send && oldV != nil {
			out.Old, out.HasOld = p.joiner(oldV, v2), true
		}
	case modeRight:
		if !ok {
			return nil
		}
		out.New, out.HasNew = p.joiner(newV, v2), true
		if p.send {
			out.Old, out.HasOld = p.joiner(oldV, v2), true
		}
	case modeOuter:
		if !ok && newV == nil && oldV == nil {
			return nil
		}
		if ok || newV != nil {
			out.New, out.HasNew = p.joiner(newV, v2), true
		}
		if p.send && (ok || oldV != nil) {
			out.Old, out.HasOld = p.joiner(oldV, v2), true
		}
	}
	return p.ctx.Forward(processor.Convert(r, r.Key, out, true, false).WithTimestamp(ts))
}

// mergeProc merges the two sides of a join, materializing the result when it
// has a store.
type mergeProc[K, V any] struct {
	ctx   processor.Context[K, Change[V]]
	store string
	s     *dsl.TableStore[K, V]
	fwd   *dsl.Forwarder[K, V]
	old   *dsl.OldValues
}

func (p *mergeProc[K, V]) Init(ctx processor.Context[K, Change[V]]) error {
	p.ctx = ctx
	if p.store != "" {
		s, err := processor.GetStore[*dsl.TableStore[K, V]](ctx, p.store)
		if err != nil {
			return err
		}
		p.s = s
		p.fwd = dsl.NewForwarder(ctx, s, p.old.On())
	}
	return nil
}

func (p *mergeProc[K, V]) Close() error { return nil }

func (p *mergeProc[K, V]) Process(r processor.Record[K, Change[V]]) error {
	if p.s == nil {
		return p.ctx.Forward(r)
	}
	oldVT, had, err := p.s.Get(r.Key)
	if err != nil {
		return err
	}
	if r.Value.HasNew {
		err = p.s.Put(r.Key, state.ValueAndTimestamp[V]{Value: r.Value.New, Timestamp: r.Timestamp})
	} else {
		_, _, err = p.s.Delete(r.Key)
	}
	if err != nil {
		return err
	}
	c := Change[V]{New: r.Value.New, HasNew: r.Value.HasNew}
	if had {
		c.Old, c.HasOld = oldVT.Value, true
	}
	return p.fwd.MaybeForward(r.WithValue(c))
}

// joinGetter computes a non-materialized join result from both sides'
// getters.
func joinGetter[K, V, VO, VR any](lg *dsl.GetterSupplier[K, V], rg *dsl.GetterSupplier[K, VO], mode joinMode, joiner func(*V, *VO) VR) *dsl.GetterSupplier[K, VR] {
	return &dsl.GetterSupplier[K, VR]{
		Stores: append(append([]string(nil), lg.Stores...), rg.Stores...),
		New: func(ctx processor.BaseContext) (dsl.ValueGetter[K, VR], error) {
			l, err := lg.New(ctx)
			if err != nil {
				return nil, err
			}
			r, err := rg.New(ctx)
			if err != nil {
				return nil, err
			}
			return dsl.GetterFunc[K, VR](func(k K) (state.ValueAndTimestamp[VR], bool, error) {
				var out state.ValueAndTimestamp[VR]
				lv, lok, err := l.Get(k)
				if err != nil {
					return out, false, err
				}
				rv, rok, err := r.Get(k)
				if err != nil {
					return out, false, err
				}
				var lp *V
				var rp *VO
				if lok {
					lp = &lv.Value
					out.Timestamp = lv.Timestamp
				}
				if rok {
					rp = &rv.Value
					out.Timestamp = max(out.Timestamp, rv.Timestamp)
				}
				switch mode {
				case modeInner:
					if !lok || !rok {
						return out, false, nil
					}
				case modeLeft:
					if !lok {
						return out, false, nil
					}
				case modeOuter:
					if !lok && !rok {
						return out, false, nil
					}
				}
				out.Value = joiner(lp, rp)
				return out, true, nil
			}), nil
		},
	}
}
