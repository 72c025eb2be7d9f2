package kstream

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// Option configures an operator. Each operator documents the options it
// takes; passing one it does not take is an error reported by Build.
type Option struct {
	kind  string
	apply func(*options)
}

type options struct {
	name         string
	keySerde     any
	valueSerde   any
	partitioner  any
	partitions   int
	stores       []string
	extractor    any
	wallClock    bool
	invalidTS    topology.InvalidTimestampPolicy
	storeBuilder []any
	set          []string
}

const (
	optName        = "Named"
	optKeySerde    = "WithKeySerde"
	optValueSerde  = "WithValueSerde"
	optPartitioner = "WithPartitioner"
	optPartitions  = "WithPartitions"
	optStores      = "WithStores"
	optExtractor   = "WithTimestampExtractor"
	optWallClock   = "WithWallClockTime"
	optInvalidTS   = "WithInvalidTimestamp"
)

// Named names the operator's node (and, for Repartition, its topic; for
// Split, the prefix of its branches; for a branch, its suffix). Without it
// the DSL generates a name such as KSTREAM-FILTER-0000000003.
func Named(name string) Option {
	return Option{optName, func(o *options) { o.name = name }}
}

// WithKeySerde sets the key serde an operator writes or reads keys with.
func WithKeySerde[K any](s serde.Serde[K]) Option {
	return Option{optKeySerde, func(o *options) { o.keySerde = s }}
}

// WithValueSerde sets the value serde an operator writes or reads values
// with.
func WithValueSerde[V any](s serde.Serde[V]) Option {
	return Option{optValueSerde, func(o *options) { o.valueSerde = s }}
}

// WithPartitioner sets the partitioner of To or Repartition.
func WithPartitioner[K, V any](p processor.Partitioner[K, V]) Option {
	return Option{optPartitioner, func(o *options) { o.partitioner = p }}
}

// WithPartitions sets the partition count of a repartition topic. Without
// it the topic gets the partition count of the upstream source topics.
func WithPartitions(n int) Option {
	return Option{optPartitions, func(o *options) { o.partitions = n }}
}

// WithStores connects the named state stores (added with
// topology.Builder.AddStateStore) to a Process or ProcessValues node.
func WithStores(names ...string) Option {
	return Option{optStores, func(o *options) { o.stores = append(o.stores, names...) }}
}

// WithTimestampExtractor sets how a source finds each record's event time.
func WithTimestampExtractor[K, V any](e processor.TimestampExtractor[K, V]) Option {
	return Option{optExtractor, func(o *options) { o.extractor = e }}
}

// WithWallClockTime makes a source stamp records with the wall-clock time
// at which they are processed.
func WithWallClockTime() Option {
	return Option{optWallClock, func(o *options) { o.wallClock = true }}
}

// WithInvalidTimestamp sets what a source does with negative timestamps
// (by default it fails).
func WithInvalidTimestamp(p topology.InvalidTimestampPolicy) Option {
	return Option{optInvalidTS, func(o *options) { o.invalidTS = p }}
}

// parseOptions applies opts, recording an error on b for each option the
// operator does not take.
func parseOptions(b *topology.Builder, op string, allowed []string, opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt.apply == nil {
			b.Err(fmt.Errorf("kstream: %s: zero Option", op))
			continue
		}
		if !slices.Contains(allowed, opt.kind) {
			b.Err(fmt.Errorf("kstream: %s: option %s does not apply (it takes %s)", op, opt.kind, takes(allowed)))
			continue
		}
		opt.apply(&o)
		o.set = append(o.set, opt.kind)
	}
	return o
}

func takes(allowed []string) string {
	if len(allowed) == 0 {
		return "no options"
	}
	return strings.Join(allowed, ", ")
}

func (o *options) has(kind string) bool { return slices.Contains(o.set, kind) }

// nodeName returns the Named name or a generated one.
func (o *options) nodeName(b *topology.Builder, prefix string) string {
	if o.name != "" {
		return o.name
	}
	return b.NewName(prefix)
}

// resolveSerde picks the serde for T: the option's, else the known one, else
// the built-in for T. It records an error naming the operator when none fits.
func resolveSerde[T any](b *topology.Builder, op, part string, fromOption any, known serde.Serde[T]) serde.Serde[T] {
	if fromOption != nil {
		s, ok := fromOption.(serde.Serde[T])
		if !ok {
			b.Err(fmt.Errorf("kstream: %s: the %s serde is a %T, which does not serialize %s",
				op, part, fromOption, reflect.TypeFor[T]()))
			return nil
		}
		return s
	}
	if known != nil {
		return known
	}
	if s, ok := serde.For[T](); ok {
		return s
	}
	opt := optKeySerde
	if part == "value" {
		opt = optValueSerde
	}
	b.Err(fmt.Errorf("kstream: %s: no %s serde for type %s; pass one with kstream.%s",
		op, part, reflect.TypeFor[T](), opt))
	return nil
}

func typedOption[T any](b *topology.Builder, op, what string, v any) T {
	var zero T
	if v == nil {
		return zero
	}
	t, ok := v.(T)
	if !ok {
		b.Err(fmt.Errorf("kstream: %s: the %s is a %T, want a %s", op, what, v, reflect.TypeFor[T]()))
		return zero
	}
	return t
}
