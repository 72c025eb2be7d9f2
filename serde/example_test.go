package serde_test

import (
	"fmt"

	"github.com/seed992c72d9/streams/serde"
)

func ExampleString() {
	s := serde.String()
	b, _ := s.Serialize("héllo")
	fmt.Printf("% x\n", b) // UTF-8 bytes

	empty, _ := s.Serialize("")
	fmt.Println(empty == nil, len(empty)) // "" is an empty value, not null

	v, _ := s.Deserialize(nil) // null decodes to the zero value
	fmt.Printf("%q\n", v)
	// Output:
	// 68 c3 a9 6c 6c 6f
	// false 0
	// ""
}

func ExampleInt64() {
	s := serde.Int64()
	b, _ := s.Serialize(258)
	fmt.Printf("% x\n", b) // 8 bytes, big-endian: Kafka's LongSerializer format

	_, err := s.Deserialize([]byte{1, 2})
	fmt.Println(err)
	// Output:
	// 00 00 00 00 00 00 01 02
	// serde.Int64: wrong data size: got 2 bytes, want 8
}

func ExampleJSON() {
	type Order struct {
		ID    string  `json:"id"`
		Total float64 `json:"total"`
	}
	s := serde.JSON[Order]()
	b, _ := s.Serialize(Order{ID: "o-1", Total: 9.5})
	fmt.Println(string(b))

	o, _ := s.Deserialize([]byte(`{"id":"o-2","total":3}`))
	fmt.Printf("%+v\n", o)

	// For pointer, slice and map types a nil value is null (nil bytes), not
	// the text "null", so it round-trips as a tombstone.
	p := serde.JSON[*Order]()
	nb, _ := p.Serialize(nil)
	fmt.Println(nb == nil)

	_, err := s.Deserialize([]byte(`{`))
	fmt.Println(err)
	// Output:
	// {"id":"o-1","total":9.5}
	// {ID:o-2 Total:3}
	// true
	// serde.JSON[serde_test.Order]: unexpected end of JSON input
}

func ExampleNullable() {
	s := serde.Nullable(serde.String())

	b, _ := s.Serialize(nil)
	fmt.Println(b == nil) // nil pointer -> null

	empty := ""
	b, _ = s.Serialize(&empty)
	fmt.Println(b == nil) // pointer to "" -> empty, non-null bytes

	v, _ := s.Deserialize(nil)
	fmt.Println(v == nil) // null -> nil pointer

	v, _ = s.Deserialize([]byte("x"))
	fmt.Println(*v)
	fmt.Println(serde.Name(s))
	// Output:
	// true
	// false
	// true
	// x
	// serde.Nullable(serde.String)
}

func ExampleFor() {
	s, ok := serde.For[int32]()
	fmt.Println(serde.Name(s), ok)

	_, ok = serde.For[struct{ A int }]()
	fmt.Println(ok)
	// Output:
	// serde.Int32 true
	// false
}

func ExampleFuncs() {
	// A serde for a custom type from two functions.
	type Celsius float64
	inner := serde.Float64()
	s := serde.Funcs(
		func(c Celsius) ([]byte, error) { return inner.Serialize(float64(c)) },
		func(b []byte) (Celsius, error) { f, err := inner.Deserialize(b); return Celsius(f), err },
	)
	b, _ := s.Serialize(21.5)
	c, _ := s.Deserialize(b)
	fmt.Println(len(b), c)
	// Output:
	// 8 21.5
}
