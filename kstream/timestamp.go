package kstream

import "github.com/seed992c72d9/streams/processor"

// TimestampFromValue returns a timestamp extractor that takes each record's
// event time from its value, for WithTimestampExtractor:
//
//	kstream.From(b, "clicks", serde.String(), clickSerde,
//		kstream.WithTimestampExtractor(kstream.TimestampFromValue[string](func(c Click) int64 { return c.At })))
//
// A record with a null value keeps its Kafka timestamp. A negative result is
// an invalid timestamp, which the source's WithInvalidTimestamp policy
// handles (by default processing fails).
func TimestampFromValue[K, V any](f func(value V) int64) processor.TimestampExtractor[K, V] {
	return func(rec processor.Record[K, V], _ int64) int64 {
		if rec.ValueIsNull() {
			return rec.Timestamp
		}
		return f(rec.Value)
	}
}
