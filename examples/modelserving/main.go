// Command modelserving scores a stream of data records with models that a
// second stream updates while it runs: the model-serving scenario of the
// "Kafka Streams & Akka Streams" talk, where the models are a table and
// each data record is joined with the current model of its key.
//
//	go run ./examples/modelserving
//
// starts an embedded Kafka-protocol broker (unless --brokers is given),
// creates the topics, and runs a generator and the application. The
// generator publishes version 1 of the models "red" and "white" (linear
// models of wine quality), then writes wine measurements to score, keyed by
// the model that scores them (a few for "rose", which has no model), and
// publishes a new version of a model every --update. The program prints
// each model it publishes and each score the application writes; a new
// version scores the records that come after it. The current models are
// queryable over HTTP (the program prints the curl command). Ctrl-C, or
// --duration, stops it.
//
// The topology is Topology, in modelserving.go; modelserving_test.go tests
// it.
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
		fmt.Fprintln(os.Stderr, "modelserving:", err)
		os.Exit(1)
	}
}

// InitialModels are version 1 of the generator's models.
var InitialModels = map[string]Model{
	"red": {Version: 1, Intercept: 2.0, Threshold: 6,
		Weights: map[string]float64{"alcohol": 0.30, "volatile_acidity": -1.20, "sulphates": 0.80}},
	"white": {Version: 1, Intercept: 1.5, Threshold: 6,
		Weights: map[string]float64{"alcohol": 0.35, "volatile_acidity": -1.60, "sulphates": 0.40}},
}

func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("modelserving", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runner.Flags
	f.Register(fs)
	rate := fs.Int("rate", 4, "data records the generator writes per second")
	update := fs.Duration("update", 5*time.Second, "how often the generator publishes a new model version")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := runner.WithDuration(ctx, f.Duration)
	defer cancel()
	env, err := runner.Start(ctx, &f, stdout, ModelsTopic, DataTopic, ScoresTopic)
	if err != nil {
		return err
	}
	defer env.Close()

	topo, err := Topology()
	if err != nil {
		return err
	}
	app, err := streams.New(topo, streams.Config{
		ApplicationID: "modelserving-example",
		Brokers:       env.Brokers,
		StateDir:      env.StateDir,
		QueryAddr:     f.HTTP,
		Logger:        env.Logger,
	})
	if err != nil {
		return err
	}

	generate := func(ctx context.Context) error {
		fmt.Fprintf(stdout, `
A generator publishes models to %s and writes wine
measurements to %s, keyed by the model that scores them. The
application keeps the models in the table %q and scores each
measurement with the current model of its key; the scores it writes to
%s are printed below (as they are committed, so a score
printed after a new model may come from the previous one: compare the
record numbers). Query the current models:

  curl %s/v1/stores/%s/keys/red

Ctrl-C stops it.

`, ModelsTopic, DataTopic, ModelStore, ScoresTopic, runner.QueryURL(app), ModelStore)
		return generate(ctx, env.Brokers, *rate, *update, stdout)
	}
	print := func(ctx context.Context) error {
		return runner.Consume(ctx, env.Brokers, []string{ScoresTopic}, func(r *kgo.Record) {
			var s Scored
			if err := json.Unmarshal(r.Value, &s); err != nil {
				fmt.Fprintf(stderr, "undecodable score %q: %v\n", r.Value, err)
				return
			}
			if s.ModelVersion == 0 {
				fmt.Fprintf(stdout, "  %-6s %-12s no model\n", r.Key, s.ID)
				return
			}
			good := ""
			if s.Flagged {
				good = "  good"
			}
			fmt.Fprintf(stdout, "  %-6s %-12s quality %.2f  by model v%d%s\n", r.Key, s.ID, s.Score, s.ModelVersion, good)
		})
	}
	err = runner.Run(ctx, app, generate, print)
	fmt.Fprintln(stdout, "stopped")
	return err
}

// generate publishes the initial models, then writes rate records a second
// and a new version of a model every update, until ctx ends.
func generate(ctx context.Context, brokers []string, rate int, update time.Duration, out io.Writer) error {
	cl, err := runner.Producer(brokers)
	if err != nil {
		return err
	}
	defer cl.Close()
	models := map[string]Model{}
	publish := func(id string, m Model) error {
		v, err := json.Marshal(m)
		if err != nil {
			return err
		}
		// Synchronously: the records written after it have later
		// timestamps, so the new version scores them.
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: ModelsTopic, Key: []byte(id), Value: v}).FirstErr(); err != nil {
			return err
		}
		models[id] = m
		fmt.Fprintf(out, "published model %s %v\n", id, m)
		return nil
	}
	for _, id := range []string{"red", "white"} {
		if err := publish(id, InitialModels[id]); err != nil {
			return err
		}
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	records := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer records.Stop()
	updates := time.NewTicker(update)
	defer updates.Stop()
	next := []string{"red", "white"}
	for n := 1; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-updates.C:
			id := next[0]
			next = append(next[1:], id)
			m := models[id]
			m.Version++
			weights := map[string]float64{}
			for f, w := range m.Weights { // retrain: the weights drift
				weights[f] = math.Round(w*(0.9+0.2*rnd.Float64())*1000) / 1000
			}
			m.Weights = weights
			if err := publish(id, m); err != nil {
				return err
			}
		case <-records.C:
			id := []string{"red", "white", "red", "white", "red", "white", "rose"}[rnd.IntN(7)]
			r := Record{ID: fmt.Sprintf("%s-%04d", id, n), Features: map[string]float64{
				"alcohol":          math.Round((8+7*rnd.Float64())*10) / 10,
				"volatile_acidity": math.Round((0.1+1.1*rnd.Float64())*100) / 100,
				"sulphates":        math.Round((0.3+1.2*rnd.Float64())*100) / 100,
			}}
			n++
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			cl.Produce(ctx, &kgo.Record{Topic: DataTopic, Key: []byte(id), Value: v}, nil)
		}
	}
}
