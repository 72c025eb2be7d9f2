package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/seed992c72d9/streams/embedded"
)

func runBroker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("broker", stderr)
	port := fs.Int("port", 9092, "port to listen on")
	dir := fs.String("data-dir", filepath.Join("streams-data", "broker"), "directory that keeps the broker's data across restarts (empty: memory only)")
	partitions := fs.Int("partitions", 4, "partition count of automatically created topics")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := embedded.Start(embedded.Config{Port: *port, DataDir: *dir, DefaultPartitions: int32(*partitions)})
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "embedded broker listening on %v (data in %q); Ctrl-C stops it\n", b.Addrs(), *dir)
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping the broker")
	return nil
}
