package kstream

import (
	"fmt"
	"slices"

	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// sessionWindowed adds a session windowed aggregation, as Kafka Streams'
// SessionWindowedKStreamImpl does.
func sessionWindowed[K, V, VA any](ws SessionWindowedStream[K, V], def windowAgg[K, V, VA], store string, opts []Option) ktable.Table[window.Windowed[K], VA] {
	s := setupWindowed(ws.g, def, store, opts)
	b := s.b
	w := ws.w
	if err := w.Err(); err != nil {
		b.Err(fmt.Errorf("kstream: %s %s: %w", def.op, s.name, err))
	} else if w.GapMs <= 0 {
		b.Err(fmt.Errorf("kstream: %s %s: session windows without an inactivity gap; use window.Session", def.op, s.name))
	}
	retention := s.retention(def.op, store, w.GapMs+w.GraceMs, "the session inactivity gap plus the grace period")
	old := dsl.NewOldValues(true)
	cfg := sessionProcConfig[K, V, VA]{store: store, def: def, old: old, emitFinal: s.emitFinal, gapMs: w.GapMs, graceMs: w.GraceMs}
	topology.AddProcessor(b, s.name, func() processor.Processor[K, V, window.Windowed[K], ktable.Change[VA]] {
		return &sessionWindowProc[K, V, VA]{cfg: cfg}
	}, s.src.node)
	b.AddStateStore(state.SessionStoreBuilder(store, s.ks, s.vs, retention, s.o.StoreOptions()...), s.name)
	var keySerde serde.Serde[window.Windowed[K]]
	if s.ks != nil {
		keySerde = window.SessionWindowedSerde(s.ks)
	}
	getter := &dsl.GetterSupplier[window.Windowed[K], VA]{
		Stores: []string{store},
		New: func(ctx processor.BaseContext) (dsl.ValueGetter[window.Windowed[K], VA], error) {
			st, err := processor.GetStore[*state.SessionStore[K, VA]](ctx, store)
			if err != nil {
				return nil, err
			}
			return dsl.GetterFunc[window.Windowed[K], VA](func(k window.Windowed[K]) (state.ValueAndTimestamp[VA], bool, error) {
				v, ok, err := st.FetchSession(k.Key, k.Window.Start, k.Window.End)
				return state.ValueAndTimestamp[VA]{Value: v, Timestamp: k.Window.End}, ok, err
			}), nil
		},
	}
	return windowedTable(b, s.name, keySerde, s.vs, getter, old, s.src.sourceNodes(), w.GapMs+w.GraceMs)
}

type sessionProcConfig[K, V, VA any] struct {
	store          string
	def            windowAgg[K, V, VA]
	old            *dsl.OldValues
	emitFinal      bool
	gapMs, graceMs int64
}

// sessionWindowProc is Kafka Streams' KStreamSessionWindowAggregate
// processor.
type sessionWindowProc[K, V, VA any] struct {
	cfg        sessionProcConfig[K, V, VA]
	ctx        processor.Context[window.Windowed[K], ktable.Change[VA]]
	s          *state.SessionStore[K, VA]
	sendOld    bool
	cached     bool
	nulls      dsl.Nulls[K, V]
	streamTime int64
	lastEmit   int64
	found      []state.SessionEntry[K, VA]
}

func (p *sessionWindowProc[K, V, VA]) Init(ctx processor.Context[window.Windowed[K], ktable.Change[VA]]) error {
	s, err := processor.GetStore[*state.SessionStore[K, VA]](ctx, p.cfg.store)
	if err != nil {
		return err
	}
	p.ctx, p.s = ctx, s
	p.sendOld = p.cfg.old.On()
	p.nulls = dsl.NewNulls[K, V]()
	if p.streamTime, err = winInitStreamTime(s.Mark, s.ObservedStreamTime); err != nil {
		return err
	}
	p.lastEmit = processor.NoTimestamp
	if p.cfg.emitFinal {
		if v, ok, err := s.Mark(winMarkEmitClose); err != nil {
			return err
		} else if ok {
			p.lastEmit = v
		}
		return nil
	}
	sendOld := p.sendOld
	p.cached = s.SetFlushListener(func(key K, start, end int64, nv, ov *VA, rc state.RecordContext) error {
		var c ktable.Change[VA]
		if nv != nil {
			c.New, c.HasNew = *nv, true
		}
		if ov != nil && sendOld {
			c.Old, c.HasOld = *ov, true
		}
		wk := window.Windowed[K]{Key: key, Window: window.Window{Start: start, End: end}}
		return ctx.Forward(processor.Record[window.Windowed[K], ktable.Change[VA]]{Key: wk, Value: c, Timestamp: end, Headers: rc.Headers})
	})
	s.SetFlushOldValues(sendOld)
	return nil
}

func (p *sessionWindowProc[K, V, VA]) Close() error { return nil }

func (p *sessionWindowProc[K, V, VA]) Process(r processor.Record[K, V]) error {
	def := &p.cfg.def
	if p.nulls.KeyNull(r) {
		winDropNull(p.ctx, exec.DropNullKey)
		return nil
	}
	if def.dropNullValues && p.nulls.ValueNull(r) {
		winDropNull(p.ctx, exec.DropNullValue)
		return nil
	}
	ts, gap := r.Timestamp, p.cfg.gapMs
	if ts > p.streamTime {
		p.streamTime = ts
		if err := p.s.SetMark(winMarkStreamTime, ts); err != nil {
			return err
		}
	}
	closeTime := p.streamTime - p.cfg.graceMs - gap
	if p.cfg.emitFinal {
		// Before the updates, as for time windows.
		if err := p.maybeEmitFinal(r, closeTime); err != nil {
			return err
		}
	}
	p.found = p.found[:0]
	for e, err := range p.s.FindSessions(r.Key, ts-gap, ts+gap) {
		if err != nil {
			return err
		}
		p.found = append(p.found, e)
	}
	defer clear(p.found)
	agg, has := def.init()
	merged := window.Window{Start: ts, End: ts}
	for _, e := range p.found {
		agg, has = def.merge(r.Key, agg, has, e.Value), true
		merged.Start, merged.End = min(merged.Start, e.Start), max(merged.End, e.End)
	}
	if merged.End < closeTime {
		winDropLate(p.ctx, ts, fmt.Sprintf("[%d,%d]", merged.Start, merged.End), closeTime, p.streamTime)
		return nil
	}
	if merged != (window.Window{Start: ts, End: ts}) {
		// The record merges sessions (or extends one): the sessions it
		// replaces go, each forwarded as a delete.
		for _, e := range p.found {
			if err := p.s.Remove(r.Key, e.Start, e.End); err != nil {
				return err
			}
			var zero VA
			if err := p.forward(window.Windowed[K]{Key: r.Key, Window: window.Window{Start: e.Start, End: e.End}}, e.Value, true, zero, false); err != nil {
				return err
			}
		}
	}
	agg = def.add(r.Key, r.Value, agg, has)
	if err := p.s.Put(r.Key, merged.Start, merged.End, agg); err != nil {
		return err
	}
	var zero VA
	return p.forward(window.Windowed[K]{Key: r.Key, Window: merged}, zero, false, agg, true)
}

// forward forwards a session update unless emitting on close or cached,
// as Kafka Streams' maybeForwardUpdate: stamped with the session end,
// without headers.
func (p *sessionWindowProc[K, V, VA]) forward(key window.Windowed[K], oldAgg VA, hasOld bool, newAgg VA, hasNew bool) error {
	if p.cfg.emitFinal || p.cached {
		return nil
	}
	c := ktable.Change[VA]{New: newAgg, HasNew: hasNew}
	if p.sendOld && hasOld {
		c.Old, c.HasOld = oldAgg, true
	}
	return p.ctx.Forward(processor.Record[window.Windowed[K], ktable.Change[VA]]{Key: key, Value: c, Timestamp: key.Window.End})
}

// maybeEmitFinal emits the sessions that closed since the last emit (those
// ending before the close time), by end then key, stamped with their end.
func (p *sessionWindowProc[K, V, VA]) maybeEmitFinal(r processor.Record[K, V], closeTime int64) error {
	if p.lastEmit != processor.NoTimestamp && p.lastEmit >= closeTime {
		return nil
	}
	upper := closeTime - 1
	if upper < 0 {
		return nil
	}
	lower := max(0, p.lastEmit)
	if upper < lower {
		return nil
	}
	p.found = p.found[:0]
	for e, err := range p.s.FindSessionsEndingBetween(lower, upper) {
		if err != nil {
			return err
		}
		p.found = append(p.found, e)
	}
	slices.SortStableFunc(p.found, func(a, b state.SessionEntry[K, VA]) int { return winCmp(a.End, b.End) })
	for _, e := range p.found {
		rec := processor.Record[window.Windowed[K], ktable.Change[VA]]{
			Key:   window.Windowed[K]{Key: e.Key, Window: window.Window{Start: e.Start, End: e.End}},
			Value: ktable.Change[VA]{New: e.Value, HasNew: true}, Timestamp: e.End, Headers: r.Headers,
		}
		if err := p.ctx.Forward(rec); err != nil {
			return err
		}
	}
	clear(p.found)
	p.lastEmit = closeTime
	return p.s.SetMark(winMarkEmitClose, closeTime)
}
