package kstream

import (
	"fmt"
	"slices"
	"time"

	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// winStore is the store of time and sliding windowed aggregations.
type winStore[K, VA any] = state.WindowStore[K, state.ValueAndTimestamp[VA]]

// timeWindowed adds a time or sliding windowed aggregation, as Kafka
// Streams' TimeWindowedKStreamImpl and SlidingWindowedKStreamImpl do.
func timeWindowed[K, V, VA any](ws TimeWindowedStream[K, V], def windowAgg[K, V, VA], store string, opts []Option) ktable.Table[window.Windowed[K], VA] {
	s := setupWindowed(ws.g, def, store, opts)
	b := s.b
	var sizeMs, graceMs, need int64
	var what string
	if ws.isSliding {
		w := ws.sliding
		if err := w.Err(); err != nil {
			b.Err(fmt.Errorf("kstream: %s %s: %w", def.op, s.name, err))
		} else if w.TimeDifferenceMs <= 0 {
			b.Err(fmt.Errorf("kstream: %s %s: sliding windows without a time difference; use window.Sliding", def.op, s.name))
		}
		sizeMs, graceMs = w.TimeDifferenceMs, w.GraceMs
		need, what = 2*sizeMs+graceMs, "2 * time difference plus the grace period"
	} else {
		w := ws.time
		if err := w.Err(); err != nil {
			b.Err(fmt.Errorf("kstream: %s %s: %w", def.op, s.name, err))
		} else if w.SizeMs <= 0 || w.AdvanceMs <= 0 {
			b.Err(fmt.Errorf("kstream: %s %s: time windows without a size; use window.Tumbling or window.Hopping", def.op, s.name))
		}
		sizeMs, graceMs = w.SizeMs, w.GraceMs
		need, what = sizeMs+graceMs, "its window size plus the grace period"
	}
	retention := s.retention(def.op, store, need, what)
	old := dsl.NewOldValues(true)
	cfg := windowProcConfig[K, V, VA]{store: store, def: def, old: old, emitFinal: s.emitFinal,
		sizeMs: sizeMs, graceMs: graceMs}
	if ws.isSliding {
		topology.AddProcessor(b, s.name, func() processor.Processor[K, V, window.Windowed[K], ktable.Change[VA]] {
			return &slidingWindowProc[K, V, VA]{windowProcBase: windowProcBase[K, V, VA]{cfg: cfg}}
		}, s.src.node)
	} else {
		w := ws.time
		topology.AddProcessor(b, s.name, func() processor.Processor[K, V, window.Windowed[K], ktable.Change[VA]] {
			return &timeWindowProc[K, V, VA]{windowProcBase: windowProcBase[K, V, VA]{cfg: cfg}, w: w}
		}, s.src.node)
	}
	var vts serde.Serde[state.ValueAndTimestamp[VA]]
	if s.vs != nil {
		vts = state.TimestampedSerde(s.vs)
	}
	b.AddStateStore(state.WindowStoreBuilder(store, s.ks, vts, retention,
		winMillis(sizeMs), false, s.o.StoreOptions()...), s.name)
	var keySerde serde.Serde[window.Windowed[K]]
	if s.ks != nil {
		keySerde = window.TimeWindowedSerde(s.ks, sizeMs)
	}
	getter := &dsl.GetterSupplier[window.Windowed[K], VA]{
		Stores: []string{store},
		New: func(ctx processor.BaseContext) (dsl.ValueGetter[window.Windowed[K], VA], error) {
			st, err := processor.GetStore[*winStore[K, VA]](ctx, store)
			if err != nil {
				return nil, err
			}
			return dsl.GetterFunc[window.Windowed[K], VA](func(k window.Windowed[K]) (state.ValueAndTimestamp[VA], bool, error) {
				return st.Fetch(k.Key, k.Window.Start)
			}), nil
		},
	}
	return windowedTable(b, s.name, keySerde, s.vs, getter, old, s.src.sourceNodes(), graceMs)
}

// windowProcConfig is what a time or sliding window processor is built
// with.
type windowProcConfig[K, V, VA any] struct {
	store           string
	def             windowAgg[K, V, VA]
	old             *dsl.OldValues
	emitFinal       bool
	sizeMs, graceMs int64
}

// windowProcBase is what time and sliding window processors share: Kafka
// Streams' AbstractKStreamTimeWindowAggregateProcessor.
type windowProcBase[K, V, VA any] struct {
	cfg     windowProcConfig[K, V, VA]
	ctx     processor.Context[window.Windowed[K], ktable.Change[VA]]
	s       *winStore[K, VA]
	sendOld bool
	cached  bool
	nulls   dsl.Nulls[K, V]
	// streamTime is the observed stream time, kept in the store's marks.
	streamTime int64
	// lastEmit is the window close time emitted up to (EmitOnWindowClose).
	lastEmit int64
	emitBuf  []state.WindowEntry[K, state.ValueAndTimestamp[VA]]
}

func (p *windowProcBase[K, V, VA]) init(ctx processor.Context[window.Windowed[K], ktable.Change[VA]]) error {
	s, err := processor.GetStore[*winStore[K, VA]](ctx, p.cfg.store)
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
	size, sendOld := p.cfg.sizeMs, p.sendOld
	p.cached = s.SetFlushListener(func(key K, start int64, nv, ov *state.ValueAndTimestamp[VA], rc state.RecordContext) error {
		var c ktable.Change[VA]
		ts := rc.Timestamp
		if nv != nil {
			c.New, c.HasNew, ts = nv.Value, true, nv.Timestamp
		}
		if ov != nil && sendOld {
			c.Old, c.HasOld = ov.Value, true
		}
		wk := window.Windowed[K]{Key: key, Window: window.Window{Start: start, End: start + size}}
		return ctx.Forward(processor.Record[window.Windowed[K], ktable.Change[VA]]{Key: wk, Value: c, Timestamp: ts, Headers: rc.Headers})
	})
	s.SetFlushOldValues(sendOld)
	return nil
}

// fetch returns a window's aggregate. A window starting after the latest
// start the store holds does not exist: no lookup is needed (the first
// record of each key in a new window, in order, misses the cache).
func (p *windowProcBase[K, V, VA]) fetch(key K, start int64) (state.ValueAndTimestamp[VA], bool, error) {
	obs, err := p.s.ObservedStreamTime()
	if err != nil || start > obs {
		return state.ValueAndTimestamp[VA]{}, false, err
	}
	return p.s.Fetch(key, start)
}

func (p *windowProcBase[K, V, VA]) Close() error { return nil }

// dropped reports whether a record is dropped for a null key (or value).
func (p *windowProcBase[K, V, VA]) dropped(r processor.Record[K, V], dropNullValues bool) bool {
	if p.nulls.KeyNull(r) {
		winDropNull(p.ctx, exec.DropNullKey)
		return true
	}
	if dropNullValues && p.nulls.ValueNull(r) {
		winDropNull(p.ctx, exec.DropNullValue)
		return true
	}
	return false
}

// observe moves the observed stream time to ts and returns the window close
// time: stream time minus grace.
func (p *windowProcBase[K, V, VA]) observe(ts int64) (int64, error) {
	if ts > p.streamTime {
		p.streamTime = ts
		if err := p.s.SetMark(winMarkStreamTime, ts); err != nil {
			return 0, err
		}
	}
	return p.streamTime - p.cfg.graceMs, nil
}

// put stores a window's aggregate and, unless emitting on close or cached
// (the cache forwards on flush), forwards the update as Kafka Streams'
// maybeForwardUpdate: the old aggregate travels when old values are on.
func (p *windowProcBase[K, V, VA]) put(r processor.Record[K, V], win window.Window, oldAgg VA, hasOld bool, newAgg VA, newTS int64) error {
	if err := p.s.Put(r.Key, state.ValueAndTimestamp[VA]{Value: newAgg, Timestamp: newTS}, win.Start); err != nil {
		return err
	}
	if p.cfg.emitFinal || p.cached {
		return nil
	}
	c := ktable.Change[VA]{New: newAgg, HasNew: true}
	if p.sendOld && hasOld {
		c.Old, c.HasOld = oldAgg, true
	}
	return p.ctx.Forward(processor.Record[window.Windowed[K], ktable.Change[VA]]{
		Key: window.Windowed[K]{Key: r.Key, Window: win}, Value: c, Timestamp: newTS, Headers: r.Headers})
}

// emitRange forwards the final value of every window starting in [lower,
// upper], by start then key, as Kafka Streams' fetchAndEmit over its
// time-ordered store; then it records closeTime as emitted.
func (p *windowProcBase[K, V, VA]) emitRange(r processor.Record[K, V], closeTime, lower, upper int64) error {
	p.emitBuf = p.emitBuf[:0]
	for e, err := range p.s.FetchAll(lower, upper) {
		if err != nil {
			return err
		}
		p.emitBuf = append(p.emitBuf, e)
	}
	slices.SortStableFunc(p.emitBuf, func(a, b state.WindowEntry[K, state.ValueAndTimestamp[VA]]) int {
		return winCmp(a.Start, b.Start)
	})
	for _, e := range p.emitBuf {
		rec := processor.Record[window.Windowed[K], ktable.Change[VA]]{
			Key:       window.Windowed[K]{Key: e.Key, Window: window.Window{Start: e.Start, End: e.Start + p.cfg.sizeMs}},
			Value:     ktable.Change[VA]{New: e.Value.Value, HasNew: true},
			Timestamp: e.Value.Timestamp, Headers: r.Headers,
		}
		if err := p.ctx.Forward(rec); err != nil {
			return err
		}
	}
	clear(p.emitBuf)
	p.lastEmit = closeTime
	return p.s.SetMark(winMarkEmitClose, closeTime)
}

func winCmp(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// timeWindowProc is Kafka Streams' KStreamWindowAggregate processor.
type timeWindowProc[K, V, VA any] struct {
	windowProcBase[K, V, VA]
	w window.TimeWindows
}

func (p *timeWindowProc[K, V, VA]) Init(ctx processor.Context[window.Windowed[K], ktable.Change[VA]]) error {
	return p.init(ctx)
}

// firstWindowStart is the start of the first window holding ts, as
// TimeWindows.windowsFor.
func firstWindowStart(w window.TimeWindows, ts int64) int64 {
	return (max(0, ts-w.SizeMs+w.AdvanceMs) / w.AdvanceMs) * w.AdvanceMs
}

func (p *timeWindowProc[K, V, VA]) Process(r processor.Record[K, V]) error {
	def := &p.cfg.def
	if p.dropped(r, def.dropNullValues) {
		return nil
	}
	ts := r.Timestamp
	closeTime, err := p.observe(ts)
	if err != nil {
		return err
	}
	if p.cfg.emitFinal {
		// Emitting before the puts forwards what Kafka Streams forwards
		// after them (a closed window is never updated), and sees every
		// closed window before this record's windows move the store's
		// retention past it.
		if err := p.maybeEmitFinal(r, closeTime); err != nil {
			return err
		}
	}
	size, adv := p.w.SizeMs, p.w.AdvanceMs
	for start := firstWindowStart(p.w, ts); start <= ts; start += adv {
		end := start + size
		if end <= closeTime {
			winDropLate(p.ctx, ts, fmt.Sprintf("[%d,%d)", start, end), closeTime, p.streamTime)
			continue
		}
		old, had, err := p.fetch(r.Key, start)
		if err != nil {
			return err
		}
		oldAgg, hasOld, newTS := old.Value, true, ts
		if had {
			newTS = max(ts, old.Timestamp)
		} else {
			oldAgg, hasOld = def.init()
		}
		newAgg := def.add(r.Key, r.Value, oldAgg, hasOld)
		if err := p.put(r, window.Window{Start: start, End: end}, oldAgg, hasOld, newAgg, newTS); err != nil {
			return err
		}
	}
	return nil
}

// maybeEmitFinal emits the windows that closed since the last emit, as
// Kafka Streams' maybeForwardFinalResult for time windows.
func (p *timeWindowProc[K, V, VA]) maybeEmitFinal(r processor.Record[K, V], closeTime int64) error {
	if p.lastEmit != processor.NoTimestamp && p.lastEmit >= closeTime {
		return nil
	}
	size := p.w.SizeMs
	upper := closeTime - size
	if upper < 0 {
		return nil
	}
	lower := int64(0)
	if p.lastEmit != processor.NoTimestamp {
		lower = max(0, p.lastEmit-size) + 1
		// No window ends in (lastEmit, closeTime]: nothing to emit.
		if p.sameWindows(upper, lower-1) {
			return nil
		}
	}
	return p.emitRange(r, closeTime, lower, upper)
}

// sameWindows reports whether timestamps a and b fall in the same windows.
func (p *timeWindowProc[K, V, VA]) sameWindows(a, b int64) bool {
	adv := p.w.AdvanceMs
	return firstWindowStart(p.w, a) == firstWindowStart(p.w, b) && a/adv == b/adv
}

func winMillis(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
