package kstream

import (
	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// Option configures an operator. Each operator documents the options it
// takes; passing one it does not take is an error reported by Build. The
// same Option type configures the operators of package ktable.
type Option = dsl.Option

// Named names the operator's node (and, for Repartition, its topic; for
// Split, the prefix of its branches; for a branch, its suffix). Without it
// the DSL generates a name such as KSTREAM-FILTER-0000000003.
func Named(name string) Option { return dsl.Named(name) }

// WithKeySerde sets the key serde an operator writes or reads keys with.
func WithKeySerde[K any](s serde.Serde[K]) Option { return dsl.WithKeySerde(s) }

// WithValueSerde sets the value serde an operator writes or reads values
// with.
func WithValueSerde[V any](s serde.Serde[V]) Option { return dsl.WithValueSerde(s) }

// WithPartitioner sets the partitioner of To or Repartition.
func WithPartitioner[K, V any](p processor.Partitioner[K, V]) Option { return dsl.WithPartitioner(p) }

// WithPartitions sets the partition count of a repartition topic. Without
// it the topic gets the partition count of the upstream source topics.
func WithPartitions(n int) Option { return dsl.WithPartitions(n) }

// WithStores connects the named state stores (added with
// topology.Builder.AddStateStore) to a Process or ProcessValues node.
func WithStores(names ...string) Option { return dsl.WithStores(names...) }

// WithTimestampExtractor sets how a source finds each record's event time.
func WithTimestampExtractor[K, V any](e processor.TimestampExtractor[K, V]) Option {
	return dsl.WithTimestampExtractor(e)
}

// WithWallClockTime makes a source stamp records with the wall-clock time
// at which they are processed.
func WithWallClockTime() Option { return dsl.WithWallClockTime() }

// WithInvalidTimestamp sets what a source does with negative timestamps
// (by default it fails).
func WithInvalidTimestamp(p topology.InvalidTimestampPolicy) Option {
	return dsl.WithInvalidTimestamp(p)
}

// WithCaching turns the record cache in front of an aggregation's store on
// or off (default on).
func WithCaching(on bool) Option { return dsl.WithCaching(on) }

// WithLogging turns the changelog of an aggregation's store on or off
// (default on).
func WithLogging(on bool) Option { return dsl.WithLogging(on) }

// WithRepartitionName names the repartition topic of a grouping
// ("<application.id>-<name>-repartition"); by default it is named after the
// aggregation's store.
func WithRepartitionName(name string) Option { return dsl.WithRepartitionName(name) }

const (
	optName        = dsl.OptName
	optKeySerde    = dsl.OptKeySerde
	optValueSerde  = dsl.OptValueSerde
	optPartitioner = dsl.OptPartitioner
	optPartitions  = dsl.OptPartitions
	optStores      = dsl.OptStores
	optExtractor   = dsl.OptExtractor
	optWallClock   = dsl.OptWallClock
	optInvalidTS   = dsl.OptInvalidTS
	optCaching     = dsl.OptCaching
	optLogging     = dsl.OptLogging
	optGrouped     = dsl.OptGrouped
)

func parseOptions(b *topology.Builder, op string, allowed []string, opts []Option) dsl.Options {
	return dsl.Parse(b, "kstream: "+op, allowed, opts)
}

func resolveSerde[T any](b *topology.Builder, op, part string, fromOption any, known serde.Serde[T]) serde.Serde[T] {
	return dsl.ResolveSerde(b, "kstream: "+op, part, fromOption, known)
}

func typedOption[T any](b *topology.Builder, op, what string, v any) T {
	return dsl.TypedOption[T](b, "kstream: "+op, what, v)
}

// WithOtherValueSerde sets the value serde of the other (right) stream of a
// stream-stream join, for its join store and its repartition topic.
func WithOtherValueSerde[V any](s serde.Serde[V]) Option { return dsl.WithOtherValueSerde(s) }

const optOtherValueSerde = dsl.OptOtherValue
