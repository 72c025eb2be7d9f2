package docsnippets

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// Types the snippets of docs/dsl.md use.
type (
	Click    struct{ At time.Time }
	Stats    struct{ N, Sum int64 }
	Customer struct{ Name string }
	Order    struct {
		ID, Customer, Product string
		Amount                float64
	}
	Payment struct{ Amount float64 }
	Receipt struct {
		Order Order
		Paid  float64
	}
	Status struct {
		Order Order
		Paid  bool
	}
	Enriched struct {
		Order    Order
		Customer *Customer
	}
	Product struct{ Name string }
	Line    struct {
		Order   Order
		Product Product
	}
	Profile struct {
		User   User
		Region *string
	}
)

func build(t *testing.T, b *topology.Builder) *topology.Topology {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// The signatures docs/dsl.md shows for the stateful operators.
var (
	_ func(kstream.Stream[string, int64], ...kstream.Option) kstream.GroupedStream[string, int64]                                                       = kstream.GroupByKey[string, int64]
	_ func(kstream.Stream[string, int64], func(string, int64) bool, ...kstream.Option) kstream.GroupedStream[bool, int64]                               = kstream.GroupBy[string, int64, bool]
	_ func(kstream.GroupedStream[string, int64], string, ...kstream.Option) ktable.Table[string, int64]                                                 = kstream.Count[string, int64]
	_ func(kstream.GroupedStream[string, int64], func(agg, value int64) int64, string, ...kstream.Option) ktable.Table[string, int64]                   = kstream.Reduce[string, int64]
	_ func(kstream.GroupedStream[string, int64], func() Stats, func(string, int64, Stats) Stats, string, ...kstream.Option) ktable.Table[string, Stats] = kstream.Aggregate[string, int64, Stats]

	_ func(*topology.Builder, string, serde.Serde[string], serde.Serde[User], string, ...ktable.Option) ktable.Table[string, User] = ktable.From[string, User]
	_ func(kstream.Stream[string, User], string, ...kstream.Option) ktable.Table[string, User]                                     = kstream.ToTable[string, User]
	_ func(ktable.Table[string, User], ...kstream.Option) kstream.Stream[string, User]                                             = kstream.FromTable[string, User]
	_ func(ktable.Table[string, User], func(User) int, ...ktable.Option) ktable.Table[string, int]                                 = ktable.MapValues[string, User, int]
	_ func(ktable.Table[string, User], func(string, User) int, ...ktable.Option) ktable.Table[string, int]                         = ktable.MapValuesWithKey[string, User, int]

	_ func(ktable.Table[string, User], func(string, User) (int, string), ...ktable.Option) ktable.GroupedTable[int, string]                                                   = ktable.GroupBy[string, User, int, string]
	_ func(ktable.GroupedTable[int, string], string, ...ktable.Option) ktable.Table[int, int64]                                                                               = ktable.Count[int, string]
	_ func(ktable.GroupedTable[int, string], func(agg, value string) string, func(agg, value string) string, string, ...ktable.Option) ktable.Table[int, string]              = ktable.Reduce[int, string]
	_ func(ktable.GroupedTable[int, string], func() Stats, func(int, string, Stats) Stats, func(int, string, Stats) Stats, string, ...ktable.Option) ktable.Table[int, Stats] = ktable.Aggregate[int, string, Stats]

	_ func(kstream.GroupedStream[string, int64], window.TimeWindows) kstream.TimeWindowedStream[string, int64]                                                                                                     = kstream.WindowedBy[string, int64]
	_ func(kstream.GroupedStream[string, int64], window.SlidingWindows) kstream.TimeWindowedStream[string, int64]                                                                                                  = kstream.SlidingWindowedBy[string, int64]
	_ func(kstream.GroupedStream[string, int64], window.SessionWindows) kstream.SessionWindowedStream[string, int64]                                                                                               = kstream.SessionWindowedBy[string, int64]
	_ func(kstream.TimeWindowedStream[string, int64], string, ...kstream.Option) ktable.Table[window.Windowed[string], int64]                                                                                      = kstream.CountWindowed[string, int64]
	_ func(kstream.TimeWindowedStream[string, int64], func(agg, value int64) int64, string, ...kstream.Option) ktable.Table[window.Windowed[string], int64]                                                        = kstream.ReduceWindowed[string, int64]
	_ func(kstream.TimeWindowedStream[string, int64], func() Stats, func(string, int64, Stats) Stats, string, ...kstream.Option) ktable.Table[window.Windowed[string], Stats]                                      = kstream.AggregateWindowed[string, int64, Stats]
	_ func(kstream.SessionWindowedStream[string, int64], string, ...kstream.Option) ktable.Table[window.Windowed[string], int64]                                                                                   = kstream.CountSessions[string, int64]
	_ func(kstream.SessionWindowedStream[string, int64], func(agg, value int64) int64, string, ...kstream.Option) ktable.Table[window.Windowed[string], int64]                                                     = kstream.ReduceSessions[string, int64]
	_ func(kstream.SessionWindowedStream[string, int64], func() Stats, func(string, int64, Stats) Stats, func(string, Stats, Stats) Stats, string, ...kstream.Option) ktable.Table[window.Windowed[string], Stats] = kstream.AggregateSessions[string, int64, Stats]

	_ func(window.BufferConfig) window.Suppressed                = window.UntilWindowCloses
	_ func(time.Duration, window.BufferConfig) window.Suppressed = window.UntilTimeLimit
	_ func() window.BufferConfig                                 = window.Unbounded
	_ func(int64) window.BufferConfig                            = window.MaxRecords
	_ func(int64) window.BufferConfig                            = window.MaxBytes

	_ func(kstream.Stream[string, Order], kstream.Stream[string, Payment], func(Order, Payment) Receipt, window.JoinWindows, string, ...kstream.Option) kstream.Stream[string, Receipt]   = kstream.JoinStream[string, Order, Payment, Receipt]
	_ func(kstream.Stream[string, Order], kstream.Stream[string, Payment], func(Order, *Payment) Receipt, window.JoinWindows, string, ...kstream.Option) kstream.Stream[string, Receipt]  = kstream.LeftJoinStream[string, Order, Payment, Receipt]
	_ func(kstream.Stream[string, Order], kstream.Stream[string, Payment], func(*Order, *Payment) Receipt, window.JoinWindows, string, ...kstream.Option) kstream.Stream[string, Receipt] = kstream.OuterJoinStream[string, Order, Payment, Receipt]
	_ func(time.Duration) window.JoinWindows                                                                                                                                              = window.Join
	_ func(before, after time.Duration) window.JoinWindows                                                                                                                                = window.JoinAsymmetric
	_ func(kstream.Stream[string, Order], ktable.Table[string, Customer], func(Order, Customer) Enriched, ...kstream.Option) kstream.Stream[string, Enriched]                             = kstream.JoinTable[string, Order, Customer, Enriched]
	_ func(kstream.Stream[string, Order], ktable.Table[string, Customer], func(Order, *Customer) Enriched, ...kstream.Option) kstream.Stream[string, Enriched]                            = kstream.LeftJoinTable[string, Order, Customer, Enriched]
	_ func(*topology.Builder, string, serde.Serde[string], serde.Serde[Product], string, ...ktable.Option) ktable.GlobalTable[string, Product]                                            = ktable.Global[string, Product]
	_ func(kstream.Stream[string, Order], ktable.GlobalTable[string, Product], func(string, Order) string, func(Order, Product) Line, ...kstream.Option) kstream.Stream[string, Line]     = kstream.JoinGlobal[string, Order, string, Product, Line]
	_ func(kstream.Stream[string, Order], ktable.GlobalTable[string, Product], func(string, Order) string, func(Order, *Product) Line, ...kstream.Option) kstream.Stream[string, Line]    = kstream.LeftJoinGlobal[string, Order, string, Product, Line]
	_ func(ktable.Table[string, User], ktable.Table[string, string], func(User, string) Profile, ...ktable.Option) ktable.Table[string, Profile]                                          = ktable.Join[string, User, string, Profile]
	_ func(ktable.Table[string, User], ktable.Table[string, string], func(User, *string) Profile, ...ktable.Option) ktable.Table[string, Profile]                                         = ktable.LeftJoin[string, User, string, Profile]
	_ func(ktable.Table[string, User], ktable.Table[string, string], func(*User, *string) Profile, ...ktable.Option) ktable.Table[string, Profile]                                        = ktable.OuterJoin[string, User, string, Profile]
)

func TestDSLSources(t *testing.T) {
	b := topology.NewBuilder()
	clicks := kstream.From(b, "clicks", serde.String(), serde.JSON[Click](),
		kstream.Named("clicks"),
		kstream.WithTimestampExtractor(func(r processor.Record[string, Click], partitionTime int64) int64 {
			return r.Value.At.UnixMilli()
		}))
	clicks.To("out")
	build(t, b)
}

func TestDSLStateless(t *testing.T) {
	b := topology.NewBuilder()
	words := kstream.From(b, "words", serde.String(), serde.String())
	lines := kstream.From(b, "lines", serde.String(), serde.String())
	in := kstream.From(b, "numbers", serde.String(), serde.Int64())

	upper := kstream.MapValues(words, strings.ToUpper)
	lengths := kstream.MapValuesWithKey(words, func(k, v string) int64 { return int64(len(k) + len(v)) })

	pairs := kstream.FlatMap(lines, func(doc, line string) []kstream.KeyValue[string, string] {
		var out []kstream.KeyValue[string, string]
		for _, w := range strings.Fields(line) {
			out = append(out, kstream.KV(w, doc))
		}
		return out
	})

	branches := in.Split(kstream.Named("sign-")).
		Branch(func(_ string, v int64) bool { return v < 0 }, kstream.Named("negative")).
		Branch(func(_ string, v int64) bool { return v == 0 }).
		DefaultBranch(kstream.Named("positive"))
	branches["sign-negative"].To("negatives")
	branches["sign-2"].To("zeros") // second branch, no name: its position
	branches["sign-positive"].To("positives")

	upper.To("upper")
	lengths.To("lengths")
	pairs.To("pairs")
	build(t, b)
}

func TestDSLRepartition(t *testing.T) {
	b := topology.NewBuilder()
	views := kstream.From(b, "page-views", serde.String(), serde.String())
	byPage := kstream.SelectKey(views, func(_, page string) string { return page })
	byPage.Repartition(kstream.Named("by-page"), kstream.WithPartitions(4)).To("views-by-page")
	want := `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [page-views])
      --> KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
      --> by-page-repartition-filter
      <-- KSTREAM-SOURCE-0000000000
    Processor: by-page-repartition-filter (stores: [])
      --> by-page-repartition-sink
      <-- KSTREAM-KEY-SELECT-0000000001
    Sink: by-page-repartition-sink (topic: by-page-repartition)
      <-- by-page-repartition-filter

  Sub-topology: 1
    Source: by-page-repartition-source (topics: [by-page-repartition])
      --> KSTREAM-SINK-0000000005
    Sink: KSTREAM-SINK-0000000005 (topic: views-by-page)
      <-- by-page-repartition-source
`
	if got := build(t, b).Describe().String(); strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Errorf("Describe:\n%s\nwant:\n%s", got, want)
	}
}

// TestDSLAggregations runs the aggregation snippets.
func TestDSLAggregations(t *testing.T) {
	b := topology.NewBuilder()
	views := kstream.From(b, "page-views", serde.String(), serde.String()) // user → page
	perPage := kstream.Count(kstream.GroupBy(views, func(_, page string) string { return page }), "views-per-page")
	kstream.FromTable(perPage).To("views-per-page")

	amounts := kstream.From(b, "amounts", serde.String(), serde.Int64())
	totals := kstream.Reduce(kstream.GroupByKey(amounts), func(agg, v int64) int64 { return agg + v }, "totals")
	stats := kstream.Aggregate(kstream.GroupByKey(amounts),
		func() Stats { return Stats{} },
		func(_ string, v int64, s Stats) Stats { return Stats{N: s.N + 1, Sum: s.Sum + v} },
		"stats", kstream.WithValueSerde(serde.JSON[Stats]()))

	kstream.FromTable(totals).To("totals")
	kstream.FromTable(stats).To("stats")
	topo := build(t, b)
	if s := fmt.Sprint(topo.InternalTopics()); s != "[{views-per-page-repartition 0}]" {
		t.Errorf("internal topics: %s", s)
	}
	d, err := streamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "amounts", serde.String(), serde.Int64())
	in.PipeAt("a", 5, 1)
	in.PipeAt("a", 3, 2)
	out := streamstest.NewOutputTopic(d, "stats", serde.String(), serde.JSON[Stats]())
	if kv, err := out.ReadKeyValues(); err != nil || fmt.Sprint(kv) != "[{a {1 5}} {a {2 8}}]" {
		t.Errorf("stats: %v, %v", kv, err)
	}
}

func TestDSLTables(t *testing.T) {
	b := topology.NewBuilder()
	users := ktable.From(b, "users", serde.String(), serde.JSON[User](), "users")
	latest := kstream.ToTable(kstream.From(b, "locations", serde.String(), serde.String()), "latest-location")
	kstream.FromTable(latest).To("location-changes")

	regions := ktable.From(b, "regions", serde.String(), serde.String(), "regions")
	// users: user → region; count the users of each region as users move.
	perRegion := ktable.Count(
		ktable.GroupBy(regions, func(user, region string) (string, string) { return region, user }),
		"users-per-region")

	profiles := ktable.LeftJoin(users, regions,
		func(u User, region *string) Profile { return Profile{User: u, Region: region} })

	kstream.FromTable(perRegion).To("users-per-region")
	kstream.FromTable(profiles).To("profiles", kstream.WithValueSerde(serde.JSON[Profile]()))
	topo := build(t, b)

	d, err := streamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "regions", serde.String(), serde.String())
	in.PipeAt("ann", "eu", 1)
	in.PipeAt("bob", "eu", 2)
	in.PipeAt("ann", "us", 3) // ann moves: eu loses one, us gains one
	counts, err := streamstest.ReadTable[string, int64](d, "users-per-region")
	if err != nil || fmt.Sprint(counts) != "[{eu 1} {us 1}]" {
		t.Errorf("users-per-region: %v, %v", counts, err)
	}
}

func TestDSLWindowsAndSuppress(t *testing.T) {
	b := topology.NewBuilder()
	clicks := kstream.From(b, "clicks", serde.String(), serde.String())
	clicksPerMinute := kstream.CountWindowed(
		kstream.WindowedBy(kstream.GroupByKey(clicks), window.Tumbling(time.Minute).WithGrace(10*time.Second)),
		"clicks-per-minute", kstream.WithRetention(24*time.Hour))
	visits := kstream.CountSessions(kstream.SessionWindowedBy(kstream.GroupByKey(clicks), window.Session(30*time.Minute)),
		"visits")

	final := clicksPerMinute.Suppress(window.UntilWindowCloses(window.Unbounded()), ktable.Named("final-clicks"))
	kstream.FromTable(final).To("clicks-per-minute-final")

	kstream.FromTable(visits).To("visits")
	topo := build(t, b)
	if _, _, ok := topo.Store("final-clicks-store"); !ok {
		t.Errorf("no store final-clicks-store; stores %v", topo.Stores())
	}

	d, err := streamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "clicks", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "clicks-per-minute-final", window.TimeWindowedSerde(serde.String(), 60_000), serde.Int64())
	in.PipeAt("ann", "/", 1_000)
	in.PipeAt("ann", "/", 59_000)
	in.PipeAt("ann", "/", 69_999) // stream time 69.999 s: [0, 60 s) closes at 70 s
	if !out.IsEmpty() {
		t.Errorf("a window was emitted before it closed")
	}
	in.PipeAt("bob", "/", 70_000)
	if kv, err := out.ReadKeyValues(); err != nil || fmt.Sprint(kv) != "[{[ann@0/60000] 2}]" {
		t.Errorf("final: %v, %v", kv, err)
	}
}

func TestDSLJoins(t *testing.T) {
	b := topology.NewBuilder()
	orders := kstream.From(b, "orders", serde.String(), serde.JSON[Order]())
	payments := kstream.From(b, "payments", serde.String(), serde.JSON[Payment]())
	customers := ktable.From(b, "customers", serde.String(), serde.JSON[Customer](), "customers")

	paid := kstream.JoinStream(orders, payments,
		func(o Order, p Payment) Receipt { return Receipt{Order: o, Paid: p.Amount} },
		window.Join(10*time.Minute), "order-payments")
	unpaid := kstream.LeftJoinStream(orders, payments,
		func(o Order, p *Payment) Status { return Status{Order: o, Paid: p != nil} },
		window.Join(10*time.Minute), "order-status").
		Filter(func(_ string, s Status) bool { return !s.Paid })

	byCustomer := kstream.SelectKey(orders, func(_ string, o Order) string { return o.Customer })
	enriched := kstream.LeftJoinTable(byCustomer, customers,
		func(o Order, c *Customer) Enriched { return Enriched{Order: o, Customer: c} }, kstream.Named("enrich"))

	products := ktable.Global(b, "products", serde.String(), serde.JSON[Product](), "products")
	withProduct := kstream.JoinGlobal(orders, products,
		func(_ string, o Order) string { return o.Product },
		func(o Order, p Product) Line { return Line{Order: o, Product: p} })

	paid.To("paid", kstream.WithValueSerde(serde.JSON[Receipt]()))
	unpaid.To("unpaid", kstream.WithValueSerde(serde.JSON[Status]()))
	enriched.To("enriched", kstream.WithValueSerde(serde.JSON[Enriched]()))
	withProduct.To("lines", kstream.WithValueSerde(serde.JSON[Line]()))
	topo := build(t, b)
	if s := fmt.Sprint(topo.InternalTopics()); s != "[{enrich-repartition 0}]" {
		t.Errorf("internal topics: %s", s)
	}
}

// processorAPI holds the Processor API snippet of docs/dsl.md.
func processorAPI() (*topology.Topology, error) {
	b := topology.NewBuilder()
	topology.AddSource(b, "Source", serde.String(), serde.String(), "words")
	topology.AddProcessor(b, "Upper", func() processor.Processor[string, string, string, string] {
		return &upper{}
	}, "Source")
	topology.AddSink(b, "Sink", "shouts", serde.String(), serde.String(), "Upper")
	t, err := b.Build()
	return t, err
}

// rateCounter counts the records it receives and, every 10 seconds of stream
// time, forwards how many arrived since the last report.
type rateCounter struct {
	ctx processor.Context[string, int64]
	n   int64
}

func (p *rateCounter) Init(ctx processor.Context[string, int64]) error {
	p.ctx = ctx
	_, err := ctx.Schedule(10*time.Second, processor.StreamTime, func(now int64) error {
		rec := processor.NewRecord("count", p.n, now)
		p.n = 0
		return p.ctx.Forward(rec)
	})
	return err
}

func (p *rateCounter) Process(processor.Record[string, string]) error {
	p.n++
	return nil
}

func (p *rateCounter) Close() error { return nil }

func TestDSLProcessorAPI(t *testing.T) {
	topo, err := processorAPI()
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	streamstest.NewInputTopic(d, "words", serde.String(), serde.String()).Pipe("k", "hello")
	if kv, err := streamstest.NewOutputTopic(d, "shouts", serde.String(), serde.String()).ReadKeyValues(); err != nil || fmt.Sprint(kv) != "[{k HELLO}]" {
		t.Errorf("got %v, %v", kv, err)
	}

	// The rate counter's outputs as docs/dsl.md gives them.
	b := topology.NewBuilder()
	kstream.Process(kstream.From(b, "in", serde.String(), serde.String()),
		func() processor.Processor[string, string, string, int64] { return &rateCounter{} }).To("rates")
	d2, err := streamstest.New(build(t, b))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	in := streamstest.NewInputTopic(d2, "in", serde.String(), serde.String())
	for _, ts := range []int64{1000, 5000, 12000, 13000, 9000, 31000} {
		if err := in.PipeAt("k", "v", ts); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := streamstest.NewOutputTopic(d2, "rates", serde.String(), serde.Int64()).ReadRecords()
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("count=%d at %d", r.Value, r.Timestamp))
	}
	if err != nil || strings.Join(got, ", ") != "count=1 at 1000, count=2 at 12000, count=3 at 31000" {
		t.Errorf("got %v, %v", got, err)
	}
}
