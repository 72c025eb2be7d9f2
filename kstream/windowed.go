package kstream

import (
	"fmt"
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

// Windowed aggregations: a grouped stream, windowed by time, sliding or
// session windows, aggregated into a table keyed by window.Windowed[K].
//
//	counts := kstream.CountWindowed(
//		kstream.WindowedBy(kstream.GroupByKey(s), window.Tumbling(time.Minute).WithGrace(10*time.Second)),
//		"counts-per-minute")
//
// Each windowed aggregation keeps its windows in a window store (a session
// store for sessions) named by the caller, with a retention that defaults to
// the least the windows need (size + grace; 2 × time difference + grace for
// sliding windows; gap + grace for sessions) and can be raised with
// WithRetention. It keeps its observed stream time (the largest timestamp
// of the records it saw) with its windows, so that a restart never reopens a
// window it closed. A record whose window has closed is late: it is dropped,
// logged at debug level with its topic, partition and offset, and counted as
// "late" (once per closed window it falls in, as Kafka Streams counts).
//
// The result table's key serde is the windowed serde (window.TimeWindowedSerde
// or window.SessionWindowedSerde over the grouping's key serde), so that
// FromTable(table).To(topic) needs no serde, and its sink partitions windowed
// keys by their key alone, as Kafka Streams does. The table knows when its
// windows close, for ktable's Suppress(window.UntilWindowCloses(...)).

// TimeWindowedStream is a grouped stream windowed by time windows (tumbling
// or hopping) or by sliding windows, ready for CountWindowed,
// ReduceWindowed or AggregateWindowed.
type TimeWindowedStream[K, V any] struct {
	g       GroupedStream[K, V]
	time    window.TimeWindows
	sliding window.SlidingWindows
	// isSliding says which of time and sliding applies.
	isSliding bool
}

// WindowedBy windows a grouped stream by time windows: window.Tumbling or
// window.Hopping, with a grace period. A record falls in every window whose
// [start, end) holds its timestamp; a window closes when stream time reaches
// its end plus the grace period.
func WindowedBy[K, V any](g GroupedStream[K, V], w window.TimeWindows) TimeWindowedStream[K, V] {
	return TimeWindowedStream[K, V]{g: g, time: w}
}

// SlidingWindowedBy windows a grouped stream by sliding windows: windows
// of the time difference that hold every combination of records whose
// timestamps differ by at most it, created as records enter and leave them
// (Kafka Streams' SlidingWindows: a record at t gets its left window
// [t - d, t] and, once a later record falls within d of it, its right window
// [t + 1, t + 1 + d]). A window closes when stream time passes its end plus
// the grace period.
func SlidingWindowedBy[K, V any](g GroupedStream[K, V], w window.SlidingWindows) TimeWindowedStream[K, V] {
	return TimeWindowedStream[K, V]{g: g, sliding: w, isSliding: true}
}

// SessionWindowedStream is a grouped stream windowed by session windows,
// ready for CountSessions, ReduceSessions or AggregateSessions.
type SessionWindowedStream[K, V any] struct {
	g GroupedStream[K, V]
	w window.SessionWindows
}

// SessionWindowedBy windows a grouped stream by session windows: a key's
// records within the inactivity gap of each other form a session
// [first, last]; a record that bridges two sessions merges them. A session
// closes when stream time passes its end plus the gap plus the grace
// period.
func SessionWindowedBy[K, V any](g GroupedStream[K, V], w window.SessionWindows) SessionWindowedStream[K, V] {
	return SessionWindowedStream[K, V]{g: g, w: w}
}

// WithRetention sets how long a windowed aggregation's store keeps windows:
// at least what the windows need (the default), else Build fails.
func WithRetention(d time.Duration) Option { return dsl.WithRetention(d) }

// EmitOnWindowClose makes a windowed aggregation forward each window once,
// when it closes, instead of every update (Kafka Streams'
// EmitStrategy.onWindowClose, KIP-825): when a record moves stream time
// past the close of windows, the aggregation forwards their final values,
// in window start order (session end order for sessions), then key order,
// with the timestamp of the window's aggregate (the session end for
// sessions) and the headers of the record that closed them. It emits as
// soon as a window closes (Kafka Streams' emit interval 0).
func EmitOnWindowClose() Option { return dsl.EmitOnWindowClose() }

const (
	optWinRetention = dsl.OptRetention
	optWinEmitFinal = dsl.OptEmitOnWindowClose
)

// Marks the windowed aggregations keep with their stores.
const (
	winMarkStreamTime = "stream-time"
	winMarkEmitClose  = "emit-close-time"
)

// windowAgg is what an aggregation folds records with. The aggregate can be
// null (has false), as Kafka Streams' reduce starts from a null aggregate.
type windowAgg[K, V, VA any] struct {
	op, prefix string
	// init returns the initial aggregate and whether it is not null.
	init func() (VA, bool)
	// add folds a value into an aggregate (has: the aggregate is not null).
	add func(key K, value V, agg VA, has bool) VA
	// merge merges the aggregate of a session into the running one
	// (sessions only).
	merge func(key K, agg VA, has bool, next VA) VA
	// vs is the aggregate's known serde, nil to resolve.
	vs serde.Serde[VA]
	// dropNullValues drops (and counts) records with a null value.
	dropNullValues bool
}

func countAgg[K, V any](op string) windowAgg[K, V, int64] {
	return windowAgg[K, V, int64]{op: op, prefix: aggregatePrefix, vs: serde.Int64(),
		init:  func() (int64, bool) { return 0, true },
		add:   func(_ K, _ V, agg int64, _ bool) int64 { return agg + 1 },
		merge: func(_ K, agg int64, _ bool, next int64) int64 { return agg + next },
	}
}

func reduceAgg[K, V any](op string, reducer func(agg, value V) V, vs serde.Serde[V]) windowAgg[K, V, V] {
	return windowAgg[K, V, V]{op: op, prefix: reducePrefix, vs: vs, dropNullValues: true,
		init: func() (V, bool) { var zero V; return zero, false },
		add: func(_ K, v V, agg V, has bool) V {
			if !has {
				return v
			}
			return reducer(agg, v)
		},
		merge: func(_ K, agg V, has bool, next V) V {
			if !has {
				return next
			}
			return reducer(agg, next)
		},
	}
}

func aggregateAgg[K, V, VA any](op string, initializer func() VA, aggregator func(key K, value V, agg VA) VA, merger func(key K, agg1, agg2 VA) VA) windowAgg[K, V, VA] {
	return windowAgg[K, V, VA]{op: op, prefix: aggregatePrefix,
		init: func() (VA, bool) { return initializer(), true },
		add:  func(k K, v V, agg VA, _ bool) VA { return aggregator(k, v, agg) },
		merge: func(k K, agg VA, _ bool, next VA) VA {
			if merger == nil {
				return agg
			}
			return merger(k, agg, next)
		},
	}
}

// CountWindowed counts the records of each key and window into a table kept
// in a window store named store. Records with a null key are dropped; as in
// Kafka Streams, records with a null value count (for time windows; sliding
// windows drop them). Options: Named, WithCaching, WithLogging,
// WithRetention, EmitOnWindowClose.
func CountWindowed[K, V any](ws TimeWindowedStream[K, V], store string, opts ...Option) ktable.Table[window.Windowed[K], int64] {
	return timeWindowed(ws, countAgg[K, V]("CountWindowed"), store, opts)
}

// ReduceWindowed combines the values of each key and window with reducer,
// the first value being the window's initial aggregate. Records with a null
// key or a null value are dropped. Options: Named, WithCaching,
// WithLogging, WithRetention, EmitOnWindowClose.
func ReduceWindowed[K, V any](ws TimeWindowedStream[K, V], reducer func(agg, value V) V, store string, opts ...Option) ktable.Table[window.Windowed[K], V] {
	return timeWindowed(ws, reduceAgg[K]("ReduceWindowed", reducer, ws.g.vs), store, opts)
}

// AggregateWindowed folds the values of each key and window into an
// aggregate that initializer starts. Records with a null key are dropped;
// for time windows a record with a null value reaches the aggregator with
// the zero value (Kafka Streams hands it null), sliding windows drop it.
// Options: Named, WithValueSerde (of the aggregate; built-in types need
// none), WithCaching, WithLogging, WithRetention, EmitOnWindowClose.
func AggregateWindowed[K, V, VA any](ws TimeWindowedStream[K, V], initializer func() VA, aggregator func(key K, value V, agg VA) VA, store string, opts ...Option) ktable.Table[window.Windowed[K], VA] {
	return timeWindowed(ws, aggregateAgg("AggregateWindowed", initializer, aggregator, nil), store, opts)
}

// CountSessions counts the records of each session into a table kept in a
// session store named store. Records with a null key are dropped. Options:
// Named, WithCaching, WithLogging, WithRetention, EmitOnWindowClose.
func CountSessions[K, V any](ws SessionWindowedStream[K, V], store string, opts ...Option) ktable.Table[window.Windowed[K], int64] {
	return sessionWindowed(ws, countAgg[K, V]("CountSessions"), store, opts)
}

// ReduceSessions combines the values of each session with reducer; merging
// sessions reduces their aggregates, the earlier session's first. Records
// with a null key or value are dropped. Options: Named, WithCaching,
// WithLogging, WithRetention, EmitOnWindowClose.
func ReduceSessions[K, V any](ws SessionWindowedStream[K, V], reducer func(agg, value V) V, store string, opts ...Option) ktable.Table[window.Windowed[K], V] {
	return sessionWindowed(ws, reduceAgg[K]("ReduceSessions", reducer, ws.g.vs), store, opts)
}

// AggregateSessions folds the values of each session into an aggregate that
// initializer starts; when a record merges sessions, merger combines their
// aggregates: merger(key, merged so far, next session's), starting from a
// fresh initializer() and taking the sessions by end time. Records with a
// null key are dropped. Options: Named, WithValueSerde, WithCaching,
// WithLogging, WithRetention, EmitOnWindowClose.
func AggregateSessions[K, V, VA any](ws SessionWindowedStream[K, V], initializer func() VA, aggregator func(key K, value V, agg VA) VA, merger func(key K, agg1, agg2 VA) VA, store string, opts ...Option) ktable.Table[window.Windowed[K], VA] {
	if merger == nil {
		ws.g.s.b.Err(fmt.Errorf("kstream: AggregateSessions: the session merger is nil"))
	}
	return sessionWindowed(ws, aggregateAgg("AggregateSessions", initializer, aggregator, merger), store, opts)
}

// windowedSetup is what every windowed aggregation resolves first.
type windowedSetup[K, V, VA any] struct {
	b         *topology.Builder
	o         dsl.Options
	name      string
	ks        serde.Serde[K]
	vs        serde.Serde[VA]
	src       Stream[K, V]
	emitFinal bool
}

// setupWindowed parses the options, names the node, resolves the serdes and
// repartitions when the grouping needs it, as aggregateWith does.
func setupWindowed[K, V, VA any](g GroupedStream[K, V], def windowAgg[K, V, VA], store string, opts []Option) windowedSetup[K, V, VA] {
	b := g.s.b
	o := parseOptions(b, def.op, []string{optName, optValueSerde, optCaching, optLogging, optWinRetention, optWinEmitFinal}, opts)
	if err := state.ValidateName(store); err != nil {
		b.Err(fmt.Errorf("kstream: %s: %w", def.op, err))
	}
	name := o.NodeName(b, def.prefix)
	ks := groupingSerde(g, def.op, name, "key", g.ks)
	vs := resolveSerde(b, def.op+" "+name, "value", o.ValueSerde, def.vs)
	src := g.s
	if src.repartition {
		base := store
		if g.repName != "" {
			base = g.repName
		}
		if rvs := groupingSerde(g, def.op, name, "value", g.vs); ks != nil && rvs != nil {
			src = repartitionOnce(src, base, ks, rvs)
		}
	}
	return windowedSetup[K, V, VA]{b: b, o: o, name: name, ks: ks, vs: vs, src: src, emitFinal: o.Has(optWinEmitFinal)}
}

// retention returns the store retention: the option's, checked against
// what the windows need, or what they need.
func (s *windowedSetup[K, V, VA]) retention(op, store string, need int64, what string) time.Duration {
	r := need
	if s.o.Has(optWinRetention) {
		switch {
		case s.o.Retention < 0:
			s.b.Err(fmt.Errorf("kstream: %s %s: the retention period must be a positive whole number of milliseconds", op, s.name))
		case s.o.Retention < need:
			s.b.Err(fmt.Errorf("kstream: %s %s: the retention period of window store %q must be no smaller than %s: got %v, want at least %v",
				op, s.name, store, what, time.Duration(s.o.Retention)*time.Millisecond, time.Duration(need)*time.Millisecond))
		default:
			r = s.o.Retention
		}
	}
	r = max(r, 1)
	if s.emitFinal {
		// Emitting on close reads windows up to retention after the latest
		// one, bound included, as Kafka Streams' time-ordered stores do.
		r++
	}
	return time.Duration(r) * time.Millisecond
}

// windowedTable wraps the result of a windowed aggregation.
func windowedTable[K, VA any](b *topology.Builder, node string, keySerde serde.Serde[window.Windowed[K]], vs serde.Serde[VA], getter *dsl.GetterSupplier[window.Windowed[K], VA], old *dsl.OldValues, sources []string, graceMs int64) ktable.Table[window.Windowed[K], VA] {
	return ktable.Wrap(ktable.Spec[window.Windowed[K], VA]{Builder: b, Node: node, KeySerde: keySerde,
		ValueSerde: vs, Getter: getter, Old: old, Sources: sources,
		Window: &ktable.WindowClose[window.Windowed[K]]{End: windowEnd[K], GraceMs: graceMs}})
}

func windowEnd[K any](k window.Windowed[K]) int64 { return k.Window.End }

// winDropLate counts and logs a late record, as Kafka Streams'
// logSkippedRecordForExpiredWindow.
func winDropLate(ctx processor.BaseContext, ts int64, win string, closeTime, streamTime int64) {
	dsl.Dropped(ctx, exec.DropLate)
	l := ctx.Logger()
	if m, ok := ctx.RecordMetadata(); ok {
		l.Debug("skipping record for expired window", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset,
			"timestamp", ts, "window", win, "expiration", closeTime, "stream_time", streamTime)
		return
	}
	l.Debug("skipping record for expired window", "timestamp", ts, "window", win,
		"expiration", closeTime, "stream_time", streamTime)
}

// winDropNull counts and logs a record dropped for a null key or value.
func winDropNull(ctx processor.BaseContext, reason string) {
	dsl.Dropped(ctx, reason)
	if m, ok := ctx.RecordMetadata(); ok {
		ctx.Logger().Debug("skipping record due to null key or value", "reason", reason,
			"topic", m.Topic, "partition", m.Partition, "offset", m.Offset)
	}
}

// winInitStreamTime returns the stream time a windowed processor persisted,
// or, when it has none (such as state restored from an older changelog), the
// store's observed stream time, which never exceeds it.
func winInitStreamTime(mark func(string) (int64, bool, error), observed func() (int64, error)) (int64, error) {
	st, ok, err := mark(winMarkStreamTime)
	if err != nil || ok {
		return st, err
	}
	return observed()
}
