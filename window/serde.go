package window

import (
	"encoding/binary"
	"fmt"

	"github.com/seed992c72d9/streams/serde"
)

// TimeWindowedSerde encodes a time-windowed key as the key's bytes followed
// by the 8-byte big-endian window start (Kafka Streams' TimeWindowedSerde);
// the end is start + sizeMs.
func TimeWindowedSerde[K any](inner serde.Serde[K], sizeMs int64) serde.Serde[Windowed[K]] {
	return timeWindowed[K]{inner, sizeMs}
}

type timeWindowed[K any] struct {
	inner  serde.Serde[K]
	sizeMs int64
}

func (s timeWindowed[K]) String() string {
	return fmt.Sprintf("window.TimeWindowedSerde(%s, %d)", serde.Name(s.inner), s.sizeMs)
}

func (s timeWindowed[K]) Serialize(w Windowed[K]) ([]byte, error) {
	out, notNull, err := s.AppendSerialize(nil, w)
	if err != nil || !notNull {
		return nil, err
	}
	return out, nil
}

// AppendSerialize implements [serde.Appender]: the key's bytes, then the
// 8-byte window start. A key its inner serde reports as null is null.
func (s timeWindowed[K]) AppendSerialize(dst []byte, w Windowed[K]) ([]byte, bool, error) {
	out, notNull, err := appendInner(s.inner, dst, w.Key)
	if err != nil || !notNull {
		return dst, false, err
	}
	return binary.BigEndian.AppendUint64(out, uint64(w.Window.Start)), true, nil
}

// appendInner appends the encoding of k to dst with an appending inner
// serde. Without one it appends what the inner Serialize returns and never
// reports null: the window then follows the key's bytes even when there are
// none.
func appendInner[K any](inner serde.Serde[K], dst []byte, k K) ([]byte, bool, error) {
	if a, ok := inner.(serde.Appender[K]); ok {
		return a.AppendSerialize(dst, k)
	}
	b, err := inner.Serialize(k)
	if err != nil {
		return dst, false, err
	}
	return append(dst, b...), true, nil
}

func (s timeWindowed[K]) Deserialize(data []byte) (Windowed[K], error) {
	var out Windowed[K]
	if data == nil {
		return out, nil
	}
	if len(data) < 8 {
		return out, fmt.Errorf("window: time-windowed key: %w: got %d bytes, want at least 8", serde.ErrSize, len(data))
	}
	k, err := s.inner.Deserialize(data[:len(data)-8])
	if err != nil {
		return out, err
	}
	start := int64(binary.BigEndian.Uint64(data[len(data)-8:]))
	return Windowed[K]{Key: k, Window: Window{Start: start, End: start + s.sizeMs}}, nil
}

// SessionWindowedSerde encodes a session-windowed key as the key's bytes, the
// 8-byte big-endian session end, then the 8-byte start (Kafka Streams'
// SessionWindowedSerde).
func SessionWindowedSerde[K any](inner serde.Serde[K]) serde.Serde[Windowed[K]] {
	return sessionWindowed[K]{inner}
}

type sessionWindowed[K any] struct{ inner serde.Serde[K] }

func (s sessionWindowed[K]) String() string {
	return fmt.Sprintf("window.SessionWindowedSerde(%s)", serde.Name(s.inner))
}

func (s sessionWindowed[K]) Serialize(w Windowed[K]) ([]byte, error) {
	out, _, err := s.AppendSerialize(nil, w)
	return out, err
}

// AppendSerialize implements [serde.Appender]: the key's bytes (none for a
// null key), the 8-byte session end, then the start. It is never null.
func (s sessionWindowed[K]) AppendSerialize(dst []byte, w Windowed[K]) ([]byte, bool, error) {
	out, _, err := appendInner(s.inner, dst, w.Key)
	if err != nil {
		return dst, false, err
	}
	out = binary.BigEndian.AppendUint64(out, uint64(w.Window.End))
	return binary.BigEndian.AppendUint64(out, uint64(w.Window.Start)), true, nil
}

func (s sessionWindowed[K]) Deserialize(data []byte) (Windowed[K], error) {
	var out Windowed[K]
	if data == nil {
		return out, nil
	}
	if len(data) < 16 {
		return out, fmt.Errorf("window: session-windowed key: %w: got %d bytes, want at least 16", serde.ErrSize, len(data))
	}
	n := len(data) - 16
	k, err := s.inner.Deserialize(data[:n])
	if err != nil {
		return out, err
	}
	end := int64(binary.BigEndian.Uint64(data[n : n+8]))
	start := int64(binary.BigEndian.Uint64(data[n+8:]))
	return Windowed[K]{Key: k, Window: Window{Start: start, End: end}}, nil
}
