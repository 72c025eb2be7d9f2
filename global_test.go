package streams_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// TestGlobalTableJoin enriches orders (keyed by order id, valued by customer
// id) with a global table of customer names that has more partitions than
// the orders topic: every instance reads all of it.
func TestGlobalTableJoin(t *testing.T) {
	c := kafkatest.Cluster(t, 3, "orders", "customers", "enriched")
	brokers := c.ListenAddrs()
	kafkatest.Produce(t, brokers,
		&kgo.Record{Topic: "customers", Key: []byte("c1"), Value: []byte("Ada")},
		&kgo.Record{Topic: "customers", Key: []byte("c2"), Value: []byte("Grace")},
		&kgo.Record{Topic: "customers", Key: []byte("c3"), Value: []byte("Edsger")},
	)
	b := topology.NewBuilder()
	orders := kstream.From(b, "orders", serde.String(), serde.String())
	customers := ktable.Global(b, "customers", serde.String(), serde.String(), "customers-store")
	kstream.LeftJoinGlobal(orders, customers,
		func(_, customer string) string { return customer },
		func(customer string, name *string) string {
			if name == nil {
				return customer + ":unknown"
			}
			return customer + ":" + *name
		}).To("enriched")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := streams.New(topo, streams.Config{ApplicationID: "global", Brokers: brokers, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx) }()
	kafkatest.Produce(t, brokers,
		&kgo.Record{Topic: "orders", Key: []byte("o1"), Value: []byte("c2")},
		&kgo.Record{Topic: "orders", Key: []byte("o2"), Value: []byte("c9")},
		&kgo.Record{Topic: "orders", Key: []byte("o3"), Value: []byte("c3")},
	)
	out := kafkatest.ReadUntil(t, brokers, "enriched", 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 3 })
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range out {
		got[string(r.Key)] = string(r.Value)
	}
	want := map[string]string{"o1": "c2:Grace", "o2": "c9:unknown", "o3": "c3:Edsger"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("order %s enriched to %q, want %q", k, got[k], v)
		}
	}
	if len(out) != 3 {
		t.Errorf("%d enriched records, want 3", len(out))
	}
}
