// Command pageviews counts page views per page in one-minute windows of
// event time and writes only final results: one count per page and minute,
// once the minute has closed.
//
//	go run ./examples/pageviews
//
// starts an embedded Kafka-protocol broker (unless --brokers is given),
// creates the topics, and runs a generator and the application. The
// generator writes page views keyed by user, with event times that start
// --history ago and run --speed times faster than the clock until they
// catch up with it (so minutes close every few seconds at first), a few of
// them out of order. The program prints each final count the application
// writes to pageviews-per-minute, and the curl commands that fetch a page's
// windows from the store over HTTP. Ctrl-C, or --duration, stops it.
//
// The topology is Topology, in pageviews.go; pageviews_test.go tests it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/examples/internal/runner"
	"github.com/seed992c72d9/streams/serde"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "pageviews:", err)
		os.Exit(1)
	}
}

// Pages are the pages the generator's users view.
var Pages = []string{"/", "/docs", "/docs/windows", "/pricing", "/blog"}

func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pageviews", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runner.Flags
	f.Register(fs)
	rate := fs.Int("rate", 50, "page views the generator writes per second")
	history := fs.Duration("history", 30*time.Minute, "how far in the past the views' event time starts")
	speed := fs.Float64("speed", 20, "how many times faster than the clock event time runs until it catches up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := runner.WithDuration(ctx, f.Duration)
	defer cancel()
	env, err := runner.Start(ctx, &f, stdout, ViewsTopic, OutputTopic)
	if err != nil {
		return err
	}
	defer env.Close()

	topo, err := Topology()
	if err != nil {
		return err
	}
	app, err := streams.New(topo, streams.Config{
		ApplicationID: "pageviews-example",
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
		first := clock.Now().Truncate(Size)
		from, to := first.UTC().Format(time.RFC3339), first.Add(4*Size).UTC().Format(time.RFC3339)
		base := runner.QueryURL(app) + "/v1/stores/" + CountStore + "/windows/" + url.PathEscape("/docs")
		fmt.Fprintf(stdout, `
A generator writes %d page views per second to %s, with event times from
%s UTC on, running %gx faster than the clock until they catch up with it.
The application counts them per page and minute in the store %q and
writes each minute's final counts to %s once the minute has closed
(%v after its end), printed below (times in UTC). Fetch a page's windows
from the store (final or not):

  curl '%s'
  curl '%s?from=%s&to=%s'

Ctrl-C stops it.

`, *rate, ViewsTopic, first.UTC().Format("15:04:05"), *speed, CountStore, OutputTopic, Grace, base, base, from, to)
		return generateViews(ctx, env.Brokers, clock, *rate)
	}
	print := func(ctx context.Context) error {
		counts := serde.Int64()
		return runner.Consume(ctx, env.Brokers, []string{OutputTopic}, func(r *kgo.Record) {
			w, err := KeySerde.Deserialize(r.Key)
			if err != nil {
				fmt.Fprintf(stderr, "undecodable key %q: %v\n", r.Key, err)
				return
			}
			n, err := counts.Deserialize(r.Value)
			if err != nil {
				fmt.Fprintf(stderr, "undecodable count for %v: %v\n", w, err)
				return
			}
			fmt.Fprintf(stdout, "  %s-%s  %-14s %4d views\n", time.UnixMilli(w.Window.Start).UTC().Format("15:04"),
				time.UnixMilli(w.Window.End).UTC().Format("15:04"), w.Key, n)
		})
	}
	err = runner.Run(ctx, app, generate, print)
	fmt.Fprintln(stdout, "stopped")
	return err
}

// generateViews writes rate page views a second until ctx ends: random
// users viewing random pages, stamped with clock's time, one in ten up to
// 20 seconds in the past (out of order, but within the grace period).
func generateViews(ctx context.Context, brokers []string, clock *runner.SimClock, rate int) error {
	cl, err := runner.Producer(brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	rnd := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	perTick := max(rate/20, 1)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		for range perTick {
			at := clock.Now()
			if rnd.IntN(10) == 0 {
				at = at.Add(-time.Duration(rnd.Int64N(int64(20 * time.Second))))
			}
			cl.Produce(ctx, &kgo.Record{
				Topic:     ViewsTopic,
				Key:       fmt.Appendf(nil, "user-%02d", rnd.IntN(50)),
				Value:     []byte(Pages[rnd.IntN(len(Pages))]),
				Timestamp: at,
			}, nil)
		}
	}
}
