// Package serde turns typed keys and values into Kafka record bytes and back.
//
// A [Serde] is a pair of functions that may fail. Null (a Kafka record key or
// value that is absent) is represented by nil bytes. Every serde maps nil
// bytes to the zero value of its type; for types whose zero value is nil
// (pointers, slices, maps) the null value and an empty value stay distinct:
// [Bytes] keeps []byte(nil) apart from []byte{}, [Nullable] keeps a nil
// pointer apart from a pointer to an empty value, and [JSON] encodes a nil
// pointer, slice or map as null bytes rather than the text "null". Serdes for
// value types (strings, numbers, booleans) never produce nil bytes.
//
// Serdes are safe for concurrent use.
package serde

import (
	"errors"
	"fmt"
	"reflect"
)

// Serde serializes and deserializes values of type T.
type Serde[T any] interface {
	// Serialize encodes v. It returns nil for a null v.
	Serialize(v T) ([]byte, error)
	// Deserialize decodes data, which may be nil (null). The returned value
	// must not alias data: callers may reuse the buffer.
	Deserialize(data []byte) (T, error)
}

// Appender is implemented by serdes that can encode into a caller's buffer
// without allocating.
type Appender[T any] interface {
	// AppendSerialize appends the encoding of v to dst. The second result is
	// false when v is null (nothing was appended).
	AppendSerialize(dst []byte, v T) ([]byte, bool, error)
}

// Borrower is implemented by serdes that can decode without copying, for
// callers that never modify or reuse the decoded buffer. The runtime uses it
// for the records it fetches from Kafka, never for store reads: with
// [Bytes], the values (and keys) a source forwards share the fetched
// record's bytes instead of being copied, as Kafka Streams' byte-array
// deserializer hands over the consumer's array.
//
// A processor must not modify such bytes in place (appending to them is
// safe: their capacity ends with them, so append copies), and one that keeps
// them past its record in its own memory (not in a store, which copies)
// should copy them: they otherwise keep the whole fetched batch in memory.
type Borrower[T any] interface {
	// DeserializeBorrowed decodes data as Deserialize does, but the result
	// may alias data.
	DeserializeBorrowed(data []byte) (T, error)
}

// ErrSize is wrapped by errors from fixed-width serdes given data of the
// wrong length.
var ErrSize = errors.New("wrong data size")

// Funcs builds a Serde from two functions.
func Funcs[T any](serialize func(T) ([]byte, error), deserialize func([]byte) (T, error)) Serde[T] {
	return funcs[T]{serialize, deserialize}
}

type funcs[T any] struct {
	ser func(T) ([]byte, error)
	de  func([]byte) (T, error)
}

func (f funcs[T]) Serialize(v T) ([]byte, error)      { return f.ser(v) }
func (f funcs[T]) Deserialize(data []byte) (T, error) { return f.de(data) }

// For returns the built-in serde for T when T is string, []byte, int32,
// int64, float64 or bool, and false otherwise.
func For[T any]() (Serde[T], bool) {
	var s any
	switch reflect.TypeFor[T]() {
	case reflect.TypeFor[string]():
		s = String()
	case reflect.TypeFor[[]byte]():
		s = Bytes()
	case reflect.TypeFor[int32]():
		s = Int32()
	case reflect.TypeFor[int64]():
		s = Int64()
	case reflect.TypeFor[float64]():
		s = Float64()
	case reflect.TypeFor[bool]():
		s = Bool()
	default:
		return nil, false
	}
	return s.(Serde[T]), true
}

// Name returns a short description of s for error messages, such as
// "serde.String" or the serde's type.
func Name(s any) string {
	if n, ok := s.(interface{ String() string }); ok {
		return n.String()
	}
	return fmt.Sprintf("%T", s)
}
