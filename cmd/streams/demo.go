package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/embedded"
	"github.com/seed992c72d9/streams/internal/demo"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	brokers := fs.String("brokers", "", "Kafka bootstrap brokers, comma separated (default: start an embedded broker)")
	port := fs.Int("port", 9092, "port of the embedded broker")
	dir := fs.String("data-dir", "streams-data", "directory for the embedded broker's data and the application's state")
	httpAddr := fs.String("http", "localhost:8080", "address of the query and metrics server")
	rate := fs.Int("rate", 2000, "records per second the generator writes")
	verbose := fs.Bool("v", false, "log the application's progress")
	kafkaSec := addKafkaFlags(fs)
	httpCert := fs.String("http-cert", "", "PEM certificate of the query server: serve HTTPS (with --http-key)")
	httpKey := fs.String("http-key", "", "PEM key of --http-cert")
	httpTokens := fs.String("http-tokens-env", "", "environment variable holding the query API's bearer tokens (comma separated): require one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *brokers == "" && kafkaSec.given() {
		return errors.New("the --kafka-* and --sasl-* flags need --brokers: the embedded broker takes plaintext only")
	}
	var addrs []string
	if *brokers == "" {
		b, err := embedded.Start(embedded.Config{Port: *port, DataDir: filepath.Join(*dir, "broker")})
		if err != nil {
			return err
		}
		defer b.Close()
		addrs = b.Addrs()
		fmt.Fprintf(stdout, "embedded broker on %s (data in %s)\n", strings.Join(addrs, ","), filepath.Join(*dir, "broker"))
		for _, topic := range []string{demo.LinesTopic, demo.ViewsTopic, demo.WordCountTopic, demo.ViewCountTopic} {
			if err := b.CreateTopic(ctx, topic, 4, nil); err != nil {
				return err
			}
		}
	} else {
		addrs = strings.Split(*brokers, ",")
	}

	topo, err := demo.Topology()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	cfg := streams.Config{
		ApplicationID: "streams-demo",
		Brokers:       addrs,
		StateDir:      filepath.Join(*dir, "state"),
		QueryAddr:     *httpAddr,
		Registerer:    reg,
		Logger:        logger,
	}
	if err := kafkaSec.apply(&cfg); err != nil {
		return err
	}
	if *httpCert != "" || *httpKey != "" {
		cfg.QueryTLS = &streams.QueryTLS{CertFile: *httpCert, KeyFile: *httpKey}
	}
	if *httpTokens != "" {
		cfg.QueryAuth = &streams.QueryAuth{TokensEnv: *httpTokens}
	}
	app, err := streams.New(topo, cfg)
	if err != nil {
		return err
	}
	genOpts, err := streams.KafkaClientOptions(cfg)
	if err != nil {
		return err
	}
	gen, err := demo.NewGenerator(addrs, *rate, genOpts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _ = gen.Run(ctx) })
	running := make(chan struct{})
	var once sync.Once
	app.OnStateChange(func(_, s streams.State) {
		if s == streams.Running {
			once.Do(func() { close(running) })
		}
	})
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx) }()

	select {
	case <-running:
	case err := <-errc:
		cancel()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	base := "http://" + *httpAddr
	if cfg.QueryTLS != nil {
		base = "https://" + *httpAddr
	}
	curl := "curl"
	if cfg.QueryAuth != nil {
		curl = fmt.Sprintf(`curl -H "Authorization: Bearer $%s"`, *httpTokens)
	}
	// The generator stamps records with the wall clock: the windows of the
	// next minutes start in [now-10m, now+10m].
	now := time.Now().UTC().Truncate(time.Second)
	from, to := now.Add(-10*time.Minute).Format(time.RFC3339), now.Add(10*time.Minute).Format(time.RFC3339)
	fmt.Fprintf(stdout, `
The demo is running: a generator writes text lines and page views, and the
application counts words, and views per page and minute. Try:

  %[4]s %[1]s/v1/stores/%[2]s/keys/fox
  %[4]s '%[1]s/v1/stores/%[2]s/range?limit=10'
  %[4]s '%[1]s/v1/stores/%[3]s/windows/%%2Fdocs?from=%[5]s&to=%[6]s'
  %[4]s %[1]s/v1/metadata
  %[4]s %[1]s/v1/topology
  %[4]s %[1]s/metrics

Ctrl-C stops it.

`, base, demo.WordCountStore, demo.ViewCountStore, curl, from, to)

	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	var lastProduced, lastProcessed float64
	last := time.Now()
	for {
		select {
		case err := <-errc:
			cancel()
			wg.Wait()
			return err
		case <-ctx.Done():
			fmt.Fprintln(stdout, "\nstopping...")
			err := <-errc
			wg.Wait()
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		case now := <-tick.C:
			produced, processed := float64(gen.Produced()), processedTotal(reg)
			secs := now.Sub(last).Seconds()
			fmt.Fprintf(stdout, "produced %.0f (%.0f/s)  processed %.0f (%.0f/s)  state %s\n",
				produced, (produced-lastProduced)/secs, processed, (processed-lastProcessed)/secs, app.State())
			lastProduced, lastProcessed, last = produced, processed, now
		}
	}
}

// processedTotal sums streams_records_processed_total.
func processedTotal(g prometheus.Gatherer) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "streams_records_processed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += counterValue(m)
		}
	}
	return sum
}

func counterValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return 0
}
