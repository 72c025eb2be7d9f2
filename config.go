package streams

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/processor"
)

// Guarantee is the processing guarantee.
type Guarantee int

const (
	// ExactlyOnce commits each thread's outputs, changelog writes and input
	// offsets in one Kafka transaction: after a crash, no effect is lost or
	// duplicated. Consumers of the outputs must read with read_committed
	// isolation. It is the default.
	ExactlyOnce Guarantee = iota
	// AtLeastOnce commits offsets after the outputs are acknowledged: after
	// a crash, records since the last commit are processed again.
	AtLeastOnce
)

func (g Guarantee) String() string {
	switch g {
	case ExactlyOnce:
		return "exactly-once"
	case AtLeastOnce:
		return "at-least-once"
	}
	return fmt.Sprintf("Guarantee(%d)", int(g))
}

// ThreadFailurePolicy says what happens when a processing thread fails.
type ThreadFailurePolicy int

const (
	// ShutDownInstance stops this instance: Run returns the error. Other
	// instances take its tasks over. It is the default.
	ShutDownInstance ThreadFailurePolicy = iota
	// ReplaceThread restarts the failed thread from committed state, at most
	// MaxThreadRestarts times.
	ReplaceThread
	// ShutDownApplication stops every instance of the application: the
	// failed instance tells the others through the consumer group, and each
	// Run returns an error naming the failure.
	ShutDownApplication
)

// ProductionErrorPolicy says what happens to a record that a broker rejects.
type ProductionErrorPolicy int

const (
	// FailOnProductionError fails the thread. It is the default.
	FailOnProductionError ProductionErrorPolicy = iota
	// SkipOnProductionError logs, counts and drops records a broker rejects
	// (too large, invalid). Errors that fail a transaction always fail.
	SkipOnProductionError
)

// Config configures an application instance. Zero values take the
// documented defaults.
type Config struct {
	// ApplicationID names the application: its consumer group, the prefix
	// of its internal topics and its transactional ids. Required; letters,
	// digits, '.', '_' and '-'.
	ApplicationID string
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// StateDir holds the instance's state (a Pebble database) and its
	// process id. Default: <os.TempDir()>/streams/<ApplicationID>. Two
	// running instances must not share one.
	StateDir string
	// InMemoryState keeps state in memory instead of Pebble: every start
	// restores from the changelogs.
	InMemoryState bool
	// PebbleBlockCacheBytes is the block cache shared by every Pebble store
	// of the instance (default 64 MiB), besides the memtables.
	PebbleBlockCacheBytes int64
	// PebbleMemTableBytes is the size of Pebble's memtable (default 32
	// MiB); up to two are in memory while one is flushed. With the block
	// cache and CacheMaxBytes it bounds the state's memory: see
	// docs/operations.md, "Memory".
	PebbleMemTableBytes uint64
	// Guarantee is ExactlyOnce (default) or AtLeastOnce.
	Guarantee Guarantee
	// CommitInterval is how often each thread commits: default 100 ms under
	// exactly-once, 30 s under at-least-once.
	CommitInterval time.Duration
	// Threads is the number of processing threads (default 1).
	Threads int
	// NumStandbyReplicas is the number of warm copies of each stateful
	// task kept on other instances (default 0).
	NumStandbyReplicas int
	// MaxTaskIdle is how long a task with several input partitions waits
	// for an empty partition before processing the others, as Kafka
	// Streams' max.task.idle.ms. With the default 0 a task waits only for
	// a partition whose records the broker holds but the instance has not
	// fetched yet (known when the task opens, and from each fetch), and at
	// most 10 s for them; a positive value also waits that long for a
	// partition that has no records yet; a negative value never waits
	// (Kafka Streams' -1).
	MaxTaskIdle time.Duration
	// CacheMaxBytes is the record cache of the instance, shared by its
	// threads: default 10 MiB; a negative value disables caching.
	CacheMaxBytes int64
	// AdvertisedEndpoint is the host:port other instances use to reach
	// this instance's query server (optional). When empty and QueryAddr is
	// set, it is the address the query server listens on (with the host
	// name for an unspecified host, such as ":8080").
	AdvertisedEndpoint string
	// QueryAddr is the address the query server listens on, such as
	// "127.0.0.1:8080" or ":8080": Run serves interactive queries
	// (package query), /healthz, /readyz and, when Registerer is also a
	// prometheus.Gatherer, /metrics there until it returns. Empty (the
	// default): no server; App.QueryHandler serves the same API in your own.
	QueryAddr string
	// ReplicationFactor of the internal topics the application creates
	// (default: the brokers' default).
	ReplicationFactor int16
	// StateCleanupDelay is how long a task's local state is kept after the
	// task leaves the instance (default 10 minutes; negative: forever).
	StateCleanupDelay time.Duration
	// StaticMembership makes each thread a static member of the consumer
	// group, with the instance id <ApplicationID>-<process id>-<thread>
	// (the process id lives in StateDir). An instance restarted with the
	// same StateDir — after a crash or a deploy — takes over its tasks at
	// once, without a rebalance, instead of waiting for the session timeout
	// of the members it replaced. In exchange, a stopped instance does not
	// leave the group: its tasks move only after its session timeout
	// (kgo.SessionTimeout in KafkaOptions; 45 s by default). Two running
	// instances with copies of one StateDir fence each other.
	StaticMembership bool
	// MaxBufferedRecords bounds the input records a thread queues, to this
	// many per assigned input partition in total (default 1000). While the
	// queues are full the thread stops taking records from its Kafka
	// client, which then stops fetching once its own buffer is full.
	MaxBufferedRecords int

	// DeserializationHandler decides about undecodable input records
	// (default: fail).
	DeserializationHandler processor.DeserializationHandler
	// ProcessingErrorHandler decides about records whose processing failed
	// (a processor returned an error): fail (default), skip and count, or
	// send to the dead-letter topic. What the record's processing wrote
	// before the error stays.
	ProcessingErrorHandler processor.ProcessingHandler
	// DeadLetterTopic receives the records handlers send there, with their
	// original bytes and headers describing the error and the source.
	DeadLetterTopic string
	// ProductionErrors says what to do with records a broker rejects.
	ProductionErrors ProductionErrorPolicy
	// ThreadFailure says what happens when a thread fails.
	ThreadFailure ThreadFailurePolicy
	// MaxThreadRestarts bounds ReplaceThread (default 5).
	MaxThreadRestarts int

	// KafkaTLS, when set, makes every connection to the brokers use TLS.
	KafkaTLS *KafkaTLS
	// KafkaSASL, when set, authenticates every connection to the brokers
	// with SASL. Wrong credentials make Run fail within seconds with an
	// error naming the mechanism (a *SASLError).
	KafkaSASL *KafkaSASL
	// KafkaOptions are extra franz-go options for every client; they come
	// after (and may override) those of KafkaTLS and KafkaSASL.
	KafkaOptions []kgo.Opt

	// QueryTLS, when set, serves the query API over HTTPS and forwards
	// requests between instances over HTTPS, verifying the peer.
	QueryTLS *QueryTLS
	// QueryAuth, when set, requires authentication on the query API.
	QueryAuth *QueryAuth
	// QueryLimits bounds the query server's work.
	QueryLimits QueryLimits
	// Logger receives the application's logs (default: discard).
	Logger *slog.Logger
	// Registerer receives the application's Prometheus metrics (default:
	// none are registered).
	Registerer prometheus.Registerer
}

var legalID = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// withDefaults validates c and fills in defaults. Errors name the field.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.ApplicationID == "" {
		errs = append(errs, errors.New("streams: Config.ApplicationID is required"))
	} else if !legalID.MatchString(c.ApplicationID) || len(c.ApplicationID) > 200 {
		errs = append(errs, fmt.Errorf("streams: Config.ApplicationID %q may contain only letters, digits, '.', '_' and '-' (at most 200)", c.ApplicationID))
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("streams: Config.Brokers is required"))
	}
	if c.Guarantee != ExactlyOnce && c.Guarantee != AtLeastOnce {
		errs = append(errs, fmt.Errorf("streams: Config.Guarantee %d is unknown", int(c.Guarantee)))
	}
	if c.CommitInterval < 0 {
		errs = append(errs, fmt.Errorf("streams: Config.CommitInterval %v is negative", c.CommitInterval))
	}
	if c.Threads < 0 {
		errs = append(errs, fmt.Errorf("streams: Config.Threads %d is negative", c.Threads))
	}
	if c.NumStandbyReplicas < 0 {
		errs = append(errs, fmt.Errorf("streams: Config.NumStandbyReplicas %d is negative", c.NumStandbyReplicas))
	}
	if c.PebbleBlockCacheBytes < 0 {
		errs = append(errs, fmt.Errorf("streams: Config.PebbleBlockCacheBytes %d is negative", c.PebbleBlockCacheBytes))
	}
	if c.MaxBufferedRecords < 0 {
		errs = append(errs, fmt.Errorf("streams: Config.MaxBufferedRecords %d is negative", c.MaxBufferedRecords))
	}
	if c.QueryAddr != "" {
		if _, _, err := net.SplitHostPort(c.QueryAddr); err != nil {
			errs = append(errs, fmt.Errorf("streams: Config.QueryAddr %q is not host:port: %v", c.QueryAddr, err))
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxConcurrent", int64(c.QueryLimits.MaxConcurrent)}, {"MaxForwardsPerPeer", int64(c.QueryLimits.MaxForwardsPerPeer)},
		{"ForwardTimeout", int64(c.QueryLimits.ForwardTimeout)}, {"MaxKeyBytes", int64(c.QueryLimits.MaxKeyBytes)},
		{"MaxPageSize", int64(c.QueryLimits.MaxPageSize)}, {"MaxRequestBytes", int64(c.QueryLimits.MaxRequestBytes)},
		{"ReadHeaderTimeout", int64(c.QueryLimits.ReadHeaderTimeout)}, {"ReadTimeout", int64(c.QueryLimits.ReadTimeout)},
		{"WriteTimeout", int64(c.QueryLimits.WriteTimeout)}, {"IdleTimeout", int64(c.QueryLimits.IdleTimeout)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("streams: Config.QueryLimits.%s is negative", f.name))
		}
	}
	if c.ThreadFailure < ShutDownInstance || c.ThreadFailure > ShutDownApplication {
		errs = append(errs, fmt.Errorf("streams: Config.ThreadFailure %d is unknown", int(c.ThreadFailure)))
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = 100 * time.Millisecond
		if c.Guarantee == AtLeastOnce {
			c.CommitInterval = 30 * time.Second
		}
	}
	if c.Threads == 0 {
		c.Threads = 1
	}
	if c.CacheMaxBytes == 0 {
		c.CacheMaxBytes = 10 << 20
	}
	if c.CacheMaxBytes < 0 {
		c.CacheMaxBytes = 0
	}
	if c.StateCleanupDelay == 0 {
		c.StateCleanupDelay = 10 * time.Minute
	}
	if c.MaxBufferedRecords == 0 {
		c.MaxBufferedRecords = 1000
	}
	if c.MaxThreadRestarts == 0 {
		c.MaxThreadRestarts = 5
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	l := &c.QueryLimits
	l.ReadHeaderTimeout = orDefault(l.ReadHeaderTimeout, 10*time.Second)
	l.ReadTimeout = orDefault(l.ReadTimeout, 30*time.Second)
	l.WriteTimeout = orDefault(l.WriteTimeout, 60*time.Second)
	l.IdleTimeout = orDefault(l.IdleTimeout, 2*time.Minute)
	l.MaxRequestBytes = orDefault(l.MaxRequestBytes, 64<<10)
	return c, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
