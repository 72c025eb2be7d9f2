package ktable

import (
	"github.com/seed992c72d9/streams/internal/dsl"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// Option configures a table operator; it is the same type as kstream.Option.
type Option = dsl.Option

// Named names the operator's node.
func Named(name string) Option { return dsl.Named(name) }

// Materialized keeps a derived table (Filter, MapValues, a join) in a store
// of the given name, which makes it queryable and lets readers look values
// up without recomputing them.
func Materialized(store string) Option { return dsl.Materialized(store) }

// WithKeySerde sets the key serde of a table's store or repartition topic.
func WithKeySerde[K any](s serde.Serde[K]) Option { return dsl.WithKeySerde(s) }

// WithValueSerde sets the value serde of a table's store or repartition
// topic.
func WithValueSerde[V any](s serde.Serde[V]) Option { return dsl.WithValueSerde(s) }

// WithCaching turns the record cache in front of a table's store on or off
// (default on).
func WithCaching(on bool) Option { return dsl.WithCaching(on) }

// WithLogging turns the changelog of a table's store on or off (default on).
func WithLogging(on bool) Option { return dsl.WithLogging(on) }

// WithRepartitionName names the repartition topic of a table grouping.
func WithRepartitionName(name string) Option { return dsl.WithRepartitionName(name) }

const (
	optName        = dsl.OptName
	optMaterialize = dsl.OptMaterialize
	optKeySerde    = dsl.OptKeySerde
	optValueSerde  = dsl.OptValueSerde
	optCaching     = dsl.OptCaching
	optLogging     = dsl.OptLogging
	optGrouped     = dsl.OptGrouped
)

func parseOptions(b *topology.Builder, op string, allowed []string, opts []Option) dsl.Options {
	return dsl.Parse(b, "ktable: "+op, allowed, opts)
}

func resolveSerde[T any](b *topology.Builder, op, part string, fromOption any, known serde.Serde[T]) serde.Serde[T] {
	return dsl.ResolveSerde(b, "ktable: "+op, part, fromOption, known)
}
