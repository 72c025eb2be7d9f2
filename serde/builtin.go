package serde

import (
	"encoding/binary"
	"fmt"
	"math"
)

// String returns a serde for UTF-8 strings. Nil bytes decode to "", and ""
// encodes to empty (non-nil) bytes.
func String() Serde[string] { return stringSerde{} }

type stringSerde struct{}

func (stringSerde) String() string { return "serde.String" }

func (stringSerde) Serialize(v string) ([]byte, error) {
	if v == "" {
		return []byte{}, nil
	}
	return []byte(v), nil
}

func (stringSerde) AppendSerialize(dst []byte, v string) ([]byte, bool, error) {
	return append(dst, v...), true, nil
}

func (stringSerde) Deserialize(data []byte) (string, error) { return string(data), nil }

// Bytes returns a serde that passes bytes through. Serialize returns its
// argument and Deserialize a copy of its input; nil stays nil and an empty
// slice stays empty. It is a [Borrower]: the keys and values of input
// records it decodes at a source share the fetched bytes (see Borrower for
// what a processor may do with them).
func Bytes() Serde[[]byte] { return bytesSerde{} }

type bytesSerde struct{}

func (bytesSerde) String() string { return "serde.Bytes" }

func (bytesSerde) Serialize(v []byte) ([]byte, error) { return v, nil }

func (bytesSerde) AppendSerialize(dst []byte, v []byte) ([]byte, bool, error) {
	if v == nil {
		return dst, false, nil
	}
	return append(dst, v...), true, nil
}

// DeserializeBorrowed returns data itself, its capacity cut to its length.
func (bytesSerde) DeserializeBorrowed(data []byte) ([]byte, error) {
	if data == nil {
		return nil, nil
	}
	return data[:len(data):len(data)], nil
}

func (bytesSerde) Deserialize(data []byte) ([]byte, error) {
	if data == nil {
		return nil, nil
	}
	out := make([]byte, len(data))
	copy(out, data)
	return out, nil
}

// Int32 returns a serde for 4-byte big-endian integers, Kafka's
// IntegerSerializer format. Nil bytes decode to 0.
func Int32() Serde[int32] { return int32Serde{} }

type int32Serde struct{}

func (int32Serde) String() string { return "serde.Int32" }

func (int32Serde) Serialize(v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), uint32(v)), nil
}

func (int32Serde) AppendSerialize(dst []byte, v int32) ([]byte, bool, error) {
	return binary.BigEndian.AppendUint32(dst, uint32(v)), true, nil
}

func (int32Serde) Deserialize(data []byte) (int32, error) {
	if data == nil {
		return 0, nil
	}
	if len(data) != 4 {
		return 0, fmt.Errorf("serde.Int32: %w: got %d bytes, want 4", ErrSize, len(data))
	}
	return int32(binary.BigEndian.Uint32(data)), nil
}

// Int64 returns a serde for 8-byte big-endian integers, Kafka's
// LongSerializer format. Nil bytes decode to 0.
func Int64() Serde[int64] { return int64Serde{} }

type int64Serde struct{}

func (int64Serde) String() string { return "serde.Int64" }

func (int64Serde) Serialize(v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)), nil
}

func (int64Serde) AppendSerialize(dst []byte, v int64) ([]byte, bool, error) {
	return binary.BigEndian.AppendUint64(dst, uint64(v)), true, nil
}

func (int64Serde) Deserialize(data []byte) (int64, error) {
	if data == nil {
		return 0, nil
	}
	if len(data) != 8 {
		return 0, fmt.Errorf("serde.Int64: %w: got %d bytes, want 8", ErrSize, len(data))
	}
	return int64(binary.BigEndian.Uint64(data)), nil
}

// Float64 returns a serde for 8-byte big-endian IEEE 754 doubles, Kafka's
// DoubleSerializer format. Nil bytes decode to 0.
func Float64() Serde[float64] { return float64Serde{} }

type float64Serde struct{}

func (float64Serde) String() string { return "serde.Float64" }

func (float64Serde) Serialize(v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), math.Float64bits(v)), nil
}

func (float64Serde) AppendSerialize(dst []byte, v float64) ([]byte, bool, error) {
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(v)), true, nil
}

func (float64Serde) Deserialize(data []byte) (float64, error) {
	if data == nil {
		return 0, nil
	}
	if len(data) != 8 {
		return 0, fmt.Errorf("serde.Float64: %w: got %d bytes, want 8", ErrSize, len(data))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(data)), nil
}

// Bool returns a serde for one-byte booleans (0 or 1), Kafka's
// BooleanSerializer format. Nil bytes decode to false.
func Bool() Serde[bool] { return boolSerde{} }

type boolSerde struct{}

func (boolSerde) String() string { return "serde.Bool" }

func (boolSerde) Serialize(v bool) ([]byte, error) {
	if v {
		return []byte{1}, nil
	}
	return []byte{0}, nil
}

func (boolSerde) AppendSerialize(dst []byte, v bool) ([]byte, bool, error) {
	if v {
		return append(dst, 1), true, nil
	}
	return append(dst, 0), true, nil
}

func (boolSerde) Deserialize(data []byte) (bool, error) {
	if data == nil {
		return false, nil
	}
	if len(data) != 1 {
		return false, fmt.Errorf("serde.Bool: %w: got %d bytes, want 1", ErrSize, len(data))
	}
	switch data[0] {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("serde.Bool: byte %#x is neither 0 nor 1", data[0])
}
