package exec

import "github.com/seed992c72d9/streams/processor"

// RawRecord is a record as read from a topic.
type RawRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp int64
	Headers   processor.Headers
}

// OutRecord is a record a sink hands to the Collector.
type OutRecord struct {
	Topic string
	// Partition is -1 when the collector chooses the partition with the
	// default partitioner.
	Partition int32
	Key       []byte
	Value     []byte
	Timestamp int64
	Headers   processor.Headers
}

// Collector receives what sinks write. The runtime produces it to Kafka in
// the task's transaction; the test driver keeps it in memory.
type Collector interface {
	// Send takes ownership of rec's byte slices.
	Send(task processor.TaskID, rec OutRecord) error
	// Partitions returns the number of partitions of topic.
	Partitions(topic string) (int, error)
}
