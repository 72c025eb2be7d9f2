package kstream_test

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/seed992c72d9/streams/internal/testdriven"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// TestDSL runs the data-driven tests in testdata. Commands:
//
//	topology <name> [partitions=topic:n,...] [wall-clock=<ms>]
//	    builds the registered topology <name> and starts a driver for it;
//	    prints what the topology logged while being built and its tasks,
//	    or the Build error.
//	pipe <topic> <key> <value> @<ts> [partition=n] [headers=k:v,...] [nullkey] [tombstone]
//	    pipes one record (strings); with nullkey the key is omitted, with
//	    tombstone the value. Each input line is piped the same way. Prints
//	    what the topology logged (peeks, punctuations, ...) and any error.
//	    A header written k has a null value.
//	advance-wall-clock <duration>
//	    moves the wall clock; prints what the topology logged.
//	read <topic> [key=string|int64] [value=string|int64]
//	    prints every unread record of topic, in write order:
//	    "p<partition> <key> -> <value> @<ts> {headers}", null as <null>.
//	describe
//	    prints the topology description.
//	dropped
//	    prints the dropped-record counts.
func TestDSL(t *testing.T) {
	testdriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &dslHarness{}
		defer h.close(t)
		testdriven.RunTest(t, path, func(d *testdriven.TestData) string {
			return h.run(t, d)
		})
	})
}

type dslHarness struct {
	topo   *topology.Topology
	driver *streamstest.Driver
	log    []string
}

func (h *dslHarness) logf(format string, args ...any) {
	h.log = append(h.log, fmt.Sprintf(format, args...))
}

// flush returns and clears what the topology logged.
func (h *dslHarness) flush() string {
	var sb strings.Builder
	for _, l := range h.log {
		sb.WriteString(l + "\n")
	}
	h.log = nil
	return sb.String()
}

func (h *dslHarness) close(t *testing.T) {
	if h.driver != nil {
		if err := h.driver.Close(); err != nil {
			t.Errorf("closing the driver: %v", err)
		}
		h.driver = nil
	}
}

func (h *dslHarness) run(t *testing.T, d *testdriven.TestData) string {
	if d.Cmd != "topology" && h.driver == nil {
		t.Fatalf("%s: %s before topology", d.Pos, d.Cmd)
	}
	switch d.Cmd {
	case "topology":
		return h.start(t, d)
	case "pipe":
		records := [][]string{d.Args}
		if len(d.Args) == 0 {
			records = nil
			for _, line := range strings.Split(strings.TrimSuffix(d.Input, "\n"), "\n") {
				words, err := testdriven.Split(line)
				if err != nil {
					t.Fatalf("%s: %v", d.Pos, err)
				}
				records = append(records, words)
			}
		}
		var out strings.Builder
		for _, words := range records {
			err := h.pipe(t, d.Pos, words)
			out.WriteString(h.flush())
			if err != nil {
				out.WriteString("error: " + err.Error() + "\n")
				break
			}
		}
		return out.String()
	case "advance-wall-clock":
		dur, err := time.ParseDuration(d.Args[0])
		if err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		err = h.driver.AdvanceWallClock(dur)
		out := h.flush()
		if err != nil {
			out += "error: " + err.Error() + "\n"
		}
		return out
	case "read":
		return h.read(t, d)
	case "describe":
		return h.topo.Describe().String()
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

func (h *dslHarness) start(t *testing.T, d *testdriven.TestData) string {
	h.close(t)
	h.topo, h.log = nil, nil
	name := d.Args[0]
	build, ok := dslRegistry[name]
	if !ok {
		t.Fatalf("%s: no topology %q", d.Pos, name)
	}
	var opts []streamstest.Option
	if v, ok := d.Arg("partitions"); ok {
		for _, tp := range strings.Split(v, ",") {
			topic, n, _ := strings.Cut(tp, ":")
			count, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("%s: partitions: %v", d.Pos, err)
			}
			opts = append(opts, streamstest.WithPartitions(topic, count))
		}
	}
	if v, ok := d.Arg("wall-clock"); ok {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: wall-clock: %v", d.Pos, err)
		}
		opts = append(opts, streamstest.WithWallClock(time.UnixMilli(ms)))
	}
	b := topology.NewBuilder()
	build(b, h)
	out := h.flush()
	topo, err := b.Build()
	if err != nil {
		return out + "error: " + err.Error() + "\n"
	}
	h.topo = topo
	drv, err := streamstest.New(topo, opts...)
	if err != nil {
		return out + "error: " + err.Error() + "\n"
	}
	h.driver = drv
	var tasks []string
	for _, st := range topo.SubTopologies() {
		n := 0
		for _, topic := range st.SourceTopics {
			n = max(n, drv.Partitions(topic))
		}
		for p := range n {
			tasks = append(tasks, fmt.Sprintf("%d_%d", st.ID, p))
		}
	}
	return out + h.flush() + "tasks: " + strings.Join(tasks, " ") + "\n"
}

// pipe parses "<topic> <key> <value> @<ts> [partition=n] [headers=k:v,...]
// [nullkey] [tombstone]" and pipes the record.
func (h *dslHarness) pipe(t *testing.T, pos string, words []string) error {
	var positional []string
	var ts int64
	partition := int32(-1)
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
				t.Fatalf("%s: timestamp: %v", pos, err)
			}
			ts = v
		case strings.HasPrefix(w, "partition="):
			v, err := strconv.ParseInt(strings.TrimPrefix(w, "partition="), 10, 32)
			if err != nil {
				t.Fatalf("%s: partition: %v", pos, err)
			}
			partition = int32(v)
		case strings.HasPrefix(w, "headers="):
			for _, kv := range strings.Split(strings.TrimPrefix(w, "headers="), ",") {
				k, v, ok := strings.Cut(kv, ":")
				hd := processor.Header{Key: k}
				if ok {
					hd.Value = []byte(v)
				}
				headers = append(headers, hd)
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
		t.Fatalf("%s: pipe wants %d of topic, key, value; got %q", pos, want, positional)
	}
	topic, rest := positional[0], positional[1:]
	var key, value []byte
	if !nullKey {
		key, rest = []byte(rest[0]), rest[1:]
	}
	if !tombstone {
		value = []byte(rest[0])
	}
	return h.driver.PipeRaw(topic, partition, key, value, ts, headers)
}

func (h *dslHarness) read(t *testing.T, d *testdriven.TestData) string {
	format := func(arg string) func([]byte) string {
		f, _ := d.Arg(arg)
		switch f {
		case "", "string":
			return dslFormat
		case "int64":
			return func(b []byte) string {
				if len(b) != 8 {
					return fmt.Sprintf("<%d bytes: %x>", len(b), b)
				}
				return strconv.FormatInt(int64(binary.BigEndian.Uint64(b)), 10)
			}
		}
		t.Fatalf("%s: unknown format %q", d.Pos, f)
		return nil
	}
	fk, fv := format("key"), format("value")
	out := streamstest.NewOutputTopic(h.driver, d.Args[0], serde.Bytes(), serde.Bytes())
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
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
		fmt.Fprintf(&sb, "p%d %s -> %s @%d", r.Partition, k, v, r.Timestamp)
		if len(r.Headers) > 0 {
			hs := make([]string, len(r.Headers))
			for i, hd := range r.Headers {
				hv := "<null>"
				if hd.Value != nil {
					hv = dslFormat(hd.Value)
				}
				hs[i] = hd.Key + "=" + hv
			}
			fmt.Fprintf(&sb, " {%s}", strings.Join(hs, ", "))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// dslFormat prints b as text, quoted when it is empty or holds
// anything but printable characters without spaces.
func dslFormat(b []byte) string {
	s := string(b)
	if s == "" || !utf8.ValidString(s) || strings.ContainsAny(s, " \"\\{},=") || s == "<null>" {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// dslStr formats a string seen by a processor: quoted when empty, so that a
// null or empty value is visible in logs.
func dslStr(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

func dslSource(b *topology.Builder, topic string, opts ...kstream.Option) kstream.Stream[string, string] {
	return kstream.From(b, topic, serde.String(), serde.String(), opts...)
}

func dslWords(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' })
}

// dslMetaLogger forwards records unchanged and logs where each came from.
type dslMetaLogger struct {
	ctx   processor.FixedKeyContext[string, string]
	h     *dslHarness
	label string
}

func (p *dslMetaLogger) Init(ctx processor.FixedKeyContext[string, string]) error {
	p.ctx = ctx
	return nil
}
func (p *dslMetaLogger) Close() error { return nil }
func (p *dslMetaLogger) Process(r processor.FixedKeyRecord[string, string]) error {
	m, _ := p.ctx.RecordMetadata()
	rec := r.Record()
	p.h.logf("%s: task %s got %s=%s @%d from %s/%d@%d (null key %t, null value %t)", p.label, p.ctx.TaskID(),
		dslStr(r.Key()), dslStr(r.Value()), r.Timestamp(), m.Topic, m.Partition, m.Offset, rec.KeyIsNull(), rec.ValueIsNull())
	return p.ctx.Forward(r)
}

func dslLogMeta(s kstream.Stream[string, string], h *dslHarness, label string) kstream.Stream[string, string] {
	return kstream.ProcessValues(s, func() processor.FixedKeyProcessor[string, string, string] {
		return &dslMetaLogger{h: h, label: label}
	})
}

// dslCounter is a Processor API processor: it swaps key and value, counts the
// records per task, and forwards the count every 10s of wall-clock time.
type dslCounter struct {
	ctx   processor.Context[string, string]
	h     *dslHarness
	count int
}

func (p *dslCounter) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	_, err := ctx.Schedule(10*time.Second, processor.WallClockTime, func(ts int64) error {
		p.h.logf("punctuate task %s at %d: count %d", ctx.TaskID(), ts, p.count)
		return ctx.Forward(processor.NewRecord("count", strconv.Itoa(p.count), ts))
	})
	return err
}

func (p *dslCounter) Close() error { return nil }

func (p *dslCounter) Process(r processor.Record[string, string]) error {
	p.count++
	if r.Value == "fail" {
		return fmt.Errorf("cannot process %q", r.Key)
	}
	return p.ctx.Forward(r.WithKey(r.Value).WithValue(r.Key).WithHeaders(r.Headers.With("count", []byte(strconv.Itoa(p.count)))))
}

// dslUpper is a fixed-key processor that dslUpper-cases values and stamps them
// with the stream time.
type dslUpper struct {
	ctx processor.FixedKeyContext[string, string]
}

func (p *dslUpper) Init(ctx processor.FixedKeyContext[string, string]) error { p.ctx = ctx; return nil }
func (p *dslUpper) Close() error                                             { return nil }
func (p *dslUpper) Process(r processor.FixedKeyRecord[string, string]) error {
	out := processor.WithValue(r, strings.ToUpper(r.Value())+"/"+strconv.FormatInt(p.ctx.StreamTime(), 10))
	return p.ctx.Forward(out.WithTimestamp(r.Timestamp() + 1).WithHeaders(r.Headers().Without("drop-me")))
}

// dslRegistry maps topology names to the functions that build them. Input
// topics carry string keys and values.
var dslRegistry = map[string]func(b *topology.Builder, h *dslHarness){
	"filter": func(b *topology.Builder, h *dslHarness) {
		dslSource(b, "input").
			Filter(func(k, v string) bool { return !strings.HasPrefix(v, "drop") }).
			To("output")
	},
	"filternot": func(b *topology.Builder, h *dslHarness) {
		dslSource(b, "input").
			FilterNot(func(k, v string) bool { return strings.HasPrefix(v, "drop") }).
			To("output")
	},
	"map": func(b *topology.Builder, h *dslHarness) {
		// Swap key and value.
		kstream.Map(dslSource(b, "input"), func(k, v string) (string, string) { return v, k }).To("output")
	},
	"mapvalues": func(b *topology.Builder, h *dslHarness) {
		kstream.MapValues(dslSource(b, "input"), strings.ToUpper).To("output")
	},
	"mapvalueswithkey": func(b *topology.Builder, h *dslHarness) {
		kstream.MapValuesWithKey(dslSource(b, "input"), func(k, v string) string { return k + "=" + v }).To("output")
	},
	"mapvalues-len": func(b *topology.Builder, h *dslHarness) {
		// The new value type has a built-in serde; To finds it.
		kstream.MapValues(dslSource(b, "input"), func(v string) int64 { return int64(len(v)) }).To("output")
	},
	"selectkey": func(b *topology.Builder, h *dslHarness) {
		kstream.SelectKey(dslSource(b, "input"), func(k, v string) string { return k + "/" + v }).To("output")
	},
	"flatmap": func(b *topology.Builder, h *dslHarness) {
		// Each comma-separated word becomes a record keyed by the word,
		// whose value is the old key.
		kstream.FlatMap(dslSource(b, "input"), func(k, v string) []kstream.KeyValue[string, string] {
			var out []kstream.KeyValue[string, string]
			for _, w := range dslWords(v) {
				out = append(out, kstream.KV(w, k))
			}
			return out
		}).To("output")
	},
	"flatmapvalues": func(b *topology.Builder, h *dslHarness) {
		kstream.FlatMapValues(dslSource(b, "input"), dslWords).To("output")
	},
	"flatmapvalueswithkey": func(b *topology.Builder, h *dslHarness) {
		kstream.FlatMapValuesWithKey(dslSource(b, "input"), func(k, v string) []int64 {
			var out []int64
			for _, w := range dslWords(v) {
				out = append(out, int64(len(k)+len(w)))
			}
			return out
		}).To("output")
	},
	"peek": func(b *topology.Builder, h *dslHarness) {
		dslSource(b, "input").
			Peek(func(k, v string) { h.logf("peek %s=%s", dslStr(k), dslStr(v)) }).
			To("output")
	},
	"foreach": func(b *topology.Builder, h *dslHarness) {
		dslSource(b, "input").Foreach(func(k, v string) { h.logf("foreach %s=%s", dslStr(k), dslStr(v)) })
	},
	"split-default": func(b *topology.Builder, h *dslHarness) {
		branches := dslSource(b, "input").Split().
			Branch(func(_, v string) bool { return strings.HasPrefix(v, "a") }).
			Branch(func(_, v string) bool { return strings.HasPrefix(v, "ab") }).
			Branch(func(_, v string) bool { return strings.HasPrefix(v, "b") }).
			DefaultBranch()
		for _, name := range slices.Sorted(maps.Keys(branches)) {
			h.logf("branch %s", name)
		}
		branches["KSTREAM-BRANCH-00000000011"].To("out-a")
		branches["KSTREAM-BRANCH-00000000012"].To("out-ab")
		branches["KSTREAM-BRANCH-00000000013"].To("out-b")
		branches["KSTREAM-BRANCH-00000000010"].To("out-default")
	},
	"split-nodefault": func(b *topology.Builder, h *dslHarness) {
		branches := dslSource(b, "input").Split().
			Branch(func(k, _ string) bool { return k == "x" }).
			Branch(func(_, v string) bool { return v == "" }).
			NoDefaultBranch()
		for _, name := range slices.Sorted(maps.Keys(branches)) {
			h.logf("branch %s", name)
		}
		branches["KSTREAM-BRANCH-00000000011"].To("out-x")
		branches["KSTREAM-BRANCH-00000000012"].To("out-empty")
	},
	"split-named": func(b *topology.Builder, h *dslHarness) {
		branches := dslSource(b, "input").Split(kstream.Named("route-")).
			Branch(func(_, v string) bool { return len(v) <= 3 }, kstream.Named("short")).
			Branch(func(_, v string) bool { return len(v) <= 6 }).
			DefaultBranch(kstream.Named("long"))
		for _, name := range slices.Sorted(maps.Keys(branches)) {
			h.logf("branch %s", name)
		}
		branches["route-short"].To("short")
		branches["route-2"].To("medium")
		branches["route-long"].To("long")
	},
	"merge": func(b *topology.Builder, h *dslHarness) {
		left := dslSource(b, "left")
		right := kstream.MapValues(dslSource(b, "right"), strings.ToUpper)
		left.Merge(right).To("output")
	},
	"merge-diamond": func(b *topology.Builder, h *dslHarness) {
		// A record that passes both filters reaches the merge twice, first
		// through the path added first (the source forwards to its
		// children in the order they were added), whatever the order of
		// the merge's parents.
		s := dslSource(b, "input")
		hasA := kstream.MapValues(s.Filter(func(_, v string) bool { return strings.Contains(v, "a") }),
			func(v string) string { return "A:" + v })
		hasB := kstream.MapValues(s.Filter(func(_, v string) bool { return strings.Contains(v, "b") }),
			func(v string) string { return "B:" + v })
		hasB.Merge(hasA).To("output")
	},
	"to-topicfunc": func(b *topology.Builder, h *dslHarness) {
		dslSource(b, "input").ToFunc(func(r processor.Record[string, string]) string {
			if r.Value == "nowhere" {
				return ""
			}
			return "out-" + r.Key
		})
	},
	"to-partitioner": func(b *topology.Builder, h *dslHarness) {
		// A value "p<n>" chooses partition n; other values are left to the
		// default partitioner.
		dslSource(b, "input").To("output", kstream.WithPartitioner(
			func(topic, k, v string, n int) (int, bool) {
				h.logf("partitioner %s %s=%s among %d", topic, dslStr(k), dslStr(v), n)
				if p, err := strconv.Atoi(strings.TrimPrefix(v, "p")); err == nil && strings.HasPrefix(v, "p") {
					return p, true
				}
				return 0, false
			}))
	},
	"repartition": func(b *topology.Builder, h *dslHarness) {
		s := dslLogMeta(dslSource(b, "input"), h, "before")
		dslLogMeta(s.Repartition(), h, "after").To("output")
	},
	"repartition-partitions": func(b *topology.Builder, h *dslHarness) {
		s := kstream.SelectKey(dslSource(b, "input"), func(_, v string) string { return v })
		dslLogMeta(s.Repartition(kstream.Named("by-value"), kstream.WithPartitions(3)), h, "after").To("output")
	},
	"repartition-partitioner": func(b *topology.Builder, h *dslHarness) {
		s := dslSource(b, "input").Repartition(kstream.WithPartitioner(
			func(_, k, _ string, n int) (int, bool) { return n - 1, true }))
		dslLogMeta(s, h, "after").To("output")
	},
	"process": func(b *topology.Builder, h *dslHarness) {
		s := kstream.Process(dslSource(b, "input"), func() processor.Processor[string, string, string, string] {
			return &dslCounter{h: h}
		})
		s.To("output")
	},
	"processvalues": func(b *topology.Builder, h *dslHarness) {
		kstream.ProcessValues(dslSource(b, "input"), func() processor.FixedKeyProcessor[string, string, string] {
			return &dslUpper{}
		}).To("output")
	},
	"chain": func(b *topology.Builder, h *dslHarness) {
		// Headers and timestamps travel through every stateless operator
		// and a repartition.
		s := dslSource(b, "input").Filter(func(_, v string) bool { return v != "" })
		s = kstream.MapValues(s, strings.ToUpper)
		s = kstream.FlatMapValues(s, dslWords)
		s = kstream.SelectKey(s, func(k, v string) string { return v })
		s = s.Peek(func(k, v string) {}).Repartition()
		kstream.Map(s, func(k, v string) (string, string) { return k, k + v }).To("output")
	},
	"bad-option": func(b *topology.Builder, h *dslHarness) {
		dslSource(b, "input").Filter(func(string, string) bool { return true }, kstream.WithPartitions(2)).To("output")
	},
	"missing-serde": func(b *topology.Builder, h *dslHarness) {
		type point struct{ X, Y int }
		kstream.MapValues(dslSource(b, "input"), func(string) point { return point{} }).To("output")
	},
	"wrong-serde": func(b *topology.Builder, h *dslHarness) {
		dslSource(b, "input").To("output", kstream.WithValueSerde(serde.Int64()))
	},
	"branch-after-default": func(b *topology.Builder, h *dslHarness) {
		bs := dslSource(b, "input").Split()
		bs.DefaultBranch()
		bs.Branch(func(string, string) bool { return true })
	},
}
