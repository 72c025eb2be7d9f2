package processor

// Partitioner chooses the partition of a record written by a sink, among
// numPartitions partitions of topic. It returns false to leave the choice to
// the default partitioner (Kafka's murmur2 hash of the serialized key; records
// without a key are spread over partitions).
type Partitioner[K, V any] func(topic string, key K, value V, numPartitions int) (partition int, ok bool)

// TopicNameExtractor chooses the topic a sink writes a record to.
type TopicNameExtractor[K, V any] func(rec Record[K, V]) string

// TimestampExtractor returns the event time of a record read by a source, in
// milliseconds. rec.Timestamp holds the Kafka record timestamp; partitionTime
// is the largest timestamp extracted so far from the record's partition, or
// NoTimestamp. A negative result is an invalid timestamp, handled by the
// source's invalid-timestamp policy.
type TimestampExtractor[K, V any] func(rec Record[K, V], partitionTime int64) int64
