// Command streams is the command line of the streams library: it runs a
// demo application on an embedded broker, runs the embedded broker alone,
// prints topologies, queries running applications, and runs benchmarks.
//
//	streams demo       run the demo application (no Kafka needed)
//	streams broker     run the embedded Kafka-protocol broker
//	streams describe   print the demo topology
//	streams query      query a running application's state over HTTP
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
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"demo", "run the demo application on an embedded broker (or --brokers)", runDemo},
	{"broker", "run the embedded Kafka-protocol broker on fixed ports", runBroker},
	{"describe", "print the demo topology in Kafka Streams' format", runDescribe},
	{"query", "query a running application's state over HTTP", runQuery},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: streams <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'streams <command> -h' for a command's flags.")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			if err != nil {
				fmt.Fprintf(stderr, "streams %s: %v\n", c.name, err)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "streams: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("streams "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
