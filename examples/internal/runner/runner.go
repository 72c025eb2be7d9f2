// Package runner holds what the example programs share and what is not the
// point of any of them: their common flags, an embedded broker when no
// --brokers is given, topic creation, a producer, a read_committed consumer
// that prints outputs, a clock for simulated event time, and running an
// application until Ctrl-C or --duration.
package runner

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/embedded"
)

// Flags are the flags every example takes.
type Flags struct {
	// Brokers are Kafka bootstrap brokers, comma separated; empty starts an
	// embedded broker.
	Brokers string
	// Duration stops the example after this long (0: run until Ctrl-C).
	Duration time.Duration
	// HTTP is the address of the query server (Config.QueryAddr).
	HTTP string
	// StateDir is the application's state directory; empty uses a
	// temporary directory removed on exit.
	StateDir string
	// Partitions is the partition count of the topics the example creates.
	Partitions int
	// Verbose logs the application's progress to stderr.
	Verbose bool
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Brokers, "brokers", "", "Kafka bootstrap brokers, comma separated (default: start an embedded broker)")
	fs.DurationVar(&f.Duration, "duration", 0, "stop after this long (default: run until Ctrl-C)")
	fs.StringVar(&f.HTTP, "http", "localhost:8080", "address of the query server")
	fs.StringVar(&f.StateDir, "state-dir", "", "state directory (default: a temporary directory, removed on exit)")
	fs.IntVar(&f.Partitions, "partitions", 4, "partition count of the topics the example creates")
	fs.BoolVar(&f.Verbose, "v", false, "log the application's progress to stderr")
}

// Parse parses args into a new Flags, reporting errors (and -h) to stderr.
func Parse(name string, args []string, stderr io.Writer) (*Flags, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &Flags{}
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return f, nil
}

// Env is where an example runs: the brokers (embedded or given) and the
// state directory.
type Env struct {
	Brokers  []string
	StateDir string
	// Logger logs the application's progress with -v, else discards.
	Logger *slog.Logger

	broker *embedded.Broker
	tmp    string
}

// Start starts an embedded broker on a free port unless f.Brokers is set,
// and creates the topics (with f.Partitions partitions) that do not exist.
// It tells out where the broker runs.
func Start(ctx context.Context, f *Flags, out io.Writer, topics ...string) (*Env, error) {
	e := &Env{Logger: slog.New(slog.DiscardHandler)}
	if f.Verbose {
		e.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if f.Brokers == "" {
		b, err := embedded.Start(embedded.Config{Port: -1, DefaultPartitions: int32(f.Partitions)})
		if err != nil {
			return nil, err
		}
		e.broker, e.Brokers = b, b.Addrs()
		fmt.Fprintf(out, "embedded broker on %s\n", strings.Join(e.Brokers, ","))
	} else {
		e.Brokers = strings.Split(f.Brokers, ",")
	}
	if err := CreateTopics(ctx, e.Brokers, int32(f.Partitions), topics...); err != nil {
		e.Close()
		return nil, err
	}
	e.StateDir = f.StateDir
	if e.StateDir == "" {
		dir, err := os.MkdirTemp("", "streams-example-")
		if err != nil {
			e.Close()
			return nil, err
		}
		e.StateDir, e.tmp = dir, dir
	}
	return e, nil
}

// Close stops the embedded broker and removes a temporary state directory.
func (e *Env) Close() {
	if e.broker != nil {
		e.broker.Close()
	}
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
}

// CreateTopics creates the topics that do not exist yet.
func CreateTopics(ctx context.Context, brokers []string, partitions int32, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, -1, nil, topics...)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// Producer returns a client that writes records with Kafka's default
// partitioner (murmur2 of the key), as the applications expect.
func Producer(brokers []string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
}

// Consume reads topics from their start with read_committed isolation, as
// consumers of an exactly-once application must, and calls fn for each
// record until ctx ends.
func Consume(ctx context.Context, brokers []string, topics []string, fn func(*kgo.Record)) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := fetches.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		fetches.EachRecord(fn)
	}
}

// Run runs app until ctx ends (a clean shutdown: Run commits and leaves the
// group) or the instance fails. Once the instance is RUNNING, it calls each
// of fns in its own goroutine with a context that ends with the instance;
// an error from one of them stops the instance. Run returns the first error.
func Run(ctx context.Context, app *streams.App, fns ...func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
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
		return err
	}
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				cancel(err)
			}
		})
	}
	err := <-errc
	cancel(nil)
	wg.Wait()
	if err == nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) &&
			!errors.Is(cause, context.DeadlineExceeded) {
			err = cause
		}
	}
	return err
}

// WithDuration returns ctx ending after d, or ctx itself when d is 0.
func WithDuration(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// SimClock is the event-time clock of a generator: it starts history in the
// past and runs speed times faster than the wall clock until it catches up
// with it, then follows it. So a demo shows windows closing within seconds,
// and never writes timestamps in the future (which brokers may refuse).
type SimClock struct {
	start, wall time.Time
	speed       float64
	now         func() time.Time
}

// NewSimClock returns a clock starting history ago, running speed times
// faster than real time until it reaches the present.
func NewSimClock(history time.Duration, speed float64) *SimClock {
	now := time.Now()
	return &SimClock{start: now.Add(-history), wall: now, speed: max(speed, 1), now: time.Now}
}

// Now returns the clock's current time.
func (c *SimClock) Now() time.Time {
	wall := c.now()
	t := c.start.Add(time.Duration(float64(wall.Sub(c.wall)) * c.speed))
	if t.After(wall) {
		return wall
	}
	return t
}

// QueryURL returns the base URL of app's query server, once it runs.
func QueryURL(app *streams.App) string {
	return "http://" + app.QueryInstance().Endpoint()
}

// Lines sends the lines read from r on the returned channel, which is
// closed at the end of r. The reading goroutine is not tied to any context
// (a read from a terminal cannot be interrupted); it ends with r.
func Lines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}
