// Package streams runs a topology on Kafka: the application instance that
// joins its consumer group, runs the tasks it is assigned, keeps their state
// in Pebble backed by changelog topics, and commits with exactly-once
// guarantees.
//
// Define a topology with packages kstream and ktable (or topology), test it
// with streamstest, then run it:
//
//	app, err := streams.New(topo, streams.Config{ApplicationID: "wordcount", Brokers: []string{"localhost:9092"}})
//	if err != nil { ... }
//	err = app.Run(ctx) // until ctx ends or the instance fails
//
// Run one instance per group of partitions: instances with the same
// ApplicationID share the tasks, and move them (with their state) as
// instances come and go.
package streams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seed992c72d9/streams/internal/engine"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

// State is the lifecycle state of an application instance.
type State int

const (
	// Created: New returned, Run not called yet.
	Created State = iota
	// Rebalancing: joining the group, receiving tasks or restoring them.
	Rebalancing
	// Running: every thread processes its tasks.
	Running
	// PendingShutdown: Run's context ended or Close was called; committing
	// and leaving the group.
	PendingShutdown
	// NotRunning: Run returned without error.
	NotRunning
	// Error: Run returned an error.
	Error
)

func (s State) String() string {
	switch s {
	case Created:
		return "CREATED"
	case Rebalancing:
		return "REBALANCING"
	case Running:
		return "RUNNING"
	case PendingShutdown:
		return "PENDING_SHUTDOWN"
	case NotRunning:
		return "NOT_RUNNING"
	case Error:
		return "ERROR"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// App is one instance of an application.
type App struct {
	cfg  Config
	topo *topology.Topology

	mu        sync.Mutex
	state     State
	listeners []func(old, new State)
	running   map[int]bool
	cancel    context.CancelFunc
	done      chan struct{}
	eng       *engine.Engine
	db        *state.DB
	processID [16]byte
	metrics   *engine.Metrics
	sec       *security
}

// New validates cfg and returns an instance of the application defined by
// t. Errors name the Config field at fault.
func New(t *topology.Topology, cfg Config) (*App, error) {
	if t == nil {
		return nil, errors.New("streams: nil topology")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(os.TempDir(), "streams", cfg.ApplicationID)
	}
	sec, err := buildSecurity(cfg)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, topo: t, state: Created, running: map[int]bool{}, metrics: engine.NewMetrics(cfg.Registerer), sec: sec}
	a.metrics.State.WithLabelValues(Created.String()).Set(1)
	return a, nil
}

// State returns the instance's current state.
func (a *App) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// OnStateChange registers fn to hear every state change. fn runs
// synchronously and must not block.
func (a *App) OnStateChange(fn func(old, new State)) {
	a.mu.Lock()
	a.listeners = append(a.listeners, fn)
	a.mu.Unlock()
}

func (a *App) setState(s State) {
	a.mu.Lock()
	old := a.state
	if old == s || old == NotRunning || old == Error ||
		(old == PendingShutdown && (s == Running || s == Rebalancing)) {
		a.mu.Unlock()
		return
	}
	a.state = s
	ls := append([]func(State, State){}, a.listeners...)
	a.mu.Unlock()
	a.metrics.State.WithLabelValues(old.String()).Set(0)
	a.metrics.State.WithLabelValues(s.String()).Set(1)
	a.cfg.Logger.Info("state change", "from", old.String(), "to", s.String())
	for _, fn := range ls {
		fn(old, s)
	}
}

func (a *App) onThreadState(thread int, running bool) {
	a.mu.Lock()
	a.running[thread] = running
	all := len(a.running) == a.cfg.Threads
	for _, r := range a.running {
		all = all && r
	}
	a.mu.Unlock()
	if all {
		a.setState(Running)
	} else {
		a.setState(Rebalancing)
	}
}

// Run runs the instance until ctx ends (it then commits, leaves the group
// and returns nil) or a failure stops it (it returns the error). A broker
// that is unreachable is retried with backoff. Run may be called once.
func (a *App) Run(ctx context.Context) (err error) {
	a.mu.Lock()
	if a.state != Created {
		a.mu.Unlock()
		return fmt.Errorf("streams: Run called in state %s", a.state)
	}
	ctx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	a.done = make(chan struct{})
	a.mu.Unlock()
	defer close(a.done)
	defer cancel()
	defer func() {
		if err != nil {
			a.setState(Error)
		} else {
			a.setState(NotRunning)
		}
	}()
	a.setState(Rebalancing)
	if err := os.MkdirAll(a.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("streams: creating Config.StateDir: %w", err)
	}
	if a.processID, err = processID(a.cfg.StateDir); err != nil {
		return err
	}
	if a.cfg.InMemoryState {
		a.db = state.OpenMemory()
	} else {
		a.db, err = state.OpenPebble(filepath.Join(a.cfg.StateDir, "pebble"), state.PebbleOptions{
			Logger: a.cfg.Logger, BlockCacheBytes: a.cfg.PebbleBlockCacheBytes, MemTableBytes: a.cfg.PebbleMemTableBytes})
		if err != nil {
			return fmt.Errorf("streams: %w", err)
		}
	}
	defer a.db.Close()
	qs, err := a.startQueryServer()
	if err != nil {
		return err
	}
	defer qs.stop()
	policy := engine.FailOnProductionError
	if a.cfg.ProductionErrors == SkipOnProductionError {
		policy = engine.SkipOnProductionError
	}
	restarts := 0
	if a.cfg.ThreadFailure == ReplaceThread {
		restarts = a.cfg.MaxThreadRestarts
	}
	eng, err := engine.New(engine.Options{
		AppID: a.cfg.ApplicationID, Topology: a.topo, Brokers: a.cfg.Brokers,
		KafkaOpts:   append(slices.Clone(a.sec.kafkaOpts), a.cfg.KafkaOptions...),
		ExactlyOnce: a.cfg.Guarantee == ExactlyOnce, CommitInterval: a.cfg.CommitInterval,
		Threads: a.cfg.Threads, Standbys: a.cfg.NumStandbyReplicas, MaxTaskIdle: a.cfg.MaxTaskIdle,
		CacheBytes: a.cfg.CacheMaxBytes, Endpoint: a.endpoint(), ProcessID: a.processID,
		DB: a.db, Logger: a.cfg.Logger, Metrics: a.metrics, StaticMembership: a.cfg.StaticMembership,
		OnDeserializationError: a.cfg.DeserializationHandler, OnProcessingError: a.cfg.ProcessingErrorHandler,
		DeadLetterTopic:  a.cfg.DeadLetterTopic,
		ProductionPolicy: policy, MaxBufferedRecords: a.cfg.MaxBufferedRecords,
		ReplicationFactor: a.cfg.ReplicationFactor, StateCleanupDelay: a.cfg.StateCleanupDelay,
		ThreadRestarts: restarts, OnThreadState: a.onThreadState,
		ShutdownApplicationOnFailure: a.cfg.ThreadFailure == ShutDownApplication,
	})
	if err != nil {
		return fmt.Errorf("streams: %w", err)
	}
	a.mu.Lock()
	a.eng = eng
	a.mu.Unlock()
	go func() {
		<-ctx.Done()
		a.setState(PendingShutdown)
	}()
	if err := eng.Run(ctx); err != nil {
		return fmt.Errorf("streams: %w", a.sec.kafkaSecurityError(err))
	}
	return nil
}

// LocalTasks returns the tasks this instance runs actively and those it
// keeps standby copies of, as of the latest assignment.
func (a *App) LocalTasks() (active, standby []processor.TaskID) {
	a.mu.Lock()
	eng := a.eng
	a.mu.Unlock()
	if eng == nil {
		return nil, nil
	}
	return eng.LocalTasks()
}

// Close stops a running instance and waits up to timeout for Run to return.
func (a *App) Close(timeout time.Duration) error {
	a.mu.Lock()
	cancel, done := a.cancel, a.done
	a.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("streams: instance did not stop within %v", timeout)
	}
}

// processID reads the instance's process id from dir, creating it on first
// use. It names the instance's transactional ids, so a restarted instance
// fences the transactions its previous run left open.
func processID(dir string) ([16]byte, error) {
	var id [16]byte
	path := filepath.Join(dir, "process.id")
	b, err := os.ReadFile(path)
	if err == nil {
		raw, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr == nil && len(raw) == 16 {
			copy(id[:], raw)
			return id, nil
		}
		return id, fmt.Errorf("streams: %s is corrupt; remove it to get a new process id", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return id, fmt.Errorf("streams: reading the process id: %w", err)
	}
	if _, err := rand.Read(id[:]); err != nil {
		return id, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(id[:])+"\n"), 0o644); err != nil {
		return id, fmt.Errorf("streams: writing the process id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return id, fmt.Errorf("streams: writing the process id: %w", err)
	}
	return id, nil
}
