// Package murmur2 is Kafka's default partitioner hash: the murmur2 variant
// of org.apache.kafka.common.utils.Utils.murmur2, used by the Java producer
// and by franz-go for keyed records. Any instance can compute a key's
// partition with it and so find the key's owner.
package murmur2

// Hash returns Kafka's murmur2 hash of data as a signed 32-bit integer, equal
// to Utils.murmur2 in Kafka's Java client.
func Hash(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	n4 := length / 4
	for i := 0; i < n4; i++ {
		i4 := i * 4
		k := uint32(data[i4]) | uint32(data[i4+1])<<8 | uint32(data[i4+2])<<16 | uint32(data[i4+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := length &^ 3
	switch length % 4 {
	case 3:
		h ^= uint32(data[tail+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[tail+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[tail])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// Partition returns the partition Kafka's default partitioner assigns to a
// record with the non-null key key among n partitions:
// (murmur2(key) & 0x7fffffff) % n.
func Partition(key []byte, n int) int32 {
	return int32((uint32(Hash(key)) & 0x7fffffff) % uint32(n))
}
