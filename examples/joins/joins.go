package main

import (
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// Topics and stores of the joins example. The input topics must have the
// same partition count: the joins are co-partitioned.
const (
	// CustomersTopic holds customers: key the customer id, value a
	// Customer (JSON). It is read as a table.
	CustomersTopic = "joins-customers"
	// OrdersTopic holds orders: key the order id, value an Order (JSON).
	OrdersTopic = "joins-orders"
	// PaymentsTopic holds payments: key the id of the order paid, value a
	// Payment (JSON).
	PaymentsTopic = "joins-payments"

	// EnrichedTopic receives every order with its customer: key the
	// customer id, value an EnrichedOrder (JSON).
	EnrichedTopic = "joins-orders-enriched"
	// PaidTopic receives every order matched with a payment within
	// PaymentWindow: key the order id, value a PaidOrder (JSON).
	PaidTopic = "joins-orders-paid"
	// UnpaidTopic receives every order no payment matched, once its window
	// has closed: key the order id, value the Order (JSON).
	UnpaidTopic = "joins-orders-unpaid"

	// CustomerStore is the customers table, queryable over HTTP.
	CustomerStore = "customers"
)

// PaymentWindow is how far apart an order and its payment may be.
const PaymentWindow = 10 * time.Minute

// Customer is a customer.
type Customer struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
}

// Order is an order.
type Order struct {
	ID       string  `json:"id"`
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`
}

// Payment is a payment of an order.
type Payment struct {
	ID     string  `json:"id"`
	Amount float64 `json:"amount"`
}

// EnrichedOrder is an order with its customer.
type EnrichedOrder struct {
	Order Order `json:"order"`
	// Customer is nil when the customers table has no row for the order's
	// customer.
	Customer *Customer `json:"customer"`
}

// PaidOrder is an order matched with a payment.
type PaidOrder struct {
	Order   Order   `json:"order"`
	Payment Payment `json:"payment"`
}

// orderPayment is the result of the left join: the order and its payment,
// nil when no payment came within the window.
type orderPayment struct {
	Order   Order
	Payment *Payment
}

// Topology joins orders three ways:
//
//   - stream-table: each order is re-keyed by its customer id (through the
//     repartition topic "<application id>-enrich-repartition", co-partitioned
//     with the customers) and enriched with the customer's current row in the
//     customers table (a left join: an unknown customer gives nil). A
//     customer update changes the orders that come after it only.
//   - stream-stream: each order is matched with the payments of the same
//     order id whose timestamps are within PaymentWindow of it (either side
//     triggers the join, so the payment may come first).
//   - stream-stream, left: the orders no payment matched within
//     PaymentWindow are reported, each once its window has closed (stream
//     time passes the order's time plus PaymentWindow), never before.
//
// The left join alone would give both the paid and the unpaid orders (its
// matched results are the inner join's); the inner join is here to show
// it.
//
// The Kafka Streams equivalent:
//
//	KTable<String, Customer> customers = builder.table("joins-customers", Materialized.as("customers"));
//	KStream<String, Order> orders = builder.stream("joins-orders");
//	KStream<String, Payment> payments = builder.stream("joins-payments");
//	orders.selectKey((id, order) -> order.customer())
//	    .leftJoin(customers, EnrichedOrder::new, Joined.as("enrich"))
//	    .to("joins-orders-enriched");
//	JoinWindows within10 = JoinWindows.ofTimeDifferenceWithNoGrace(Duration.ofMinutes(10));
//	orders.join(payments, PaidOrder::new, within10,
//	        StreamJoined.<String, Order, Payment>as("order-payments").withName("match-payments"))
//	    .to("joins-orders-paid");
//	orders.leftJoin(payments, OrderPayment::new, within10,
//	        StreamJoined.<String, Order, Payment>as("order-payment-status").withName("payment-status"))
//	    .filter((id, op) -> op.payment() == null)
//	    .mapValues(OrderPayment::order)
//	    .to("joins-orders-unpaid");
func Topology() (*topology.Topology, error) {
	b := topology.NewBuilder()
	customers := ktable.From(b, CustomersTopic, serde.String(), serde.JSON[Customer](), CustomerStore)
	orders := kstream.From(b, OrdersTopic, serde.String(), serde.JSON[Order]())
	payments := kstream.From(b, PaymentsTopic, serde.String(), serde.JSON[Payment]())

	// Stream-table join.
	byCustomer := kstream.SelectKey(orders, func(_ string, o Order) string { return o.Customer },
		kstream.Named("orders-by-customer"))
	enriched := kstream.LeftJoinTable(byCustomer, customers,
		func(o Order, c *Customer) EnrichedOrder { return EnrichedOrder{Order: o, Customer: c} },
		kstream.Named("enrich"))
	enriched.To(EnrichedTopic, kstream.WithValueSerde(serde.JSON[EnrichedOrder]()))

	// Stream-stream join.
	within := window.Join(PaymentWindow)
	paid := kstream.JoinStream(orders, payments,
		func(o Order, p Payment) PaidOrder { return PaidOrder{Order: o, Payment: p} },
		within, "order-payments", kstream.Named("match-payments"))
	paid.To(PaidTopic, kstream.WithValueSerde(serde.JSON[PaidOrder]()))

	// Stream-stream left join: the orders without a payment.
	status := kstream.LeftJoinStream(orders, payments,
		func(o Order, p *Payment) orderPayment { return orderPayment{Order: o, Payment: p} },
		within, "order-payment-status", kstream.Named("payment-status"))
	unpaid := status.Filter(func(_ string, op orderPayment) bool { return op.Payment == nil },
		kstream.Named("unpaid"))
	kstream.MapValues(unpaid, func(op orderPayment) Order { return op.Order }).
		To(UnpaidTopic, kstream.WithValueSerde(serde.JSON[Order]()))
	return b.Build()
}
