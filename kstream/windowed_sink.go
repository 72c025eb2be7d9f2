package kstream

import (
	"github.com/seed992c72d9/streams/internal/murmur2"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
)

// baseKeySerializer is implemented by the windowed key serdes of package
// window: they serialize a windowed key's key without its window.
type baseKeySerializer[K any] interface {
	SerializeBaseKey(key K) ([]byte, error)
}

// windowedPartitioner returns, for a windowed key serde, the partitioner
// Kafka Streams' sinks use for windowed keys (WindowedStreamPartitioner):
// murmur2 of the key without its window, so that every window of a key
// lands on the key's partition. It returns nil for other serdes.
func windowedPartitioner[K, V any](ks serde.Serde[K]) processor.Partitioner[K, V] {
	bk, ok := ks.(baseKeySerializer[K])
	if !ok {
		return nil
	}
	return func(_ string, key K, _ V, n int) (int, bool) {
		b, err := bk.SerializeBaseKey(key)
		if err != nil || b == nil {
			return 0, false
		}
		return int(murmur2.Partition(b, n)), true
	}
}
