package main

import (
	"context"
	"fmt"
	"io"

	"github.com/seed992c72d9/streams/internal/demo"
)

func runDescribe(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("describe", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	topo, err := demo.Topology()
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, topo.Describe())
	return nil
}
