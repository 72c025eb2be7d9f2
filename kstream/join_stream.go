package kstream

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// Node name prefixes of stream-stream joins, as Kafka Streams names them.
const (
	windowedPrefix   = "KSTREAM-WINDOWED-"
	joinThisPrefix   = "KSTREAM-JOINTHIS-"
	joinOtherPrefix  = "KSTREAM-JOINOTHER-"
	outerThisPrefix  = "KSTREAM-OUTERTHIS-"
	outerOtherPrefix = "KSTREAM-OUTEROTHER-"
)

// JoinStream joins the stream with another stream over a sliding window:
// a record l of s and a record r of other join when they have the same key
// and l.ts - before <= r.ts <= l.ts + after (both bounds inclusive; w's
// before and after). Either side triggers the join: a new record joins every
// record of the other side in its window kept so far, and the result,
// joiner(leftValue, rightValue), is forwarded with the shared key, the larger
// of the two timestamps and the headers of the triggering record. Records
// whose key or value is null are dropped and counted.
//
// Each side is kept in a window store that retains duplicates, for before +
// after + grace behind the largest timestamp the side has kept. The stores
// are named after store, which must be given and should not change as the
// topology evolves: "<store>-this-join-store" (left records) and
// "<store>-other-join-store" (right records), with changelogs
// "<application.id>-<store>-…-changelog". A record at or before that
// retention of its side is late: it is dropped before it joins anything and
// counted ("late"). Other out-of-order records join as usual.
//
// Both streams must be co-partitioned; a stream whose keys may have changed
// upstream is repartitioned first through "<name>-left-repartition" (or
// "-right-"), where name is the Named option or, without it, the name of
// the node that changed the keys. Options: Named (the join's processors,
// "<name>-this-join", … and the repartition topics), WithKeySerde,
// WithValueSerde, WithOtherValueSerde (stores and repartition topics; by
// default the streams' serdes or the built-in ones), WithLogging.
//
// See docs/joins.md.
func JoinStream[K, V, VO, VR any](s Stream[K, V], other Stream[K, VO], joiner func(value V, otherValue VO) VR, w window.JoinWindows, store string, opts ...Option) Stream[K, VR] {
	return joinStreams(s, other, "JoinStream", false, false,
		func(v *V, vo *VO) VR { return joiner(*v, *vo) }, w, store, opts)
}

// LeftJoinStream is JoinStream that also forwards each left record that
// joins no right record: joiner then gets nil for the right value. Such a
// result is forwarded only once the left record's window has closed (stream
// time > t + after + grace), so that a right record arriving later within
// the window can still join it and no spurious result is emitted; it goes
// out, with the left record's key and timestamp, when the next record of
// either side that does not go back in time is processed. Until then it
// waits in a third store, "<store>-left-shared-join-store"; the window stores
// are "<store>-this-join-store" and "<store>-outer-other-join-store". An
// out-of-order left record whose window has already ended (t + after is
// behind stream time) is forwarded at once if it joins nothing. A left
// record with a null key (and a value) is forwarded at once joined with nil.
// Options: as JoinStream.
func LeftJoinStream[K, V, VO, VR any](s Stream[K, V], other Stream[K, VO], joiner func(value V, otherValue *VO) VR, w window.JoinWindows, store string, opts ...Option) Stream[K, VR] {
	return joinStreams(s, other, "LeftJoinStream", true, false,
		func(v *V, vo *VO) VR { return joiner(*v, vo) }, w, store, opts)
}

// OuterJoinStream is LeftJoinStream in both directions: a record of either
// side that joins nothing is forwarded once its window has closed, with nil
// for the missing side (a right record's window closes when stream time
// passes t + before + grace). Closed non-joined records go out in timestamp
// order, right before left at equal timestamps. The stores are
// "<store>-outer-this-join-store", "<store>-outer-other-join-store" and
// "<store>-outer-shared-join-store". Options: as JoinStream.
func OuterJoinStream[K, V, VO, VR any](s Stream[K, V], other Stream[K, VO], joiner func(value *V, otherValue *VO) VR, w window.JoinWindows, store string, opts ...Option) Stream[K, VR] {
	return joinStreams(s, other, "OuterJoinStream", true, true, joiner, w, store, opts)
}

// joinStreams adds a stream-stream join as Kafka Streams' KStreamImpl.doJoin
// and KStreamImplJoin do: repartitions, a "windowed" processor per side that
// forwards each record to its join processor and then keeps it in the side's
// window store, a join processor per side that looks the other side's store
// up, and a merge of the two. leftOuter and rightOuter say which sides
// forward the records that join nothing.
func joinStreams[K, V, VO, VR any](s Stream[K, V], other Stream[K, VO], op string, leftOuter, rightOuter bool, joiner func(*V, *VO) VR, w window.JoinWindows, store string, opts []Option) Stream[K, VR] {
	b := s.b
	o := parseOptions(b, op, []string{optName, optKeySerde, optValueSerde, optOtherValueSerde, optLogging}, opts)
	if s.b != other.b {
		b.Err(fmt.Errorf("kstream: %s: streams from different builders", op))
		return Stream[K, VR]{b: b, node: s.node, sources: s.sourceNodes()}
	}
	if err := w.Err(); err != nil {
		b.Err(fmt.Errorf("kstream: %s: %w", op, err))
	}
	if store == "" {
		b.Err(fmt.Errorf("kstream: %s: a stream-stream join needs a store name", op))
		store = "unnamed"
	}
	keyKnown := s.keySerde
	if keyKnown == nil {
		keyKnown = other.keySerde
	}
	ks := resolveSerde(b, op, "key", o.KeySerde, keyKnown)
	vs := resolveSerde(b, op, "value", o.ValueSerde, s.valueSerde)
	vos := resolveSerde(b, op, "other value", o.OtherValueSerde, other.valueSerde)

	if s.repartition && ks != nil && vs != nil {
		base := s.node
		if o.Name != "" {
			base = o.Name + "-left"
		}
		s = repartitionOnce(s, base, ks, vs)
	}
	if other.repartition && ks != nil && vos != nil {
		base := other.node
		if o.Name != "" {
			base = o.Name + "-right"
		}
		other = repartitionOnce(other, base, ks, vos)
	}
	b.AddCopartitionGroup(append(s.sourceNodes(), other.sourceNodes()...)...)

	thisWindowed := o.SuffixedName(b, "-this-windowed", windowedPrefix)
	otherWindowed := o.SuffixedName(b, "-other-windowed", windowedPrefix)
	thisPrefix, thisSuffix := joinThisPrefix, "-this-join"
	if rightOuter {
		thisPrefix, thisSuffix = outerThisPrefix, "-outer-this-join"
	}
	otherPrefix, otherSuffix := joinOtherPrefix, "-other-join"
	if leftOuter {
		otherPrefix, otherSuffix = outerOtherPrefix, "-outer-other-join"
	}
	thisName, otherName := b.NewName(thisPrefix), b.NewName(otherPrefix)
	if o.Name != "" {
		thisName, otherName = o.Name+thisSuffix, o.Name+otherSuffix
	}
	mergeName := o.SuffixedName(b, "-merge", mergePrefix)

	thisStore, otherStore := store+thisSuffix+"-store", store+otherSuffix+"-store"
	sharedStore := ""
	if leftOuter {
		sharedStore = store + "-left-shared-join-store"
		if rightOuter {
			sharedStore = store + "-outer-shared-join-store"
		}
	}
	for _, name := range []string{thisStore, otherStore, sharedStore} {
		if name == "" {
			continue
		}
		if err := state.ValidateName(name); err != nil {
			b.Err(fmt.Errorf("kstream: %s: %w", op, err))
		}
	}

	win := joinWindow{before: w.BeforeMs, after: w.AfterMs, grace: w.GraceMs}
	shared := &joinShared{store: store}
	nonJoined := func(left bool, data []byte) (VR, error) {
		if left {
			v, err := vs.Deserialize(data)
			if err != nil {
				var zero VR
				return zero, err
			}
			return joiner(&v, nil), nil
		}
		vo, err := vos.Deserialize(data)
		if err != nil {
			var zero VR
			return zero, err
		}
		return joiner(nil, &vo), nil
	}

	topology.AddProcessor(b, thisWindowed, func() processor.Processor[K, V, K, V] {
		return &joinWindowProc[K, V]{store: thisStore, shared: shared, win: win, left: true}
	}, s.node)
	topology.AddProcessor(b, otherWindowed, func() processor.Processor[K, VO, K, VO] {
		return &joinWindowProc[K, VO]{store: otherStore, shared: shared, win: win, left: false}
	}, other.node)
	topology.AddProcessor(b, thisName, func() processor.Processor[K, V, K, VR] {
		return &streamJoinProc[K, V, VO, VR]{
			shared: shared, win: win, left: true, outer: leftOuter,
			otherStore: otherStore, sharedStore: sharedStore, ks: ks, vs: vs, nonJoined: nonJoined,
			joiner: joiner,
		}
	}, thisWindowed)
	topology.AddProcessor(b, otherName, func() processor.Processor[K, VO, K, VR] {
		return &streamJoinProc[K, VO, V, VR]{
			shared: shared, win: win, left: false, outer: rightOuter,
			otherStore: thisStore, sharedStore: sharedStore, ks: ks, vs: vos, nonJoined: nonJoined,
			joiner: func(this *VO, other *V) VR { return joiner(other, this) },
		}
	}, otherWindowed)
	topology.AddProcessor(b, mergeName, passSupplier[K, VR], thisName, otherName)

	retention := time.Duration(win.retention()) * time.Millisecond
	size := time.Duration(max(w.BeforeMs+w.AfterMs, 0)) * time.Millisecond
	// Every record is its own window: the changelog is not compacted.
	windowOpts := []state.StoreOption{state.WithChangelogConfig(map[string]string{"cleanup.policy": "delete"})}
	var sharedOpts []state.StoreOption
	if o.Logging != nil {
		windowOpts = append(windowOpts, state.WithLogging(*o.Logging))
		sharedOpts = append(sharedOpts, state.WithLogging(*o.Logging))
	}
	b.AddStateStore(state.WindowStoreBuilder(thisStore, ks, vs, retention, size, true, windowOpts...), thisWindowed, otherName)
	b.AddStateStore(state.WindowStoreBuilder(otherStore, ks, vos, retention, size, true, windowOpts...), otherWindowed, thisName)
	if sharedStore != "" {
		b.AddStateStore(state.KeyValueStoreBuilder(sharedStore, serde.Bytes(), serde.Bytes(), sharedOpts...), thisName, otherName)
	}
	return Stream[K, VR]{b: b, node: mergeName, keySerde: ks,
		sources: append(s.sourceNodes(), other.sourceNodes()...)}
}

// joinWindow is a join's window in milliseconds.
type joinWindow struct{ before, after, grace int64 }

// retention is how long the join keeps the records of a side, in its window
// store, behind the largest timestamp the side has kept: before + after +
// grace (Kafka Streams' rule), at least 1ms. A record at or beyond it is
// late.
func (w joinWindow) retention() int64 { return max(w.before+w.after+w.grace, 1) }

// end returns how far after its own timestamp a record's window ends: the
// window of a left record at t is [t - before, t + after], that of a right
// record [t - after, t + before].
func (w joinWindow) end(left bool) int64 {
	if left {
		return w.after
	}
	return w.before
}

// joinShared identifies one join among the per-task values of a task.
type joinShared struct{ store string }

// joinTime is what the processors of one join share within a task, as
// Kafka Streams' KStreamImplJoin.TimeTracker: the join's stream time and
// when the earliest non-joined record waiting in the shared store closes.
type joinTime struct {
	// streamTime is the largest timestamp the join has seen on either side,
	// records with a null key or value included; at start, the largest
	// timestamp kept in the window stores.
	streamTime int64
	// nextClose is a lower bound of the times at which the waiting
	// non-joined records close: none is closed while stream time <=
	// nextClose. MinInt64 (unknown, as after a restart) makes the next
	// chance scan the store.
	nextClose int64
}

func (s *joinShared) time(ctx processor.BaseContext) *joinTime {
	return exec.TaskLocal(ctx, s, func() any {
		return &joinTime{streamTime: processor.NoTimestamp, nextClose: math.MinInt64}
	}).(*joinTime)
}

// joinWindowProc is Kafka Streams' KStreamJoinWindow: it forwards each
// record to the side's join processor, then keeps it in the side's window
// store. It also drops late records, before the join sees them.
type joinWindowProc[K, V any] struct {
	ctx    processor.Context[K, V]
	store  string
	st     *state.WindowStore[K, V]
	shared *joinShared
	t      *joinTime
	win    joinWindow
	left   bool
	nulls  dsl.Nulls[K, V]
}

func (p *joinWindowProc[K, V]) Init(ctx processor.Context[K, V]) error {
	st, err := processor.GetStore[*state.WindowStore[K, V]](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.st, p.t = ctx, st, p.shared.time(ctx)
	p.nulls = dsl.NewNulls[K, V]()
	// The window stores keep their observed stream time with their state:
	// after a restart the join starts from the larger of the two.
	observed, err := st.ObservedStreamTime()
	if err != nil {
		return err
	}
	p.t.streamTime = max(p.t.streamTime, observed)
	return nil
}

func (p *joinWindowProc[K, V]) Close() error { return nil }

func (p *joinWindowProc[K, V]) Process(r processor.Record[K, V]) error {
	keep := !p.nulls.KeyNull(r) && !p.nulls.ValueNull(r)
	if keep {
		// Late: too old for the side's store to keep (Kafka Streams' store
		// drops the write but still joins the record; see docs/joins.md).
		observed, err := p.st.ObservedStreamTime()
		if err != nil {
			return err
		}
		if observed != processor.NoTimestamp && r.Timestamp <= observed-p.win.retention() {
			dsl.Dropped(p.ctx, exec.DropLate)
			p.ctx.Logger().Debug("dropping a late record", "timestamp", r.Timestamp, "side_stream_time", observed)
			return nil
		}
	}
	if err := p.ctx.Forward(r); err != nil {
		return err
	}
	if !keep || r.Timestamp < 0 {
		return nil
	}
	return p.st.Put(r.Key, r.Value, r.Timestamp)
}

// streamJoinProc is Kafka Streams' KStreamKStreamJoin (LeftSide or
// RightSide) for one side, whose values are VT; the other side's are VO.
type streamJoinProc[K, VT, VO, VR any] struct {
	ctx    processor.Context[K, VR]
	shared *joinShared
	t      *joinTime
	win    joinWindow
	// left says which side this is; outer, whether its records that join
	// nothing are forwarded.
	left, outer bool

	otherStore, sharedStore string
	other                   *state.WindowStore[K, VO]
	// pending is the shared store of left and outer joins: records that
	// joined nothing yet, until their window closes. Keys are timestamp
	// (8 bytes, big-endian) | side (1 left, 0 right) | key bytes, so that
	// records come out in time order, right before left, then by key, as
	// Kafka Streams' TimestampedKeyAndJoinSide; the value lists the values
	// of the records with that key, in arrival order.
	pending *state.KeyValueStore[[]byte, []byte]
	ks      serde.Serde[K]
	vs      serde.Serde[VT]
	// joiner joins a value of this side with one of the other.
	joiner func(this *VT, other *VO) VR
	// nonJoined joins a waiting record's value (of the left side or not)
	// with nothing.
	nonJoined func(left bool, value []byte) (VR, error)
	nulls     dsl.Nulls[K, VT]
}

func (p *streamJoinProc[K, VT, VO, VR]) Init(ctx processor.Context[K, VR]) error {
	other, err := processor.GetStore[*state.WindowStore[K, VO]](ctx, p.otherStore)
	if err != nil {
		return err
	}
	if p.sharedStore != "" {
		if p.pending, err = processor.GetStore[*state.KeyValueStore[[]byte, []byte]](ctx, p.sharedStore); err != nil {
			return err
		}
	}
	p.ctx, p.other, p.t = ctx, other, p.shared.time(ctx)
	p.nulls = dsl.NewNulls[K, VT]()
	return nil
}

func (p *streamJoinProc[K, VT, VO, VR]) Close() error { return nil }

func (p *streamJoinProc[K, VT, VO, VR]) Process(r processor.Record[K, VT]) error {
	ts := r.Timestamp
	p.t.streamTime = max(p.t.streamTime, ts)
	keyNull, valueNull := p.nulls.KeyNull(r), p.nulls.ValueNull(r)
	if p.outer && keyNull && !valueNull {
		// Nothing can join a null key: a left (outer) join forwards it.
		return p.ctx.Forward(processor.Convert(r, r.Key, p.joiner(&r.Value, nil), true, false))
	}
	if keyNull {
		dsl.Dropped(p.ctx, exec.DropNullKey)
		return nil
	}
	if valueNull {
		dsl.Dropped(p.ctx, exec.DropNullValue)
		return nil
	}
	if p.pending != nil && ts == p.t.streamTime {
		if err := p.emitClosed(r); err != nil {
			return err
		}
	}
	var kb []byte
	if p.pending != nil {
		var err error
		if kb, err = p.ks.Serialize(r.Key); err != nil {
			return fmt.Errorf("serializing key: %w", err)
		}
	}
	// A left record at t joins the right records in [t - before, t +
	// after]; a right record the left ones in [t - after, t + before].
	from, to := ts-p.win.end(!p.left), ts+p.win.end(p.left)
	joined := false
	if to >= 0 && to >= from {
		for e, err := range p.other.FetchRange(r.Key, max(from, 0), to) {
			if err != nil {
				return err
			}
			joined = true
			if p.pending != nil {
				// The other record has a partner now: it will never be
				// forwarded as non-joined.
				if err := p.unpend(pendingKey(e.Start, !p.left, kb)); err != nil {
					return err
				}
			}
			out := processor.Convert(r, r.Key, p.joiner(&r.Value, &e.Value), false, false)
			if err := p.ctx.Forward(out.WithTimestamp(max(ts, e.Start))); err != nil {
				return err
			}
		}
	}
	if joined || !p.outer {
		return nil
	}
	if to < p.t.streamTime {
		// Out of order, with a window that has already ended: no record
		// that is not late can join it any more.
		return p.ctx.Forward(processor.Convert(r, r.Key, p.joiner(&r.Value, nil), false, false))
	}
	return p.pend(pendingKey(ts, p.left, kb), r.Value, ts)
}

// pendingKey returns the shared store key of the records of one side with
// key bytes kb at ts.
func pendingKey(ts int64, left bool, kb []byte) []byte {
	out := binary.BigEndian.AppendUint64(make([]byte, 0, 9+len(kb)), uint64(ts))
	side := byte(0)
	if left {
		side = 1
	}
	return append(append(out, side), kb...)
}

// splitPendingKey decodes a shared store key.
func splitPendingKey(k []byte) (ts int64, left bool, kb []byte, ok bool) {
	if len(k) < 9 {
		return 0, false, nil, false
	}
	return int64(binary.BigEndian.Uint64(k)), k[8] == 1, k[9:], true
}

// pend keeps a record that joined nothing in the shared store, after the
// ones with the same key, side and timestamp.
func (p *streamJoinProc[K, VT, VO, VR]) pend(key []byte, v VT, ts int64) error {
	vb, err := p.vs.Serialize(v)
	if err != nil {
		return fmt.Errorf("serializing value: %w", err)
	}
	list, _, err := p.pending.Get(key)
	if err != nil {
		return err
	}
	list = binary.AppendUvarint(append([]byte(nil), list...), uint64(len(vb)))
	if err := p.pending.Put(key, append(list, vb...)); err != nil {
		return err
	}
	p.t.nextClose = min(p.t.nextClose, ts+p.win.end(p.left)+p.win.grace)
	return nil
}

// unpend removes the records under key from the shared store, if any.
func (p *streamJoinProc[K, VT, VO, VR]) unpend(key []byte) error {
	_, ok, err := p.pending.Get(key)
	if err != nil || !ok {
		return err
	}
	return p.pending.Put(key, nil)
}

// emitClosed forwards, in store order, the waiting records whose window has
// closed, joined with nothing, with the key and timestamp of each and the
// headers of r, the record being processed, and removes them. Kafka
// Streams' emitNonJoinedOuterRecords does the same; it skips the scan by
// an estimate that can postpone a closed record, where nextClose is exact.
func (p *streamJoinProc[K, VT, VO, VR]) emitClosed(r processor.Record[K, VT]) error {
	now := p.t.streamTime
	if now <= p.t.nextClose {
		return nil
	}
	next := int64(math.MaxInt64)
	leftOpen, rightOpen := false, false
	for e, err := range p.pending.All() {
		if err != nil {
			return err
		}
		ts, left, kb, ok := splitPendingKey(e.Key)
		if !ok {
			return fmt.Errorf("state store %q: corrupt key of %d bytes", p.sharedStore, len(e.Key))
		}
		if closes := ts + p.win.end(left) + p.win.grace; now <= closes {
			// Still open; later records of the same side are too.
			if left && !leftOpen {
				leftOpen, next = true, min(next, closes)
			} else if !left && !rightOpen {
				rightOpen, next = true, min(next, closes)
			}
			if leftOpen && rightOpen {
				break
			}
			continue
		}
		key, err := p.ks.Deserialize(kb)
		if err != nil {
			return fmt.Errorf("state store %q: deserializing key: %w", p.sharedStore, err)
		}
		for list := e.Value; len(list) > 0; {
			n, w := binary.Uvarint(list)
			if w <= 0 || uint64(len(list)-w) < n {
				return fmt.Errorf("state store %q: corrupt value list", p.sharedStore)
			}
			v, err := p.nonJoined(left, list[w:w+int(n)])
			if err != nil {
				return fmt.Errorf("state store %q: deserializing value: %w", p.sharedStore, err)
			}
			list = list[w+int(n):]
			out := processor.Record[K, VR]{Key: key, Value: v, Timestamp: ts, Headers: r.Headers}
			if err := p.ctx.Forward(out); err != nil {
				return err
			}
		}
		if err := p.pending.Put(e.Key, nil); err != nil {
			return err
		}
	}
	p.t.nextClose = next
	return nil
}
