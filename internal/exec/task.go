package exec

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
)

// Metrics receives what a task counts. Implementations must be cheap: they
// are called on the processing path.
type Metrics interface {
	// RecordDropped counts one record dropped for reason, such as
	// "deserialization-error" or "late".
	RecordDropped(task processor.TaskID, reason string)
}

// StoreMetrics is implemented by Metrics that measure the latency of the
// tasks' store operations.
type StoreMetrics interface {
	// StoreOpLatency returns what a task passes its stores as
	// state.Env.OpLatency; nil when store latency is not measured.
	StoreOpLatency() func(store string, op state.StoreOp) state.Observer
}

// Drop reasons counted by tasks.
const (
	DropDeserialization  = "deserialization-error"
	DropProcessing       = "processing-error"
	DropInvalidTimestamp = "invalid-timestamp"
	DropNullKey          = "null-key"
	DropNullValue        = "null-value"
	DropLate             = "late"
	DropExpiredWindow    = "expired-window"
	DropDeadLetter       = "dead-letter"
)

// Env is what a task needs from whoever runs it.
type Env struct {
	ApplicationID string
	Collector     Collector
	// WallClock returns the current time in milliseconds.
	WallClock func() int64
	Logger    *slog.Logger
	// OnDeserializationError decides about undecodable records; nil fails.
	OnDeserializationError processor.DeserializationHandler
	// OnProcessingError decides about records whose processing failed; nil
	// fails.
	OnProcessingError processor.ProcessingHandler
	// DeadLetter, when set, receives records an error handler sends to the
	// dead-letter topic: the input record and the error, a
	// *processor.DeserializationError or a *processor.ProcessingError.
	DeadLetter func(task processor.TaskID, rec *RawRecord, err error) error
	// Metrics may be nil. When it implements StoreMetrics the stores time
	// a sample of their operations.
	Metrics Metrics
	// StateDB holds the state of stateful tasks; required when the
	// sub-topology has stores.
	StateDB *state.DB
	// Cache is the record cache shared by the tasks of one goroutine; nil
	// disables caching.
	Cache *state.Cache
	// NoChangelogs turns changelogging off for every store.
	NoChangelogs bool
	// GlobalStores are the read-only views of the global stores, which
	// every processor may read.
	GlobalStores map[string]processor.StateStore
}

type topicPartition struct {
	topic     string
	partition int32
}

// Task is a sub-topology instantiated for one partition. It is used by one
// goroutine at a time.
type Task struct {
	id     processor.TaskID
	env    Env
	nodes  []Node
	byName map[string]Node
	// sources maps resolved topic names to their source node.
	sources map[string]source
	stores  map[string]state.Store
	// storeOrder keeps stores in spec order for flush and close.
	storeOrder []state.Store

	streamTime int64
	// partitionTime holds each input partition's time; last caches the
	// partition of the latest lookup, as records come in runs by partition.
	partitionTime map[topicPartition]*int64
	lastTP        topicPartition
	lastPT        *int64
	// lastTopic and lastSrc cache Stamp's latest source lookup.
	lastTopic string
	lastSrc   source

	meta      processor.RecordMetadata
	metaValid bool
	// rc is the context of the record being processed: its timestamp and
	// headers change as processors forward new records.
	rc state.RecordContext

	state *state.TaskState

	streamPunct punctuations
	wallPunct   punctuations

	// entry is reused by Process.
	entry Entry

	// changelogTopics caches changelog topic names by store.
	changelogTopics map[string]string

	// locals holds per-task values of DSL operators (TaskLocal).
	locals map[any]any

	commitRequested bool
	initialized     bool
	closed          bool
}

// NewTask instantiates spec for task id. Call Init before processing.
func NewTask(spec *SubTopologySpec, id processor.TaskID, env Env) (*Task, error) {
	if env.WallClock == nil {
		return nil, errors.New("exec: Env.WallClock is nil")
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	if env.OnDeserializationError == nil {
		env.OnDeserializationError = processor.FailOnDeserializationError
	}
	if env.OnProcessingError == nil {
		env.OnProcessingError = processor.FailOnProcessingError
	}
	t := &Task{
		id:            id,
		env:           env,
		byName:        make(map[string]Node, len(spec.Nodes)),
		sources:       make(map[string]source),
		stores:        make(map[string]state.Store, len(spec.Stores)),
		streamTime:    processor.NoTimestamp,
		partitionTime: make(map[topicPartition]*int64),
	}
	logger := env.Logger.With("task", id.String())
	if len(spec.Stores) > 0 {
		if env.StateDB == nil {
			return nil, fmt.Errorf("task %s: the sub-topology has state stores but no state DB was given", id)
		}
		ts, err := env.StateDB.Task(id)
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", id, err)
		}
		t.state = ts
	}
	var opLatency func(string, state.StoreOp) state.Observer
	if sm, ok := env.Metrics.(StoreMetrics); ok {
		opLatency = sm.StoreOpLatency()
	}
	for _, b := range spec.Stores {
		senv := state.Env{
			Task: id, ApplicationID: env.ApplicationID, Logger: logger.With("store", b.Name()),
			State: t.state, Cache: env.Cache,
			Record:    func() state.RecordContext { return t.rc },
			Dropped:   t.recordDropped,
			OpLatency: opLatency,
		}
		if !env.NoChangelogs {
			if _, logged := b.Changelog(); logged {
				senv.Changelog = changelogWriter{t}
			}
		}
		s, err := b.Build(senv)
		if err != nil {
			t.closeStores()
			return nil, fmt.Errorf("task %s: building state store %q: %w", id, b.Name(), err)
		}
		t.stores[b.Name()] = s
		t.storeOrder = append(t.storeOrder, s)
	}
	for _, ns := range spec.Nodes {
		n, err := ns.Factory.New(ns.Name)
		if err != nil {
			t.closeStores()
			return nil, fmt.Errorf("task %s: %w", id, err)
		}
		b := n.base()
		b.task = t
		b.stores = ns.Stores
		b.logger = logger.With("node", ns.Name)
		t.nodes = append(t.nodes, n)
		t.byName[ns.Name] = n
		if src, ok := n.(source); ok {
			for _, topic := range src.topics() {
				t.sources[topic.Resolve(env.ApplicationID)] = src
			}
		}
	}
	for _, ns := range spec.Nodes {
		parent := t.byName[ns.Name]
		for _, c := range ns.Children {
			child, ok := t.byName[c]
			if !ok {
				t.closeStores()
				return nil, fmt.Errorf("task %s: node %q has unknown child %q", id, ns.Name, c)
			}
			if err := parent.addChild(child); err != nil {
				t.closeStores()
				return nil, fmt.Errorf("task %s: %w", id, err)
			}
		}
	}
	return t, nil
}

// ID returns the task id.
func (t *Task) ID() processor.TaskID { return t.id }

// Init initializes every node, parents first.
func (t *Task) Init() error {
	if t.initialized {
		return nil
	}
	for _, n := range t.nodes {
		if err := n.init(); err != nil {
			return fmt.Errorf("task %s: initializing: %w", t.id, err)
		}
	}
	t.initialized = true
	return nil
}

// SourceTopics returns the resolved names of the topics the task reads.
func (t *Task) SourceTopics() []string {
	out := make([]string, 0, len(t.sources))
	for topic := range t.sources {
		out = append(out, topic)
	}
	return out
}

// StreamTime returns the task's stream time.
func (t *Task) StreamTime() int64 { return t.streamTime }

// PartitionTime returns the largest timestamp processed from a partition.
func (t *Task) PartitionTime(topic string, partition int32) int64 {
	if pt := t.partitionTimeOf(topicPartition{topic, partition}, false); pt != nil {
		return *pt
	}
	return processor.NoTimestamp
}

// partitionTimeOf returns where a partition's time is kept, creating it
// (at NoTimestamp) if create is set.
func (t *Task) partitionTimeOf(tp topicPartition, create bool) *int64 {
	if t.lastPT != nil && t.lastTP == tp {
		return t.lastPT
	}
	pt, ok := t.partitionTime[tp]
	if !ok {
		if !create {
			return nil
		}
		pt = new(int64)
		*pt = processor.NoTimestamp
		t.partitionTime[tp] = pt
	}
	t.lastTP, t.lastPT = tp, pt
	return pt
}

// SetPartitionTime restores a partition's time, as committed in the offset
// metadata, and advances stream time accordingly.
func (t *Task) SetPartitionTime(topic string, partition int32, ts int64) {
	*t.partitionTimeOf(topicPartition{topic, partition}, true) = ts
	if ts > t.streamTime {
		t.streamTime = ts
	}
}

// Store returns a store of the task by name.
func (t *Task) Store(name string) (state.Store, bool) {
	s, ok := t.stores[name]
	return s, ok
}

// CommitRequested reports and clears a processor's commit request.
func (t *Task) CommitRequested() bool {
	r := t.commitRequested
	t.commitRequested = false
	return r
}

// Stamp prepares e for processing: it finds the record's source and
// extracts its timestamp. A record the error handler skips is marked Skip.
func (t *Task) Stamp(e *Entry) error {
	src := t.lastSrc
	if src == nil || e.Raw.Topic != t.lastTopic {
		var ok bool
		if src, ok = t.sources[e.Raw.Topic]; !ok {
			return fmt.Errorf("task %s: no source reads topic %q", t.id, e.Raw.Topic)
		}
		t.lastTopic, t.lastSrc = e.Raw.Topic, src
	}
	err := src.stamp(e)
	if err != nil {
		return t.handleInputError(e, err)
	}
	if e.Skip {
		t.recordDropped(DropInvalidTimestamp)
		t.env.Logger.Debug("dropping record with invalid timestamp", "task", t.id.String(),
			"topic", e.Raw.Topic, "partition", e.Raw.Partition, "offset", e.Raw.Offset, "timestamp", e.TS)
	}
	return nil
}

// ProcessEntry runs one stamped record through the sub-topology. Once the
// record is decoded, and before it is processed, the source advances
// partition and stream time, as Kafka Streams does when it takes a record
// from its queue; a record that cannot be decoded and is skipped leaves time
// alone.
func (t *Task) ProcessEntry(e *Entry) error {
	if e.Skip {
		return nil
	}
	t.meta = processor.RecordMetadata{Topic: e.Raw.Topic, Partition: e.Raw.Partition, Offset: e.Raw.Offset}
	t.metaValid = true
	t.rc = state.RecordContext{Timestamp: e.TS, Headers: e.Raw.Headers,
		Topic: e.Raw.Topic, Partition: e.Raw.Partition, Offset: e.Raw.Offset}
	err := e.src.process(e)
	t.metaValid = false
	if err != nil {
		return t.handleInputError(e, err)
	}
	return nil
}

// advanceTime moves partition and stream time to a decoded record's time.
func (t *Task) advanceTime(e *Entry) {
	if pt := t.partitionTimeOf(topicPartition{e.Raw.Topic, e.Raw.Partition}, true); e.TS > *pt {
		*pt = e.TS
	}
	if e.TS > t.streamTime {
		t.streamTime = e.TS
	}
}

// Process stamps and processes one record. It reuses one Entry, so that
// the synchronous path allocates nothing per record.
func (t *Task) Process(raw RawRecord) error {
	e := &t.entry
	*e = Entry{Raw: raw}
	err := t.Stamp(e)
	if err == nil {
		err = t.ProcessEntry(e)
	}
	*e = Entry{}
	return err
}

func (t *Task) handleInputError(e *Entry, err error) error {
	var de *processor.DeserializationError
	var failure error
	var action processor.ErrorAction
	dropReason := DropDeserialization
	if errors.As(err, &de) {
		failure, action = de, t.env.OnDeserializationError(de)
	} else {
		pe := &processor.ProcessingError{Topic: e.Raw.Topic, Partition: e.Raw.Partition, Offset: e.Raw.Offset,
			Key: e.Raw.Key, Value: e.Raw.Value, Timestamp: e.Raw.Timestamp, Headers: e.Raw.Headers, Err: err}
		failure, action, dropReason = pe, t.env.OnProcessingError(pe), DropProcessing
	}
	switch action {
	case processor.Skip:
		e.Skip = true
		t.recordDropped(dropReason)
		t.env.Logger.Warn("skipping a record", "task", t.id.String(), "error", failure.Error())
		return nil
	case processor.DeadLetter:
		if t.env.DeadLetter != nil {
			if dlErr := t.env.DeadLetter(t.id, &e.Raw, failure); dlErr != nil {
				return fmt.Errorf("task %s: sending to the dead-letter topic: %w", t.id, dlErr)
			}
			e.Skip = true
			t.recordDropped(DropDeadLetter)
			return nil
		}
	}
	return fmt.Errorf("task %s: %w", t.id, failure)
}

func (t *Task) recordDropped(reason string) {
	if t.env.Metrics != nil {
		t.env.Metrics.RecordDropped(t.id, reason)
	}
}

// PunctuateStreamTime fires the stream-time punctuations that are due. It
// does nothing before the task has a stream time.
func (t *Task) PunctuateStreamTime() (bool, error) {
	if t.streamTime == processor.NoTimestamp {
		return false, nil
	}
	return t.streamPunct.run(t, t.streamTime)
}

// PunctuateWallClock fires the wall-clock punctuations that are due.
func (t *Task) PunctuateWallClock() (bool, error) {
	return t.wallPunct.run(t, t.env.WallClock())
}

// Flush flushes every store (and with it the caches that forward records
// downstream). The runtime calls it before committing.
func (t *Task) Flush() error {
	for _, s := range t.storeOrder {
		if err := s.Flush(); err != nil {
			return fmt.Errorf("task %s: flushing state store %q: %w", t.id, s.Name(), err)
		}
	}
	return nil
}

// Close closes every node, then every store. It returns the first error.
func (t *Task) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if t.initialized {
		for _, n := range t.nodes {
			if err := n.close(); err != nil {
				errs = append(errs, fmt.Errorf("closing %q: %w", n.Name(), err))
			}
		}
	}
	if err := t.closeStores(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("task %s: %w", t.id, errors.Join(errs...))
	}
	return nil
}

func (t *Task) closeStores() error {
	var errs []error
	for _, s := range t.storeOrder {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing state store %q: %w", s.Name(), err))
		}
	}
	t.storeOrder = nil
	if t.state != nil {
		if err := t.state.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// State returns the task's staged state, or nil for a stateless task.
func (t *Task) State() *state.TaskState { return t.state }

// Stores returns the task's stores, upstream ones first (flush order).
func (t *Task) Stores() []state.Store { return t.storeOrder }

// ChangelogTopic returns the name of a store's changelog topic.
func ChangelogTopic(applicationID, store string) string {
	return applicationID + "-" + store + "-changelog"
}

// changelogWriter sends a task's changelog records through its collector,
// to the task's partition.
type changelogWriter struct{ t *Task }

func (w changelogWriter) Log(store string, key, value []byte, timestamp int64) error {
	if timestamp < 0 {
		timestamp = 0
	}
	topic, ok := w.t.changelogTopics[store]
	if !ok {
		topic = ChangelogTopic(w.t.env.ApplicationID, store)
		if w.t.changelogTopics == nil {
			w.t.changelogTopics = map[string]string{}
		}
		w.t.changelogTopics[store] = topic
	}
	return w.t.env.Collector.Send(w.t.id, OutRecord{
		Topic:     topic,
		Partition: w.t.id.Partition,
		Key:       key, Value: value, Timestamp: timestamp,
	})
}
