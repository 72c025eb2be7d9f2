// Command joins enriches orders with their customers (a stream-table join),
// matches payments to orders within 10 minutes (a stream-stream join) and
// reports the orders left unpaid once their 10 minutes have passed (a
// stream-stream left join).
//
//	go run ./examples/joins
//
// starts an embedded Kafka-protocol broker (unless --brokers is given),
// creates the topics, and runs a generator and the application. The
// generator writes customers, then orders and payments whose event times
// start --history ago and run --speed times faster than the clock until
// they catch up with it (at the default speed a minute of event time passes
// every second). Most orders are paid within a few minutes, some too late,
// some never; some orders come from a customer the table does not know, and
// one customer changes tier on the way. The program prints what the
// application writes to its three output topics, and the curl command that
// reads the customers table. Ctrl-C, or --duration, stops it.
//
// The topology is Topology, in joins.go; joins_test.go tests it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/examples/internal/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "joins:", err)
		os.Exit(1)
	}
}

// Customers are the generator's customers.
var Customers = map[string]Customer{
	"c1": {Name: "Ada Lovelace", Tier: "gold"},
	"c2": {Name: "Grace Hopper", Tier: "silver"},
	"c3": {Name: "Edsger Dijkstra", Tier: "bronze"},
	"c4": {Name: "Barbara Liskov", Tier: "silver"},
}

func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("joins", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runner.Flags
	f.Register(fs)
	rate := fs.Float64("rate", 2, "orders the generator writes per second")
	history := fs.Duration("history", 2*time.Hour, "how far in the past the orders' event time starts")
	speed := fs.Float64("speed", 60, "how many times faster than the clock event time runs until it catches up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := runner.WithDuration(ctx, f.Duration)
	defer cancel()
	env, err := runner.Start(ctx, &f, stdout,
		CustomersTopic, OrdersTopic, PaymentsTopic, EnrichedTopic, PaidTopic, UnpaidTopic)
	if err != nil {
		return err
	}
	defer env.Close()

	topo, err := Topology()
	if err != nil {
		return err
	}
	app, err := streams.New(topo, streams.Config{
		ApplicationID: "joins-example",
		Brokers:       env.Brokers,
		StateDir:      env.StateDir,
		QueryAddr:     f.HTTP,
		Logger:        env.Logger,
	})
	if err != nil {
		return err
	}

	clock := runner.NewSimClock(*history, *speed)
	generate := func(ctx context.Context) error {
		fmt.Fprintf(stdout, `
A generator writes customers to %s, and orders and payments, with
event times from %s UTC on, to %s and %s.
The application writes
  - every order with its customer to %s ("enriched"),
  - every order paid within %v (before or after it) to %s ("paid"),
  - every order not paid within %v, once that time has passed, to %s ("unpaid").
Query the customers table:

  curl %s/v1/stores/%s/keys/c1

Ctrl-C stops it.

`, CustomersTopic, clock.Now().UTC().Format("15:04:05"), OrdersTopic, PaymentsTopic, EnrichedTopic,
			PaymentWindow, PaidTopic, PaymentWindow, UnpaidTopic, runner.QueryURL(app), CustomerStore)
		return generate(ctx, env.Brokers, clock, *rate, stdout)
	}
	print := func(ctx context.Context) error {
		topics := []string{EnrichedTopic, PaidTopic, UnpaidTopic}
		return runner.Consume(ctx, env.Brokers, topics, func(r *kgo.Record) {
			at := r.Timestamp.UTC().Format("15:04:05")
			var err error
			switch r.Topic {
			case EnrichedTopic:
				var e EnrichedOrder
				if err = json.Unmarshal(r.Value, &e); err == nil {
					who := "unknown customer"
					if e.Customer != nil {
						who = e.Customer.Name + " (" + e.Customer.Tier + ")"
					}
					fmt.Fprintf(stdout, "  %s  enriched  %s  %7.2f  %s %s\n", at, e.Order.ID, e.Order.Amount, r.Key, who)
				}
			case PaidTopic:
				var p PaidOrder
				if err = json.Unmarshal(r.Value, &p); err == nil {
					fmt.Fprintf(stdout, "  %s  paid      %s  %7.2f  by %s\n", at, p.Order.ID, p.Order.Amount, p.Payment.ID)
				}
			case UnpaidTopic:
				var o Order
				if err = json.Unmarshal(r.Value, &o); err == nil {
					fmt.Fprintf(stdout, "  %s  unpaid    %s  %7.2f  no payment within %v\n", at, o.ID, o.Amount, PaymentWindow)
				}
			}
			if err != nil {
				fmt.Fprintf(stderr, "undecodable record in %s: %v\n", r.Topic, err)
			}
		})
	}
	err = runner.Run(ctx, app, generate, print)
	fmt.Fprintln(stdout, "stopped")
	return err
}

// generate writes the customers, then rate orders a second with their
// payments, until ctx ends. Of the orders, 75% are paid within 8 minutes,
// 10% are paid 12 to 20 minutes later (too late) and 15% never; one in ten
// comes from the unknown customer c9. After 20 orders c3 moves to the
// silver tier.
func generate(ctx context.Context, brokers []string, clock *runner.SimClock, rate float64, out io.Writer) error {
	cl, err := runner.Producer(brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	send := func(topic, key string, v any, at time.Time) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: b, Timestamp: at}).FirstErr()
	}
	start := clock.Now()
	for id, c := range Customers {
		if err := send(CustomersTopic, id, c, start); err != nil {
			return err
		}
	}
	type due struct {
		at      time.Time
		order   string
		payment Payment
	}
	var pending []due
	rnd := rand.New(rand.NewPCG(5, 6))
	tick := time.NewTicker(time.Duration(float64(time.Second) / max(rate, 0.1)))
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := clock.Now()
		// The payments that are due.
		slices.SortFunc(pending, func(a, b due) int { return a.at.Compare(b.at) })
		for len(pending) > 0 && !pending[0].at.After(now) {
			p := pending[0]
			pending = pending[1:]
			if err := send(PaymentsTopic, p.order, p.payment, p.at); err != nil {
				return err
			}
		}
		if n == 20 {
			c3 := Customers["c3"]
			c3.Tier = "silver"
			if err := send(CustomersTopic, "c3", c3, now); err != nil {
				return err
			}
			fmt.Fprintf(out, "customer c3 (%s) moves to the %s tier\n", c3.Name, c3.Tier)
		}
		customer := fmt.Sprintf("c%d", 1+rnd.IntN(4))
		if rnd.IntN(10) == 0 {
			customer = "c9"
		}
		o := Order{ID: fmt.Sprintf("o-%04d", n), Customer: customer, Amount: math.Round((5+rnd.Float64()*95)*100) / 100}
		if err := send(OrdersTopic, o.ID, o, now); err != nil {
			return err
		}
		var delay time.Duration
		switch x := rnd.IntN(100); {
		case x < 75:
			delay = time.Minute + time.Duration(rnd.Int64N(int64(7*time.Minute)))
		case x < 85:
			delay = 12*time.Minute + time.Duration(rnd.Int64N(int64(8*time.Minute)))
		default:
			continue // never paid
		}
		pending = append(pending, due{at: now.Add(delay), order: o.ID,
			payment: Payment{ID: fmt.Sprintf("p-%04d", n), Amount: o.Amount}})
	}
}
