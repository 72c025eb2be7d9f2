package ktable_test

// Driver tests of tables: sources, Filter, MapValues and re-grouped
// aggregations. Where Kafka Streams' unit tests (KTableSourceTest,
// KTableFilterTest, KTableMapValuesTest, KTableAggregateTest) pin a
// scenario, the input and expected output are theirs.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

func ttDriver(t testing.TB, b *topology.Builder, opts ...streamstest.Option) *streamstest.Driver {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	d, err := streamstest.New(topo, opts...)
	if err != nil {
		t.Fatalf("streamstest.New: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func ttMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ttWant(t testing.TB, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// ttRead formats the unread records of out as "key=value@ts", with <null>
// for a null value.
func ttRead[K, V any](t testing.TB, out *streamstest.OutputTopic[K, V]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	ttMust(t, err)
	parts := make([]string, len(recs))
	for i, r := range recs {
		v := fmt.Sprint(r.Value)
		if r.ValueNull {
			v = "<null>"
		}
		parts[i] = fmt.Sprintf("%v=%s@%d", r.Key, v, r.Timestamp)
	}
	return strings.Join(parts, " ")
}

// ttStore formats a table's store as "key=value@ts".
func ttStore[K, V any](t testing.TB, d *streamstest.Driver, store string) string {
	t.Helper()
	rows, err := streamstest.ReadKeyValueStore[K, state.ValueAndTimestamp[V]](d, store)
	ttMust(t, err)
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = fmt.Sprintf("%v=%v@%d", r.Key, r.Value.Value, r.Value.Timestamp)
	}
	return strings.Join(parts, " ")
}

// changes records the changes a table node forwards as
// "key=(new, old)@timestamp", the form of Kafka Streams' tests.
type changes[V any] struct{ log []string }

func (c *changes[V]) attach(b *topology.Builder, name, parent string) {
	topology.AddProcessor(b, name, func() processor.Processor[string, ktable.Change[V], string, ktable.Change[V]] {
		return &changeProc[V]{c: c}
	}, parent)
}

func (c *changes[V]) take() string {
	s := strings.Join(c.log, " ")
	c.log = nil
	return s
}

type changeProc[V any] struct{ c *changes[V] }

func (p *changeProc[V]) Init(processor.Context[string, ktable.Change[V]]) error { return nil }
func (p *changeProc[V]) Close() error                                           { return nil }
func (p *changeProc[V]) Process(r processor.Record[string, ktable.Change[V]]) error {
	nv, ov := "null", "null"
	if r.Value.HasNew {
		nv = fmt.Sprint(r.Value.New)
	}
	if r.Value.HasOld {
		ov = fmt.Sprint(r.Value.Old)
	}
	p.c.log = append(p.c.log, fmt.Sprintf("%s=(%s, %s)@%d", r.Key, nv, ov, r.Timestamp))
	return nil
}

// KTableSourceTest: a table keeps the latest value of each key; a null
// value deletes it; a null key is dropped and counted. Its changelog gets
// every update.
func TestTableFrom(t *testing.T) {
	b := topology.NewBuilder()
	tbl := ktable.From(b, "topic1", serde.String(), serde.Int32(), "store1")
	kstream.FromTable(tbl).To("out")
	d := ttDriver(t, b, streamstest.WithApplicationID("app"))
	in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.Int32())
	ttMust(t, in.PipeAt("A", 1, 10))
	ttMust(t, in.PipeAt("B", 2, 11))
	ttMust(t, in.PipeAt("C", 3, 12))
	ttMust(t, in.PipeAt("D", 4, 13))
	ttMust(t, in.PipeAt("A", 5, 14))
	ttMust(t, in.PipeAt("B", 6, 15))
	ttMust(t, in.PipeTombstone("D", 16))
	ttMust(t, in.PipeTombstone("A", 17))
	ttMust(t, in.PipeRecord(streamstest.Record[string, int32]{Value: 9, KeyNull: true, Timestamp: 18}))
	ttWant(t, "out", ttRead(t, streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int32())),
		"A=1@10 B=2@11 C=3@12 D=4@13 A=5@14 B=6@15 D=<null>@16 A=<null>@17")
	ttWant(t, "store", ttStore[string, int32](t, d, "store1"), "B=6@15 C=3@12")
	rows, err := streamstest.ReadTable[string, int32](d, "store1")
	ttMust(t, err)
	ttWant(t, "ReadTable", fmt.Sprint(rows), "[{B 6} {C 3}]")
	ttWant(t, "changelog", ttRead(t, streamstest.NewOutputTopic(d, "app-store1-changelog", serde.String(), serde.Int32())),
		"A=1@10 B=2@11 C=3@12 D=4@13 A=5@14 B=6@15 D=<null>@16 A=<null>@17")
	ttWant(t, "dropped", fmt.Sprint(d.DroppedAll()), "map[null-key:1]")
}

// Named names the table source processor; its source node gets the name
// with "-source", and both take an index, as in Kafka Streams.
func TestTableFromNamed(t *testing.T) {
	b := topology.NewBuilder()
	tbl := ktable.From(b, "topic", serde.String(), serde.String(), "s", ktable.Named("users"))
	kstream.FromTable(tbl).To("out")
	topo, err := b.Build()
	ttMust(t, err)
	want := `Topologies:
   Sub-topology: 0
    Source: users-source (topics: [topic])
      --> users
    Processor: users (stores: [s])
      --> KTABLE-TOSTREAM-0000000002
      <-- users-source
    Processor: KTABLE-TOSTREAM-0000000002 (stores: [])
      --> KSTREAM-SINK-0000000003
      <-- users
    Sink: KSTREAM-SINK-0000000003 (topic: out)
      <-- KTABLE-TOSTREAM-0000000002

`
	ttWant(t, "Describe", topo.Describe().String(), want)
}

// KTableFilterTest.doTestKTable: a filter and a filterNot of the same table,
// read as streams. Every table here is materialized at its root (Kafka
// Streams' builder.table(topic, Materialized.as(store))), so the filters
// get old values and forward a tombstone only for a key that matched
// before; with a non-materialized source Kafka Streams also forwards one
// for every record filtered out ("A", null, 10), ("C", null, 8), ...
func TestTableFilterKS(t *testing.T) {
	even := func(_ string, v int32) bool { return v%2 == 0 }
	for _, materialized := range []bool{false, true} {
		t.Run(fmt.Sprintf("materialized=%v", materialized), func(t *testing.T) {
			b := topology.NewBuilder()
			table1 := ktable.From(b, "topic1", serde.String(), serde.Int32(), "store1")
			var opts2, opts3 []ktable.Option
			if materialized {
				opts2 = []ktable.Option{ktable.Materialized("store2")}
				opts3 = []ktable.Option{ktable.Materialized("store3")}
			}
			kstream.FromTable(table1.Filter(even, opts2...)).To("out2")
			kstream.FromTable(table1.FilterNot(even, opts3...)).To("out3")
			d := ttDriver(t, b)
			in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.Int32())
			ttMust(t, in.PipeAt("A", 1, 10))
			ttMust(t, in.PipeAt("B", 2, 5))
			ttMust(t, in.PipeAt("C", 3, 8))
			ttMust(t, in.PipeAt("D", 4, 14))
			ttMust(t, in.PipeTombstone("A", 18))
			ttMust(t, in.PipeTombstone("B", 15))
			ttWant(t, "filter", ttRead(t, streamstest.NewOutputTopic(d, "out2", serde.String(), serde.Int32())),
				"B=2@5 D=4@14 B=<null>@15")
			ttWant(t, "filterNot", ttRead(t, streamstest.NewOutputTopic(d, "out3", serde.String(), serde.Int32())),
				"A=1@10 C=3@8 A=<null>@18")
			if materialized {
				ttWant(t, "store2", ttStore[string, int32](t, d, "store2"), "D=4@14")
				ttWant(t, "store3", ttStore[string, int32](t, d, "store3"), "C=3@8")
			}
		})
	}
}

// KTableFilterTest.doTestSendingOldValue (shouldSendOldValuesWhenEnabledOn-
// UpStreamMaterialization): the changes the source table and the filter
// forward, old values included; caching is off as in the original.
func TestTableFilterSendingOldValuesKS(t *testing.T) {
	for _, materialized := range []bool{false, true} {
		t.Run(fmt.Sprintf("materialized=%v", materialized), func(t *testing.T) {
			b := topology.NewBuilder()
			table1 := ktable.From(b, "topic1", serde.String(), serde.Int32(), "store1", ktable.WithCaching(false))
			opts := []ktable.Option{ktable.WithCaching(false)}
			if materialized {
				opts = append(opts, ktable.Materialized("store2"))
			}
			table2 := table1.Filter(func(_ string, v int32) bool { return v%2 == 0 }, opts...)
			table2.EnableSendingOldValues()
			var c1, c2 changes[int32]
			c1.attach(b, "proc1", table1.NodeName())
			c2.attach(b, "proc2", table2.NodeName())
			d := ttDriver(t, b)
			in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.Int32())

			ttMust(t, in.PipeAt("A", 1, 5))
			ttMust(t, in.PipeAt("B", 1, 10))
			ttMust(t, in.PipeAt("C", 1, 15))
			ttWant(t, "table1", c1.take(), "A=(1, null)@5 B=(1, null)@10 C=(1, null)@15")
			ttWant(t, "table2", c2.take(), "")

			ttMust(t, in.PipeAt("A", 2, 15))
			ttMust(t, in.PipeAt("B", 2, 8))
			ttWant(t, "table1", c1.take(), "A=(2, 1)@15 B=(2, 1)@8")
			ttWant(t, "table2", c2.take(), "A=(2, null)@15 B=(2, null)@8")

			ttMust(t, in.PipeAt("A", 3, 20))
			ttWant(t, "table1", c1.take(), "A=(3, 2)@20")
			ttWant(t, "table2", c2.take(), "A=(null, 2)@20")

			ttMust(t, in.PipeTombstone("A", 10))
			ttMust(t, in.PipeTombstone("B", 20))
			ttWant(t, "table1", c1.take(), "A=(null, 3)@10 B=(null, 2)@20")
			ttWant(t, "table2", c2.take(), "B=(null, 2)@20")
		})
	}
}

// KTableFilterTest.shouldSkipNullToRepartition{With,On}Materialization: a
// filter that rejects everything sends nothing to a downstream grouping.
func TestTableFilterSkipsNullToRepartitionKS(t *testing.T) {
	for _, materialized := range []bool{false, true} {
		t.Run(fmt.Sprintf("materialized=%v", materialized), func(t *testing.T) {
			b := topology.NewBuilder()
			table1 := ktable.From(b, "topic1", serde.String(), serde.String(), "store1")
			var opts []ktable.Option
			if materialized {
				opts = append(opts, ktable.Materialized("store2"))
			}
			table2 := table1.Filter(func(_, v string) bool { return strings.EqualFold(v, "accept") }, opts...)
			ktable.Reduce(ktable.GroupBy(table2, func(k, v string) (string, string) { return k, v }),
				func(a, v string) string { return a + v }, func(a, v string) string { return a + "-" + v }, "mock-result")
			var c1, c2 changes[string]
			c1.attach(b, "proc1", table1.NodeName())
			c2.attach(b, "proc2", table2.NodeName())
			d := ttDriver(t, b, streamstest.WithApplicationID("app"))
			in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
			ttMust(t, in.PipeAt("A", "reject", 5))
			ttMust(t, in.PipeAt("B", "reject", 10))
			ttMust(t, in.PipeAt("C", "reject", 20))
			ttWant(t, "table1", c1.take(), "A=(reject, null)@5 B=(reject, null)@10 C=(reject, null)@20")
			ttWant(t, "table2", c2.take(), "")
			ttWant(t, "result", ttStore[string, string](t, d, "mock-result"), "")
		})
	}
}

// KTableFilterTest.doTestValueGetter, through a stream-table join that
// reads the filtered tables (the join looks values up through the tables'
// getters): a materialized filter reads its store, a non-materialized one
// filters its parent's row on the fly. Both see the row's timestamp.
func TestTableFilterValueGetterKS(t *testing.T) {
	for _, materialized := range []bool{false, true} {
		t.Run(fmt.Sprintf("materialized=%v", materialized), func(t *testing.T) {
			b := topology.NewBuilder()
			table1 := ktable.From(b, "topic1", serde.String(), serde.Int32(), "store1")
			var o2, o3 []ktable.Option
			if materialized {
				o2, o3 = []ktable.Option{ktable.Materialized("store2")}, []ktable.Option{ktable.Materialized("store3")}
			}
			even := func(_ string, v int32) bool { return v%2 == 0 }
			table2 := table1.Filter(even, o2...)
			table3 := table1.FilterNot(even, o3...)
			probes := kstream.From(b, "probe", serde.String(), serde.String())
			show := func(v string, tv *int32) string {
				if tv == nil {
					return "null"
				}
				return strconv.Itoa(int(*tv))
			}
			kstream.LeftJoinTable(probes, table2, show).To("get2")
			kstream.LeftJoinTable(probes, table3, show).To("get3")
			d := ttDriver(t, b)
			in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.Int32())
			probe := streamstest.NewInputTopic(d, "probe", serde.String(), serde.String())
			get2 := streamstest.NewOutputTopic(d, "get2", serde.String(), serde.String())
			get3 := streamstest.NewOutputTopic(d, "get3", serde.String(), serde.String())
			check := func(want2, want3 string) {
				t.Helper()
				for _, k := range []string{"A", "B", "C"} {
					ttMust(t, probe.PipeAt(k, "", 0))
				}
				ttWant(t, "getter2", ttRead(t, get2), want2)
				ttWant(t, "getter3", ttRead(t, get3), want3)
			}
			ttMust(t, in.PipeAt("A", 1, 5))
			ttMust(t, in.PipeAt("B", 1, 10))
			ttMust(t, in.PipeAt("C", 1, 15))
			check("A=null@0 B=null@0 C=null@0", "A=1@0 B=1@0 C=1@0")
			ttMust(t, in.PipeAt("A", 2, 10))
			ttMust(t, in.PipeAt("B", 2, 5))
			check("A=2@0 B=2@0 C=null@0", "A=null@0 B=null@0 C=1@0")
			ttMust(t, in.PipeAt("A", 3, 15))
			check("A=null@0 B=2@0 C=null@0", "A=3@0 B=null@0 C=1@0")
			ttMust(t, in.PipeTombstone("A", 10))
			ttMust(t, in.PipeTombstone("B", 20))
			check("A=null@0 B=null@0 C=null@0", "A=null@0 B=null@0 C=1@0")
			if materialized {
				ttWant(t, "store2", ttStore[string, int32](t, d, "store2"), "")
				ttWant(t, "store3", ttStore[string, int32](t, d, "store3"), "C=1@15")
			}
		})
	}
}

// KTableMapValuesTest.testKTable and testQueryableKTable.
func TestTableMapValuesKS(t *testing.T) {
	for _, materialized := range []bool{false, true} {
		t.Run(fmt.Sprintf("materialized=%v", materialized), func(t *testing.T) {
			b := topology.NewBuilder()
			table1 := ktable.From(b, "topic1", serde.String(), serde.String(), "store1")
			var opts []ktable.Option
			if materialized {
				opts = append(opts, ktable.Materialized("anyName"))
			}
			table2 := ktable.MapValues(table1, func(v string) int32 { return int32(v[0]) - 48 }, opts...)
			kstream.FromTable(table2).To("out")
			d := ttDriver(t, b)
			in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
			ttMust(t, in.PipeAt("A", "1", 5))
			ttMust(t, in.PipeAt("B", "2", 25))
			ttMust(t, in.PipeAt("C", "3", 20))
			ttMust(t, in.PipeAt("D", "4", 10))
			ttWant(t, "out", ttRead(t, streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int32())),
				"A=1@5 B=2@25 C=3@20 D=4@10")
			if materialized {
				// Queryable like any table.
				rows, err := streamstest.ReadTable[string, int32](d, "anyName")
				ttMust(t, err)
				ttWant(t, "ReadTable", fmt.Sprint(rows), "[{A 1} {B 2} {C 3} {D 4}]")
				ttWant(t, "store", ttStore[string, int32](t, d, "anyName"), "A=1@5 B=2@25 C=3@20 D=4@10")
			}
		})
	}
}

// KTableMapValuesTest.testNotSendingOldValue and testSendingOldValues
// (shouldEnableSendingOldValuesOnParentIfMapValuesNotMaterialized,
// shouldNotEnableSendingOldValuesOnParentIfMapValuesMaterialized). A
// tombstone for a key the table never held is forwarded too (caching is
// off, as in the original).
func TestTableMapValuesOldValuesKS(t *testing.T) {
	for _, c := range []struct {
		name                  string
		materialized, sendOld bool
	}{
		{"notSendingOldValue", false, false},
		{"sendingOldValues", false, true},
		{"sendingOldValues/materialized", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := topology.NewBuilder()
			table1 := ktable.From(b, "topic1", serde.String(), serde.String(), "store1", ktable.WithCaching(false))
			opts := []ktable.Option{ktable.WithCaching(false)}
			if c.materialized {
				opts = append(opts, ktable.Materialized("bob"))
			}
			table2 := ktable.MapValues(table1, func(s string) int32 { n, _ := strconv.Atoi(s); return int32(n) }, opts...)
			if c.sendOld {
				table2.EnableSendingOldValues()
			}
			var ch changes[int32]
			ch.attach(b, "proc", table2.NodeName())
			d := ttDriver(t, b)
			in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
			old := func(v string) string {
				if c.sendOld {
					return v
				}
				return "null"
			}
			ttMust(t, in.PipeAt("A", "01", 5))
			ttMust(t, in.PipeAt("B", "01", 10))
			ttMust(t, in.PipeAt("C", "01", 15))
			ttWant(t, "1", ch.take(), "A=(1, null)@5 B=(1, null)@10 C=(1, null)@15")
			ttMust(t, in.PipeAt("A", "02", 10))
			ttMust(t, in.PipeAt("B", "02", 8))
			ttWant(t, "2", ch.take(), fmt.Sprintf("A=(2, %s)@10 B=(2, %s)@8", old("1"), old("1")))
			ttMust(t, in.PipeAt("A", "03", 20))
			ttWant(t, "3", ch.take(), fmt.Sprintf("A=(3, %s)@20", old("2")))
			ttMust(t, in.PipeTombstone("A", 30))
			ttWant(t, "4", ch.take(), fmt.Sprintf("A=(null, %s)@30", old("3")))
			ttMust(t, in.PipeTombstone("never", 31))
			ttWant(t, "5", ch.take(), "never=(null, null)@31")
		})
	}
}

// KTableAggregateTest.testAggBasic: a grouping by the same key; each update
// subtracts the row's old value and adds the new one in one record.
func TestTableAggregateBasicKS(t *testing.T) {
	b := topology.NewBuilder()
	table1 := ktable.From(b, "topic1", serde.String(), serde.String(), "topic1-source")
	table2 := ktable.Aggregate(ktable.GroupBy(table1, func(k, v string) (string, string) { return k, v }),
		func() string { return "0" },
		func(_, v, agg string) string { return agg + "+" + v },
		func(_, v, agg string) string { return agg + "-" + v },
		"topic1-Canonized")
	kstream.FromTable(table2).To("out")
	d := ttDriver(t, b)
	in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
	for _, r := range []struct {
		k, v string
		ts   int64
	}{{"A", "1", 10}, {"B", "2", 15}, {"A", "3", 20}, {"B", "4", 18}, {"C", "5", 5}, {"D", "6", 25}, {"B", "7", 15}, {"C", "8", 10}} {
		ttMust(t, in.PipeAt(r.k, r.v, r.ts))
	}
	ttWant(t, "out", ttRead(t, streamstest.NewOutputTopic(d, "out", serde.String(), serde.String())),
		"A=0+1@10 B=0+2@15 A=0+1-1+3@20 B=0+2-2+4@18 C=0+5@5 D=0+6@25 B=0+2-2+4-4+7@18 C=0+5-5+8@10")
	ttWant(t, "store", ttStore[string, string](t, d, "topic1-Canonized"),
		"A=0+1-1+3@20 B=0+2-2+4-4+7@18 C=0+5-5+8@10 D=0+6@25")
}

// KTableAggregateTest.testAggRepartition: the selector re-keys rows by
// value, so an update moves a row between groups: it is subtracted from the
// old group first, then added to the new one. A selected pair with a null
// key (here a nil *string) or a null value is not sent: key "null" selects
// a null key, key "NULL" selects a null pair.
func TestTableAggregateRepartitionKS(t *testing.T) {
	b := topology.NewBuilder()
	table1 := ktable.From(b, "topic1", serde.String(), serde.String(), "topic1-source")
	grouped := ktable.GroupBy(table1, func(k, v string) (*string, *string) {
		switch k {
		case "null":
			return nil, &v
		case "NULL":
			return nil, nil
		}
		return &v, &v
	}, ktable.WithKeySerde(serde.Nullable(serde.String())), ktable.WithValueSerde(serde.Nullable(serde.String())))
	table2 := ktable.Aggregate(grouped,
		func() string { return "0" },
		func(_ *string, v *string, agg string) string { return agg + "+" + *v },
		func(_ *string, v *string, agg string) string { return agg + "-" + *v },
		"topic1-Canonized")
	kstream.FromTable(table2).To("out", kstream.WithKeySerde(serde.Nullable(serde.String())))
	d := ttDriver(t, b)
	in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
	ttMust(t, in.PipeAt("A", "1", 10))
	ttMust(t, in.PipeTombstone("A", 15))
	ttMust(t, in.PipeAt("A", "1", 12))
	ttMust(t, in.PipeAt("B", "2", 20))
	ttMust(t, in.PipeAt("null", "3", 25))
	ttMust(t, in.PipeAt("B", "4", 23))
	ttMust(t, in.PipeAt("NULL", "5", 24))
	ttMust(t, in.PipeAt("B", "7", 22))
	ttWant(t, "out", ttRead(t, streamstest.NewOutputTopic(d, "out", serde.String(), serde.String())),
		"1=0+1@10 1=0+1-1@15 1=0+1-1+1@15 2=0+2@20 2=0+2-2@23 4=0+4@23 4=0+4-4@23 7=0+7@22")
}

// KTableAggregateTest.testCount (testCountHelper): counting users by their
// current color.
func TestTableCountKS(t *testing.T) {
	b := topology.NewBuilder()
	users := ktable.From(b, "count-test-input", serde.String(), serde.String(), "users")
	counts := ktable.Count(ktable.GroupBy(users, func(_, v string) (string, string) { return v, v }), "count")
	kstream.FromTable(counts).To("out")
	d := ttDriver(t, b)
	in := streamstest.NewInputTopic(d, "count-test-input", serde.String(), serde.String())
	ttMust(t, in.PipeAt("A", "green", 10))
	ttMust(t, in.PipeAt("B", "green", 9))
	ttMust(t, in.PipeAt("A", "blue", 12))
	ttMust(t, in.PipeAt("C", "yellow", 15))
	ttMust(t, in.PipeAt("D", "green", 11))
	ttWant(t, "out", ttRead(t, streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64())),
		"green=1@10 green=2@10 green=1@12 blue=1@12 yellow=1@15 green=2@12")
	ttWant(t, "store", ttStore[string, int64](t, d, "count"), "blue=1@12 green=2@12 yellow=1@15")
}

// KTableAggregateTest.testRemoveOldBeforeAddNew: when a row stays in its
// group, the old value is removed before the new one is added, in one
// update.
func TestTableAggregateRemoveOldBeforeAddNewKS(t *testing.T) {
	b := topology.NewBuilder()
	tbl := ktable.From(b, "count-test-input", serde.String(), serde.String(), "input")
	agg := ktable.Aggregate(ktable.GroupBy(tbl, func(k, _ string) (string, string) { return k[:1], k[1:2] }),
		func() string { return "" },
		func(_, v, agg string) string { return agg + v },
		func(_, v, agg string) string { return strings.ReplaceAll(agg, v, "") },
		"someStore")
	kstream.FromTable(agg).To("out")
	d := ttDriver(t, b)
	in := streamstest.NewInputTopic(d, "count-test-input", serde.String(), serde.String())
	ttMust(t, in.PipeAt("11", "A", 10))
	ttMust(t, in.PipeAt("12", "B", 8))
	ttMust(t, in.PipeTombstone("11", 12))
	ttMust(t, in.PipeAt("12", "C", 6))
	ttWant(t, "out", ttRead(t, streamstest.NewOutputTopic(d, "out", serde.String(), serde.String())),
		"1=1@10 1=12@10 1=2@12 1=2@12")
}

// KTableAggregateTest.testShouldNotSendTransientStateIfNotUpgrading: an
// update that keeps its group sends no intermediate aggregate.
func TestTableCountNoTransientStateKS(t *testing.T) {
	b := topology.NewBuilder()
	tbl := ktable.From(b, "input-topic", serde.String(), serde.String(), "input")
	kstream.FromTable(ktable.Count(ktable.GroupBy(tbl, func(k, v string) (string, string) { return k, v }), "counts")).
		To("output-topic")
	d := ttDriver(t, b)
	in := streamstest.NewInputTopic(d, "input-topic", serde.String(), serde.String())
	ttMust(t, in.PipeAt("1", "", 8))
	ttMust(t, in.PipeAt("1", "", 9))
	ttWant(t, "out", ttRead(t, streamstest.NewOutputTopic(d, "output-topic", serde.String(), serde.Int64())),
		"1=1@8 1=1@9")
}

// Users move between regions: a user's old region loses it and its new
// region gains it. Reduce sums the users' scores with an adder and a
// subtractor; the count of a region that loses its last user stays at 0,
// as in Kafka Streams (an aggregate is removed only when it becomes null).
func TestTableRegionsAdderSubtractor(t *testing.T) {
	b := topology.NewBuilder()
	users := ktable.From(b, "users", serde.String(), serde.String(), "users")
	byRegion := ktable.GroupBy(users, func(_, v string) (string, int64) {
		region, score, _ := strings.Cut(v, ":")
		n, _ := strconv.ParseInt(score, 10, 64)
		return region, n
	})
	counts := ktable.Count(byRegion, "region-counts")
	scores := ktable.Reduce(byRegion, func(a, v int64) int64 { return a + v }, func(a, v int64) int64 { return a - v },
		"region-scores")
	kstream.FromTable(counts).To("counts")
	kstream.FromTable(scores).To("scores")
	d := ttDriver(t, b, streamstest.WithPartitions("users", 2), streamstest.WithApplicationID("app"))
	in := streamstest.NewInputTopic(d, "users", serde.String(), serde.String())
	ttMust(t, in.PipeAt("alice", "eu:10", 1))
	ttMust(t, in.PipeAt("bob", "eu:20", 2))
	ttMust(t, in.PipeAt("carol", "us:5", 3))
	ttMust(t, in.PipeAt("alice", "us:15", 4)) // moves: eu loses 10, us gains 15
	ttMust(t, in.PipeAt("bob", "eu:25", 5))   // stays: one update, 20 out and 25 in
	ttMust(t, in.PipeTombstone("carol", 6))   // leaves: us loses 5
	ttMust(t, in.PipeTombstone("bob", 7))     // eu loses its last user
	ttWant(t, "counts", ttRead(t, streamstest.NewOutputTopic(d, "counts", serde.String(), serde.Int64())),
		"eu=1@1 eu=2@2 us=1@3 eu=1@4 us=2@4 eu=1@5 us=1@6 eu=0@7")
	ttWant(t, "scores", ttRead(t, streamstest.NewOutputTopic(d, "scores", serde.String(), serde.Int64())),
		"eu=10@1 eu=30@2 us=5@3 eu=20@4 us=20@4 eu=25@5 us=15@6 eu=0@7")
	counts2, err := streamstest.ReadTable[string, int64](d, "region-counts")
	ttMust(t, err)
	scores2, err := streamstest.ReadTable[string, int64](d, "region-scores")
	ttMust(t, err)
	ttWant(t, "count rows", fmt.Sprint(sortKV(counts2)), "[{eu 0} {us 1}]")
	ttWant(t, "score rows", fmt.Sprint(sortKV(scores2)), "[{eu 0} {us 15}]")
	// The aggregation's changelog has every update of the store.
	ttWant(t, "changelog", ttRead(t, streamstest.NewOutputTopic(d, "app-region-counts-changelog", serde.String(), serde.Int64())),
		"eu=1@1 eu=2@2 us=1@3 eu=1@4 us=2@4 eu=1@5 us=1@6 eu=0@7")
}

func sortKV[V any](rows []state.KeyValue[string, V]) []state.KeyValue[string, V] {
	out := append([]state.KeyValue[string, V](nil), rows...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Key < out[i].Key {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// Two aggregations of one grouping named with WithRepartitionName read one
// repartition topic (Kafka Streams reuses its repartition node); without a
// name each aggregation gets a topic named after its store.
func TestTableGroupedRepartitionReuse(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("named=%v", named), func(t *testing.T) {
			b := topology.NewBuilder()
			users := ktable.From(b, "users", serde.String(), serde.String(), "users")
			var opts []ktable.Option
			if named {
				opts = append(opts, ktable.WithRepartitionName("by-region"))
			}
			g := ktable.GroupBy(users, func(_, v string) (string, string) { return v, v }, opts...)
			kstream.FromTable(ktable.Count(g, "c1")).To("c1")
			kstream.FromTable(ktable.Count(g, "c2")).To("c2")
			topo, err := b.Build()
			ttMust(t, err)
			var topics []string
			for _, it := range topo.InternalTopics() {
				topics = append(topics, it.Name)
			}
			want := "[c1-repartition c2-repartition]"
			if named {
				want = "[by-region-repartition]"
			}
			ttWant(t, "internal topics", fmt.Sprint(topics), want)
			d, err := streamstest.New(topo)
			ttMust(t, err)
			defer d.Close()
			ttMust(t, streamstest.NewInputTopic(d, "users", serde.String(), serde.String()).PipeAt("u", "eu", 1))
			ttWant(t, "c1", ttRead(t, streamstest.NewOutputTopic(d, "c1", serde.String(), serde.Int64())), "eu=1@1")
			ttWant(t, "c2", ttRead(t, streamstest.NewOutputTopic(d, "c2", serde.String(), serde.Int64())), "eu=1@1")
		})
	}
}
