package kstream_test

// Stream-stream joins. The semantic scenarios are data-driven, in
// testdata/join-*.txt, run by TestDSL with the topologies registered below;
// this file adds what the data-driven harness cannot express (restarts from
// a state directory, typed values, build errors) and a benchmark.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// ssjWindows are the windows of the "ssj-<kind>/<before>/<after>/<grace>"
// topologies (milliseconds); kinds are inner, left and outer.
var ssjWindows = [][3]int64{
	{100, 100, 0}, {100, 100, 10}, {100, 100, 86_400_000},
	{100, 0, 0}, {0, 100, 0}, {5, 20, 0},
	{15, 15, 5}, {10, 10, 5}, {10, 10, 0}, {10, 20, 0}, {-5, 20, 0},
	{0, 0, 0},
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func init() {
	for _, w := range ssjWindows {
		jw := window.JoinAsymmetric(ms(w[0]), ms(w[1])).WithGrace(ms(w[2]))
		for _, kind := range []string{"inner", "left", "outer"} {
			name := fmt.Sprintf("ssj-%s/%d/%d/%d", kind, w[0], w[1], w[2])
			dslRegistry[name] = func(b *topology.Builder, h *dslHarness) {
				ssjJoin(kind, dslSource(b, "left"), dslSource(b, "right"), jw, "+", "join").To("output")
			}
		}
	}

	// StreamStreamJoinIntegrationTest: 10s windows with a grace of 24h and
	// values joined as "left-right".
	itWindows := window.Join(10 * time.Second).WithGrace(24 * time.Hour)
	for _, kind := range []string{"inner", "left", "outer"} {
		dslRegistry["ssj-it-"+kind] = func(b *topology.Builder, h *dslHarness) {
			ssjJoin(kind, dslSource(b, "left"), dslSource(b, "right"), itWindows, "-", "join").To("output")
		}
		// The test re-keys both streams with no-op mappers (map on the left,
		// flatMap and selectKey on the right), so that both are
		// repartitioned. Go mappers cannot return a null key or value, so
		// pass-through Processor API nodes stand in for them here: they
		// keep nulls and mark the streams for repartitioning alike.
		dslRegistry["ssj-it-"+kind+"-repartitioned"] = func(b *topology.Builder, h *dslHarness) {
			left := ssjRekey(dslSource(b, "left"))
			right := ssjRekey(ssjRekey(dslSource(b, "right")))
			ssjJoin(kind, left, right, itWindows, "-", "join").To("output")
		}
	}
	dslRegistry["ssj-it-self"] = func(b *topology.Builder, h *dslHarness) {
		s := dslSource(b, "left")
		ssjJoin("inner", s, s, itWindows, "-", "self").To("output")
	}
	dslRegistry["ssj-it-multi"] = func(b *topology.Builder, h *dslHarness) {
		right := dslSource(b, "right")
		first := ssjJoin("inner", dslSource(b, "left"), right, itWindows, "-", "first")
		ssjJoin("inner", first, right, itWindows, "-", "second").To("output")
	}

	// The developer guide's table: 15ms windows (the guide says 15s and
	// counts in seconds) with a grace of 5ms.
	guide := window.Join(15 * time.Millisecond).WithGrace(5 * time.Millisecond)
	for _, kind := range []string{"inner", "left", "outer"} {
		dslRegistry["ssj-guide-"+kind] = func(b *topology.Builder, h *dslHarness) {
			ssjJoin(kind, dslSource(b, "left"), dslSource(b, "right"), guide, ",", "join").To("output")
		}
	}

	// Naming: generated and Named processors, re-keyed inputs, self joins.
	w := window.Join(100 * time.Millisecond)
	dslRegistry["ssj-describe-outer"] = func(b *topology.Builder, h *dslHarness) {
		ssjJoin("outer", dslSource(b, "left"), dslSource(b, "right"), w, "+", "orders").To("output")
	}
	dslRegistry["ssj-describe-left-named"] = func(b *topology.Builder, h *dslHarness) {
		left := kstream.SelectKey(dslSource(b, "left"), func(_, v string) string { return v })
		kstream.LeftJoinStream(left, dslSource(b, "right"), ssjLeft("+"), w, "orders", kstream.Named("enrich")).To("output")
	}
	dslRegistry["ssj-describe-inner-rekeyed"] = func(b *topology.Builder, h *dslHarness) {
		left := kstream.SelectKey(dslSource(b, "left"), func(_, v string) string { return v })
		right := kstream.SelectKey(dslSource(b, "right"), func(_, v string) string { return v })
		ssjJoin("inner", left, right, w, "+", "orders").To("output")
	}
	dslRegistry["ssj-self-outer"] = func(b *topology.Builder, h *dslHarness) {
		s := dslSource(b, "left")
		ssjJoin("outer", s, s, window.Join(10*time.Millisecond), "+", "self").To("output")
	}
	dslRegistry["ssj-self-rekeyed"] = func(b *topology.Builder, h *dslHarness) {
		// Keyed by the first letter of the value: one repartition topic
		// feeds both sides.
		s := kstream.SelectKey(dslSource(b, "left"), func(_, v string) string { return v[:1] })
		ssjJoin("inner", s, s, window.Join(10*time.Millisecond), "+", "self").To("output")
	}
	dslRegistry["ssj-headers"] = func(b *topology.Builder, h *dslHarness) {
		ssjJoin("outer", dslSource(b, "left"), dslSource(b, "right"),
			window.Join(100*time.Millisecond).WithGrace(10*time.Millisecond), "+", "join").To("output")
	}
	dslRegistry["ssj-peek"] = func(b *topology.Builder, h *dslHarness) {
		// Logs each output as it is forwarded, to show when non-joined
		// records go out.
		ssjJoin("outer", dslSource(b, "left"), dslSource(b, "right"), window.Join(10*time.Millisecond), "+", "join").
			Peek(func(k, v string) { h.logf("out %s=%s", k, v) }).To("output")
	}
	dslRegistry["ssj-no-store-name"] = func(b *topology.Builder, h *dslHarness) {
		kstream.JoinStream(dslSource(b, "left"), dslSource(b, "right"), ssjInner("+"), w, "").To("output")
	}
	dslRegistry["ssj-bad-window"] = func(b *topology.Builder, h *dslHarness) {
		kstream.JoinStream(dslSource(b, "left"), dslSource(b, "right"), ssjInner("+"),
			window.JoinAsymmetric(-20*time.Millisecond, 10*time.Millisecond), "join").To("output")
	}
	dslRegistry["ssj-bad-option"] = func(b *topology.Builder, h *dslHarness) {
		kstream.JoinStream(dslSource(b, "left"), dslSource(b, "right"), ssjInner("+"), w, "join",
			kstream.WithCaching(false)).To("output")
	}
}

// ssjRekey forwards records unchanged through a Processor API node, which
// may change keys as far as the DSL knows.
func ssjRekey(s kstream.Stream[string, string]) kstream.Stream[string, string] {
	return kstream.Process(s, func() processor.Processor[string, string, string, string] { return &ssjPass{} },
		kstream.WithKeySerde(serde.String()), kstream.WithValueSerde(serde.String()))
}

type ssjPass struct {
	ctx processor.Context[string, string]
}

func (p *ssjPass) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *ssjPass) Close() error                                     { return nil }
func (p *ssjPass) Process(r processor.Record[string, string]) error { return p.ctx.Forward(r) }

func ssjInner(sep string) func(string, string) string {
	return func(l, r string) string { return l + sep + r }
}

func ssjLeft(sep string) func(string, *string) string {
	return func(l string, r *string) string { return l + sep + ssjOr(r) }
}

func ssjOuter(sep string) func(*string, *string) string {
	return func(l, r *string) string { return ssjOr(l) + sep + ssjOr(r) }
}

func ssjOr(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// ssjJoin joins two string streams with a joiner that prints "l<sep>r",
// null for a missing side.
func ssjJoin(kind string, left, right kstream.Stream[string, string], w window.JoinWindows, sep, store string, opts ...kstream.Option) kstream.Stream[string, string] {
	switch kind {
	case "inner":
		return kstream.JoinStream(left, right, ssjInner(sep), w, store, opts...)
	case "left":
		return kstream.LeftJoinStream(left, right, ssjLeft(sep), w, store, opts...)
	case "outer":
		return kstream.OuterJoinStream(left, right, ssjOuter(sep), w, store, opts...)
	}
	panic("unknown join kind " + kind)
}

func ssjDriver(t testing.TB, b *topology.Builder, opts ...streamstest.Option) *streamstest.Driver {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	d, err := streamstest.New(topo, opts...)
	if err != nil {
		t.Fatalf("streamstest.New: %v", err)
	}
	return d
}

func ssjMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ssjRead returns the unread output as "key=value@ts" words.
func ssjRead[K, V any](t testing.TB, out *streamstest.OutputTopic[K, V]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	ssjMust(t, err)
	words := make([]string, len(recs))
	for i, r := range recs {
		k := fmt.Sprint(r.Key)
		if r.KeyNull {
			k = "<null>"
		}
		words[i] = fmt.Sprintf("%s=%v@%d", k, r.Value, r.Timestamp)
	}
	return strings.Join(words, " ")
}

func ssjWant(t testing.TB, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// LeftJoinStream: orders joined with the payments made within a minute
// after them. An order without payment is forwarded, joined with nil, only
// once its window has closed: here when the payment of a later order moves
// stream time past it.
func ExampleLeftJoinStream() {
	b := topology.NewBuilder()
	orders := kstream.From(b, "orders", serde.String(), serde.String())
	payments := kstream.From(b, "payments", serde.String(), serde.Int64())
	kstream.LeftJoinStream(orders, payments, func(order string, paid *int64) string {
		if paid == nil {
			return order + ": unpaid"
		}
		return fmt.Sprintf("%s: paid %d", order, *paid)
	}, window.JoinAsymmetric(0, time.Minute), "order-payment").To("status")

	t, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := streamstest.New(t)
	defer d.Close()
	o := streamstest.NewInputTopic(d, "orders", serde.String(), serde.String())
	p := streamstest.NewInputTopic(d, "payments", serde.String(), serde.Int64())
	out := streamstest.NewOutputTopic(d, "status", serde.String(), serde.String())
	minute := time.Minute.Milliseconds()
	o.PipeAt("o1", "book", 0)
	o.PipeAt("o2", "pen", 10_000)
	p.PipeAt("o2", 3, 40_000)
	o.PipeAt("o3", "ink", 2*minute)
	p.PipeAt("o3", 7, 2*minute+5_000)
	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Printf("%s %s @%ds\n", r.Key, r.Value, r.Timestamp/1000)
	}
	// Output:
	// o2 pen: paid 3 @40s
	// o1 book: unpaid @0s
	// o3 ink: paid 7 @125s
}

// TestStreamJoinRestart closes the driver while non-joined records wait for
// their window to close and opens a new one on the same state directory:
// the waiting records, the window stores and the join's stream time
// survive, and each waiting record is forwarded exactly once.
func TestStreamJoinRestart(t *testing.T) {
	dir := t.TempDir()
	build := func() *topology.Builder {
		b := topology.NewBuilder()
		left := kstream.From(b, "left", serde.String(), serde.String())
		right := kstream.From(b, "right", serde.String(), serde.Int64())
		kstream.OuterJoinStream(left, right, func(l *string, r *int64) string {
			return fmt.Sprintf("%s+%s", ssjOr(l), ssjOrInt(r))
		}, window.Join(10*time.Millisecond).WithGrace(5*time.Millisecond), "restart").To("output")
		return b
	}
	open := func() (*streamstest.Driver, *streamstest.InputTopic[string, string], *streamstest.InputTopic[string, int64], *streamstest.OutputTopic[string, string]) {
		d := ssjDriver(t, build(), streamstest.WithStateDir(dir))
		return d,
			streamstest.NewInputTopic(d, "left", serde.String(), serde.String()),
			streamstest.NewInputTopic(d, "right", serde.String(), serde.Int64()),
			streamstest.NewOutputTopic(d, "output", serde.String(), serde.String())
	}

	d, left, right, out := open()
	ssjMust(t, left.PipeAt("a", "A1", 100))
	ssjMust(t, right.PipeAt("b", 2, 103))
	ssjMust(t, left.PipeAt("c", "C3", 110))
	ssjMust(t, right.PipeAt("c", 4, 112)) // joins C3
	ssjMust(t, left.PipeAt("d", "D5", 113))
	ssjWant(t, "before the restart", ssjRead(t, out), "c=C3+4@112")
	ssjMust(t, d.Close())

	d, left, right, out = open()
	defer func() { ssjMust(t, d.Close()) }()
	// The window stores kept their stream time: the left side's is 113, so
	// a left record at 88 (113 - 10 - 10 - 5) is late and dropped.
	ssjMust(t, left.PipeAt("a", "late", 88))
	ssjWant(t, "late record", ssjRead(t, out), "")
	ssjWant(t, "dropped", fmt.Sprint(d.DroppedAll()), "map[late:1]")
	// An out-of-order right record at 104 is within grace: it joins A1
	// (100) from the window store, which takes A1 off the waiting records.
	ssjMust(t, right.PipeAt("a", 6, 104))
	ssjWant(t, "out of order join", ssjRead(t, out), "a=A1+6@104")
	// Stream time 119 closes b@103 (103 + 10 + 5 < 119); A1 joined, so it
	// is not forwarded.
	ssjMust(t, left.PipeAt("e", "E7", 119))
	ssjWant(t, "first emission", ssjRead(t, out), "b=null+2@103")
	ssjMust(t, d.Close())

	d, left, _, out = open()
	// 129 closes D5 (113 + 15 < 129), not E7 (119 + 15 = 134).
	ssjMust(t, left.PipeAt("f", "F8", 129))
	ssjWant(t, "second emission", ssjRead(t, out), "d=D5+null@113")
	ssjMust(t, left.PipeAt("g", "G9", 200))
	ssjWant(t, "third emission", ssjRead(t, out), "e=E7+null@119 f=F8+null@129")
}

func ssjOrInt(v *int64) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(*v)
}

// TestStreamJoinTypes joins streams of different value types, with the
// other stream's value serde given as an option (its source has none), and
// checks the stores the join creates.
func TestStreamJoinTypes(t *testing.T) {
	type click struct {
		Page string `json:"page"`
	}
	b := topology.NewBuilder()
	views := kstream.From(b, "views", serde.String(), serde.Int64())
	clicks := kstream.MapValues(kstream.From(b, "clicks", serde.String(), serde.String()),
		func(p string) click { return click{Page: p} })
	kstream.LeftJoinStream(views, clicks, func(n int64, c *click) string {
		if c == nil {
			return fmt.Sprintf("%d views, no click", n)
		}
		return fmt.Sprintf("%d views, click on %s", n, c.Page)
	}, window.JoinAsymmetric(0, 5*time.Millisecond), "view-click",
		kstream.WithOtherValueSerde(serde.JSON[click]())).To("output")
	topo, err := b.Build()
	ssjMust(t, err)
	desc := topo.Describe().String()
	for _, store := range []string{"view-click-this-join-store", "view-click-outer-other-join-store", "view-click-left-shared-join-store"} {
		if !strings.Contains(desc, store) {
			t.Errorf("no store %s in\n%s", store, desc)
		}
	}
	d, err := streamstest.New(topo)
	ssjMust(t, err)
	defer d.Close()
	in1 := streamstest.NewInputTopic(d, "views", serde.String(), serde.Int64())
	in2 := streamstest.NewInputTopic(d, "clicks", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "output", serde.String(), serde.String())
	ssjMust(t, in1.PipeAt("u1", 3, 10))
	ssjMust(t, in2.PipeAt("u1", "home", 12))
	ssjMust(t, in2.PipeAt("u1", "cart", 16)) // outside [10, 15]
	ssjMust(t, in1.PipeAt("u2", 1, 20))
	ssjMust(t, in1.PipeAt("u3", 1, 30))
	ssjWant(t, "output", ssjRead(t, out), "u1=3 views, click on home@12 u2=1 views, no click@20")
}

// TestStreamJoinTopology checks what a join declares besides its nodes:
// the co-partitioning of its inputs (after repartitioning) and its stores'
// changelog topics.
func TestStreamJoinTopology(t *testing.T) {
	build := func(opts ...kstream.Option) *topology.Topology {
		b := topology.NewBuilder()
		left := kstream.SelectKey(kstream.From(b, "left", serde.String(), serde.String()),
			func(_, v string) string { return v })
		right := kstream.From(b, "right", serde.String(), serde.String())
		kstream.OuterJoinStream(left, right, ssjOuter("+"),
			window.JoinAsymmetric(time.Second, 2*time.Second).WithGrace(3*time.Second), "j", opts...).To("output")
		topo, err := b.Build()
		ssjMust(t, err)
		return topo
	}
	topo := build(kstream.Named("n"))
	ssjWant(t, "co-partition groups", fmt.Sprint(topo.CopartitionGroups()), "[[n-left-repartition right]]")
	for store, want := range map[string]string{
		"j-outer-this-join-store":   "map[cleanup.policy:delete retention.ms:86406000]",
		"j-outer-other-join-store":  "map[cleanup.policy:delete retention.ms:86406000]",
		"j-outer-shared-join-store": "map[cleanup.policy:compact]",
	} {
		sb, _, ok := topo.Store(store)
		if !ok {
			t.Fatalf("no store %s", store)
		}
		c, logged := sb.Changelog()
		if !logged {
			t.Fatalf("store %s has no changelog", store)
		}
		ssjWant(t, store+" changelog", fmt.Sprint(c.Configs), want)
	}
	topo = build(kstream.WithLogging(false))
	for _, store := range topo.Stores() {
		if _, logged := func() (any, bool) { sb, _, _ := topo.Store(store); return sb.Changelog() }(); logged {
			t.Errorf("store %s is logged with WithLogging(false)", store)
		}
	}
}

// TestStreamJoinMissingSerde reports the option to use when the other
// stream's values have no serde.
func TestStreamJoinMissingSerde(t *testing.T) {
	type point struct{ X int }
	b := topology.NewBuilder()
	right := kstream.MapValues(kstream.From(b, "right", serde.String(), serde.String()), func(string) point { return point{} })
	kstream.JoinStream(kstream.From(b, "left", serde.String(), serde.String()), right,
		func(l string, r point) string { return l }, window.Join(time.Second), "j").To("output")
	_, err := b.Build()
	if err == nil || !strings.Contains(err.Error(), "WithOtherValueSerde") {
		t.Fatalf("Build error %v, want one naming WithOtherValueSerde", err)
	}
}

// BenchmarkStreamJoin pipes records alternately into the two sides of a
// stream-stream join through the driver, with in-memory state: 1024 keys of
// 16 bytes, 100-byte values, timestamps advancing 1ms per record and a
// 100ms window (the "pebble" case keeps state in a Pebble database in a
// temporary directory), so that each right record joins the one left record piped
// right before it (the previous records with its key are 2048ms older) and
// the stores hold ~100 records per side. One op is one input record;
// records/s counts input records. The driver commits every 1,000 records
// (WithManualCommit and Driver.Commit, standing for a commit interval) or,
// in the "every-record" case, after each record, its default. The output
// and the changelogs are drained every 1,000 records with the timer
// stopped. The left join also keeps each left record in its shared store
// until the right record joins it.
//
//	go test ./kstream -run '^$' -bench BenchmarkStreamJoin -benchtime 200000x
func BenchmarkStreamJoin(b *testing.B) {
	const keys = 1024
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("key-%012d", i)
	}
	value := strings.Repeat("v", 100)
	for _, c := range []struct {
		name   string
		left   bool
		every  int
		pebble bool
	}{
		{"inner/commit=1000", false, 1000, false},
		{"inner/commit=every-record", false, 1, false},
		{"inner/commit=1000/pebble", false, 1000, true},
		{"left/commit=1000", true, 1000, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			tb := topology.NewBuilder()
			left := kstream.From(tb, "left", serde.String(), serde.String())
			right := kstream.From(tb, "right", serde.String(), serde.String())
			w := window.Join(100 * time.Millisecond)
			stores := []string{"bench-this-join-store", "bench-other-join-store"}
			if c.left {
				kstream.LeftJoinStream(left, right, func(l string, r *string) string { return l[:10] + ssjOr(r)[:10] },
					w, "bench").To("output")
				stores = []string{"bench-this-join-store", "bench-outer-other-join-store", "bench-left-shared-join-store"}
			} else {
				kstream.JoinStream(left, right, func(l, r string) string { return l[:10] + r[:10] }, w, "bench").To("output")
			}
			topo, err := tb.Build()
			if err != nil {
				b.Fatal(err)
			}
			var opts []streamstest.Option
			if c.every > 1 {
				opts = append(opts, streamstest.WithManualCommit())
			}
			if c.pebble {
				opts = append(opts, streamstest.WithStateDir(b.TempDir()))
			}
			d, err := streamstest.New(topo, opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			inL := streamstest.NewInputTopic(d, "left", serde.String(), serde.String())
			inR := streamstest.NewInputTopic(d, "right", serde.String(), serde.String())
			out := streamstest.NewOutputTopic(d, "output", serde.Bytes(), serde.Bytes())
			var changelogs []*streamstest.OutputTopic[[]byte, []byte]
			for _, s := range stores {
				changelogs = append(changelogs, streamstest.NewOutputTopic(d, "streamstest-"+s+"-changelog", serde.Bytes(), serde.Bytes()))
			}
			joined := 0
			drain := func() {
				recs, err := out.ReadRecords()
				if err != nil {
					b.Fatal(err)
				}
				joined += len(recs)
				for _, cl := range changelogs {
					if _, err := cl.ReadRecords(); err != nil {
						b.Fatal(err)
					}
				}
			}
			commit := func() {
				if c.every > 1 {
					if err := d.Commit(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				in := inL
				if i%2 == 1 {
					in = inR
				}
				if err := in.PipeAt(names[(i/2)%keys], value, int64(i)); err != nil {
					b.Fatal(err)
				}
				i++
				if i%1000 == 0 {
					commit()
					b.StopTimer()
					drain()
					b.StartTimer()
				}
			}
			commit()
			b.StopTimer()
			drain()
			if joined != i/2 {
				b.Fatalf("%d joined records for %d input records", joined, i)
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
