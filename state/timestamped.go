package state

import (
	"encoding/binary"
	"fmt"

	"github.com/seed992c72d9/streams/serde"
)

// ValueAndTimestamp is a value with the timestamp of the record that last
// updated it, as the DSL's table stores keep them.
type ValueAndTimestamp[V any] struct {
	Value     V
	Timestamp int64
}

// TimestampedSerde encodes a ValueAndTimestamp as an 8-byte big-endian
// timestamp followed by the value's bytes. A value that encodes to nil
// encodes to nil (a delete).
func TimestampedSerde[V any](vs serde.Serde[V]) serde.Serde[ValueAndTimestamp[V]] {
	return tsSerde[V]{vs}
}

type tsSerde[V any] struct{ vs serde.Serde[V] }

func (t tsSerde[V]) Serialize(v ValueAndTimestamp[V]) ([]byte, error) {
	b, err := t.vs.Serialize(v.Value)
	if err != nil || b == nil {
		return nil, err
	}
	out := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(b)), uint64(v.Timestamp))
	return append(out, b...), nil
}

// AppendSerialize implements serde.Appender: the timestamp, then the
// value, appended in place when the value serde can append.
func (t tsSerde[V]) AppendSerialize(dst []byte, v ValueAndTimestamp[V]) ([]byte, bool, error) {
	a, ok := t.vs.(serde.Appender[V])
	if !ok {
		b, err := t.Serialize(v)
		if err != nil || b == nil {
			return dst, false, err
		}
		return append(dst, b...), true, nil
	}
	out, notNull, err := a.AppendSerialize(binary.BigEndian.AppendUint64(dst, uint64(v.Timestamp)), v.Value)
	if err != nil || !notNull {
		return dst, false, err
	}
	return out, true, nil
}

func (t tsSerde[V]) Deserialize(data []byte) (ValueAndTimestamp[V], error) {
	var out ValueAndTimestamp[V]
	if data == nil {
		return out, nil
	}
	if len(data) < 8 {
		return out, fmt.Errorf("timestamped value: %w: got %d bytes, want at least 8", serde.ErrSize, len(data))
	}
	out.Timestamp = int64(binary.BigEndian.Uint64(data))
	v, err := t.vs.Deserialize(data[8:])
	out.Value = v
	return out, err
}

// TimestampedKeyValueStoreBuilder describes a key-value store whose values
// carry timestamps. Its changelog records hold the plain value with the
// timestamp as record timestamp, as Kafka Streams' timestamped stores do.
func TimestampedKeyValueStoreBuilder[K, V any](name string, ks serde.Serde[K], vs serde.Serde[V], opts ...StoreOption) *KeyValueBuilder[K, ValueAndTimestamp[V]] {
	b := KeyValueStoreBuilder(name, ks, TimestampedSerde(vs), opts...)
	b.timestamped = true
	return b
}
