package dsl

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

// Option configures an operator. Each operator documents the options it
// takes; passing one it does not take is an error reported by Build.
type Option struct {
	kind  string
	apply func(*Options)
}

// Options is the result of applying Options.
type Options struct {
	Name        string
	KeySerde    any
	ValueSerde  any
	Partitioner any
	Partitions  int
	Stores      []string
	Extractor   any
	WallClock   bool
	InvalidTS   topology.InvalidTimestampPolicy
	Store       string
	Caching     *bool
	Logging     *bool
	Retention   int64
	GroupedName string
	set         []string

	// OtherValueSerde is the value serde of a stream-stream join's other
	// stream.
	OtherValueSerde any
}

// Option kinds, named after the functions that make them.
const (
	OptName        = "Named"
	OptKeySerde    = "WithKeySerde"
	OptValueSerde  = "WithValueSerde"
	OptOtherValue  = "WithOtherValueSerde"
	OptPartitioner = "WithPartitioner"
	OptPartitions  = "WithPartitions"
	OptStores      = "WithStores"
	OptExtractor   = "WithTimestampExtractor"
	OptWallClock   = "WithWallClockTime"
	OptInvalidTS   = "WithInvalidTimestamp"
	OptMaterialize = "Materialized"
	OptCaching     = "WithCaching"
	OptLogging     = "WithLogging"
	OptRetention   = "WithRetention"
	OptGrouped     = "WithRepartitionName"
)

// Named names the operator's node (and, for Repartition, its topic; for
// Split, the prefix of its branches; for a branch, its suffix). Without it
// the DSL generates a name such as KSTREAM-FILTER-0000000003.
func Named(name string) Option {
	return Option{OptName, func(o *Options) { o.Name = name }}
}

// WithKeySerde sets the key serde an operator writes or reads keys with.
func WithKeySerde[K any](s serde.Serde[K]) Option {
	return Option{OptKeySerde, func(o *Options) { o.KeySerde = s }}
}

// WithValueSerde sets the value serde an operator writes or reads values
// with.
func WithValueSerde[V any](s serde.Serde[V]) Option {
	return Option{OptValueSerde, func(o *Options) { o.ValueSerde = s }}
}

// WithOtherValueSerde sets the value serde of the other stream of a
// stream-stream join, for its store (and repartition topic).
func WithOtherValueSerde[V any](s serde.Serde[V]) Option {
	return Option{OptOtherValue, func(o *Options) { o.OtherValueSerde = s }}
}

// WithPartitioner sets the partitioner of To or Repartition.
func WithPartitioner[K, V any](p processor.Partitioner[K, V]) Option {
	return Option{OptPartitioner, func(o *Options) { o.Partitioner = p }}
}

// WithPartitions sets the partition count of a repartition topic. Without
// it the topic gets the partition count of the upstream source topics.
func WithPartitions(n int) Option {
	return Option{OptPartitions, func(o *Options) { o.Partitions = n }}
}

// WithStores connects the named state stores (added with
// topology.Builder.AddStateStore) to a Process or ProcessValues node.
func WithStores(names ...string) Option {
	return Option{OptStores, func(o *Options) { o.Stores = append(o.Stores, names...) }}
}

// WithTimestampExtractor sets how a source finds each record's event time.
func WithTimestampExtractor[K, V any](e processor.TimestampExtractor[K, V]) Option {
	return Option{OptExtractor, func(o *Options) { o.Extractor = e }}
}

// WithWallClockTime makes a source stamp records with the wall-clock time
// at which they are processed.
func WithWallClockTime() Option {
	return Option{OptWallClock, func(o *Options) { o.WallClock = true }}
}

// WithInvalidTimestamp sets what a source does with negative timestamps
// (by default it fails).
func WithInvalidTimestamp(p topology.InvalidTimestampPolicy) Option {
	return Option{OptInvalidTS, func(o *Options) { o.InvalidTS = p }}
}

// Materialized names the store that materializes a table, which makes it
// queryable and lets later operators read it without recomputing.
func Materialized(store string) Option {
	return Option{OptMaterialize, func(o *Options) { o.Store = store }}
}

// WithCaching turns the record cache in front of a store on or off.
func WithCaching(on bool) Option {
	return Option{OptCaching, func(o *Options) { o.Caching = &on }}
}

// WithLogging turns a store's changelog on or off.
func WithLogging(on bool) Option {
	return Option{OptLogging, func(o *Options) { o.Logging = &on }}
}

// WithRepartitionName names the repartition topic of a grouping.
func WithRepartitionName(name string) Option {
	return Option{OptGrouped, func(o *Options) { o.GroupedName = name }}
}

// Parse applies opts, recording an error on b for each option the operator
// does not take.
func Parse(b *topology.Builder, op string, allowed []string, opts []Option) Options {
	var o Options
	for _, opt := range opts {
		if opt.apply == nil {
			b.Err(fmt.Errorf("%s: zero Option", op))
			continue
		}
		if !slices.Contains(allowed, opt.kind) {
			b.Err(fmt.Errorf("%s: option %s does not apply (it takes %s)", op, opt.kind, takes(allowed)))
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

// Has reports whether an option of the kind was given.
func (o *Options) Has(kind string) bool { return slices.Contains(o.set, kind) }

// NodeName returns the Named name or a generated one. Like Kafka Streams'
// NamedInternal.orElseGenerateWithPrefix, it takes the builder's next index
// even when the operator is named, so that naming one operator does not
// change the generated names of the operators defined after it.
func (o *Options) NodeName(b *topology.Builder, prefix string) string {
	generated := b.NewName(prefix)
	if o.Name != "" {
		return o.Name
	}
	return generated
}

// SuffixedName returns the Named name followed by suffix, or a generated
// name; like NodeName it always takes an index (Kafka Streams'
// NamedInternal.suffixWithOrElseGet).
func (o *Options) SuffixedName(b *topology.Builder, suffix, prefix string) string {
	generated := b.NewName(prefix)
	if o.Name != "" {
		return o.Name + suffix
	}
	return generated
}

// ExactName returns the Named name, taking no index, or a generated one.
// Kafka Streams names Process and ProcessValues nodes this way.
func (o *Options) ExactName(b *topology.Builder, prefix string) string {
	if o.Name != "" {
		return o.Name
	}
	return b.NewName(prefix)
}

// StoreOptions returns the state store options the operator's options ask
// for; DSL stores are cached unless told otherwise.
func (o *Options) StoreOptions() []state.StoreOption {
	caching := true
	if o.Caching != nil {
		caching = *o.Caching
	}
	out := []state.StoreOption{state.WithCaching(caching)}
	if o.Logging != nil {
		out = append(out, state.WithLogging(*o.Logging))
	}
	return out
}

// ResolveSerde picks the serde for T: the option's, else the known one, else
// the built-in for T. It records an error naming the operator when none fits.
func ResolveSerde[T any](b *topology.Builder, op, part string, fromOption any, known serde.Serde[T]) serde.Serde[T] {
	if fromOption != nil {
		s, ok := fromOption.(serde.Serde[T])
		if !ok {
			b.Err(fmt.Errorf("%s: the %s serde is a %T, which does not serialize %s",
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
	opt := OptKeySerde
	switch part {
	case "value":
		opt = OptValueSerde
	case "other value":
		opt = OptOtherValue
	}
	pkg, _, _ := strings.Cut(op, ":")
	b.Err(fmt.Errorf("%s: no %s serde for type %s; pass one with %s.%s",
		op, part, reflect.TypeFor[T](), pkg, opt))
	return nil
}

// TypedOption returns v as a T, recording an error when it is of another
// type.
func TypedOption[T any](b *topology.Builder, op, what string, v any) T {
	var zero T
	if v == nil {
		return zero
	}
	t, ok := v.(T)
	if !ok {
		b.Err(fmt.Errorf("%s: the %s is a %T, want a %s", op, what, v, reflect.TypeFor[T]()))
		return zero
	}
	return t
}
