// Command wordcount is the classic stream-processing example: it counts the
// words of lines of text.
//
//	go run ./examples/wordcount
//
// starts an embedded Kafka-protocol broker (unless --brokers is given),
// creates the topics, writes the three lines of Kafka Streams' quickstart to
// wordcount-input, runs the application and prints every count it writes to
// wordcount-output. Lines typed on stdin are counted too. The counts are
// queryable over HTTP (the program prints the curl commands). Ctrl-C, or
// --duration, stops it.
//
// The topology is Topology, in wordcount.go; wordcount_test.go tests it with
// the test driver and against an in-process broker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/examples/internal/runner"
	"github.com/seed992c72d9/streams/serde"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f, err := runner.Parse("wordcount", args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := runner.WithDuration(ctx, f.Duration)
	defer cancel()
	env, err := runner.Start(ctx, f, stdout, InputTopic, OutputTopic)
	if err != nil {
		return err
	}
	defer env.Close()

	topo, err := Topology()
	if err != nil {
		return err
	}
	app, err := streams.New(topo, streams.Config{
		ApplicationID: "wordcount-example",
		Brokers:       env.Brokers,
		StateDir:      env.StateDir,
		QueryAddr:     f.HTTP,
		Logger:        env.Logger,
	})
	if err != nil {
		return err
	}

	// Once the application runs: write the input, then whatever is typed on
	// stdin; meanwhile print the counts as they are committed.
	produce := func(ctx context.Context) error {
		cl, err := runner.Producer(env.Brokers)
		if err != nil {
			return err
		}
		defer cl.Close()
		send := func(line string) error {
			return cl.ProduceSync(ctx, &kgo.Record{Topic: InputTopic, Value: []byte(line)}).FirstErr()
		}
		for _, line := range Lines {
			if err := send(line); err != nil {
				return err
			}
		}
		url := runner.QueryURL(app)
		fmt.Fprintf(stdout, `
The application counts the words of %[1]s into the store %[2]q and writes
every new count to %[3]s (printed below as "word = count"). Type lines
to count their words too. Query the store:

  curl %[4]s/v1/stores/%[2]s/keys/kafka
  curl '%[4]s/v1/stores/%[2]s/range?limit=20'

Ctrl-C stops it.

`, InputTopic, CountStore, OutputTopic, url)
		lines := runner.Lines(stdin)
		for {
			select {
			case <-ctx.Done():
				return nil
			case line, ok := <-lines:
				if !ok {
					lines = nil // stdin ended: keep running until Ctrl-C
					continue
				}
				if err := send(line); err != nil {
					return err
				}
			}
		}
	}
	print := func(ctx context.Context) error {
		return runner.Consume(ctx, env.Brokers, []string{OutputTopic}, func(r *kgo.Record) {
			n, err := serde.Int64().Deserialize(r.Value)
			if err != nil {
				fmt.Fprintf(stderr, "undecodable count for %q: %v\n", r.Key, err)
				return
			}
			fmt.Fprintf(stdout, "  %s = %d\n", r.Key, n)
		})
	}
	err = runner.Run(ctx, app, produce, print)
	fmt.Fprintln(stdout, "stopped")
	return err
}
