package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/examples/internal/extest"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
)

// t0 is 10:00 on the day of the test input.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) int64 { return t0.Add(d).UnixMilli() }

// event is one input record, of one of the three input topics.
type event struct {
	at       time.Duration // after 10:00
	key      string
	customer *Customer
	order    *Order
	payment  *Payment
}

// events is the test input, in timestamp order.
var events = []event{
	// Customers first: a task processes the records of its topics in
	// timestamp order, and in no defined order at equal timestamps.
	{at: -time.Minute, key: "c1", customer: &Customer{Name: "Ada", Tier: "gold"}},
	{at: -time.Minute, key: "c2", customer: &Customer{Name: "Grace", Tier: "silver"}},
	{at: 0, key: "o1", order: &Order{ID: "o1", Customer: "c1", Amount: 10}},
	{at: time.Minute, key: "o2", order: &Order{ID: "o2", Customer: "c2", Amount: 20}}, // never paid
	{at: 2 * time.Minute, key: "o3", order: &Order{ID: "o3", Customer: "c9", Amount: 30}},
	{at: 2*time.Minute + 30*time.Second, key: "o4", payment: &Payment{ID: "p4", Amount: 40}}, // before its order
	{at: 3 * time.Minute, key: "o4", order: &Order{ID: "o4", Customer: "c1", Amount: 40}},
	{at: 5 * time.Minute, key: "o1", payment: &Payment{ID: "p1", Amount: 10}},
	// 12 minutes after o3: too late to match it. Stream time passes
	// 10:11 and 10:12: o2's and o3's windows close.
	{at: 14 * time.Minute, key: "o3", payment: &Payment{ID: "p3", Amount: 30}},
	{at: 20 * time.Minute, key: "c2", customer: &Customer{Name: "Grace", Tier: "gold"}},
	{at: 30 * time.Minute, key: "o5", order: &Order{ID: "o5", Customer: "c2", Amount: 50}}, // still open at the end
}

// What the topology writes for events, topic by topic.
var (
	wantEnriched = []string{
		"c1 o1 Ada(gold) @10:00:00",
		"c2 o2 Grace(silver) @10:01:00",
		"c9 o3 unknown @10:02:00",
		"c1 o4 Ada(gold) @10:03:00",
		"c2 o5 Grace(gold) @10:30:00", // the customer's update applies to later orders
	}
	wantPaid = []string{
		"o4 o4+p4 @10:03:00", // the later of the two timestamps
		"o1 o1+p1 @10:05:00",
	}
	wantUnpaid = []string{
		"o2 o2 @10:01:00", // the order's own timestamp
		"o3 o3 @10:02:00",
	}
)

func hhmmss(ms int64) string { return time.UnixMilli(ms).UTC().Format("15:04:05") }

func formatEnriched(key string, e EnrichedOrder, ts int64) string {
	who := "unknown"
	if e.Customer != nil {
		who = e.Customer.Name + "(" + e.Customer.Tier + ")"
	}
	return fmt.Sprintf("%s %s %s @%s", key, e.Order.ID, who, hhmmss(ts))
}

func formatPaid(key string, p PaidOrder, ts int64) string {
	return fmt.Sprintf("%s %s+%s @%s", key, p.Order.ID, p.Payment.ID, hhmmss(ts))
}

func formatUnpaid(key string, o Order, ts int64) string {
	return fmt.Sprintf("%s %s @%s", key, o.ID, hhmmss(ts))
}

func check(t *testing.T, topic string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n%s\nwant:\n%s", topic, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTopology runs the joins in the test driver.
func TestTopology(t *testing.T) {
	topo, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	customers := streamstest.NewInputTopic(d, CustomersTopic, serde.String(), serde.JSON[Customer]())
	orders := streamstest.NewInputTopic(d, OrdersTopic, serde.String(), serde.JSON[Order]())
	payments := streamstest.NewInputTopic(d, PaymentsTopic, serde.String(), serde.JSON[Payment]())
	enrichedOut := streamstest.NewOutputTopic(d, EnrichedTopic, serde.String(), serde.JSON[EnrichedOrder]())
	paidOut := streamstest.NewOutputTopic(d, PaidTopic, serde.String(), serde.JSON[PaidOrder]())
	unpaidOut := streamstest.NewOutputTopic(d, UnpaidTopic, serde.String(), serde.JSON[Order]())
	var unpaid []string
	for _, e := range events {
		switch {
		case e.customer != nil:
			err = customers.PipeAt(e.key, *e.customer, at(e.at))
		case e.order != nil:
			err = orders.PipeAt(e.key, *e.order, at(e.at))
		default:
			err = payments.PipeAt(e.key, *e.payment, at(e.at))
		}
		if err != nil {
			t.Fatal(err)
		}
		// An unpaid order is reported only once its window has closed.
		recs, err := unpaidOut.ReadRecords()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 && e.at != 14*time.Minute {
			t.Errorf("unpaid orders reported at %s; want them at 10:14:00", hhmmss(at(e.at)))
		}
		for _, r := range recs {
			unpaid = append(unpaid, formatUnpaid(r.Key, r.Value, r.Timestamp))
		}
	}
	var enriched, paid []string
	recs, err := enrichedOut.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		enriched = append(enriched, formatEnriched(r.Key, r.Value, r.Timestamp))
	}
	paidRecs, err := paidOut.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range paidRecs {
		paid = append(paid, formatPaid(r.Key, r.Value, r.Timestamp))
	}
	check(t, EnrichedTopic, enriched, wantEnriched)
	check(t, PaidTopic, paid, wantPaid)
	check(t, UnpaidTopic, unpaid, wantUnpaid)
}

// TestOnKafka runs the joins as an application against an in-process
// broker, with every input written beforehand, and reads the three output
// topics with read_committed isolation. The application processes the
// records of a task's topics in timestamp order, so its outputs are the
// test driver's. The orders reach the customer join through a repartition
// topic the application itself fills, empty when the join's task opens: a
// task waits by default only for records already on the broker, and
// MaxTaskIdle makes it wait for those still to be written.
func TestOnKafka(t *testing.T) {
	c := kafkatest.Cluster(t, 1, CustomersTopic, OrdersTopic, PaymentsTopic, EnrichedTopic, PaidTopic, UnpaidTopic)
	brokers := c.ListenAddrs()
	var recs []*kgo.Record
	for _, e := range events {
		r := &kgo.Record{Key: []byte(e.key), Timestamp: time.UnixMilli(at(e.at))}
		var err error
		switch {
		case e.customer != nil:
			r.Topic = CustomersTopic
			r.Value, err = json.Marshal(e.customer)
		case e.order != nil:
			r.Topic = OrdersTopic
			r.Value, err = json.Marshal(e.order)
		default:
			r.Topic = PaymentsTopic
			r.Value, err = json.Marshal(e.payment)
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	kafkatest.Produce(t, brokers, recs...)
	topo, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	extest.RunApp(t, topo, brokers, streams.Config{MaxTaskIdle: 500 * time.Millisecond})

	read := func(topic string, n int, format func(r *kgo.Record) (string, error)) []string {
		var out []string
		for _, r := range kafkatest.ReadUntil(t, brokers, topic, 20*time.Second, func(rs []*kgo.Record) bool {
			return len(rs) >= n
		}) {
			s, err := format(r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	check(t, EnrichedTopic, read(EnrichedTopic, len(wantEnriched), func(r *kgo.Record) (string, error) {
		var e EnrichedOrder
		err := json.Unmarshal(r.Value, &e)
		return formatEnriched(string(r.Key), e, r.Timestamp.UnixMilli()), err
	}), wantEnriched)
	check(t, PaidTopic, read(PaidTopic, len(wantPaid), func(r *kgo.Record) (string, error) {
		var p PaidOrder
		err := json.Unmarshal(r.Value, &p)
		return formatPaid(string(r.Key), p, r.Timestamp.UnixMilli()), err
	}), wantPaid)
	check(t, UnpaidTopic, read(UnpaidTopic, len(wantUnpaid), func(r *kgo.Record) (string, error) {
		var o Order
		err := json.Unmarshal(r.Value, &o)
		return formatUnpaid(string(r.Key), o, r.Timestamp.UnixMilli()), err
	}), wantUnpaid)
}

// TestRun runs the program as `go run ./examples/joins` does, with event
// time running fast, waits for an unpaid order (the last kind of output to
// appear), reads a customer with the URL the program printed, and stops the
// program as Ctrl-C does.
func TestRun(t *testing.T) {
	p := extest.Start(t, run, nil, "--http", "127.0.0.1:0", "--rate", "20", "--speed", "600")
	p.WaitFor(`(?m)^  \d\d:\d\d:\d\d  enriched  o-\d+ `, 30*time.Second)
	p.WaitFor(`(?m)^  \d\d:\d\d:\d\d  paid      o-\d+ `, 30*time.Second)
	p.WaitFor(`(?m)^  \d\d:\d\d:\d\d  unpaid    o-\d+ `, 30*time.Second)
	url := p.WaitFor(`curl (http://\S+/keys/c1)`, time.Second)[1]
	code, body := extest.Get(t, url)
	if code != 200 || !strings.Contains(body, `"value":{"name":"Ada Lovelace","tier":"gold"}`) {
		t.Errorf("GET %s: %d %s", url, code, body)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.HasSuffix(p.Out.String(), "stopped\n") {
		t.Errorf("output does not end with \"stopped\":\n%s", p.Out.String())
	}
}
