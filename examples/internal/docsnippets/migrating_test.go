package docsnippets

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/examples/internal/extest"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/query"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// TestMigratingKafkaStreams runs the translated Kafka Streams topology of
// docs/migrating.md.
func TestMigratingKafkaStreams(t *testing.T) {
	// KStream<String, Order> orders = builder.stream("orders", Consumed.with(Serdes.String(), orderSerde));
	// orders.filter((id, o) -> o.amount() > 0)
	//       .groupBy((id, o) -> o.customer(), Grouped.as("by-customer"))
	//       .count(Materialized.as("orders-per-customer"))
	//       .toStream()
	//       .to("orders-per-customer", Produced.with(Serdes.String(), Serdes.Long()));
	b := topology.NewBuilder()
	orders := kstream.From(b, "orders", serde.String(), serde.JSON[Order]())
	valid := orders.Filter(func(_ string, o Order) bool { return o.Amount > 0 })
	perCustomer := kstream.Count(
		kstream.GroupBy(valid, func(_ string, o Order) string { return o.Customer }, kstream.WithRepartitionName("by-customer")),
		"orders-per-customer")
	kstream.FromTable(perCustomer).To("orders-per-customer")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(topo.InternalTopics()); s != "[{by-customer-repartition 0}]" {
		t.Errorf("internal topics %s", s)
	}
	d, err := streamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "orders", serde.String(), serde.JSON[Order]())
	in.PipeAt("o1", Order{Customer: "ann", Amount: 5}, 1)
	in.PipeAt("o2", Order{Customer: "ann", Amount: 0}, 2)
	in.PipeAt("o3", Order{Customer: "ann", Amount: 7}, 3)
	out := streamstest.NewOutputTopic(d, "orders-per-customer", serde.String(), serde.Int64())
	if kv, err := out.ReadKeyValues(); err != nil || fmt.Sprint(kv) != "[{ann 1} {ann 2}]" {
		t.Errorf("got %v, %v", kv, err)
	}
}

var gokaInt64 = serde.Funcs(
	func(v int64) ([]byte, error) { return strconv.AppendInt(nil, v, 10), nil },
	func(b []byte) (int64, error) {
		if b == nil {
			return 0, nil
		}
		return strconv.ParseInt(string(b), 10, 64)
	})

// runCounter is goka's README example, translated.
func runCounter(ctx context.Context, brokers []string) error {
	// goka:
	// g := goka.DefineGroup("example-group",
	// 	goka.Input("example-stream", new(codec.String), func(ctx goka.Context, msg interface{}) {
	// 		var counter int64
	// 		if val := ctx.Value(); val != nil {
	// 			counter = val.(int64)
	// 		}
	// 		counter++
	// 		ctx.SetValue(counter)
	// 	}),
	// 	goka.Persist(new(codec.Int64)),
	// )
	// p, _ := goka.NewProcessor(brokers, g)
	// p.Run(ctx)

	b := topology.NewBuilder()
	messages := kstream.From(b, "example-stream", serde.String(), serde.String())
	counts := kstream.Count(kstream.GroupByKey(messages), "counts")
	kstream.FromTable(counts).To("example-group-table", kstream.WithValueSerde(gokaInt64)) // optional: publish it
	topo, err := b.Build()
	if err != nil {
		return err
	}
	app, err := streams.New(topo, streams.Config{ApplicationID: "example-group", Brokers: brokers})
	if err != nil {
		return err
	}
	return app.Run(ctx)
}

// emit is the emitter snippet.
func emit(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "example-stream", Key: []byte("some-key"), Value: []byte("some-value")}).FirstErr()
	return err
}

// TestMigratingGokaCounter runs the translation of goka's README example on
// an in-process broker, with the emitter snippet writing its input, and
// reads the published table in goka's Int64 format.
func TestMigratingGokaCounter(t *testing.T) {
	c := kafkatest.Cluster(t, 2, "example-stream", "example-group-table")
	brokers := c.ListenAddrs()
	t.Setenv("TMPDIR", t.TempDir()) // runCounter's state goes to the default, $TMPDIR/streams/example-group
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- runCounter(ctx, brokers) }()
	for range 3 {
		if err := emit(context.Background(), brokers); err != nil {
			t.Fatal(err)
		}
	}
	out := kafkatest.ReadUntil(t, brokers, "example-group-table", 20*time.Second, func(rs []*kgo.Record) bool {
		return len(rs) > 0 && string(rs[len(rs)-1].Value) == "3"
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if r := out[len(out)-1]; string(r.Key) != "some-key" {
		t.Errorf("last record %q=%q", r.Key, r.Value)
	}
}

type counter struct {
	ctx    processor.FixedKeyContext[string, int64]
	counts *state.KeyValueStore[string, int64]
}

func (c *counter) Init(ctx processor.FixedKeyContext[string, int64]) error {
	c.ctx = ctx
	var err error
	c.counts, err = processor.GetStore[*state.KeyValueStore[string, int64]](ctx, "counts")
	return err
}

func (c *counter) Process(r processor.FixedKeyRecord[string, string]) error {
	n, _, err := c.counts.Get(r.Key()) // ctx.Value()
	if err != nil {
		return err
	}
	n++
	if err := c.counts.Put(r.Key(), n); err != nil { // ctx.SetValue(n)
		return err
	}
	return c.ctx.Forward(processor.WithValue(r, n)) // ctx.Emit(…), through a sink
}

func (c *counter) Close() error { return nil }

func TestMigratingGokaProcessor(t *testing.T) {
	b := topology.NewBuilder()
	b.AddStateStore(state.KeyValueStoreBuilder("counts", serde.String(), serde.Int64()))
	messages := kstream.From(b, "example-stream", serde.String(), serde.String())
	kstream.ProcessValues(messages, func() processor.FixedKeyProcessor[string, string, int64] { return &counter{} },
		kstream.Named("count"), kstream.WithStores("counts")).
		To("counts-out")
	d, err := streamstest.New(build(t, b))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "example-stream", serde.String(), serde.String())
	in.Pipe("a", "x")
	in.Pipe("b", "x")
	in.Pipe("a", "x")
	out := streamstest.NewOutputTopic(d, "counts-out", serde.String(), serde.Int64())
	if kv, err := out.ReadKeyValues(); err != nil || fmt.Sprint(kv) != "[{a 1} {b 1} {a 2}]" {
		t.Errorf("got %v, %v", kv, err)
	}
}

func TestMigratingGokaJoins(t *testing.T) {
	b := topology.NewBuilder()
	customers := ktable.From(b, "customers", serde.String(), serde.JSON[Customer](), "customers")
	products := ktable.Global(b, "products", serde.String(), serde.JSON[Product](), "products")
	orders := kstream.From(b, "orders-by-customer", serde.String(), serde.JSON[Order]())
	withCustomer := kstream.LeftJoinTable(orders, customers, // goka.Join + ctx.Join(customers)
		func(o Order, c *Customer) Enriched { return Enriched{Order: o, Customer: c} })
	lines := kstream.LeftJoinGlobal(withCustomer, products, // goka.Lookup + ctx.Lookup(products, o.Product)
		func(_ string, e Enriched) string { return e.Order.Product },
		func(e Enriched, p *Product) Line {
			l := Line{Order: e.Order}
			if p != nil {
				l.Product = *p
			}
			return l
		})
	lines.To("lines", kstream.WithValueSerde(serde.JSON[Line]()))
	d, err := streamstest.New(build(t, b))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	streamstest.NewInputTopic(d, "products", serde.String(), serde.JSON[Product]()).PipeAt("p1", Product{Name: "tea"}, 1)
	streamstest.NewInputTopic(d, "customers", serde.String(), serde.JSON[Customer]()).PipeAt("ann", Customer{Name: "Ann"}, 1)
	in := streamstest.NewInputTopic(d, "orders-by-customer", serde.String(), serde.JSON[Order]())
	in.PipeAt("ann", Order{ID: "o1", Product: "p1"}, 2)
	in.PipeAt("bob", Order{ID: "o2", Product: "p9"}, 3)
	out := streamstest.NewOutputTopic(d, "lines", serde.String(), serde.JSON[Line]())
	if kv, err := out.ReadKeyValues(); err != nil || fmt.Sprint(kv) != "[{ann {{o1  p1 0} {tea}}} {bob {{o2  p9 0} {}}}]" {
		t.Errorf("got %v, %v", kv, err)
	}
}

// User, follow and followed are the loop of docs/migrating.md.
type User struct {
	Following int `json:"following"`
	Followers int `json:"followers"`
}

// follow counts whom a user follows and loops the follow back to the
// followee's key.
type follow struct {
	ctx   processor.Context[string, string]
	users *state.KeyValueStore[string, User]
}

func (p *follow) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	var err error
	p.users, err = processor.GetStore[*state.KeyValueStore[string, User]](ctx, "users")
	return err
}
func (p *follow) Close() error { return nil }
func (p *follow) Process(r processor.Record[string, string]) error {
	u, _, err := p.users.Get(r.Key)
	if err != nil {
		return err
	}
	u.Following++
	if err := p.users.Put(r.Key, u); err != nil {
		return err
	}
	return p.ctx.Forward(r.WithKey(r.Value).WithValue(r.Key)) // ctx.Loopback(followee, follower)
}

// followed counts a user's followers.
type followed struct {
	ctx   processor.FixedKeyContext[string, User]
	users *state.KeyValueStore[string, User]
}

func (p *followed) Init(ctx processor.FixedKeyContext[string, User]) error {
	p.ctx = ctx
	var err error
	p.users, err = processor.GetStore[*state.KeyValueStore[string, User]](ctx, "users")
	return err
}
func (p *followed) Close() error { return nil }
func (p *followed) Process(r processor.FixedKeyRecord[string, string]) error {
	u, _, err := p.users.Get(r.Key())
	if err != nil {
		return err
	}
	u.Followers++
	if err := p.users.Put(r.Key(), u); err != nil {
		return err
	}
	return p.ctx.Forward(processor.WithValue(r, u))
}

func loopTopology() (*topology.Topology, error) {
	b := topology.NewBuilder()
	b.AddStateStore(state.KeyValueStoreBuilder("users", serde.String(), serde.JSON[User]()))
	b.AddInternalTopic(topology.InternalTopic{Name: "users-loop"})        // <application id>-users-loop
	follows := kstream.From(b, "follows", serde.String(), serde.String()) // follower → followee
	loop := kstream.From(b, "users-loop", serde.String(), serde.String()) // followee → follower
	toFollowee := kstream.Process(follows, func() processor.Processor[string, string, string, string] { return &follow{} },
		kstream.Named("follow"), kstream.WithStores("users"))
	toFollowee.To("users-loop") // ctx.Loopback(followee, follower)
	kstream.ProcessValues(loop, func() processor.FixedKeyProcessor[string, string, User] { return &followed{} },
		kstream.Named("followed"), kstream.WithStores("users"), kstream.WithValueSerde(serde.JSON[User]())).
		To("users")
	return b.Build()
}

var wantUsers = "[{ann {1 1}} {bob {1 2}} {cid {1 0}}]"

func TestMigratingGokaLoopDriver(t *testing.T) {
	topo, err := loopTopology()
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(topo, streamstest.WithPartitions("follows", 3))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n := d.Partitions("users-loop"); n != 3 {
		t.Errorf("the loop topic has %d partitions, want the input's 3", n)
	}
	in := streamstest.NewInputTopic(d, "follows", serde.String(), serde.String())
	in.Pipe("ann", "bob")
	in.Pipe("cid", "bob")
	in.Pipe("bob", "ann")
	users := map[string]User{}
	all, err := streamstest.ReadKeyValueStore[string, User](d, "users")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range all {
		users[kv.Key] = kv.Value
	}
	if s := fmt.Sprint(sortedUsers(users)); s != wantUsers {
		t.Errorf("users %s, want %s", s, wantUsers)
	}
}

func sortedUsers(m map[string]User) []streamstest.KeyValue[string, User] {
	var out []streamstest.KeyValue[string, User]
	for _, k := range []string{"ann", "bob", "cid"} {
		if u, ok := m[k]; ok {
			out = append(out, streamstest.KeyValue[string, User]{Key: k, Value: u})
		}
	}
	return out
}

// TestMigratingGokaLoopKafka runs the loop on an in-process broker with
// three partitions: each user's last update, read with read_committed, has
// every follow counted once.
func TestMigratingGokaLoopKafka(t *testing.T) {
	c := kafkatest.Cluster(t, 3, "follows", "users")
	brokers := c.ListenAddrs()
	topo, err := loopTopology()
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Produce(t, brokers,
		&kgo.Record{Topic: "follows", Key: []byte("ann"), Value: []byte("bob")},
		&kgo.Record{Topic: "follows", Key: []byte("cid"), Value: []byte("bob")},
		&kgo.Record{Topic: "follows", Key: []byte("bob"), Value: []byte("ann")})
	extest.RunApp(t, topo, brokers, streams.Config{})
	out := kafkatest.ReadUntil(t, brokers, "users", 20*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 3 })
	last := map[string]User{}
	us := serde.JSON[User]()
	for _, r := range out {
		u, err := us.Deserialize(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		last[string(r.Key)] = u
	}
	// Only followees are written to "users": cid follows but has no followers.
	if s := fmt.Sprint(sortedUsers(last)); s != "[{ann {1 1}} {bob {1 2}}]" || len(out) != 3 {
		t.Errorf("%d records, last per user %s", len(out), s)
	}
}

// TestMigratingQuery runs the view snippet against the counter.
func TestMigratingQuery(t *testing.T) {
	c := kafkatest.Cluster(t, 2, "example-stream")
	brokers := c.ListenAddrs()
	b := topology.NewBuilder()
	kstream.Count(kstream.GroupByKey(kstream.From(b, "example-stream", serde.String(), serde.String())), "counts")
	app := extest.RunApp(t, build(t, b), brokers, streams.Config{QueryAddr: "127.0.0.1:0"})
	if err := emit(context.Background(), brokers); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		count, err := view(context.Background(), []string{app.QueryInstance().Endpoint()})
		if err == nil && count.Value == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no count of 1 for some-key: %+v, %v", count, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func view(ctx context.Context, endpoints []string) (state.ValueAndTimestamp[int64], error) {
	client, err := query.NewClient(endpoints, query.ClientOptions{}) // some instances, such as "counter-1:8080"
	if err != nil {
		return state.ValueAndTimestamp[int64]{}, err
	}
	count, _, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, client, "counts", "some-key", serde.String())
	return count, err
}

// TestMigratingGokaOffsets checks that an application named after a goka
// group resumes from the offsets the group committed.
func TestMigratingGokaOffsets(t *testing.T) {
	c := kafkatest.Cluster(t, 1, "in", "out")
	brokers := c.ListenAddrs()
	kafkatest.Produce(t, brokers,
		&kgo.Record{Topic: "in", Value: []byte("a")},
		&kgo.Record{Topic: "in", Value: []byte("b")},
		&kgo.Record{Topic: "in", Value: []byte("c")})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "in", Partition: 0, At: 2, LeaderEpoch: -1}) // as goka commits: the next offset
	_, err = kadm.NewClient(cl).CommitOffsets(context.Background(), "goka-group", offs)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	b := topology.NewBuilder()
	kstream.From(b, "in", serde.String(), serde.String()).To("out")
	extest.RunApp(t, build(t, b), brokers, streams.Config{ApplicationID: "goka-group"})
	out := kafkatest.ReadUntil(t, brokers, "out", 20*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 1 })
	if len(out) != 1 || string(out[0].Value) != "c" {
		t.Errorf("read %d records, the first %q; want only c", len(out), out[0].Value)
	}
}
