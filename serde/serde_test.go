package serde_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/seed992c72d9/streams/serde"
)

// roundTrip serializes v, checks the bytes, deserializes them and checks the
// value; when s is an Appender it checks AppendSerialize too.
func roundTrip[T any](t *testing.T, s serde.Serde[T], v T, wantBytes []byte) {
	t.Helper()
	b, err := s.Serialize(v)
	if err != nil {
		t.Fatalf("%s.Serialize(%#v): %v", serde.Name(s), v, err)
	}
	if !bytes.Equal(b, wantBytes) || (b == nil) != (wantBytes == nil) {
		t.Fatalf("%s.Serialize(%#v) = %#v, want %#v", serde.Name(s), v, b, wantBytes)
	}
	got, err := s.Deserialize(b)
	if err != nil {
		t.Fatalf("%s.Deserialize(%#v): %v", serde.Name(s), b, err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("%s round trip of %#v = %#v", serde.Name(s), v, got)
	}
	if a, ok := s.(serde.Appender[T]); ok {
		prefix := []byte("pre")
		out, notNull, err := a.AppendSerialize(prefix, v)
		if err != nil {
			t.Fatalf("%s.AppendSerialize(%#v): %v", serde.Name(s), v, err)
		}
		if notNull != (wantBytes != nil) || !bytes.Equal(out, append([]byte("pre"), wantBytes...)) {
			t.Fatalf("%s.AppendSerialize(pre, %#v) = %q, %t; want %q, %t",
				serde.Name(s), v, out, notNull, append([]byte("pre"), wantBytes...), wantBytes != nil)
		}
	}
}

func TestString(t *testing.T) {
	s := serde.String()
	roundTrip(t, s, "héllo", []byte("héllo"))
	roundTrip(t, s, "", []byte{})
	// Null decodes to the zero value.
	if v, err := s.Deserialize(nil); v != "" || err != nil {
		t.Errorf("Deserialize(nil) = %q, %v", v, err)
	}
	// The result does not alias the input.
	buf := []byte("abc")
	v, _ := s.Deserialize(buf)
	buf[0] = 'x'
	if v != "abc" {
		t.Errorf("Deserialize aliases its input: %q", v)
	}
}

func TestBytes(t *testing.T) {
	s := serde.Bytes()
	roundTrip(t, s, []byte{0, 1, 255}, []byte{0, 1, 255})
	roundTrip(t, s, []byte{}, []byte{})
	roundTrip(t, s, nil, nil)
	got, err := s.Deserialize([]byte{})
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("Deserialize(empty) = %#v, %v; want empty, non-nil", got, err)
	}
	got, err = s.Deserialize(nil)
	if err != nil || got != nil {
		t.Errorf("Deserialize(nil) = %#v, %v; want nil", got, err)
	}
	buf := []byte("abc")
	got, _ = s.Deserialize(buf)
	buf[0] = 'x'
	if string(got) != "abc" {
		t.Errorf("Deserialize aliases its input: %q", got)
	}
}

// TestBytesBorrowed checks the borrowing decode of Bytes: it shares the
// input's bytes, keeps nil and empty apart, and cuts the capacity so that
// appending to the result never writes past it into the caller's buffer.
func TestBytesBorrowed(t *testing.T) {
	b, ok := serde.Bytes().(serde.Borrower[[]byte])
	if !ok {
		t.Fatal("serde.Bytes() is not a Borrower")
	}
	batch := []byte("abcdef")
	got, err := b.DeserializeBorrowed(batch[:3])
	if err != nil || string(got) != "abc" || &got[0] != &batch[0] || cap(got) != 3 {
		t.Fatalf("DeserializeBorrowed = %q (cap %d, shared %v), %v; want abc sharing the input, cap 3", got, cap(got), len(got) > 0 && &got[0] == &batch[0], err)
	}
	_ = append(got, '!')
	if string(batch) != "abcdef" {
		t.Fatalf("appending to a borrowed value wrote into the input: %q", batch)
	}
	if got, err := b.DeserializeBorrowed(nil); err != nil || got != nil {
		t.Errorf("DeserializeBorrowed(nil) = %#v, %v; want nil", got, err)
	}
	if got, err := b.DeserializeBorrowed([]byte{}); err != nil || got == nil || len(got) != 0 {
		t.Errorf("DeserializeBorrowed(empty) = %#v, %v; want empty, non-nil", got, err)
	}
}

func TestFixedWidth(t *testing.T) {
	roundTrip(t, serde.Int32(), 0, []byte{0, 0, 0, 0})
	roundTrip(t, serde.Int32(), 258, []byte{0, 0, 1, 2})
	roundTrip(t, serde.Int32(), -1, []byte{0xff, 0xff, 0xff, 0xff})
	roundTrip(t, serde.Int32(), math.MinInt32, []byte{0x80, 0, 0, 0})
	roundTrip(t, serde.Int64(), 258, []byte{0, 0, 0, 0, 0, 0, 1, 2})
	roundTrip(t, serde.Int64(), -2, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe})
	roundTrip(t, serde.Int64(), math.MaxInt64, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	roundTrip(t, serde.Float64(), 1.5, []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0})
	roundTrip(t, serde.Float64(), 0, []byte{0, 0, 0, 0, 0, 0, 0, 0})
	roundTrip(t, serde.Float64(), math.Copysign(0, -1), []byte{0x80, 0, 0, 0, 0, 0, 0, 0})
	roundTrip(t, serde.Float64(), math.Inf(-1), []byte{0xff, 0xf0, 0, 0, 0, 0, 0, 0})
	roundTrip(t, serde.Bool(), true, []byte{1})
	roundTrip(t, serde.Bool(), false, []byte{0})

	// NaN is not equal to itself; check its bits.
	b, _ := serde.Float64().Serialize(math.NaN())
	if v, err := serde.Float64().Deserialize(b); err != nil || !math.IsNaN(v) {
		t.Errorf("NaN round trip = %v, %v", v, err)
	}
	// Null decodes to zero.
	if v, err := serde.Int32().Deserialize(nil); v != 0 || err != nil {
		t.Errorf("Int32.Deserialize(nil) = %v, %v", v, err)
	}
	if v, err := serde.Int64().Deserialize(nil); v != 0 || err != nil {
		t.Errorf("Int64.Deserialize(nil) = %v, %v", v, err)
	}
	if v, err := serde.Float64().Deserialize(nil); v != 0 || err != nil {
		t.Errorf("Float64.Deserialize(nil) = %v, %v", v, err)
	}
	if v, err := serde.Bool().Deserialize(nil); v || err != nil {
		t.Errorf("Bool.Deserialize(nil) = %v, %v", v, err)
	}
}

func TestWrongSize(t *testing.T) {
	cases := []struct {
		name string
		de   func([]byte) error
		in   []byte
		want string
	}{
		{"Int32", func(b []byte) error { _, err := serde.Int32().Deserialize(b); return err }, []byte{1, 2, 3},
			"serde.Int32: wrong data size: got 3 bytes, want 4"},
		{"Int32 empty", func(b []byte) error { _, err := serde.Int32().Deserialize(b); return err }, []byte{},
			"serde.Int32: wrong data size: got 0 bytes, want 4"},
		{"Int64", func(b []byte) error { _, err := serde.Int64().Deserialize(b); return err }, []byte{1, 2, 3},
			"serde.Int64: wrong data size: got 3 bytes, want 8"},
		{"Int64 long", func(b []byte) error { _, err := serde.Int64().Deserialize(b); return err }, make([]byte, 9),
			"serde.Int64: wrong data size: got 9 bytes, want 8"},
		{"Float64", func(b []byte) error { _, err := serde.Float64().Deserialize(b); return err }, []byte{1},
			"serde.Float64: wrong data size: got 1 bytes, want 8"},
		{"Bool", func(b []byte) error { _, err := serde.Bool().Deserialize(b); return err }, []byte{1, 0},
			"serde.Bool: wrong data size: got 2 bytes, want 1"},
	}
	for _, c := range cases {
		err := c.de(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: error = %v, want %q", c.name, err, c.want)
			continue
		}
		if !errors.Is(err, serde.ErrSize) {
			t.Errorf("%s: errors.Is(err, ErrSize) = false", c.name)
		}
	}
	_, err := serde.Bool().Deserialize([]byte{2})
	if err == nil || err.Error() != "serde.Bool: byte 0x2 is neither 0 nor 1" {
		t.Errorf("Bool.Deserialize([2]) error = %v", err)
	}
	if errors.Is(err, serde.ErrSize) {
		t.Errorf("Bool.Deserialize([2]) error wraps ErrSize")
	}
}

type point struct {
	X int    `json:"x"`
	Y string `json:"y,omitempty"`
}

func TestJSON(t *testing.T) {
	roundTrip(t, serde.JSON[point](), point{X: 1, Y: "a"}, []byte(`{"x":1,"y":"a"}`))
	roundTrip(t, serde.JSON[point](), point{}, []byte(`{"x":0}`))
	roundTrip(t, serde.JSON[int](), 0, []byte(`0`))
	roundTrip(t, serde.JSON[string](), "", []byte(`""`))

	// Pointers, slices and maps: nil is null bytes, empty is not.
	roundTrip(t, serde.JSON[*point](), nil, nil)
	roundTrip(t, serde.JSON[*point](), &point{X: 2}, []byte(`{"x":2}`))
	roundTrip(t, serde.JSON[[]int](), nil, nil)
	roundTrip(t, serde.JSON[[]int](), []int{}, []byte(`[]`))
	roundTrip(t, serde.JSON[[]int](), []int{1, 2}, []byte(`[1,2]`))
	roundTrip(t, serde.JSON[map[string]int](), nil, nil)
	roundTrip(t, serde.JSON[map[string]int](), map[string]int{}, []byte(`{}`))
	roundTrip(t, serde.JSON[map[string]int](), map[string]int{"a": 1}, []byte(`{"a":1}`))
	roundTrip(t, serde.JSON[any](), nil, nil)
	roundTrip(t, serde.JSON[any](), "s", []byte(`"s"`))

	// The text null also decodes to nil.
	if v, err := serde.JSON[*point]().Deserialize([]byte("null")); v != nil || err != nil {
		t.Errorf("JSON[*point].Deserialize(null) = %v, %v", v, err)
	}
	if v, err := serde.JSON[point]().Deserialize(nil); v != (point{}) || err != nil {
		t.Errorf("JSON[point].Deserialize(nil) = %v, %v", v, err)
	}

	_, err := serde.JSON[point]().Deserialize([]byte(`{"x":"no"}`))
	if want := `serde.JSON[serde_test.point]: json: cannot unmarshal string into Go struct field point.x of type int`; err == nil || err.Error() != want {
		t.Errorf("Deserialize type error = %v, want %q", err, want)
	}
	_, err = serde.JSON[[]int]().Deserialize([]byte(`[1,`))
	if want := `serde.JSON[[]int]: unexpected end of JSON input`; err == nil || err.Error() != want {
		t.Errorf("Deserialize syntax error = %v, want %q", err, want)
	}
	_, err = serde.JSON[func()]().Serialize(func() {})
	if want := `serde.JSON[func()]: json: unsupported type: func()`; err == nil || err.Error() != want {
		t.Errorf("Serialize error = %v, want %q", err, want)
	}
	if got := serde.Name(serde.JSON[map[string]int]()); got != "serde.JSON[map[string]int]" {
		t.Errorf("Name = %q", got)
	}
}

func TestNullable(t *testing.T) {
	s := serde.Nullable(serde.String())
	empty, hello := "", "hello"
	roundTrip(t, s, nil, nil)
	roundTrip(t, s, &empty, []byte{})
	roundTrip(t, s, &hello, []byte("hello"))
	if got := serde.Name(s); got != "serde.Nullable(serde.String)" {
		t.Errorf("Name = %q", got)
	}

	// An inner serde that encodes a value as nil bytes still yields a
	// value, not a tombstone.
	n := serde.Nullable(serde.JSON[[]int]())
	var nilSlice []int
	b, err := n.Serialize(&nilSlice)
	if err != nil || b == nil || len(b) != 0 {
		t.Errorf("Serialize(&nil slice) = %#v, %v; want empty, non-nil", b, err)
	}

	// Errors of the inner serde come through.
	_, err = serde.Nullable(serde.Int32()).Deserialize([]byte{1})
	if want := "serde.Int32: wrong data size: got 1 bytes, want 4"; err == nil || err.Error() != want {
		t.Errorf("Deserialize error = %v, want %q", err, want)
	}
	_, err = serde.Nullable(serde.JSON[func()]()).Serialize(new(func()))
	if want := "serde.JSON[func()]: json: unsupported type: func()"; err == nil || err.Error() != want {
		t.Errorf("Serialize error = %v, want %q", err, want)
	}
}

func TestFuncs(t *testing.T) {
	s := serde.Funcs(
		func(v int) ([]byte, error) {
			if v < 0 {
				return nil, errors.New("negative")
			}
			return []byte{byte(v)}, nil
		},
		func(b []byte) (int, error) { return len(b) * 10, nil },
	)
	b, err := s.Serialize(7)
	if err != nil || !bytes.Equal(b, []byte{7}) {
		t.Errorf("Serialize(7) = %v, %v", b, err)
	}
	if _, err := s.Serialize(-1); err == nil || err.Error() != "negative" {
		t.Errorf("Serialize(-1) error = %v", err)
	}
	if v, err := s.Deserialize([]byte{1, 2}); v != 20 || err != nil {
		t.Errorf("Deserialize = %v, %v", v, err)
	}
	if _, ok := s.(serde.Appender[int]); ok {
		t.Errorf("Funcs serde implements Appender")
	}
}

func TestFor(t *testing.T) {
	check := func(name string, got any, ok bool, want any) {
		t.Helper()
		if !ok || got != want {
			t.Errorf("For[%s]() = %v, %v; want %v", name, got, ok, want)
		}
	}
	s1, ok := serde.For[string]()
	check("string", s1, ok, serde.String())
	s2, ok := serde.For[[]byte]()
	check("[]byte", s2, ok, serde.Bytes())
	s3, ok := serde.For[int32]()
	check("int32", s3, ok, serde.Int32())
	s4, ok := serde.For[int64]()
	check("int64", s4, ok, serde.Int64())
	s5, ok := serde.For[float64]()
	check("float64", s5, ok, serde.Float64())
	s6, ok := serde.For[bool]()
	check("bool", s6, ok, serde.Bool())

	if s, ok := serde.For[int](); ok || s != nil {
		t.Errorf("For[int]() = %v, %v; want nil, false", s, ok)
	}
	if s, ok := serde.For[point](); ok || s != nil {
		t.Errorf("For[point]() = %v, %v; want nil, false", s, ok)
	}
	type myString string
	if s, ok := serde.For[myString](); ok || s != nil {
		t.Errorf("For[myString]() = %v, %v; want nil, false", s, ok)
	}
}

func TestName(t *testing.T) {
	cases := []struct {
		s    any
		want string
	}{
		{serde.String(), "serde.String"},
		{serde.Bytes(), "serde.Bytes"},
		{serde.Int32(), "serde.Int32"},
		{serde.Int64(), "serde.Int64"},
		{serde.Float64(), "serde.Float64"},
		{serde.Bool(), "serde.Bool"},
		{serde.JSON[point](), "serde.JSON[serde_test.point]"},
		{serde.Nullable(serde.Int64()), "serde.Nullable(serde.Int64)"},
		{42, "int"},
	}
	for _, c := range cases {
		if got := serde.Name(c.s); got != c.want {
			t.Errorf("Name(%T) = %q, want %q", c.s, got, c.want)
		}
	}
}
