package ktable_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// guideInput is the input of the table-table and stream-table join tables in
// Kafka Streams' developer guide: one key, records in timestamp order, "-"
// for a null value (a tombstone).
var guideInput = []struct {
	ts          int64
	side, value string
}{
	{1, "left", "-"}, {2, "right", "-"}, {3, "left", "A"}, {4, "right", "a"},
	{5, "left", "B"}, {6, "right", "b"}, {7, "left", "-"}, {8, "right", "-"},
	{9, "left", "C"}, {10, "right", "c"}, {11, "right", "-"}, {12, "left", "-"},
	{13, "right", "-"}, {14, "right", "d"}, {15, "left", "D"},
}

func show(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}

// runGuide pipes guideInput and returns, per input record, what the output
// topic received: "[A, a]@4" for a value, "null@7" for a tombstone.
func runGuide(t *testing.T, b *topology.Builder) []string {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := map[string]*streamstest.InputTopic[string, string]{
		"left":  streamstest.NewInputTopic(d, "left", serde.String(), serde.String()),
		"right": streamstest.NewInputTopic(d, "right", serde.String(), serde.String()),
	}
	out := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String())
	var got []string
	for _, r := range guideInput {
		var err error
		if r.value == "-" {
			err = in[r.side].PipeTombstone("k", r.ts)
		} else {
			err = in[r.side].PipeAt("k", r.value, r.ts)
		}
		if err != nil {
			t.Fatal(err)
		}
		recs, err := out.ReadRecords()
		if err != nil {
			t.Fatal(err)
		}
		var step []string
		for _, o := range recs {
			if o.Key != "k" {
				t.Fatalf("output key %q, want k", o.Key)
			}
			if o.ValueNull {
				step = append(step, fmt.Sprintf("null@%d", o.Timestamp))
			} else {
				step = append(step, fmt.Sprintf("%s@%d", o.Value, o.Timestamp))
			}
		}
		got = append(got, fmt.Sprintf("%d: %s", r.ts, strings.Join(step, " ")))
	}
	return got
}

func checkGuide(t *testing.T, got []string, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func tables(b *topology.Builder) (ktable.Table[string, string], ktable.Table[string, string]) {
	l := ktable.From(b, "left", serde.String(), serde.String(), "left-store")
	r := ktable.From(b, "right", serde.String(), serde.String(), "right-store")
	return l, r
}

// The table-table join table of the developer guide, with the timestamps
// Kafka Streams' TableTableJoinIntegrationTest asserts (the larger of the
// two rows').
func TestTableTableJoinGuide(t *testing.T) {
	cases := []struct {
		name  string
		build func(l, r ktable.Table[string, string]) ktable.Table[string, string]
		want  []string
	}{
		{"inner", func(l, r ktable.Table[string, string]) ktable.Table[string, string] {
			return ktable.Join(l, r, func(a, b string) string { return "[" + a + ", " + b + "]" })
		}, []string{
			"1: ", "2: ", "3: ", "4: [A, a]@4", "5: [B, a]@5", "6: [B, b]@6", "7: null@7", "8: ",
			"9: ", "10: [C, c]@10", "11: null@11", "12: ", "13: ", "14: ", "15: [D, d]@15",
		}},
		{"left", func(l, r ktable.Table[string, string]) ktable.Table[string, string] {
			return ktable.LeftJoin(l, r, func(a string, b *string) string { return "[" + a + ", " + show(b) + "]" })
		}, []string{
			"1: ", "2: ", "3: [A, null]@3", "4: [A, a]@4", "5: [B, a]@5", "6: [B, b]@6", "7: null@7", "8: ",
			"9: [C, null]@9", "10: [C, c]@10", "11: [C, null]@11", "12: null@12", "13: ", "14: ", "15: [D, d]@15",
		}},
		{"outer", func(l, r ktable.Table[string, string]) ktable.Table[string, string] {
			return ktable.OuterJoin(l, r, func(a, b *string) string { return "[" + show(a) + ", " + show(b) + "]" })
		}, []string{
			"1: ", "2: ", "3: [A, null]@3", "4: [A, a]@4", "5: [B, a]@5", "6: [B, b]@6", "7: [null, b]@7", "8: null@8",
			"9: [C, null]@9", "10: [C, c]@10", "11: [C, null]@11", "12: null@12", "13: ", "14: [null, d]@14", "15: [D, d]@15",
		}},
	}
	for _, c := range cases {
		for _, materialized := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/materialized=%v", c.name, materialized), func(t *testing.T) {
				b := topology.NewBuilder()
				l, r := tables(b)
				j := c.build(l, r)
				if materialized {
					// A materialized join result is the same table.
					j = j.Filter(func(string, string) bool { return true }, ktable.Materialized("joined"))
				}
				kstream.FromTable(j).To("out")
				checkGuide(t, runGuide(t, b), c.want)
			})
		}
	}
}

// The stream-table join table of the developer guide: only stream records
// trigger, null stream values are dropped, the output has the stream
// record's timestamp.
func TestStreamTableJoinGuide(t *testing.T) {
	cases := []struct {
		name string
		left bool
		want []string
	}{
		{"inner", false, []string{
			"1: ", "2: ", "3: ", "4: ", "5: [B, a]@5", "6: ", "7: ", "8: ",
			"9: ", "10: ", "11: ", "12: ", "13: ", "14: ", "15: [D, d]@15",
		}},
		{"left", true, []string{
			"1: ", "2: ", "3: [A, null]@3", "4: ", "5: [B, a]@5", "6: ", "7: ", "8: ",
			"9: [C, null]@9", "10: ", "11: ", "12: ", "13: ", "14: ", "15: [D, d]@15",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder()
			s := kstream.From(b, "left", serde.String(), serde.String())
			r := ktable.From(b, "right", serde.String(), serde.String(), "right-store")
			var j kstream.Stream[string, string]
			if c.left {
				j = kstream.LeftJoinTable(s, r, func(a string, b *string) string { return "[" + a + ", " + show(b) + "]" })
			} else {
				j = kstream.JoinTable(s, r, func(a, b string) string { return "[" + a + ", " + b + "]" })
			}
			j.To("out")
			checkGuide(t, runGuide(t, b), c.want)
		})
	}
}
