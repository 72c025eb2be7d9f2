package kstream

import (
	"reflect"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// KeyValue is a key and a value, as returned by FlatMap's mapper.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// KV returns a KeyValue.
func KV[K, V any](k K, v V) KeyValue[K, V] { return KeyValue[K, V]{k, v} }

// Filter keeps the records for which pred returns true. Options: Named.
func (s Stream[K, V]) Filter(pred func(key K, value V) bool, opts ...Option) Stream[K, V] {
	return s.filter("Filter", pred, false, opts)
}

// FilterNot drops the records for which pred returns true. Options: Named.
func (s Stream[K, V]) FilterNot(pred func(key K, value V) bool, opts ...Option) Stream[K, V] {
	return s.filter("FilterNot", pred, true, opts)
}

func (s Stream[K, V]) filter(op string, pred func(K, V) bool, not bool, opts []Option) Stream[K, V] {
	o := parseOptions(s.b, op, []string{optName}, opts)
	name := addProcessor(s, o.NodeName(s.b, filterPrefix), func() processor.Processor[K, V, K, V] {
		return &filterProc[K, V]{pred: pred, not: not}
	})
	s.node = name
	return s
}

type filterProc[K, V any] struct {
	ctx  processor.Context[K, V]
	pred func(K, V) bool
	not  bool
}

func (p *filterProc[K, V]) Init(ctx processor.Context[K, V]) error { p.ctx = ctx; return nil }
func (p *filterProc[K, V]) Close() error                           { return nil }
func (p *filterProc[K, V]) Process(r processor.Record[K, V]) error {
	if p.pred(r.Key, r.Value) != p.not {
		return p.ctx.Forward(r)
	}
	return nil
}

// Peek calls action for each record and passes the record on unchanged.
// Options: Named.
func (s Stream[K, V]) Peek(action func(key K, value V), opts ...Option) Stream[K, V] {
	o := parseOptions(s.b, "Peek", []string{optName}, opts)
	s.node = addProcessor(s, o.NodeName(s.b, peekPrefix), func() processor.Processor[K, V, K, V] {
		return &peekProc[K, V]{action: action, forward: true}
	})
	return s
}

// Foreach calls action for each record; it ends the stream. Options: Named.
func (s Stream[K, V]) Foreach(action func(key K, value V), opts ...Option) {
	o := parseOptions(s.b, "Foreach", []string{optName}, opts)
	addProcessor(s, o.NodeName(s.b, foreachPrefix), func() processor.Processor[K, V, K, V] {
		return &peekProc[K, V]{action: action}
	})
}

type peekProc[K, V any] struct {
	ctx     processor.Context[K, V]
	action  func(K, V)
	forward bool
}

func (p *peekProc[K, V]) Init(ctx processor.Context[K, V]) error { p.ctx = ctx; return nil }
func (p *peekProc[K, V]) Close() error                           { return nil }
func (p *peekProc[K, V]) Process(r processor.Record[K, V]) error {
	p.action(r.Key, r.Value)
	if p.forward {
		return p.ctx.Forward(r)
	}
	return nil
}

// Merge returns a stream of the records of s and other, in the order they are
// processed. Neither stream's serdes are kept, as Kafka Streams does, unless
// both streams know the same ones. Options: Named.
func (s Stream[K, V]) Merge(other Stream[K, V], opts ...Option) Stream[K, V] {
	o := parseOptions(s.b, "Merge", []string{optName}, opts)
	if err := mustSameBuilder("Merge", s, other); err != nil {
		s.b.Err(err)
		return s
	}
	name := o.NodeName(s.b, mergePrefix)
	parents := []string{s.node, other.node}
	if s.node == other.node {
		parents = parents[:1]
	}
	topology.AddProcessor(s.b, name, passSupplier[K, V], parents...)
	out := Stream[K, V]{b: s.b, node: name, sources: append(s.sourceNodes(), other.sources...), repartition: s.repartition || other.repartition}
	if sameSerde(s.keySerde, other.keySerde) {
		out.keySerde = s.keySerde
	}
	if sameSerde(s.valueSerde, other.valueSerde) {
		out.valueSerde = s.valueSerde
	}
	return out
}

// sameSerde reports whether two serdes are the same value, without
// panicking on serde types that cannot be compared.
func sameSerde(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Type() != vb.Type() || !va.Comparable() {
		return false
	}
	return va.Equal(vb)
}

type passProc[K, V any] struct{ ctx processor.Context[K, V] }

func (p *passProc[K, V]) Init(ctx processor.Context[K, V]) error { p.ctx = ctx; return nil }
func (p *passProc[K, V]) Close() error                           { return nil }
func (p *passProc[K, V]) Process(r processor.Record[K, V]) error { return p.ctx.Forward(r) }

func passSupplier[K, V any]() processor.Processor[K, V, K, V] { return &passProc[K, V]{} }

// MapValues transforms each value; the key, which the mapper cannot change,
// is kept, so no repartitioning follows. Options: Named, WithValueSerde (the
// serde of the new values, used by later operators).
func MapValues[K, V, VR any](s Stream[K, V], mapper func(value V) VR, opts ...Option) Stream[K, VR] {
	return mapValues(s, "MapValues", func(_ K, v V) VR { return mapper(v) }, opts)
}

// MapValuesWithKey transforms each value, given read-only access to its key.
// Options: Named, WithValueSerde.
func MapValuesWithKey[K, V, VR any](s Stream[K, V], mapper func(key K, value V) VR, opts ...Option) Stream[K, VR] {
	return mapValues(s, "MapValuesWithKey", mapper, opts)
}

func mapValues[K, V, VR any](s Stream[K, V], op string, mapper func(key K, value V) VR, opts []Option) Stream[K, VR] {
	o := parseOptions(s.b, op, []string{optName, optValueSerde}, opts)
	name := addProcessor(s, o.NodeName(s.b, mapValuesPrefix), func() processor.Processor[K, V, K, VR] {
		return &mapValuesProc[K, V, VR]{mapper: mapper}
	})
	return Stream[K, VR]{b: s.b, node: name, sources: s.sources, keySerde: s.keySerde, repartition: s.repartition,
		valueSerde: typedOption[serde.Serde[VR]](s.b, op, "value serde", o.ValueSerde)}
}

type mapValuesProc[K, V, VR any] struct {
	ctx    processor.Context[K, VR]
	mapper func(K, V) VR
}

func (p *mapValuesProc[K, V, VR]) Init(ctx processor.Context[K, VR]) error { p.ctx = ctx; return nil }
func (p *mapValuesProc[K, V, VR]) Close() error                            { return nil }
func (p *mapValuesProc[K, V, VR]) Process(r processor.Record[K, V]) error {
	return p.ctx.Forward(processor.Convert(r, r.Key, p.mapper(r.Key, r.Value), true, false))
}

// Map transforms each record into a new key and value. Since the key may
// change, a later grouping or join repartitions the stream. Options: Named,
// WithKeySerde, WithValueSerde.
func Map[K, V, KR, VR any](s Stream[K, V], mapper func(key K, value V) (KR, VR), opts ...Option) Stream[KR, VR] {
	o := parseOptions(s.b, "Map", []string{optName, optKeySerde, optValueSerde}, opts)
	name := addProcessor(s, o.NodeName(s.b, mapPrefix), func() processor.Processor[K, V, KR, VR] {
		return &mapProc[K, V, KR, VR]{mapper: mapper}
	})
	return Stream[KR, VR]{b: s.b, node: name, sources: s.sources, repartition: true,
		keySerde:   typedOption[serde.Serde[KR]](s.b, "Map", "key serde", o.KeySerde),
		valueSerde: typedOption[serde.Serde[VR]](s.b, "Map", "value serde", o.ValueSerde)}
}

type mapProc[K, V, KR, VR any] struct {
	ctx    processor.Context[KR, VR]
	mapper func(K, V) (KR, VR)
}

func (p *mapProc[K, V, KR, VR]) Init(ctx processor.Context[KR, VR]) error { p.ctx = ctx; return nil }
func (p *mapProc[K, V, KR, VR]) Close() error                             { return nil }
func (p *mapProc[K, V, KR, VR]) Process(r processor.Record[K, V]) error {
	k, v := p.mapper(r.Key, r.Value)
	return p.ctx.Forward(processor.Convert(r, k, v, false, false))
}

// SelectKey gives each record a new key computed from it; the value is kept.
// A later grouping or join repartitions the stream. Options: Named,
// WithKeySerde.
func SelectKey[K, V, KR any](s Stream[K, V], selector func(key K, value V) KR, opts ...Option) Stream[KR, V] {
	o := parseOptions(s.b, "SelectKey", []string{optName, optKeySerde}, opts)
	name := addProcessor(s, o.NodeName(s.b, keySelectPrefix), func() processor.Processor[K, V, KR, V] {
		return &selectKeyProc[K, V, KR]{selector: selector}
	})
	return Stream[KR, V]{b: s.b, node: name, sources: s.sources, repartition: true, valueSerde: s.valueSerde,
		keySerde: typedOption[serde.Serde[KR]](s.b, "SelectKey", "key serde", o.KeySerde)}
}

type selectKeyProc[K, V, KR any] struct {
	ctx      processor.Context[KR, V]
	selector func(K, V) KR
}

func (p *selectKeyProc[K, V, KR]) Init(ctx processor.Context[KR, V]) error { p.ctx = ctx; return nil }
func (p *selectKeyProc[K, V, KR]) Close() error                            { return nil }
func (p *selectKeyProc[K, V, KR]) Process(r processor.Record[K, V]) error {
	return p.ctx.Forward(processor.Convert(r, p.selector(r.Key, r.Value), r.Value, false, true))
}

// FlatMap turns each record into zero or more records, forwarded in order
// with the input record's timestamp and headers. A later grouping or join
// repartitions the stream. Options: Named, WithKeySerde, WithValueSerde.
func FlatMap[K, V, KR, VR any](s Stream[K, V], mapper func(key K, value V) []KeyValue[KR, VR], opts ...Option) Stream[KR, VR] {
	o := parseOptions(s.b, "FlatMap", []string{optName, optKeySerde, optValueSerde}, opts)
	name := addProcessor(s, o.NodeName(s.b, flatMapPrefix), func() processor.Processor[K, V, KR, VR] {
		return &flatMapProc[K, V, KR, VR]{mapper: mapper}
	})
	return Stream[KR, VR]{b: s.b, node: name, sources: s.sources, repartition: true,
		keySerde:   typedOption[serde.Serde[KR]](s.b, "FlatMap", "key serde", o.KeySerde),
		valueSerde: typedOption[serde.Serde[VR]](s.b, "FlatMap", "value serde", o.ValueSerde)}
}

type flatMapProc[K, V, KR, VR any] struct {
	ctx    processor.Context[KR, VR]
	mapper func(K, V) []KeyValue[KR, VR]
}

func (p *flatMapProc[K, V, KR, VR]) Init(ctx processor.Context[KR, VR]) error {
	p.ctx = ctx
	return nil
}
func (p *flatMapProc[K, V, KR, VR]) Close() error { return nil }
func (p *flatMapProc[K, V, KR, VR]) Process(r processor.Record[K, V]) error {
	for _, kv := range p.mapper(r.Key, r.Value) {
		if err := p.ctx.Forward(processor.Convert(r, kv.Key, kv.Value, false, false)); err != nil {
			return err
		}
	}
	return nil
}

// FlatMapValues turns each value into zero or more values, each forwarded
// with the input record's key, timestamp and headers. Options: Named,
// WithValueSerde.
func FlatMapValues[K, V, VR any](s Stream[K, V], mapper func(value V) []VR, opts ...Option) Stream[K, VR] {
	return flatMapValues(s, "FlatMapValues", func(_ K, v V) []VR { return mapper(v) }, opts)
}

// FlatMapValuesWithKey is FlatMapValues with read-only access to the key.
// Options: Named, WithValueSerde.
func FlatMapValuesWithKey[K, V, VR any](s Stream[K, V], mapper func(key K, value V) []VR, opts ...Option) Stream[K, VR] {
	return flatMapValues(s, "FlatMapValuesWithKey", mapper, opts)
}

func flatMapValues[K, V, VR any](s Stream[K, V], op string, mapper func(key K, value V) []VR, opts []Option) Stream[K, VR] {
	o := parseOptions(s.b, op, []string{optName, optValueSerde}, opts)
	name := addProcessor(s, o.NodeName(s.b, flatMapValuesPrefix), func() processor.Processor[K, V, K, VR] {
		return &flatMapValuesProc[K, V, VR]{mapper: mapper}
	})
	return Stream[K, VR]{b: s.b, node: name, sources: s.sources, keySerde: s.keySerde, repartition: s.repartition,
		valueSerde: typedOption[serde.Serde[VR]](s.b, op, "value serde", o.ValueSerde)}
}

type flatMapValuesProc[K, V, VR any] struct {
	ctx    processor.Context[K, VR]
	mapper func(K, V) []VR
}

func (p *flatMapValuesProc[K, V, VR]) Init(ctx processor.Context[K, VR]) error {
	p.ctx = ctx
	return nil
}
func (p *flatMapValuesProc[K, V, VR]) Close() error { return nil }
func (p *flatMapValuesProc[K, V, VR]) Process(r processor.Record[K, V]) error {
	for _, v := range p.mapper(r.Key, r.Value) {
		if err := p.ctx.Forward(processor.Convert(r, r.Key, v, true, false)); err != nil {
			return err
		}
	}
	return nil
}
