package ktable

import (
	"fmt"
	"math"

	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

const (
	suppressPrefix      = "KTABLE-SUPPRESS-"
	suppressStorePrefix = "KTABLE-SUPPRESS-STATE-STORE-"
)

// WindowClose says when the windows of a windowed table close: a window
// closes once stream time reaches End(key) + GraceMs. Windowed aggregations
// set it (Spec.Window); Filter, MapValues and joins of windowed tables keep
// it, so that Suppress(UntilWindowCloses) works downstream of them, as Kafka
// Streams finds the grace period by walking up its graph.
type WindowClose[K any] struct {
	// End returns the end of a key's window (Windowed.Window.End).
	End func(key K) int64
	// GraceMs is how long after its end a window closes: the grace period
	// of time and sliding windows, the grace period plus the inactivity gap
	// of session windows.
	GraceMs int64
}

// WindowClose returns when the table's windows close, or nil when the table
// is not windowed.
func (t Table[K, V]) WindowClose() *WindowClose[K] { return t.win }

// joinedWindowClose is the window close of a table computed from two: the
// larger grace, as Kafka Streams takes the largest of its parents'; nil
// unless both are windowed.
func joinedWindowClose[K any](a, b *WindowClose[K]) *WindowClose[K] {
	if a == nil || b == nil {
		return nil
	}
	return &WindowClose[K]{End: a.End, GraceMs: max(a.GraceMs, b.GraceMs)}
}

// Suppress holds back the table's updates as s says (Kafka Streams'
// KTable.suppress):
//
//   - window.UntilWindowCloses(buffer): for a windowed table (the result
//     of a windowed aggregation, possibly filtered, mapped or joined), each
//     window's updates wait until stream time reaches the window's end plus
//     the grace period (plus the inactivity gap for sessions); then the
//     window's final value is emitted, once. Deletes of windows that never
//     emitted are dropped. On a table that is not windowed it is a Build
//     error.
//   - window.UntilTimeLimit(d, buffer): each key's updates wait until d of
//     stream time has passed since the first one was buffered; then the
//     key's latest update is emitted, with its record's timestamp and
//     headers.
//
// Stream time is the largest timestamp of the updates the operator has
// seen. The buffer lives in a state store ("<name>-store" when Named, else
// KTABLE-SUPPRESS-STATE-STORE-<n>), logged unless the buffer config says
// otherwise; it commits with the task, and survives restarts with the
// operator's stream time. Updates are emitted in buffer time order, then key
// byte order. When the buffer outgrows its bounds it emits its oldest
// entries early (EmitEarlyWhenFull) or fails processing with an error
// naming the operator (ShutDownWhenFull).
//
// The suppressed table is not materialized: lookups (joins) see the value a
// buffered key had before its first buffered update, and the parent's value
// for other keys. Options: Named.
func (t Table[K, V]) Suppress(s window.Suppressed, opts ...Option) Table[K, V] {
	const op = "Suppress"
	b := t.b
	o := parseOptions(b, op, []string{optName}, opts)
	name := o.ExactName(b, suppressPrefix)
	store := name + "-store"
	if o.Name == "" {
		store = b.NewName(suppressStorePrefix)
	}
	if err := s.Err(); err != nil {
		b.Err(fmt.Errorf("ktable: %s %s: %w", op, name, err))
	}
	ks := resolveSerde(b, op+" "+name, "key", nil, t.ks)
	vs := resolveSerde(b, op+" "+name, "value", nil, t.vs)
	cfg := suppressConfig[K, V]{
		node: name, store: store, ks: ks, vs: vs, durationMs: s.TimeLimitMs(),
		maxRecords: s.Buffer().MaxRecordsLimit(), maxBytes: s.Buffer().MaxBytesLimit(), full: s.Buffer().FullPolicy(),
	}
	if s.UntilWindowCloses() {
		if t.win == nil {
			b.Err(fmt.Errorf("ktable: %s %s: UntilWindowCloses needs a windowed table (the result of a windowed "+
				"aggregation); the table of %s is not windowed", op, name, t.node))
		} else {
			cfg.windowEnd, cfg.durationMs, cfg.dropTombstones = t.win.End, t.win.GraceMs, true
		}
	}
	// The buffer keeps the value a key had before its first buffered
	// update, for lookups: it needs the parent's old values.
	t.old.Enable()
	out := Table[K, V]{b: b, node: name, ks: t.ks, vs: t.vs, sources: t.sources, win: t.win,
		old: dsl.NewOldValues(false, t.old)}
	cfg.old = out.old
	topology.AddProcessor(b, name, func() processor.Processor[K, Change[V], K, Change[V]] {
		return &suppressProc[K, V]{cfg: cfg}
	}, t.node)
	var storeOpts []state.StoreOption
	if !s.Buffer().Logging() {
		storeOpts = append(storeOpts, state.WithLogging(false))
	}
	b.AddStateStore(state.TimeOrderedBufferBuilder(store, storeOpts...), name)
	parent := t.getter
	if parent != nil {
		out.getter = &dsl.GetterSupplier[K, V]{
			Stores: append([]string{store}, parent.Stores...),
			New: func(ctx processor.BaseContext) (dsl.ValueGetter[K, V], error) {
				pg, err := parent.New(ctx)
				if err != nil {
					return nil, err
				}
				buf, err := processor.GetStore[*state.TimeOrderedBuffer](ctx, store)
				if err != nil {
					return nil, err
				}
				return suppressGetter[K, V]{parent: pg, buf: buf, ks: ks, vs: vs}, nil
			},
		}
	}
	return out
}

// suppressGetter is the suppressed table's view (Kafka Streams'
// KTableSuppressProcessorSupplier.view): the prior value of a buffered key,
// else the parent's value.
type suppressGetter[K, V any] struct {
	parent dsl.ValueGetter[K, V]
	buf    *state.TimeOrderedBuffer
	ks     serde.Serde[K]
	vs     serde.Serde[V]
}

func (g suppressGetter[K, V]) Get(key K) (state.ValueAndTimestamp[V], bool, error) {
	var zero state.ValueAndTimestamp[V]
	kb, err := g.ks.Serialize(key)
	if err != nil {
		return zero, false, err
	}
	prior, buffered, err := g.buf.PriorValue(kb)
	if err != nil {
		return zero, false, err
	}
	if !buffered {
		return g.parent.Get(key)
	}
	if prior == nil {
		return zero, false, nil
	}
	v, err := g.vs.Deserialize(prior)
	if err != nil {
		return zero, false, err
	}
	// As Kafka Streams, the timestamp of a prior value is unknown.
	return state.ValueAndTimestamp[V]{Value: v, Timestamp: processor.NoTimestamp}, true, nil
}

type suppressConfig[K, V any] struct {
	node, store string
	ks          serde.Serde[K]
	vs          serde.Serde[V]
	// windowEnd gives the buffer time of UntilWindowCloses; nil buffers by
	// record time.
	windowEnd            func(K) int64
	durationMs           int64
	maxRecords, maxBytes int64
	full                 window.BufferFullPolicy
	// dropTombstones: a window deleted before it was ever emitted needs no
	// tombstone (Kafka Streams' safeToDropTombstones, final results only).
	dropTombstones bool
	old            *dsl.OldValues
}

// suppressProc is Kafka Streams' KTableSuppressProcessor over a
// TimeOrderedBuffer.
type suppressProc[K, V any] struct {
	cfg        suppressConfig[K, V]
	ctx        processor.Context[K, Change[V]]
	buf        *state.TimeOrderedBuffer
	sendOld    bool
	streamTime int64
	// expiry and dueErr serve due; the method values are made once.
	expiry        int64
	dueErr        error
	dueFn, overFn func() bool
	emitFn        func(state.BufferedRecord) error
}

func (p *suppressProc[K, V]) Init(ctx processor.Context[K, Change[V]]) error {
	buf, err := processor.GetStore[*state.TimeOrderedBuffer](ctx, p.cfg.store)
	if err != nil {
		return err
	}
	p.ctx, p.buf = ctx, buf
	p.sendOld = p.cfg.old.On()
	p.dueFn, p.overFn, p.emitFn = p.due, p.overCapacity, p.emit
	p.streamTime = processor.NoTimestamp
	if st, ok, err := buf.StreamTime(); err != nil {
		return err
	} else if ok {
		p.streamTime = st
	}
	return nil
}

func (p *suppressProc[K, V]) Close() error { return nil }

func (p *suppressProc[K, V]) Process(r processor.Record[K, Change[V]]) error {
	if r.Timestamp > p.streamTime {
		p.streamTime = r.Timestamp
		if err := p.buf.SetStreamTime(p.streamTime); err != nil {
			return err
		}
	}
	bufferTime := r.Timestamp
	if p.cfg.windowEnd != nil {
		bufferTime = p.cfg.windowEnd(r.Key)
	}
	kb, err := p.cfg.ks.Serialize(r.Key)
	if err != nil {
		return fmt.Errorf("ktable: Suppress %s: serializing key: %w", p.cfg.node, err)
	}
	var nb, ob []byte
	if r.Value.HasNew {
		if nb, err = p.cfg.vs.Serialize(r.Value.New); err != nil {
			return fmt.Errorf("ktable: Suppress %s: serializing value: %w", p.cfg.node, err)
		}
	}
	if r.Value.HasOld {
		if ob, err = p.cfg.vs.Serialize(r.Value.Old); err != nil {
			return fmt.Errorf("ktable: Suppress %s: serializing value: %w", p.cfg.node, err)
		}
	}
	rc := state.RecordContext{Timestamp: r.Timestamp, Headers: r.Headers}
	if m, ok := p.ctx.RecordMetadata(); ok {
		rc.Topic, rc.Partition, rc.Offset = m.Topic, m.Partition, m.Offset
	}
	if err := p.buf.Put(bufferTime, kb, ob, nb, rc); err != nil {
		return err
	}
	return p.enforce()
}

// enforce emits what is due, then what does not fit, as Kafka Streams'
// enforceConstraints.
func (p *suppressProc[K, V]) enforce() error {
	p.expiry = p.streamTime - p.cfg.durationMs
	if p.cfg.durationMs > 0 && p.streamTime < math.MinInt64+p.cfg.durationMs {
		p.expiry = math.MinInt64
	}
	p.dueErr = nil
	if err := p.buf.EvictWhile(p.dueFn, p.emitFn); err != nil {
		return err
	}
	if p.dueErr != nil {
		return p.dueErr
	}
	if !p.overCapacity() {
		return nil
	}
	if p.cfg.full == window.EmitEarlyWhenFull {
		return p.buf.EvictWhile(p.overFn, p.emitFn)
	}
	n, _ := p.buf.Len()
	size, _ := p.buf.SizeBytes()
	return fmt.Errorf("ktable: Suppress %s: buffer exceeded its max capacity. Currently [%d/%d] records and [%d/%d] bytes",
		p.cfg.node, n, p.cfg.maxRecords, size, p.cfg.maxBytes)
}

// due reports whether the oldest buffered entry is due.
func (p *suppressProc[K, V]) due() bool {
	min, err := p.buf.MinTime()
	if err != nil {
		p.dueErr = err
		return false
	}
	return min <= p.expiry
}

func (p *suppressProc[K, V]) overCapacity() bool {
	n, _ := p.buf.Len()
	size, _ := p.buf.SizeBytes()
	return int64(n) > p.cfg.maxRecords || size > p.cfg.maxBytes
}

func (p *suppressProc[K, V]) emit(e state.BufferedRecord) error {
	if e.New == nil && p.cfg.dropTombstones {
		return nil
	}
	k, err := p.cfg.ks.Deserialize(e.Key)
	if err != nil {
		return fmt.Errorf("ktable: Suppress %s: deserializing key: %w", p.cfg.node, err)
	}
	var c Change[V]
	if e.New != nil {
		if c.New, err = p.cfg.vs.Deserialize(e.New); err != nil {
			return fmt.Errorf("ktable: Suppress %s: deserializing value: %w", p.cfg.node, err)
		}
		c.HasNew = true
	}
	if e.Old != nil && p.sendOld {
		if c.Old, err = p.cfg.vs.Deserialize(e.Old); err != nil {
			return fmt.Errorf("ktable: Suppress %s: deserializing value: %w", p.cfg.node, err)
		}
		c.HasOld = true
	}
	return p.ctx.Forward(processor.Record[K, Change[V]]{Key: k, Value: c, Timestamp: e.Context.Timestamp, Headers: e.Context.Headers})
}
