package window

// SerializeBaseKey returns the bytes of the key without its window. A sink
// writing windowed keys partitions by them, as Kafka Streams'
// WindowedStreamPartitioner does, so that every window of a key lands on
// the key's partition.
func (s timeWindowed[K]) SerializeBaseKey(w Windowed[K]) ([]byte, error) {
	return s.inner.Serialize(w.Key)
}

// SerializeBaseKey returns the bytes of the key without its session, as
// the time-windowed serde's.
func (s sessionWindowed[K]) SerializeBaseKey(w Windowed[K]) ([]byte, error) {
	return s.inner.Serialize(w.Key)
}
