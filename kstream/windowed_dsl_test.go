package kstream_test

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/internal/testdriven"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// TestWindowedDSL runs the data-driven tests in testdata/windowed: windowed
// aggregations, late records, suppression and emit-on-window-close. Many
// scenarios are Kafka Streams' own tests (KStreamWindowAggregateTest,
// KStreamSlidingWindowAggregateTest, SuppressScenarioTest, ...), with the
// outputs Kafka Streams expects. Commands:
//
//	topology <name> [manual-commit] [state-dir] [partitions=topic:n,...]
//	    builds the registered topology and starts a driver; with
//	    state-dir, state is kept in a Pebble directory that restart
//	    reopens. Prints the Build error, if any.
//	pipe
//	<topic> <key> <value> @<ts> [tombstone] [nullkey] [headers=k:v,...]
//	    pipes each input line (string keys and values); prints errors.
//	commit
//	    commits every task (flushes caches).
//	restart
//	    closes the driver (dropping what was not committed) and starts a
//	    new one on the same state directory.
//	read <topic> [key=string|tw:<size ms>|sw] [value=string|int64] [partition]
//	    prints the unread records of topic: "<key> -> <value> @<ts>",
//	    windowed keys as Kafka Streams prints them, [key@start/end].
//	windows <store> <key> <from> <to>
//	    prints the windows of key starting in [from, to] that the count
//	    store (of partition 0) holds: "[start/end] value @ts".
//	dropped
//	    prints the dropped-record counts by reason.
func TestWindowedDSL(t *testing.T) {
	testdriven.Walk(t, "testdata/windowed", func(t *testing.T, path string) {
		h := &winHarness{t: t}
		defer h.close()
		testdriven.RunTest(t, path, h.run)
	})
}

type winHarness struct {
	t        *testing.T
	name     string
	opts     []streamstest.Option
	topo     *topology.Topology
	driver   *streamstest.Driver
	stateDir string
}

func (h *winHarness) close() {
	if h.driver != nil {
		if err := h.driver.Close(); err != nil {
			h.t.Errorf("closing the driver: %v", err)
		}
		h.driver = nil
	}
}

func (h *winHarness) run(d *testdriven.TestData) string {
	t := h.t
	if d.Cmd != "topology" && h.driver == nil {
		return "no driver\n"
	}
	switch d.Cmd {
	case "topology":
		h.close()
		h.name, h.opts, h.stateDir = d.Args[0], nil, ""
		if d.Flag("manual-commit") {
			h.opts = append(h.opts, streamstest.WithManualCommit())
		}
		if d.Flag("state-dir") {
			h.stateDir = t.TempDir()
			h.opts = append(h.opts, streamstest.WithStateDir(h.stateDir))
		}
		if v, ok := d.Arg("partitions"); ok {
			for _, tp := range strings.Split(v, ",") {
				topic, n, _ := strings.Cut(tp, ":")
				count, err := strconv.Atoi(n)
				if err != nil {
					t.Fatalf("%s: partitions: %v", d.Pos, err)
				}
				h.opts = append(h.opts, streamstest.WithPartitions(topic, count))
			}
		}
		return h.start(d)
	case "restart":
		if h.stateDir == "" {
			t.Fatalf("%s: restart needs a topology with state-dir", d.Pos)
		}
		h.close()
		return h.start(d)
	case "pipe":
		var out strings.Builder
		for _, line := range strings.Split(strings.TrimSuffix(d.Input, "\n"), "\n") {
			words, err := testdriven.Split(line)
			if err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
			if err := h.pipe(d.Pos, words); err != nil {
				out.WriteString("error: " + err.Error() + "\n")
				break
			}
		}
		return out.String()
	case "commit":
		if err := h.driver.Commit(); err != nil {
			return "error: " + err.Error() + "\n"
		}
		return ""
	case "read":
		return h.read(d)
	case "windows":
		st, err := h.driver.Store(d.Args[0], 0)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		ws, ok := st.(*state.WindowStore[string, state.ValueAndTimestamp[int64]])
		if !ok {
			t.Fatalf("%s: store %q is a %T", d.Pos, d.Args[0], st)
		}
		from, _ := strconv.ParseInt(d.Args[2], 10, 64)
		to, _ := strconv.ParseInt(d.Args[3], 10, 64)
		var out strings.Builder
		for e, err := range ws.FetchRange(d.Args[1], from, to) {
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			fmt.Fprintf(&out, "[%d/%d] %d @%d\n", e.Start, e.End, e.Value.Value, e.Value.Timestamp)
		}
		if out.Len() == 0 {
			return "(none)\n"
		}
		return out.String()
	case "dropped":
		all := h.driver.DroppedAll()
		if len(all) == 0 {
			return "none\n"
		}
		var out strings.Builder
		for _, reason := range slices.Sorted(maps.Keys(all)) {
			fmt.Fprintf(&out, "%s: %d\n", reason, all[reason])
		}
		return out.String()
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return ""
}

func (h *winHarness) start(d *testdriven.TestData) string {
	build, ok := winRegistry[h.name]
	if !ok {
		h.t.Fatalf("%s: no topology %q", d.Pos, h.name)
	}
	b := topology.NewBuilder()
	build(b)
	topo, err := b.Build()
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	h.topo = topo
	drv, err := streamstest.New(topo, h.opts...)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	h.driver = drv
	return "ok\n"
}

func (h *winHarness) pipe(pos string, words []string) error {
	var positional []string
	var ts int64
	var headers processor.Headers
	nullKey, tombstone := false, false
	for _, w := range words {
		switch {
		case w == "nullkey":
			nullKey = true
		case w == "tombstone":
			tombstone = true
		case strings.HasPrefix(w, "@"):
			v, err := strconv.ParseInt(w[1:], 10, 64)
			if err != nil {
				h.t.Fatalf("%s: timestamp: %v", pos, err)
			}
			ts = v
		case strings.HasPrefix(w, "headers="):
			for _, kv := range strings.Split(strings.TrimPrefix(w, "headers="), ",") {
				k, v, _ := strings.Cut(kv, ":")
				headers = append(headers, processor.Header{Key: k, Value: []byte(v)})
			}
		default:
			positional = append(positional, w)
		}
	}
	want := 3
	if nullKey {
		want--
	}
	if tombstone {
		want--
	}
	if len(positional) != want {
		h.t.Fatalf("%s: pipe wants %d of topic, key, value; got %q", pos, want, positional)
	}
	topic, rest := positional[0], positional[1:]
	var key, value []byte
	if !nullKey {
		key, rest = []byte(rest[0]), rest[1:]
	}
	if !tombstone {
		value = []byte(rest[0])
	}
	return h.driver.PipeRaw(topic, -1, key, value, ts, headers)
}

func (h *winHarness) read(d *testdriven.TestData) string {
	keyFormat, _ := d.Arg("key")
	valueFormat, _ := d.Arg("value")
	fk := func(b []byte) string {
		switch {
		case keyFormat == "" || keyFormat == "string":
			return string(b)
		case keyFormat == "sw":
			w, err := window.SessionWindowedSerde(serde.String()).Deserialize(b)
			if err != nil {
				return "<" + err.Error() + ">"
			}
			return w.String()
		case strings.HasPrefix(keyFormat, "tw:"):
			size, err := strconv.ParseInt(strings.TrimPrefix(keyFormat, "tw:"), 10, 64)
			if err != nil {
				h.t.Fatalf("%s: %v", d.Pos, err)
			}
			w, err := window.TimeWindowedSerde(serde.String(), size).Deserialize(b)
			if err != nil {
				return "<" + err.Error() + ">"
			}
			return w.String()
		}
		h.t.Fatalf("%s: unknown key format %q", d.Pos, keyFormat)
		return ""
	}
	fv := func(b []byte) string {
		switch valueFormat {
		case "", "string":
			return string(b)
		case "int64":
			if len(b) != 8 {
				return fmt.Sprintf("<%d bytes>", len(b))
			}
			return strconv.FormatInt(int64(binary.BigEndian.Uint64(b)), 10)
		}
		h.t.Fatalf("%s: unknown value format %q", d.Pos, valueFormat)
		return ""
	}
	recs, err := streamstest.NewOutputTopic(h.driver, d.Args[0], serde.Bytes(), serde.Bytes()).ReadRecords()
	if err != nil {
		h.t.Fatalf("%s: %v", d.Pos, err)
	}
	var sb strings.Builder
	for _, r := range recs {
		k, v := "<null>", "<null>"
		if !r.KeyNull {
			k = fk(r.Key)
		}
		if !r.ValueNull {
			v = fv(r.Value)
		}
		if d.Flag("partition") {
			fmt.Fprintf(&sb, "p%d ", r.Partition)
		}
		fmt.Fprintf(&sb, "%s -> %s @%d", k, v, r.Timestamp)
		if len(r.Headers) > 0 {
			hs := make([]string, len(r.Headers))
			for i, hd := range r.Headers {
				hs[i] = hd.Key + "=" + string(hd.Value)
			}
			fmt.Fprintf(&sb, " {%s}", strings.Join(hs, ", "))
		}
		sb.WriteString("\n")
	}
	if sb.Len() == 0 {
		return "(none)\n"
	}
	return sb.String()
}

func winSource(b *topology.Builder) kstream.Stream[string, string] {
	return kstream.From(b, "input", serde.String(), serde.String())
}

// winGrouped groups the input by key through a key selector, which
// repartitions, as Kafka Streams' tests groupBy((k, v) -> k).
func winGrouped(b *topology.Builder) kstream.GroupedStream[string, string] {
	return kstream.GroupBy(winSource(b), func(k, _ string) string { return k })
}

func winStringAdder(_ string, v, agg string) string { return agg + "+" + v }

func winStringInit() string { return "0" }

// winToStrings writes a windowed table's updates to topic with the windowed
// key printed, as Kafka Streams' SuppressScenarioTest does.
func winToStrings[V any](t ktable.Table[window.Windowed[string], V], topic string) {
	kstream.SelectKey(kstream.FromTable(t), func(k window.Windowed[string], _ V) string { return k.String() }).To(topic)
}

var winRegistry = map[string]func(b *topology.Builder){
	// KStreamWindowAggregateTest.testAggBasic: hopping windows of 10 every
	// 5 with a grace of 100.
	"hopping-aggregate": func(b *topology.Builder) {
		w := window.Hopping(10*time.Millisecond, 5*time.Millisecond).WithGrace(100 * time.Millisecond)
		t := kstream.AggregateWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w),
			winStringInit, winStringAdder, "topic1-Canonized")
		kstream.FromTable(t).To("output")
	},
	"hopping-aggregate-emit-final": func(b *topology.Builder) {
		w := window.Hopping(10*time.Millisecond, 5*time.Millisecond).WithGrace(100 * time.Millisecond)
		t := kstream.AggregateWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w),
			winStringInit, winStringAdder, "topic1-Canonized", kstream.EmitOnWindowClose())
		kstream.FromTable(t).To("output")
	},
	// KStreamWindowAggregateTest's emit tests: hopping windows of 10 every
	// 5 with a grace of 5.
	"hopping-grace5": func(b *topology.Builder) {
		w := window.Hopping(10*time.Millisecond, 5*time.Millisecond).WithGrace(5 * time.Millisecond)
		t := kstream.AggregateWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w),
			winStringInit, winStringAdder, "store")
		kstream.FromTable(t).To("output")
	},
	"hopping-grace5-emit-final": func(b *topology.Builder) {
		w := window.Hopping(10*time.Millisecond, 5*time.Millisecond).WithGrace(5 * time.Millisecond)
		t := kstream.AggregateWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w),
			winStringInit, winStringAdder, "store", kstream.EmitOnWindowClose())
		kstream.FromTable(t).To("output")
	},
	// Tumbling counts of 10 with a grace of 5.
	"tumbling-count": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond).WithGrace(5 * time.Millisecond)
		t := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w), "counts")
		kstream.FromTable(t).To("output")
	},
	"tumbling-count-emit-final": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond).WithGrace(5 * time.Millisecond)
		t := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w), "counts",
			kstream.EmitOnWindowClose())
		kstream.FromTable(t).To("output")
	},
	"tumbling-reduce": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond)
		t := kstream.ReduceWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w),
			func(agg, v string) string { return agg + "+" + v }, "reduced")
		kstream.FromTable(t).To("output")
	},
	// The SlidingWindows javadoc example: a time difference of 5000.
	"sliding-count": func(b *topology.Builder) {
		w := window.Sliding(5000 * time.Millisecond)
		t := kstream.CountWindowed(kstream.SlidingWindowedBy(kstream.GroupByKey(winSource(b)), w), "counts")
		kstream.FromTable(t).To("output")
	},
	// KStreamSlidingWindowAggregateTest: a time difference of 10, grace 5.
	"sliding-aggregate": func(b *topology.Builder) {
		w := window.Sliding(10 * time.Millisecond).WithGrace(5 * time.Millisecond)
		t := kstream.AggregateWindowed(kstream.SlidingWindowedBy(kstream.GroupByKey(winSource(b)), w),
			winStringInit, winStringAdder, "store-name")
		kstream.FromTable(t).To("output")
	},
	"sliding-aggregate-emit-final": func(b *topology.Builder) {
		w := window.Sliding(10 * time.Millisecond).WithGrace(5 * time.Millisecond)
		t := kstream.AggregateWindowed(kstream.SlidingWindowedBy(kstream.GroupByKey(winSource(b)), w),
			winStringInit, winStringAdder, "store-name", kstream.EmitOnWindowClose())
		kstream.FromTable(t).To("output")
	},
	// KStreamSlidingWindowAggregateTest's early records: a time difference
	// of 50, no grace.
	"sliding-early": func(b *topology.Builder) {
		w := window.Sliding(50 * time.Millisecond)
		t := kstream.AggregateWindowed(kstream.SlidingWindowedBy(kstream.GroupByKey(winSource(b)), w),
			winStringInit, winStringAdder, "topic-Canonized")
		kstream.FromTable(t).To("output")
	},
	"sliding-early-emit-final": func(b *topology.Builder) {
		w := window.Sliding(50 * time.Millisecond)
		t := kstream.AggregateWindowed(kstream.SlidingWindowedBy(kstream.GroupByKey(winSource(b)), w),
			winStringInit, winStringAdder, "topic-Canonized", kstream.EmitOnWindowClose())
		kstream.FromTable(t).To("output")
	},
	"sliding-reduce": func(b *topology.Builder) {
		w := window.Sliding(10 * time.Millisecond).WithGrace(5 * time.Millisecond)
		t := kstream.ReduceWindowed(kstream.SlidingWindowedBy(kstream.GroupByKey(winSource(b)), w),
			func(agg, v string) string { return agg + "+" + v }, "store-name")
		kstream.FromTable(t).To("output")
	},
	// Sessions with a gap of 5 and no grace, uncached, as
	// SuppressScenarioTest.shouldSupportFinalResultsForSessionWindows.
	"session-count-final": func(b *topology.Builder) {
		counts := kstream.CountSessions(kstream.SessionWindowedBy(winGrouped(b), window.Session(5*time.Millisecond)),
			"counts", kstream.WithCaching(false))
		winToStrings(counts.Suppress(window.UntilWindowCloses(window.Unbounded())), "output-suppressed")
		winToStrings(counts, "output-raw")
	},
	// Session aggregates with a gap of 10 and a grace of 20: the merger
	// concatenates.
	"session-aggregate": func(b *topology.Builder) {
		w := window.Session(10 * time.Millisecond).WithGrace(20 * time.Millisecond)
		t := kstream.AggregateSessions(kstream.SessionWindowedBy(kstream.GroupByKey(winSource(b)), w),
			func() string { return "" }, func(_ string, v, agg string) string { return agg + v },
			func(_ string, a, b string) string { return a + "|" + b }, "sessions", kstream.WithCaching(false))
		kstream.FromTable(t).To("output")
	},
	"session-aggregate-emit-final": func(b *topology.Builder) {
		w := window.Session(10 * time.Millisecond).WithGrace(5 * time.Millisecond)
		t := kstream.AggregateSessions(kstream.SessionWindowedBy(kstream.GroupByKey(winSource(b)), w),
			func() string { return "" }, func(_ string, v, agg string) string { return agg + v },
			func(_ string, a, b string) string { return a + "|" + b }, "sessions", kstream.EmitOnWindowClose())
		kstream.FromTable(t).To("output")
	},
	"session-reduce": func(b *topology.Builder) {
		w := window.Session(10 * time.Millisecond).WithGrace(20 * time.Millisecond)
		t := kstream.ReduceSessions(kstream.SessionWindowedBy(kstream.GroupByKey(winSource(b)), w),
			func(agg, v string) string { return agg + "+" + v }, "sessions", kstream.WithCaching(false))
		kstream.FromTable(t).To("output")
	},
	// SuppressScenarioTest.shouldSupportFinalResultsForTimeWindows: size
	// 2, grace 1, uncached.
	"suppress-final-time": func(b *topology.Builder) {
		w := window.Tumbling(2 * time.Millisecond).WithGrace(1 * time.Millisecond)
		counts := kstream.CountWindowed(kstream.WindowedBy(winGrouped(b), w), "counts", kstream.WithCaching(false))
		winToStrings(counts.Suppress(window.UntilWindowCloses(window.Unbounded())), "output-suppressed")
		winToStrings(counts, "output-raw")
	},
	// ...WithLargeJump: size 2, grace 2.
	"suppress-final-time-jump": func(b *topology.Builder) {
		w := window.Tumbling(2 * time.Millisecond).WithGrace(2 * time.Millisecond)
		counts := kstream.CountWindowed(kstream.WindowedBy(winGrouped(b), w), "counts", kstream.WithCaching(false))
		winToStrings(counts.Suppress(window.UntilWindowCloses(window.Unbounded())), "output-suppressed")
		winToStrings(counts, "output-raw")
	},
	// ...ForSlidingWindows: time difference 5, grace 15.
	"suppress-final-sliding": func(b *topology.Builder) {
		w := window.Sliding(5 * time.Millisecond).WithGrace(15 * time.Millisecond)
		counts := kstream.CountWindowed(kstream.SlidingWindowedBy(winGrouped(b), w), "counts", kstream.WithCaching(false))
		winToStrings(counts.Suppress(window.UntilWindowCloses(window.Unbounded())), "output-suppressed")
		winToStrings(counts, "output-raw")
	},
	// A cached, logged windowed count (the defaults) with a suppression
	// that emits final results, written with the windowed key serde.
	"suppress-final-cached": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond).WithGrace(5 * time.Millisecond)
		counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w), "counts")
		kstream.FromTable(counts.Suppress(window.UntilWindowCloses(window.Unbounded()), ktable.Named("final"))).To("final")
		kstream.FromTable(counts).To("raw")
	},
	// Final results of sessions (gap 5, grace 2), cached.
	"suppress-final-session-cached": func(b *topology.Builder) {
		w := window.Session(5 * time.Millisecond).WithGrace(2 * time.Millisecond)
		counts := kstream.CountSessions(kstream.SessionWindowedBy(kstream.GroupByKey(winSource(b)), w), "counts")
		kstream.FromTable(counts.Suppress(window.UntilWindowCloses(window.Unbounded()))).To("final")
	},
	// SuppressScenarioTest's table scenarios: a table grouped by value and
	// counted, uncached and unlogged.
	"suppress-time-limit-zero": func(b *topology.Builder) {
		counts := winValueCounts(b)
		kstream.FromTable(counts.Suppress(window.UntilTimeLimit(0, window.Unbounded()))).To("output-suppressed")
		kstream.FromTable(counts).To("output-raw")
	},
	"suppress-time-limit": func(b *topology.Builder) {
		counts := winValueCounts(b)
		kstream.FromTable(counts.Suppress(window.UntilTimeLimit(2*time.Millisecond, window.Unbounded()))).To("output-suppressed")
		kstream.FromTable(counts).To("output-raw")
	},
	"suppress-record-limit": func(b *topology.Builder) {
		counts := winValueCounts(b)
		kstream.FromTable(counts.Suppress(window.UntilTimeLimit(winForever, window.MaxRecords(1).EmitEarlyWhenFull()))).To("output-suppressed")
		kstream.FromTable(counts).To("output-raw")
	},
	// Each buffered entry here counts 8 (buffer time) + 2 (key) + its
	// values (8 bytes for each of the prior value, the new value and the
	// old one when it differs from the prior; null ones count nothing) + 20
	// (record context: the cached count forwards at commit, without a
	// topic): 38 to 54 bytes. 60 bytes hold one entry, as Kafka Streams'
	// 200 bytes do with its larger estimates.
	"suppress-bytes-limit": func(b *topology.Builder) {
		counts := winValueCounts(b)
		kstream.FromTable(counts.Suppress(window.UntilTimeLimit(winForever, window.MaxBytes(60)))).To("output-suppressed")
		kstream.FromTable(counts).To("output-raw")
	},
	"suppress-record-limit-shutdown": func(b *topology.Builder) {
		counts := winValueCounts(b)
		kstream.FromTable(counts.Suppress(window.UntilTimeLimit(time.Hour, window.MaxRecords(1).ShutDownWhenFull()),
			ktable.Named("limited"))).To("output-suppressed")
	},
	"suppress-final-shutdown": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond)
		counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w), "counts")
		kstream.FromTable(counts.Suppress(window.UntilWindowCloses(window.MaxRecords(2).ShutDownWhenFull()),
			ktable.Named("final"))).To("final")
	},
	"suppress-final-emit-early": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond)
		counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w), "counts")
		kstream.FromTable(counts.Suppress(window.UntilWindowCloses(window.MaxRecords(2)))).To("final")
	},
	"suppress-not-windowed": func(b *topology.Builder) {
		counts := kstream.Count(kstream.GroupByKey(winSource(b)), "counts")
		kstream.FromTable(counts.Suppress(window.UntilWindowCloses(window.Unbounded()), ktable.Named("final"))).To("output")
	},
	// Suppression downstream of a filter of a windowed table: the filter
	// keeps the window close.
	// Sessions (gap 5) and sliding windows (time difference 5), no grace,
	// with their final results: restarts must not reopen closed windows.
	"restart-session-sliding": func(b *topology.Builder) {
		g := kstream.GroupByKey(winSource(b))
		sessions := kstream.CountSessions(kstream.SessionWindowedBy(g, window.Session(5*time.Millisecond)), "sessions")
		kstream.FromTable(sessions.Suppress(window.UntilWindowCloses(window.Unbounded()), ktable.Named("final-sessions"))).To("sessions")
		sliding := kstream.CountWindowed(kstream.SlidingWindowedBy(g, window.Sliding(5*time.Millisecond)), "sliding",
			kstream.EmitOnWindowClose())
		kstream.FromTable(sliding).To("sliding")
	},
	"suppress-after-filter": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond).WithGrace(5 * time.Millisecond)
		counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w), "counts")
		big := counts.Filter(func(_ window.Windowed[string], n int64) bool { return n >= 2 })
		kstream.FromTable(big.Suppress(window.UntilWindowCloses(window.Unbounded()))).To("final")
	},
	// Two windowed tables over the same windows, joined: the join reads
	// each side's windows through its getter, and keeps the window close
	// for the suppression after it.
	"windowed-join": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond).WithGrace(2 * time.Millisecond)
		g := kstream.GroupByKey(winSource(b))
		counts := kstream.CountWindowed(kstream.WindowedBy(g, w), "counts")
		values := kstream.ReduceWindowed(kstream.WindowedBy(g, w), func(agg, v string) string { return agg + v }, "values")
		joined := ktable.Join(counts, values, func(n int64, vs string) string { return fmt.Sprintf("%d:%s", n, vs) })
		kstream.FromTable(joined.Suppress(window.UntilWindowCloses(window.Unbounded()))).To("output")
	},
	"retention-too-short": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond).WithGrace(5 * time.Millisecond)
		kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w), "counts",
			kstream.WithRetention(14*time.Millisecond))
	},
	"retention-long": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond)
		t := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(winSource(b)), w), "counts",
			kstream.WithRetention(time.Hour))
		kstream.FromTable(t).To("output")
	},
	// A windowed count after a key change repartitions first.
	"repartitioned-count": func(b *topology.Builder) {
		w := window.Tumbling(10 * time.Millisecond)
		rekeyed := kstream.SelectKey(winSource(b), func(_, v string) string { return v })
		t := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(rekeyed), w), "counts")
		kstream.FromTable(t).To("output")
	},
	// Event time from the value ("<ts>:<payload>").
	"value-timestamps": func(b *topology.Builder) {
		s := kstream.From(b, "input", serde.String(), serde.String(), kstream.WithTimestampExtractor(
			kstream.TimestampFromValue[string](func(v string) int64 {
				ts, _, _ := strings.Cut(v, ":")
				n, err := strconv.ParseInt(ts, 10, 64)
				if err != nil {
					return -1
				}
				return n
			})), kstream.WithInvalidTimestamp(topology.SkipOnInvalidTimestamp))
		w := window.Tumbling(10 * time.Millisecond)
		t := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(s), w), "counts")
		kstream.FromTable(t).To("output")
	},
}

// winForever is the longest time limit, Kafka Streams' Long.MAX_VALUE ms
// as near as a time.Duration gets.
const winForever = math.MaxInt64 / time.Millisecond * time.Millisecond

// winValueCounts is SuppressScenarioTest's valueCounts: the table of input,
// grouped by value and counted, uncached and unlogged.
func winValueCounts(b *topology.Builder) ktable.Table[string, int64] {
	tbl := ktable.From(b, "input", serde.String(), serde.String(), "input-table",
		ktable.WithCaching(false), ktable.WithLogging(false))
	return ktable.Count(ktable.GroupBy(tbl, func(k, v string) (string, string) { return v, k }), "counts")
}
