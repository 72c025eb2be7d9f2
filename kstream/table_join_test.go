package kstream_test

// Stream-table and stream-global-table joins, ported from Kafka Streams'
// KStreamKTableJoinTest, KStreamGlobalKTableJoinTest and
// KStreamGlobalKTableLeftJoinTest.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

type stJoinFixture struct {
	d      *streamstest.Driver
	stream *streamstest.InputTopic[int32, string]
	table  *streamstest.InputTopic[int32, string]
	out    *streamstest.OutputTopic[int32, string]
}

func newSTJoin(t *testing.T, left bool) *stJoinFixture {
	b := topology.NewBuilder()
	s := kstream.From(b, "streamTopic", serde.Int32(), serde.String())
	tbl := ktable.From(b, "tableTopic", serde.Int32(), serde.String(), "table")
	if left {
		kstream.LeftJoinTable(s, tbl, func(v string, tv *string) string {
			if tv == nil {
				return v + "+null"
			}
			return v + "+" + *tv
		}).To("out")
	} else {
		kstream.JoinTable(s, tbl, func(v, tv string) string { return v + "+" + tv }).To("out")
	}
	d := aggDriver(t, b)
	return &stJoinFixture{d: d,
		stream: streamstest.NewInputTopic(d, "streamTopic", serde.Int32(), serde.String()),
		table:  streamstest.NewInputTopic(d, "tableTopic", serde.Int32(), serde.String()),
		out:    streamstest.NewOutputTopic(d, "out", serde.Int32(), serde.String()),
	}
}

func (f *stJoinFixture) pushStream(t *testing.T, n int, prefix string) {
	for i := range int32(n) {
		aggMust(t, f.stream.PipeAt(i, fmt.Sprint(prefix, i), int64(i)))
	}
}

// pushTable uses timestamps that are not in stream order (the test in Kafka
// Streams uses random ones): the join does not look at them.
func (f *stJoinFixture) pushTable(t *testing.T, n int, prefix string) {
	for i := range int32(n) {
		aggMust(t, f.table.PipeAt(i, fmt.Sprint(prefix, i), int64(1000-i*7)))
	}
}

func (f *stJoinFixture) check(t *testing.T, want string) {
	t.Helper()
	aggWant(t, "joined", aggRead(t, f.out), want)
}

func TestStreamTableJoinKS(t *testing.T) {
	t.Run("shouldNotJoinWithEmptyTableOnStreamUpdates", func(t *testing.T) {
		f := newSTJoin(t, false)
		f.pushStream(t, 2, "X")
		f.check(t, "")
	})
	t.Run("shouldNotJoinOnTableUpdates", func(t *testing.T) {
		f := newSTJoin(t, false)
		f.pushStream(t, 2, "X")
		f.check(t, "")
		f.pushTable(t, 2, "Y")
		f.check(t, "")
		f.pushStream(t, 4, "X")
		f.check(t, "0=X0+Y0@0 1=X1+Y1@1")
		f.pushTable(t, 4, "YY")
		f.check(t, "")
		f.pushStream(t, 4, "X")
		f.check(t, "0=X0+YY0@0 1=X1+YY1@1 2=X2+YY2@2 3=X3+YY3@3")
		f.pushTable(t, 4, "YYY")
		f.check(t, "")
	})
	t.Run("shouldJoinOnlyIfMatchFoundOnStreamUpdates", func(t *testing.T) {
		f := newSTJoin(t, false)
		f.pushTable(t, 2, "Y")
		f.check(t, "")
		f.pushStream(t, 4, "X")
		f.check(t, "0=X0+Y0@0 1=X1+Y1@1")
	})
	t.Run("shouldClearTableEntryOnNullValueUpdates", func(t *testing.T) {
		f := newSTJoin(t, false)
		f.pushTable(t, 4, "Y")
		f.pushStream(t, 4, "X")
		f.check(t, "0=X0+Y0@0 1=X1+Y1@1 2=X2+Y2@2 3=X3+Y3@3")
		aggMust(t, f.table.PipeTombstone(0, 2000))
		aggMust(t, f.table.PipeTombstone(1, 2000))
		f.check(t, "")
		f.pushStream(t, 4, "XX")
		f.check(t, "2=XX2+Y2@2 3=XX3+Y3@3")
	})
	// shouldLogAndMeterWhenSkippingNullLeftKey / ...NullLeftValue.
	t.Run("shouldMeterWhenSkippingNullLeftKeyOrValue", func(t *testing.T) {
		f := newSTJoin(t, false)
		f.pushTable(t, 2, "Y")
		aggMust(t, f.stream.PipeRecord(streamstest.Record[int32, string]{Value: "A", KeyNull: true}))
		aggMust(t, f.stream.PipeTombstone(1, 0))
		f.check(t, "")
		aggWant(t, "dropped", fmt.Sprint(f.d.DroppedAll()), "map[null-key:1 null-value:1]")
	})
	// The left join keeps stream records without a match, and a record with
	// a null key (but a value) is joined with null; null values are dropped.
	t.Run("leftJoin", func(t *testing.T) {
		f := newSTJoin(t, true)
		f.pushStream(t, 2, "X")
		f.check(t, "0=X0+null@0 1=X1+null@1")
		f.pushTable(t, 1, "Y")
		f.check(t, "")
		f.pushStream(t, 2, "X")
		f.check(t, "0=X0+Y0@0 1=X1+null@1")
		aggMust(t, f.stream.PipeRecord(streamstest.Record[int32, string]{Value: "A", KeyNull: true, Timestamp: 9}))
		aggMust(t, f.stream.PipeTombstone(0, 10))
		f.check(t, "<null>=A+null@9")
		aggWant(t, "dropped", fmt.Sprint(f.d.DroppedAll()), "map[null-value:1]")
	})
}

// A stream whose keys were changed is repartitioned before the join, through
// a topic named after the node that changed the keys; joining it with two
// tables reuses that topic (KStreamKTableJoinTest's
// shouldReuseRepartitionTopicWithGeneratedName), and named joins get their
// own (shouldCreateRepartitionTopicsWithUserProvidedName). The tables are
// materialized with given names, so the generated indexes differ from Kafka
// Streams' by the indexes its generated store names take.
func TestStreamTableJoinRepartitionNaming(t *testing.T) {
	build := func(named bool) *topology.Builder {
		b := topology.NewBuilder()
		streamA := kstream.From(b, "topic", serde.String(), serde.String())
		tableB := ktable.From(b, "topic2", serde.String(), serde.String(), "tableB")
		tableC := ktable.From(b, "topic3", serde.String(), serde.String(), "tableC")
		rekeyed := kstream.Map(streamA, func(k, v string) (string, string) { return v, k },
			kstream.WithKeySerde(serde.String()), kstream.WithValueSerde(serde.String()))
		var o1, o2 []kstream.Option
		if named {
			o1, o2 = []kstream.Option{kstream.Named("first-join")}, []kstream.Option{kstream.Named("second-join")}
		}
		kstream.JoinTable(rekeyed, tableB, func(a, b string) string { return a + b }, o1...).To("out-one")
		kstream.JoinTable(rekeyed, tableC, func(a, b string) string { return a + b }, o2...).To("out-two")
		return b
	}
	t.Run("generated", func(t *testing.T) {
		topo, err := build(false).Build()
		aggMust(t, err)
		want := `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])
      --> KSTREAM-MAP-0000000005
    Processor: KSTREAM-MAP-0000000005 (stores: [])
      --> KSTREAM-FILTER-0000000007
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000007 (stores: [])
      --> KSTREAM-SINK-0000000006
      <-- KSTREAM-MAP-0000000005
    Sink: KSTREAM-SINK-0000000006 (topic: KSTREAM-MAP-0000000005-repartition)
      <-- KSTREAM-FILTER-0000000007

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000008 (topics: [KSTREAM-MAP-0000000005-repartition])
      --> KSTREAM-JOIN-0000000009, KSTREAM-JOIN-0000000014
    Processor: KSTREAM-JOIN-0000000009 (stores: [tableB])
      --> KSTREAM-SINK-0000000010
      <-- KSTREAM-SOURCE-0000000008
    Processor: KSTREAM-JOIN-0000000014 (stores: [tableC])
      --> KSTREAM-SINK-0000000015
      <-- KSTREAM-SOURCE-0000000008
    Source: KSTREAM-SOURCE-0000000001 (topics: [topic2])
      --> KTABLE-SOURCE-0000000002
    Source: KSTREAM-SOURCE-0000000003 (topics: [topic3])
      --> KTABLE-SOURCE-0000000004
    Sink: KSTREAM-SINK-0000000010 (topic: out-one)
      <-- KSTREAM-JOIN-0000000009
    Sink: KSTREAM-SINK-0000000015 (topic: out-two)
      <-- KSTREAM-JOIN-0000000014
    Processor: KTABLE-SOURCE-0000000002 (stores: [tableB])
      --> none
      <-- KSTREAM-SOURCE-0000000001
    Processor: KTABLE-SOURCE-0000000004 (stores: [tableC])
      --> none
      <-- KSTREAM-SOURCE-0000000003

`
		if got := topo.Describe().String(); got != want {
			t.Errorf("Describe:\n%s\nwant:\n%s", got, want)
		}
		d, err := streamstest.New(topo)
		aggMust(t, err)
		defer d.Close()
		aggMust(t, streamstest.NewInputTopic(d, "topic2", serde.String(), serde.String()).PipeAt("v", "B", 1))
		aggMust(t, streamstest.NewInputTopic(d, "topic3", serde.String(), serde.String()).PipeAt("v", "C", 1))
		aggMust(t, streamstest.NewInputTopic(d, "topic", serde.String(), serde.String()).PipeAt("k", "v", 2))
		aggWant(t, "out-one", aggRead(t, streamstest.NewOutputTopic(d, "out-one", serde.String(), serde.String())), "v=kB@2")
		aggWant(t, "out-two", aggRead(t, streamstest.NewOutputTopic(d, "out-two", serde.String(), serde.String())), "v=kC@2")
	})
	t.Run("named", func(t *testing.T) {
		topo, err := build(true).Build()
		aggMust(t, err)
		want := `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])
      --> KSTREAM-MAP-0000000005
    Processor: KSTREAM-MAP-0000000005 (stores: [])
      --> first-join-repartition-filter, second-join-repartition-filter
      <-- KSTREAM-SOURCE-0000000000
    Processor: first-join-repartition-filter (stores: [])
      --> first-join-repartition-sink
      <-- KSTREAM-MAP-0000000005
    Processor: second-join-repartition-filter (stores: [])
      --> second-join-repartition-sink
      <-- KSTREAM-MAP-0000000005
    Sink: first-join-repartition-sink (topic: first-join-repartition)
      <-- first-join-repartition-filter
    Sink: second-join-repartition-sink (topic: second-join-repartition)
      <-- second-join-repartition-filter

  Sub-topology: 1
    Source: first-join-repartition-source (topics: [first-join-repartition])
      --> first-join
    Source: KSTREAM-SOURCE-0000000001 (topics: [topic2])
      --> KTABLE-SOURCE-0000000002
    Processor: first-join (stores: [tableB])
      --> KSTREAM-SINK-0000000010
      <-- first-join-repartition-source
    Sink: KSTREAM-SINK-0000000010 (topic: out-one)
      <-- first-join
    Processor: KTABLE-SOURCE-0000000002 (stores: [tableB])
      --> none
      <-- KSTREAM-SOURCE-0000000001

  Sub-topology: 2
    Source: second-join-repartition-source (topics: [second-join-repartition])
      --> second-join
    Source: KSTREAM-SOURCE-0000000003 (topics: [topic3])
      --> KTABLE-SOURCE-0000000004
    Processor: second-join (stores: [tableC])
      --> KSTREAM-SINK-0000000015
      <-- second-join-repartition-source
    Sink: KSTREAM-SINK-0000000015 (topic: out-two)
      <-- second-join
    Processor: KTABLE-SOURCE-0000000004 (stores: [tableC])
      --> none
      <-- KSTREAM-SOURCE-0000000003

`
		if got := topo.Describe().String(); got != want {
			t.Errorf("Describe:\n%s\nwant:\n%s", got, want)
		}
	})
}

type globalJoinFixture struct {
	d      *streamstest.Driver
	stream *streamstest.InputTopic[int32, string]
	table  *streamstest.InputTopic[string, string]
	out    *streamstest.OutputTopic[int32, string]
}

// newGlobalJoin builds KStreamGlobalKTable(Left)JoinTest's topology: the
// stream value "X0,FKey0" names the global table key after the comma; a
// value without a comma maps to a null key (a nil *string).
func newGlobalJoin(t *testing.T, left bool) *globalJoinFixture {
	b := topology.NewBuilder()
	s := kstream.From(b, "streamTopic", serde.Int32(), serde.String())
	g := ktable.Global(b, "globalTableTopic", serde.Nullable(serde.String()), serde.String(), "global")
	mapper := func(_ int32, v string) *string {
		if _, fk, ok := strings.Cut(v, ","); ok {
			return &fk
		}
		return nil
	}
	if left {
		kstream.LeftJoinGlobal(s, g, mapper, func(v string, gv *string) string {
			if gv == nil {
				return v + "+null"
			}
			return v + "+" + *gv
		}).To("out")
	} else {
		kstream.JoinGlobal(s, g, mapper, func(v, gv string) string { return v + "+" + gv }).To("out")
	}
	d := aggDriver(t, b)
	return &globalJoinFixture{d: d,
		stream: streamstest.NewInputTopic(d, "streamTopic", serde.Int32(), serde.String(),
			streamstest.StartAt(0), streamstest.AutoAdvance(time.Millisecond)),
		table: streamstest.NewInputTopic(d, "globalTableTopic", serde.String(), serde.String()),
		out:   streamstest.NewOutputTopic(d, "out", serde.Int32(), serde.String()),
	}
}

func (f *globalJoinFixture) pushStream(t *testing.T, n int, prefix string, foreignKey, nullKey bool) {
	for i := range int32(n) {
		v := fmt.Sprint(prefix, i)
		if foreignKey {
			v += fmt.Sprint(",FKey", i)
		}
		aggMust(t, f.pipeStream(streamstest.Record[int32, string]{Key: i, Value: v, KeyNull: nullKey && i == 0}))
	}
}

// pipeStream pipes r with the stream topic's next automatic timestamp.
func (f *globalJoinFixture) pipeStream(r streamstest.Record[int32, string]) error {
	if r.KeyNull {
		return f.stream.PipeValue(r.Value)
	}
	return f.stream.Pipe(r.Key, r.Value)
}

func (f *globalJoinFixture) pushTable(t *testing.T, n int, prefix string) {
	for i := range n {
		aggMust(t, f.table.Pipe(fmt.Sprint("FKey", i), fmt.Sprint(prefix, i)))
	}
}

func (f *globalJoinFixture) pushTableTombstones(t *testing.T, n int) {
	for i := range n {
		aggMust(t, f.table.PipeTombstone(fmt.Sprint("FKey", i), 0))
	}
}

func (f *globalJoinFixture) check(t *testing.T, want string) {
	t.Helper()
	aggWant(t, "joined", aggRead(t, f.out), want)
}

func TestStreamGlobalTableJoinKS(t *testing.T) {
	t.Run("shouldNotJoinWithEmptyGlobalTableOnStreamUpdates", func(t *testing.T) {
		f := newGlobalJoin(t, false)
		f.pushStream(t, 2, "X", true, false)
		f.check(t, "")
	})
	t.Run("shouldNotJoinOnGlobalTableUpdates", func(t *testing.T) {
		f := newGlobalJoin(t, false)
		f.pushStream(t, 2, "X", true, false)
		f.check(t, "")
		f.pushTable(t, 2, "Y")
		f.check(t, "")
		f.pushStream(t, 4, "X", true, false)
		f.check(t, "0=X0,FKey0+Y0@2 1=X1,FKey1+Y1@3")
		f.pushTable(t, 4, "YY")
		f.check(t, "")
		f.pushStream(t, 4, "X", true, false)
		f.check(t, "0=X0,FKey0+YY0@6 1=X1,FKey1+YY1@7 2=X2,FKey2+YY2@8 3=X3,FKey3+YY3@9")
		f.pushTable(t, 4, "YYY")
		f.check(t, "")
	})
	t.Run("shouldJoinOnlyIfMatchFoundOnStreamUpdates", func(t *testing.T) {
		f := newGlobalJoin(t, false)
		f.pushTable(t, 2, "Y")
		f.pushStream(t, 4, "X", true, false)
		f.check(t, "0=X0,FKey0+Y0@0 1=X1,FKey1+Y1@1")
	})
	t.Run("shouldClearGlobalTableEntryOnNullValueUpdates", func(t *testing.T) {
		f := newGlobalJoin(t, false)
		f.pushTable(t, 4, "Y")
		f.pushStream(t, 4, "X", true, false)
		f.check(t, "0=X0,FKey0+Y0@0 1=X1,FKey1+Y1@1 2=X2,FKey2+Y2@2 3=X3,FKey3+Y3@3")
		f.pushTableTombstones(t, 2)
		f.check(t, "")
		f.pushStream(t, 4, "XX", true, false)
		f.check(t, "2=XX2,FKey2+Y2@6 3=XX3,FKey3+Y3@7")
	})
	t.Run("shouldNotJoinOnNullKeyMapperValues", func(t *testing.T) {
		f := newGlobalJoin(t, false)
		f.pushTable(t, 4, "Y")
		f.pushStream(t, 4, "XXX", false, false)
		f.check(t, "")
		aggWant(t, "dropped", fmt.Sprint(f.d.DroppedAll()), "map[null-key:4]")
	})
	t.Run("shouldJoinOnNullKeyWithNonNullKeyMapperValues", func(t *testing.T) {
		f := newGlobalJoin(t, false)
		f.pushTable(t, 2, "Y")
		f.pushStream(t, 4, "X", true, true)
		f.check(t, "<null>=X0,FKey0+Y0@0 1=X1,FKey1+Y1@1")
	})
}

func TestStreamGlobalTableLeftJoinKS(t *testing.T) {
	t.Run("shouldNotJoinOnGlobalTableUpdates", func(t *testing.T) {
		f := newGlobalJoin(t, true)
		f.pushStream(t, 2, "X", true, false)
		f.check(t, "0=X0,FKey0+null@0 1=X1,FKey1+null@1")
		f.pushTable(t, 2, "Y")
		f.check(t, "")
		f.pushStream(t, 4, "X", true, false)
		f.check(t, "0=X0,FKey0+Y0@2 1=X1,FKey1+Y1@3 2=X2,FKey2+null@4 3=X3,FKey3+null@5")
		f.pushTable(t, 4, "YY")
		f.check(t, "")
		f.pushStream(t, 4, "X", true, false)
		f.check(t, "0=X0,FKey0+YY0@6 1=X1,FKey1+YY1@7 2=X2,FKey2+YY2@8 3=X3,FKey3+YY3@9")
	})
	t.Run("shouldJoinRegardlessIfMatchFoundOnStreamUpdates", func(t *testing.T) {
		f := newGlobalJoin(t, true)
		f.pushTable(t, 2, "Y")
		f.pushStream(t, 4, "X", true, false)
		f.check(t, "0=X0,FKey0+Y0@0 1=X1,FKey1+Y1@1 2=X2,FKey2+null@2 3=X3,FKey3+null@3")
	})
	t.Run("shouldClearGlobalTableEntryOnNullValueUpdates", func(t *testing.T) {
		f := newGlobalJoin(t, true)
		f.pushTable(t, 4, "Y")
		f.pushStream(t, 4, "X", true, false)
		f.check(t, "0=X0,FKey0+Y0@0 1=X1,FKey1+Y1@1 2=X2,FKey2+Y2@2 3=X3,FKey3+Y3@3")
		f.pushTableTombstones(t, 2)
		f.check(t, "")
		f.pushStream(t, 4, "XX", true, false)
		f.check(t, "0=XX0,FKey0+null@4 1=XX1,FKey1+null@5 2=XX2,FKey2+Y2@6 3=XX3,FKey3+Y3@7")
	})
	t.Run("shouldNotJoinOnNullKeyMapperValues", func(t *testing.T) {
		f := newGlobalJoin(t, true)
		f.pushTable(t, 4, "Y")
		f.pushStream(t, 4, "XXX", false, false)
		f.check(t, "")
		aggWant(t, "dropped", fmt.Sprint(f.d.DroppedAll()), "map[null-key:4]")
	})
	t.Run("shouldJoinOnNullKeyWithNonNullKeyMapperValues", func(t *testing.T) {
		f := newGlobalJoin(t, true)
		f.pushTable(t, 4, "Y")
		f.pushStream(t, 4, "X", true, true)
		f.check(t, "<null>=X0,FKey0+Y0@0 1=X1,FKey1+Y1@1 2=X2,FKey2+Y2@2 3=X3,FKey3+Y3@3")
	})
	// A null key whose mapped key is null too is joined with null, as the
	// left join keeps every record with a value.
	t.Run("nullKeyAndNullMappedKey", func(t *testing.T) {
		f := newGlobalJoin(t, true)
		aggMust(t, f.stream.PipeValue("X"))
		f.check(t, "<null>=X+null@0")
		aggWant(t, "dropped", fmt.Sprint(f.d.DroppedAll()), "map[]")
	})
}

// A global table is kept whole by its own global task: it is readable with
// ReadTable, and its store is not logged (its topic is its changelog).
func TestGlobalTableStore(t *testing.T) {
	b := topology.NewBuilder()
	s := kstream.From(b, "in", serde.String(), serde.String())
	g := ktable.Global(b, "regions", serde.String(), serde.String(), "regions")
	kstream.JoinGlobal(s, g, func(_, v string) string { return v }, func(v, r string) string { return v + "@" + r }).To("out")
	d := aggDriver(t, b, streamstest.WithPartitions("regions", 3), streamstest.WithPartitions("in", 2))
	regions := streamstest.NewInputTopic(d, "regions", serde.String(), serde.String())
	aggMust(t, regions.PipeAt("us", "America", 1))
	aggMust(t, regions.PipeAt("eu", "Europe", 2))
	aggMust(t, regions.PipeAt("ap", "Asia", 3))
	aggMust(t, regions.PipeTombstone("ap", 4))
	rows, err := streamstest.ReadTable[string, string](d, "regions")
	aggMust(t, err)
	aggWant(t, "global store", fmt.Sprint(rows), "[{eu Europe} {us America}]")
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	aggMust(t, in.PipeRecordTo(streamstest.Record[string, string]{Key: "u1", Value: "eu", Timestamp: 10}, 0))
	aggMust(t, in.PipeRecordTo(streamstest.Record[string, string]{Key: "u2", Value: "us", Timestamp: 11}, 1))
	aggMust(t, in.PipeRecordTo(streamstest.Record[string, string]{Key: "u3", Value: "ap", Timestamp: 12}, 1))
	aggWant(t, "out", aggRead(t, streamstest.NewOutputTopic(d, "out", serde.String(), serde.String())),
		"u1=eu@Europe@10 u2=us@America@11")
}
