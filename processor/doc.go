// Package processor is the low-level Processor API that the stream DSL
// (packages kstream and ktable) is built on.
//
// A [Processor] receives typed [Record] values one at a time, may read and
// write state stores, may schedule punctuations, and forwards zero or more
// records to its children through its [Context]. Processors are wired into a
// graph with package topology; the runtime creates one instance of each
// processor per task (a sub-topology applied to one input partition), so a
// processor instance is never called concurrently.
//
// Timestamps are Kafka timestamps: milliseconds since the Unix epoch, as
// int64. [NoTimestamp] (-1) stands for "not known yet".
package processor
