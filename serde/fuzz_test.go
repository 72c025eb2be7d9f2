package serde_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/seed992c72d9/streams/serde"
)

// The fuzz targets below feed arbitrary bytes, as a topic or a changelog
// may hold them, to the built-in serdes. Each decoder must return a value
// or an error, never panic, and a decoded value must encode back to the
// same bytes (fixed-width formats) or to bytes that decode to the same
// value (JSON). `go test` runs the seeds; `go test -fuzz=FuzzX` explores.

// fixedWidth checks a fixed-width serde: data of the right size decodes
// and encodes back to itself; other sizes are an ErrSize error.
func fixedWidth[T any](t *testing.T, s serde.Serde[T], size int, data []byte) {
	v, err := s.Deserialize(data)
	if len(data) != size {
		if err == nil || (!errors.Is(err, serde.ErrSize) && size != 1) {
			t.Fatalf("%s.Deserialize(%x) = %v, %v; want a size error", serde.Name(s), data, v, err)
		}
		return
	}
	if err != nil {
		if size == 1 { // a bool byte other than 0 and 1
			return
		}
		t.Fatalf("%s.Deserialize(%x): %v", serde.Name(s), data, err)
	}
	b, err := s.Serialize(v)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("%s: %x decodes to %v, which encodes to %x, %v", serde.Name(s), data, v, b, err)
	}
	if a, ok := s.(serde.Appender[T]); ok {
		b, notNull, err := a.AppendSerialize([]byte("pre"), v)
		if err != nil || !notNull || !bytes.Equal(b, append([]byte("pre"), data...)) {
			t.Fatalf("%s.AppendSerialize(%v) = %x, %v, %v", serde.Name(s), v, b, notNull, err)
		}
	}
}

func addSizes(f *testing.F, sizes ...int) {
	f.Add([]byte{})
	for _, n := range sizes {
		f.Add(bytes.Repeat([]byte{0xff}, n))
		f.Add(make([]byte, n))
	}
}

func FuzzInt32(f *testing.F) {
	addSizes(f, 3, 4, 5)
	f.Add([]byte{0x80, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) { fixedWidth(t, serde.Int32(), 4, data) })
}

func FuzzInt64(f *testing.F) {
	addSizes(f, 7, 8, 9)
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) { fixedWidth(t, serde.Int64(), 8, data) })
}

func FuzzFloat64(f *testing.F) {
	addSizes(f, 7, 8, 9)
	for _, v := range []float64{math.NaN(), math.Inf(-1), math.Copysign(0, -1), math.SmallestNonzeroFloat64, 1.5} {
		b, _ := serde.Float64().Serialize(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fixedWidth(t, serde.Float64(), 8, data) })
}

func FuzzBool(f *testing.F) {
	addSizes(f, 1, 2)
	f.Add([]byte{1})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) { fixedWidth(t, serde.Bool(), 1, data) })
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "hello", "\xff\xfe", "日本語", "a\x00b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := serde.String()
		v, err := s.Deserialize(data)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Serialize(v)
		if err != nil || !bytes.Equal(b, data) || b == nil {
			t.Fatalf("%q encodes to %q, %v", data, b, err)
		}
	})
}

func FuzzBytes(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := serde.Bytes().Deserialize(data)
		if err != nil || !bytes.Equal(v, data) || v == nil {
			t.Fatalf("%x decodes to %x, %v", data, v, err)
		}
		if len(data) > 0 {
			v[0]++
			if v[0] == data[0] {
				t.Fatal("the decoded bytes alias the input")
			}
		}
	})
}

// jsonRecord is a value with the kinds of fields JSON values have.
type jsonRecord struct {
	Name    string           `json:"name"`
	Count   int64            `json:"count"`
	Ratio   float64          `json:"ratio"`
	On      bool             `json:"on"`
	Tags    []string         `json:"tags"`
	Attrs   map[string]int32 `json:"attrs"`
	Nested  *jsonRecord      `json:"nested"`
	Raw     []byte           `json:"raw"`
	Any     any              `json:"any"`
	private int
}

// jsonStable checks that what JSON[T] decodes encodes to bytes that decode
// to the same value.
func jsonStable[T any](t *testing.T, data []byte) {
	s := serde.JSON[T]()
	v, err := s.Deserialize(data)
	if err != nil {
		return
	}
	b, err := s.Serialize(v)
	if err != nil {
		t.Fatalf("%s: %q decodes to %#v, which does not encode: %v", serde.Name(s), data, v, err)
	}
	if b == nil { // a nil pointer, slice or map is null
		if !reflect.ValueOf(&v).Elem().IsZero() {
			t.Fatalf("%s: %#v encodes to null", serde.Name(s), v)
		}
		return
	}
	w, err := s.Deserialize(b)
	if err != nil || !reflect.DeepEqual(v, w) {
		t.Fatalf("%s: %q decodes to %#v, which encodes to %q, which decodes to %#v, %v", serde.Name(s), data, v, b, w, err)
	}
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","count":9007199254740993,"ratio":1e-300,"on":true,"tags":["x",""],"attrs":{"k":-2147483648},` +
			`"nested":{"name":"b","nested":null},"raw":"AAE=","any":[1,"s",{"m":null}]}`,
		`null`, `{}`, `[]`, `"x"`, `1e400`, `{"count":1.5}`, `{"name":"\ud800"}`, `{"any":{"a":[[[[]]]]}}`,
		`{"tags":null,"attrs":null}`, "\xef\xbb\xbf{}", ` {"name": "spaces" } `, `{"Name":"case"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		jsonStable[jsonRecord](t, data)
		jsonStable[*jsonRecord](t, data)
		jsonStable[map[string]any](t, data)
		jsonStable[[]int64](t, data)
		jsonStable[string](t, data)
	})
}

func FuzzNullable(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 7})
	f.Add([]byte("text"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ns := serde.Nullable(serde.String())
		p, err := ns.Deserialize(data)
		if err != nil || p == nil || *p != string(data) {
			t.Fatalf("Nullable(String) %q: %v, %v", data, p, err)
		}
		if b, err := ns.Serialize(p); err != nil || b == nil || !bytes.Equal(b, data) {
			t.Fatalf("Nullable(String) %q encodes to %q, %v", data, b, err)
		}
		ni := serde.Nullable(serde.Int64())
		q, err := ni.Deserialize(data)
		if len(data) != 8 {
			if err == nil {
				t.Fatalf("Nullable(Int64) %x = %v", data, *q)
			}
			return
		}
		if err != nil || q == nil {
			t.Fatalf("Nullable(Int64) %x: %v", data, err)
		}
		if b, err := ni.Serialize(q); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("Nullable(Int64) %x encodes to %x, %v", data, b, err)
		}
	})
}
