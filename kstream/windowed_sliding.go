package kstream

import (
	"fmt"

	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/window"
)

// aggVT is a window's aggregate (has: not null) with the largest timestamp
// of the records in it, Kafka Streams' ValueAndTimestamp.
type aggVT[VA any] struct {
	v   VA
	has bool
	ts  int64
}

func storedVT[VA any](v state.ValueAndTimestamp[VA]) aggVT[VA] {
	return aggVT[VA]{v: v.Value, has: true, ts: v.Timestamp}
}

// slidingWindowProc is Kafka Streams' KStreamSlidingWindowAggregate
// processor, iterating backwards (processReverse). For each record at t it
// makes sure of its left window [t - d, t], holding the records of the
// previous d, and of the right windows [t' + 1, t' + 1 + d] that start just
// after a record t' (the previous record's, and its own when later records
// fall within d), and adds the record to every existing window that holds
// it. A record earlier than d falls in the window [0, d], which stands for
// every left window it would have.
type slidingWindowProc[K, V, VA any] struct {
	windowProcBase[K, V, VA]
	buf    []state.WindowEntry[K, state.ValueAndTimestamp[VA]]
	starts map[int64]struct{}
}

func (p *slidingWindowProc[K, V, VA]) Init(ctx processor.Context[window.Windowed[K], ktable.Change[VA]]) error {
	p.starts = map[int64]struct{}{}
	return p.init(ctx)
}

func (p *slidingWindowProc[K, V, VA]) Process(r processor.Record[K, V]) error {
	if p.dropped(r, true) {
		return nil
	}
	ts, diff := r.Timestamp, p.cfg.sizeMs
	closeTime, err := p.observe(ts)
	if err != nil {
		return err
	}
	if ts+diff < closeTime {
		winDropLate(p.ctx, ts, fmt.Sprintf("[%d,%d]", ts, ts+diff), closeTime, p.streamTime)
		return nil
	}
	if ts < diff {
		return p.processEarly(r, closeTime)
	}
	if p.cfg.emitFinal {
		// Before the updates, as for time windows: a closed window is
		// never updated, and every closed window is still kept.
		if err := p.maybeEmitFinal(r, closeTime); err != nil {
			return err
		}
	}
	return p.processReverse(r, closeTime)
}

func (p *slidingWindowProc[K, V, VA]) collect(seq func(yield func(state.WindowEntry[K, state.ValueAndTimestamp[VA]], error) bool)) error {
	p.buf = p.buf[:0]
	for e, err := range seq {
		if err != nil {
			return err
		}
		p.buf = append(p.buf, e)
	}
	clear(p.starts)
	return nil
}

func (p *slidingWindowProc[K, V, VA]) processReverse(r processor.Record[K, V], closeTime int64) error {
	ts, diff := r.Timestamp, p.cfg.sizeMs
	if err := p.collect(p.s.BackwardFetchRange(r.Key, max(0, ts-2*diff), ts+1)); err != nil {
		return err
	}
	defer clear(p.buf)
	var leftAgg, rightAgg *aggVT[VA]
	leftCreated, rightCreated := false, false
	var prev int64
	hasPrev := false
loop:
	for i := range p.buf {
		e := &p.buf[i]
		start := e.Start
		p.starts[start] = struct{}{}
		end := start + diff
		vt := storedVT(e.Value)
		switch {
		case start == ts+1:
			rightCreated = true
		case end > ts:
			if rightAgg == nil {
				rightAgg = &vt
			}
			if err := p.update(r, window.Window{Start: start, End: end}, vt, closeTime); err != nil {
				return err
			}
		case end == ts:
			leftCreated = true
			if err := p.update(r, window.Window{Start: start, End: end}, vt, closeTime); err != nil {
				return err
			}
			if vt.ts >= ts {
				// Every window this record needs exists already.
				return nil
			}
			prev, hasPrev = vt.ts, true
		default: // end < ts
			leftAgg = &vt
			prev, hasPrev = vt.ts, true
			break loop
		}
	}
	return p.createWindows(r, closeTime, leftAgg, rightAgg, leftCreated, rightCreated, prev, hasPrev)
}

// processEarly handles a record earlier than the time difference, as Kafka
// Streams' processEarly: the window [0, d] holds every early record.
func (p *slidingWindowProc[K, V, VA]) processEarly(r processor.Record[K, V], closeTime int64) error {
	ts, diff := r.Timestamp, p.cfg.sizeMs
	if err := p.collect(p.s.FetchRange(r.Key, 0, ts+1)); err != nil {
		return err
	}
	defer clear(p.buf)
	var combined, rightAgg *aggVT[VA]
	rightCreated := false
	var prev int64
	hasPrev := false
	for i := range p.buf {
		e := &p.buf[i]
		start := e.Start
		p.starts[start] = struct{}{}
		vt := storedVT(e.Value)
		switch {
		case start == 0:
			combined = &vt
			if vt.ts < ts {
				prev, hasPrev = vt.ts, true
			}
		case start <= ts:
			rightAgg = &vt
			if err := p.update(r, window.Window{Start: start, End: start + diff}, vt, closeTime); err != nil {
				return err
			}
		case start == ts+1:
			rightCreated = true
		default:
			return fmt.Errorf("kstream: unexpected window with start %d when processing a record at %d in a sliding window aggregation", start, ts)
		}
	}
	if rightAgg == nil && combined != nil && combined.ts > ts {
		rightAgg = combined
	}
	if !rightCreated && rightAgg != nil && rightAgg.ts > ts {
		if err := p.createCurrentRight(r, *rightAgg); err != nil {
			return err
		}
	}
	if hasPrev {
		if _, ok := p.starts[prev+1]; !ok {
			if err := p.createPreviousRight(r, prev+1, closeTime); err != nil {
				return err
			}
		}
	}
	win := window.Window{Start: 0, End: diff}
	if combined == nil {
		v, has := p.cfg.def.init()
		return p.update(r, win, aggVT[VA]{v: v, has: has, ts: ts}, closeTime)
	}
	return p.update(r, win, *combined, closeTime)
}

func (p *slidingWindowProc[K, V, VA]) createWindows(r processor.Record[K, V], closeTime int64, leftAgg, rightAgg *aggVT[VA], leftCreated, rightCreated bool, prev int64, hasPrev bool) error {
	ts, diff := r.Timestamp, p.cfg.sizeMs
	if hasPrev {
		// The previous record's right window, if this record falls in it.
		prevRight := prev + 1
		if _, ok := p.starts[prevRight]; !ok && prevRight+diff >= ts {
			if err := p.createPreviousRight(r, prevRight, closeTime); err != nil {
				return err
			}
		}
	}
	if !leftCreated {
		var vt aggVT[VA]
		if hasPrev && ts-diff <= prev {
			// The previous record falls in this record's left window.
			vt = aggVT[VA]{v: leftAgg.v, has: leftAgg.has, ts: ts}
		} else {
			v, has := p.cfg.def.init()
			vt = aggVT[VA]{v: v, has: has, ts: ts}
		}
		if err := p.update(r, window.Window{Start: ts - diff, End: ts}, vt, closeTime); err != nil {
			return err
		}
	}
	if !rightCreated && rightAgg != nil && rightAgg.ts > ts {
		return p.createCurrentRight(r, *rightAgg)
	}
	return nil
}

// createCurrentRight creates the record's right window with the aggregate
// of the later records it holds, not adding the record itself.
func (p *slidingWindowProc[K, V, VA]) createCurrentRight(r processor.Record[K, V], agg aggVT[VA]) error {
	start := r.Timestamp + 1
	var zero VA
	return p.put(r, window.Window{Start: start, End: start + p.cfg.sizeMs}, zero, false, agg.v, agg.ts)
}

// createPreviousRight creates the previous record's right window, holding
// this record only.
func (p *slidingWindowProc[K, V, VA]) createPreviousRight(r processor.Record[K, V], start, closeTime int64) error {
	v, has := p.cfg.def.init()
	return p.update(r, window.Window{Start: start, End: start + p.cfg.sizeMs}, aggVT[VA]{v: v, has: has, ts: r.Timestamp}, closeTime)
}

// update adds the record to a window unless it closed, as Kafka Streams'
// updateWindowAndForward.
func (p *slidingWindowProc[K, V, VA]) update(r processor.Record[K, V], win window.Window, vt aggVT[VA], closeTime int64) error {
	if win.End < closeTime {
		winDropLate(p.ctx, r.Timestamp, fmt.Sprintf("[%d,%d]", win.Start, win.End), closeTime, p.streamTime)
		return nil
	}
	newAgg := p.cfg.def.add(r.Key, r.Value, vt.v, vt.has)
	newTS := r.Timestamp
	if vt.has {
		newTS = max(r.Timestamp, vt.ts)
	}
	return p.put(r, win, vt.v, vt.has, newAgg, newTS)
}

// maybeEmitFinal emits the windows that closed since the last emit: sliding
// windows are closed at both ends, so a window ending before the close time
// is closed.
func (p *slidingWindowProc[K, V, VA]) maybeEmitFinal(r processor.Record[K, V], closeTime int64) error {
	if p.lastEmit != processor.NoTimestamp && p.lastEmit >= closeTime {
		return nil
	}
	diff := p.cfg.sizeMs
	upper := closeTime - diff - 1
	if upper < 0 {
		return nil
	}
	lower := int64(0)
	if p.lastEmit != processor.NoTimestamp {
		lower = max(0, p.lastEmit-diff)
	}
	return p.emitRange(r, closeTime, lower, upper)
}
