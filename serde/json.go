package serde

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// JSON returns a serde that encodes T with encoding/json. Nil bytes decode to
// the zero T; a nil pointer, slice, map or interface encodes to nil bytes
// (null), so that it round-trips as a tombstone rather than the text "null".
func JSON[T any]() Serde[T] {
	return jsonSerde[T]{nillable: nillable(reflect.TypeFor[T]())}
}

type jsonSerde[T any] struct{ nillable bool }

func (jsonSerde[T]) String() string { return fmt.Sprintf("serde.JSON[%s]", reflect.TypeFor[T]()) }

func (s jsonSerde[T]) Serialize(v T) ([]byte, error) {
	if s.nillable && isNil(v) {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("serde.JSON[%s]: %w", reflect.TypeFor[T](), err)
	}
	return b, nil
}

func (s jsonSerde[T]) Deserialize(data []byte) (T, error) {
	var v T
	if data == nil {
		return v, nil
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("serde.JSON[%s]: %w", reflect.TypeFor[T](), err)
	}
	return v, nil
}

func nillable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	}
	return false
}

func isNil[T any](v T) bool {
	rv := reflect.ValueOf(&v).Elem()
	return rv.IsNil()
}
