package streams_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// TestMain runs an application instance instead of the tests when the
// environment asks for one: multi-process tests start their instances by
// running this test binary again.
func TestMain(m *testing.M) {
	if os.Getenv("STREAMS_TEST_INSTANCE") == "" {
		os.Exit(m.Run())
	}
	if err := runInstance(); err != nil {
		fmt.Println("instance error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// countTopology counts records per key and writes every new count.
func countTopology() (*topology.Topology, error) {
	b := topology.NewBuilder()
	in := kstream.From(b, "input", serde.String(), serde.String())
	checked := kstream.ProcessValues(in, func() processor.FixedKeyProcessor[string, string, string] { return &rejectPoison{} })
	counts := kstream.Count(kstream.GroupByKey(checked), "counts")
	kstream.FromTable(counts).To("output")
	return b.Build()
}

// printRestores prints the instance's restore logs for the parent test.
type printRestores struct{}

func (printRestores) Enabled(context.Context, slog.Level) bool { return true }
func (printRestores) WithAttrs([]slog.Attr) slog.Handler       { return printRestores{} }
func (printRestores) WithGroup(string) slog.Handler            { return printRestores{} }
func (printRestores) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "restored" || (r.Level >= slog.LevelInfo && !strings.HasPrefix(r.Message, "kafka:")) ||
		(r.Level >= slog.LevelWarn) {
		var sb strings.Builder
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&sb, " %s=%s", a.Key, a.Value); return true })
		fmt.Println(time.Now().Format("15:04:05.000") + " " + r.Message + sb.String())
	}
	return nil
}

// rejectPoison fails on the value "poison", to test processing failures.
type rejectPoison struct {
	ctx processor.FixedKeyContext[string, string]
}

func (p *rejectPoison) Init(ctx processor.FixedKeyContext[string, string]) error {
	p.ctx = ctx
	return nil
}
func (p *rejectPoison) Close() error { return nil }
func (p *rejectPoison) Process(r processor.FixedKeyRecord[string, string]) error {
	if r.Value() == "poison" {
		return fmt.Errorf("refusing the poison value of key %q", r.Key())
	}
	return p.ctx.Forward(r)
}

// runInstance runs one instance of the counting application, configured
// from the environment, until SIGTERM. It prints its state changes.
func runInstance() error {
	topo, err := countTopology()
	if err != nil {
		return err
	}
	cfg := streams.Config{
		ApplicationID: os.Getenv("STREAMS_TEST_APP"),
		Brokers:       strings.Split(os.Getenv("STREAMS_TEST_BROKERS"), ","),
		StateDir:      os.Getenv("STREAMS_TEST_STATE_DIR"),
		CacheMaxBytes: -1,
		KafkaOptions: []kgo.Opt{
			kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond),
			kgo.RebalanceTimeout(10 * time.Second),
		},
	}
	if d, err := time.ParseDuration(os.Getenv("STREAMS_TEST_SESSION_TIMEOUT")); err == nil {
		cfg.KafkaOptions = append(cfg.KafkaOptions, kgo.SessionTimeout(d))
	}
	cfg.StaticMembership = os.Getenv("STREAMS_TEST_STATIC") != ""
	if n, err := strconv.Atoi(os.Getenv("STREAMS_TEST_STANDBYS")); err == nil {
		cfg.NumStandbyReplicas = n
	}
	// Query server on the address the parent chose (query_*_test.go).
	cfg.QueryAddr = os.Getenv("STREAMS_TEST_QUERY_ADDR")
	if cfg.QueryAddr != "" {
		cfg.Registerer = prometheus.NewRegistry()
	}
	// TLS and authentication of the query API (query_security_test.go).
	if cert := os.Getenv("STREAMS_TEST_QUERY_CERT"); cert != "" {
		cfg.QueryTLS = &streams.QueryTLS{CertFile: cert, KeyFile: os.Getenv("STREAMS_TEST_QUERY_KEY"),
			CAFile: os.Getenv("STREAMS_TEST_QUERY_CA"), ClientCAFile: os.Getenv("STREAMS_TEST_QUERY_CLIENT_CA")}
	}
	if env := os.Getenv("STREAMS_TEST_QUERY_TOKENS_ENV"); env != "" {
		cfg.QueryAuth = &streams.QueryAuth{TokensEnv: env, ProtectMetrics: os.Getenv("STREAMS_TEST_QUERY_PROTECT_METRICS") != "",
			ClientCerts: os.Getenv("STREAMS_TEST_QUERY_CLIENT_CA") != ""}
	}
	if os.Getenv("STREAMS_TEST_FAILURE") == "app" {
		cfg.ThreadFailure = streams.ShutDownApplication
	}
	cfg.Logger = slog.New(printRestores{})
	if os.Getenv("STREAMS_TEST_GUARANTEE") == "alos" {
		cfg.Guarantee = streams.AtLeastOnce
		cfg.CommitInterval = 200 * time.Millisecond
	}
	app, err := streams.New(topo, cfg)
	if err != nil {
		return err
	}
	app.OnStateChange(func(_, s streams.State) {
		if s == streams.Running {
			active, standby := app.LocalTasks()
			fmt.Println("tasks", active, "standby", standby)
		}
		fmt.Println("state", s)
	})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return app.Run(ctx)
}
