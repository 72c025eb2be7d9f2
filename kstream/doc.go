// Package kstream is the stream DSL: typed record streams and the operators
// that filter, transform, branch, merge, repartition and write them.
//
// A [Stream] is created from topics with [From] on a topology.Builder.
// Operators that keep the key and value types are methods ([Stream.Filter],
// [Stream.Peek], [Stream.Merge], [Stream.To]); operators that change them are
// package functions ([MapValues], [Map], [SelectKey], [FlatMap], [Process]),
// because Go methods cannot introduce type parameters.
//
// Every operator adds nodes to the builder; names are generated in Kafka
// Streams' style (KSTREAM-FILTER-0000000001) unless given with [Named].
// Mistakes found while defining a topology, such as a missing serde or an
// option an operator does not take, are reported by Builder.Build.
//
// Serdes travel with a stream: a source's serdes are used by later To and
// Repartition calls until an operator changes a type. Where a serde is needed
// and unknown, the built-in one for the type is used (string, []byte, int32,
// int64, float64, bool); for other types pass [WithKeySerde] or
// [WithValueSerde].
package kstream
