package serde

import "fmt"

// Nullable wraps s into a serde for *T that keeps null apart from every T: a
// nil pointer encodes to nil bytes and nil bytes decode to a nil pointer; any
// other value goes through s. Use it to read topics with tombstones into
// value types, such as Nullable(String()).
func Nullable[T any](s Serde[T]) Serde[*T] { return nullable[T]{s} }

type nullable[T any] struct{ inner Serde[T] }

func (n nullable[T]) String() string { return fmt.Sprintf("serde.Nullable(%s)", Name(n.inner)) }

func (n nullable[T]) Serialize(v *T) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := n.inner.Serialize(*v)
	if err != nil {
		return nil, err
	}
	if b == nil {
		// The inner serde encoded a non-null value as null: keep it a
		// value, not a tombstone.
		b = []byte{}
	}
	return b, nil
}

func (n nullable[T]) Deserialize(data []byte) (*T, error) {
	if data == nil {
		return nil, nil
	}
	v, err := n.inner.Deserialize(data)
	if err != nil {
		return nil, err
	}
	return &v, nil
}
