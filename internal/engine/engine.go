// Package engine runs a topology on Kafka: it joins the application's
// consumer group with a task-aware balancer, runs each assigned task on a
// processing thread, commits output, changelog writes and input offsets in
// one transaction per thread, restores state from changelogs, keeps standby
// replicas warm and feeds global stores.
package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

// Options configures an Engine. The root package fills it from the public
// Config.
type Options struct {
	AppID       string
	Topology    *topology.Topology
	Brokers     []string
	KafkaOpts   []kgo.Opt
	ExactlyOnce bool
	// CommitInterval is how often each thread commits.
	CommitInterval time.Duration
	Threads        int
	Standbys       int
	MaxTaskIdle    time.Duration
	// CacheBytes is the record cache of the whole instance, split evenly
	// over threads; 0 disables caching.
	CacheBytes int64
	// Endpoint is the query address this instance advertises.
	Endpoint  string
	ProcessID [16]byte
	// StaticMembership gives each thread's group member a fixed instance
	// id (<AppID>-<ProcessID>-<thread>): a restarted instance takes over
	// its members' assignment at once instead of waiting for the old
	// members' session timeout.
	StaticMembership bool

	DB      *state.DB
	Logger  *slog.Logger
	Metrics *Metrics

	OnDeserializationError processor.DeserializationHandler
	OnProcessingError      processor.ProcessingHandler
	// DeadLetterTopic receives records error handlers send there.
	DeadLetterTopic  string
	ProductionPolicy ProductionPolicy
	// MaxBufferedRecords bounds a thread's queued input records to this
	// many per assigned partition in total; the thread stops polling while
	// its queues are full.
	MaxBufferedRecords int
	// MaxStagedBytes makes a thread commit early when a task's staged state
	// grows past it.
	MaxStagedBytes int
	// ReplicationFactor of created topics (-1: the broker default).
	ReplicationFactor int16
	// StateCleanupDelay is how long a task's local state is kept after
	// the task leaves this instance.
	StateCleanupDelay time.Duration
	// OnThreadState hears thread state changes.
	OnThreadState func(thread int, running bool)
	// ThreadRestarts is how many times a failed thread is replaced by a
	// new one (from committed state) before the engine fails; 0 fails at
	// once.
	ThreadRestarts int
	// ShutdownApplicationOnFailure makes a failed thread ask every
	// instance of the application to shut down, through the group.
	ShutdownApplicationOnFailure bool
}

// Engine runs the application's threads.
type Engine struct {
	opts   Options
	log    *slog.Logger
	layout *Layout
	adm    *kadm.Client
	admCl  *kgo.Client

	metrics *Metrics
	// slabs recycles the threads' fetched records.
	slabs *recordSlabs

	mu sync.Mutex
	// counts caches partition counts by topic.
	counts map[string]int32
	// changelogTopics are the resolved changelog topics.
	changelogTopics map[string]bool
	// hosts is the latest group-wide task map.
	hosts []HostInfo
	// standbys are the standby tasks of every thread of this process.
	standbys map[int][]TaskID
	// actives are the tasks each thread of this process runs.
	actives map[int][]TaskID
	// restoring are the active tasks still restoring their stores.
	restoring map[TaskID]bool

	global  *globalRunner
	standby *standbyRunner
	// cleanups are the pending removals of local state.
	cleanups map[TaskID]*time.Timer
	// stopc receives the reason when the group asks the application to
	// shut down.
	stopc chan string
}

// New prepares an engine; Run starts it.
func New(opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.MaxBufferedRecords <= 0 {
		opts.MaxBufferedRecords = 1000
	}
	if opts.MaxStagedBytes <= 0 {
		opts.MaxStagedBytes = 64 << 20
	}
	if opts.Threads <= 0 {
		opts.Threads = 1
	}
	e := &Engine{
		opts: opts, log: opts.Logger, layout: NewLayout(opts.AppID, opts.Topology),
		metrics: opts.Metrics, slabs: &recordSlabs{}, counts: map[string]int32{}, changelogTopics: map[string]bool{},
		standbys: map[int][]TaskID{}, actives: map[int][]TaskID{}, restoring: map[TaskID]bool{},
		stopc: make(chan string, 1),
	}
	for _, name := range opts.Topology.Stores() {
		b, _, _ := opts.Topology.Store(name)
		if _, ok := b.Changelog(); ok {
			e.changelogTopics[exec.ChangelogTopic(opts.AppID, name)] = true
		}
	}
	return e, nil
}

// Layout returns the engine's topic layout.
func (e *Engine) Layout() *Layout { return e.layout }

func (e *Engine) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	// A fetch waits at most 500 ms for data (the Java consumer's default;
	// franz-go's is 5 s), so that a partition whose fetching resumes is not
	// left waiting behind a long fetch. The user's options come after and
	// may change it.
	opts := []kgo.Opt{kgo.SeedBrokers(e.opts.Brokers...), kgo.WithLogger(kgoLogger{e.log}),
		kgo.FetchMaxWait(500 * time.Millisecond)}
	opts = append(opts, e.opts.KafkaOpts...)
	return append(opts, extra...)
}

// Run prepares topics, bootstraps global stores and runs the threads until
// ctx ends or a thread fails.
func (e *Engine) Run(ctx context.Context) error {
	// The admin client's metadata must not stay stale long after the
	// application creates its internal topics.
	cl, err := kgo.NewClient(e.clientOpts(kgo.MetadataMinAge(100 * time.Millisecond))...)
	if err != nil {
		return fmt.Errorf("creating the admin client: %w", err)
	}
	e.admCl = cl
	e.adm = kadm.NewClient(cl)
	defer cl.Close()
	plan, err := e.ensureTopics(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	for k, v := range plan.Counts {
		e.counts[k] = v
	}
	e.mu.Unlock()

	if len(e.opts.Topology.GlobalSubTopologies()) > 0 {
		e.global = newGlobalRunner(e)
		if err := e.global.bootstrap(ctx); err != nil {
			return err
		}
	}
	if e.opts.Standbys > 0 {
		e.standby = newStandbyRunner(e)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, e.opts.Threads+2)
	var wg sync.WaitGroup
	if e.global != nil {
		wg.Go(func() { errc <- e.global.run(ctx) })
	}
	if e.standby != nil {
		wg.Go(func() { errc <- e.standby.run(ctx) })
	}
	for i := range e.opts.Threads {
		wg.Go(func() {
			for restarts := 0; ; restarts++ {
				err := newThread(e, i).run(ctx)
				if err == nil || ctx.Err() != nil || restarts >= e.opts.ThreadRestarts {
					errc <- err
					return
				}
				e.log.Error("thread failed; replacing it", "thread", i, "error", err, "restart", restarts+1)
			}
		})
	}
	var first error
	go func() { wg.Wait(); close(errc) }()
	stopc := e.stopc
	for {
		select {
		case reason := <-stopc:
			stopc = nil
			if first == nil {
				first = fmt.Errorf("%w: %s", ErrApplicationShutdown, reason)
				cancel()
			}
		case err, ok := <-errc:
			if !ok {
				return first
			}
			if err != nil && first == nil && !errors.Is(err, context.Canceled) {
				first = err
				cancel()
			}
		}
	}
}

// ErrApplicationShutdown is returned by every instance when one of them
// asked the application to shut down.
var ErrApplicationShutdown = errors.New("the application was shut down by one of its instances")

// requestStop makes Run return ErrApplicationShutdown.
func (e *Engine) requestStop(reason string) {
	select {
	case e.stopc <- reason:
	default:
	}
}

// ensureTopics retries while the brokers are unreachable, until ctx ends.
func (e *Engine) ensureTopics(ctx context.Context) (*TopicPlan, error) {
	backoff := 100 * time.Millisecond
	for {
		tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		plan, err := EnsureTopics(tctx, e.adm, e.opts.AppID, e.opts.Topology, e.opts.ReplicationFactor)
		cancel()
		if err == nil {
			return plan, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if isFatalConnErr(err) {
			// Retrying cannot fix credentials or certificates: fail now
			// rather than hide the cause in a retry loop.
			return nil, err
		}
		var ke *kerr.Error
		if !errors.As(err, &ke) || !ke.Retriable {
			if !isConnErr(err) {
				return nil, err
			}
		}
		e.log.Warn("cannot prepare topics yet; retrying", "error", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (e *Engine) isChangelog(topic string) bool {
	return e.changelogTopics[topic]
}

// partitions returns a topic's partition count, asking the brokers for
// topics not seen before.
func (e *Engine) partitions(topic string) (int, error) {
	e.mu.Lock()
	n, ok := e.counts[topic]
	e.mu.Unlock()
	if ok {
		return int(n), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	details, err := e.adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("looking up topic %s: %w", topic, err)
	}
	d, ok := details[topic]
	if !ok || d.Err != nil || len(d.Partitions) == 0 {
		return 0, fmt.Errorf("sink topic %s does not exist", topic)
	}
	e.mu.Lock()
	e.counts[topic] = int32(len(d.Partitions))
	e.mu.Unlock()
	return len(d.Partitions), nil
}

// Hosts returns the latest group-wide map of where tasks run.
func (e *Engine) Hosts() []HostInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hosts
}

func (e *Engine) setAssignment(thread int, info AssignmentInfo) {
	e.metrics.Rebalances.Inc()
	if info.Shutdown != "" {
		e.requestStop(info.Shutdown)
	}
	e.mu.Lock()
	e.hosts = info.Hosts
	e.standbys[thread] = info.Standby
	e.mu.Unlock()
	if e.standby != nil {
		e.standby.wake()
	}
}

func (e *Engine) setActive(thread int, tasks []TaskID) {
	e.mu.Lock()
	e.actives[thread] = tasks
	e.mu.Unlock()
}

// LocalTasks returns the tasks this process runs actively and those it
// keeps standby copies of, sorted.
func (e *Engine) LocalTasks() (active, standby []TaskID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ts := range e.actives {
		active = append(active, ts...)
	}
	for _, ts := range e.standbys {
		standby = append(standby, ts...)
	}
	slices.SortFunc(active, compareTasks)
	slices.SortFunc(standby, compareTasks)
	return active, standby
}

func (e *Engine) setRestoring(id TaskID, on bool) {
	e.mu.Lock()
	if on {
		e.restoring[id] = true
	} else {
		delete(e.restoring, id)
	}
	e.mu.Unlock()
}

// TaskStatus says how this process holds a task.
type TaskStatus struct {
	Active, Standby, Restoring bool
}

// Status returns how this process holds a task now.
func (e *Engine) Status(id TaskID) TaskStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	var st TaskStatus
	for _, ts := range e.actives {
		if slices.Contains(ts, id) {
			st.Active = true
		}
	}
	for _, ts := range e.standbys {
		if slices.Contains(ts, id) {
			st.Standby = true
		}
	}
	st.Restoring = e.restoring[id]
	return st
}

// processStandbys returns the standby tasks of every thread of this process.
func (e *Engine) processStandbys() []TaskID {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []TaskID
	for _, ts := range e.standbys {
		out = append(out, ts...)
	}
	return out
}

// TaskCount returns the number of tasks of a sub-topology.
func (e *Engine) TaskCount(sub int) int {
	n := 0
	for _, t := range e.layout.Tasks(e.Counts()) {
		if t.SubTopology == sub {
			n++
		}
	}
	return n
}

// Counts returns the partition counts known, by topic.
func (e *Engine) Counts() map[string]int32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int32, len(e.counts))
	for k, v := range e.counts {
		out[k] = v
	}
	return out
}

type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelDebug
	}
	return kgo.LogLevelWarn
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var l slog.Level
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	case kgo.LogLevelInfo:
		l = slog.LevelInfo
	default:
		l = slog.LevelDebug
	}
	k.l.Log(context.Background(), l, "kafka: "+msg, keyvals...)
}

func isConnErr(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) == false && containsAny(err.Error(), "connection refused", "dial tcp", "i/o timeout", "EOF", "unable to dial")
}

// isFatalConnErr reports connection errors that retrying cannot fix: a
// failed TLS handshake or certificate verification, a rejected SASL
// authentication, a broker that closes connections at the first request
// (TLS or SASL missing on one side), and errors that say so themselves
// (a Fatal method, such as the root package's SASL guard).
func isFatalConnErr(err error) bool {
	var (
		fatal    interface{ Fatal() bool }
		firstEOF *kgo.ErrFirstReadEOF
		header   tls.RecordHeaderError
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		op       *net.OpError
	)
	switch {
	case errors.As(err, &fatal) && fatal.Fatal(),
		errors.As(err, &firstEOF), errors.As(err, &header), errors.As(err, &verify), errors.As(err, &alert),
		errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &op) && op.Op == "remote error": // a TLS alert from the broker
		return true
	}
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState) || errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed)
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if len(sub) > 0 && len(s) >= len(sub) {
			for i := 0; i+len(sub) <= len(s); i++ {
				if s[i:i+len(sub)] == sub {
					return true
				}
			}
		}
	}
	return false
}

func isRecordError(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage) ||
		errors.Is(err, kerr.InvalidTimestamp)
}
