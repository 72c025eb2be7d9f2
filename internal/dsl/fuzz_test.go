package dsl

import (
	"reflect"
	"testing"

	"github.com/seed992c72d9/streams/serde"
)

// FuzzChangeSerde decodes the changes of repartition topics, which other
// instances (or anyone who can write the topic) produce: any bytes decode
// or fail without a panic, and a decoded change round trips.
func FuzzChangeSerde(f *testing.F) {
	cs := ChangeSerde(serde.String())
	for _, ch := range []Change[string]{{}, {New: "n", HasNew: true}, {Old: "o", HasOld: true},
		{New: "new", HasNew: true, Old: "old", HasOld: true}, {HasNew: true, HasOld: true}} {
		b, err := cs.Serialize(ch)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{4})
	f.Add([]byte{3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{3, 5, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(name string, decode func() (any, error), roundTrip func(any) (any, error)) {
			ch, err := decode()
			if err != nil {
				return
			}
			again, err := roundTrip(ch)
			if err != nil || !reflect.DeepEqual(ch, again) {
				t.Fatalf("%s: %x decodes to %+v, which round trips to %+v, %v", name, data, ch, again, err)
			}
		}
		check("string", func() (any, error) { return cs.Deserialize(data) }, func(v any) (any, error) {
			b, err := cs.Serialize(v.(Change[string]))
			if err != nil {
				return nil, err
			}
			return cs.Deserialize(b)
		})
		ci := ChangeSerde(serde.Int64())
		check("int64", func() (any, error) { return ci.Deserialize(data) }, func(v any) (any, error) {
			b, err := ci.Serialize(v.(Change[int64]))
			if err != nil {
				return nil, err
			}
			return ci.Deserialize(b)
		})
	})
}
