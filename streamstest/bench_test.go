package streamstest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// BenchmarkFilterMapValuesTo pipes records (16-byte string keys, 100-byte
// string values) through Filter -> MapValues -> To in the driver. One op is
// one record. The output is drained every 1024 records with the timer (and
// allocation counting) stopped, so memory stays bounded.
//
// Serde cost per record: the input topic encodes key and value (2 allocs),
// the source decodes them into strings (2), the sink encodes them (2).
func BenchmarkFilterMapValuesTo(b *testing.B) {
	tb := topology.NewBuilder()
	s := kstream.From(tb, "input", serde.String(), serde.String()).
		Filter(func(_, v string) bool { return v[0] != '#' })
	kstream.MapValues(s, func(v string) string { return v[:len(v)/2] }).To("output")
	topo, err := tb.Build()
	if err != nil {
		b.Fatal(err)
	}
	d, err := streamstest.New(topo)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "input", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "output", serde.Bytes(), serde.Bytes())

	const batch = 1024
	keys := make([]string, batch)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%012d", i)
	}
	value := strings.Repeat("v", 100)
	if len(keys[0]) != 16 || len(value) != 100 {
		b.Fatalf("key %d bytes, value %d bytes", len(keys[0]), len(value))
	}
	written := 0
	drain := func() {
		recs, err := out.ReadRecords()
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) > 0 && len(recs[len(recs)-1].Value) != 50 {
			b.Fatalf("output value has %d bytes, want 50", len(recs[len(recs)-1].Value))
		}
		written += len(recs)
	}

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := in.PipeAt(keys[i%batch], value, int64(i)); err != nil {
			b.Fatal(err)
		}
		i++
		if i%batch == 0 {
			b.StopTimer()
			drain()
			b.StartTimer()
		}
	}
	b.StopTimer()
	drain()
	if written != i {
		b.Fatalf("%d records out for %d in", written, i)
	}
}
