package processor

import (
	"fmt"
	"log/slog"
	"time"
)

// Processor handles records of types KIn, VIn and forwards records of types
// KOut, VOut to its children.
//
// The runtime calls Init once before the first record, Process for each
// record, and Close once when the task is closed. An error returned from Init
// or Process fails the task (see the runtime's processing error policy); an
// error from Close is logged.
type Processor[KIn, VIn, KOut, VOut any] interface {
	Init(ctx Context[KOut, VOut]) error
	Process(rec Record[KIn, VIn]) error
	Close() error
}

// Supplier returns a new Processor. The runtime calls it once per task, so
// it must return a new instance each time.
type Supplier[KIn, VIn, KOut, VOut any] func() Processor[KIn, VIn, KOut, VOut]

// FixedKeyProcessor is a Processor that cannot change the key of the records
// it forwards: it receives and forwards [FixedKeyRecord] values. Using it
// instead of Processor tells the DSL that no repartitioning is needed after
// it.
type FixedKeyProcessor[K, VIn, VOut any] interface {
	Init(ctx FixedKeyContext[K, VOut]) error
	Process(rec FixedKeyRecord[K, VIn]) error
	Close() error
}

// FixedKeySupplier returns a new FixedKeyProcessor for each task.
type FixedKeySupplier[K, VIn, VOut any] func() FixedKeyProcessor[K, VIn, VOut]

// FixedKeyRecord is a record whose key a processor can read but not replace.
// Build the records to forward from the received one with [WithValue].
type FixedKeyRecord[K, V any] struct {
	rec Record[K, V]
}

// NewFixedKeyRecord wraps r. It is meant for the engine.
func NewFixedKeyRecord[K, V any](r Record[K, V]) FixedKeyRecord[K, V] {
	return FixedKeyRecord[K, V]{rec: r}
}

// Key returns the record's key.
func (r FixedKeyRecord[K, V]) Key() K { return r.rec.Key }

// Value returns the record's value.
func (r FixedKeyRecord[K, V]) Value() V { return r.rec.Value }

// Timestamp returns the record's timestamp in milliseconds.
func (r FixedKeyRecord[K, V]) Timestamp() int64 { return r.rec.Timestamp }

// Headers returns the record's headers.
func (r FixedKeyRecord[K, V]) Headers() Headers { return r.rec.Headers }

// Record returns the underlying record.
func (r FixedKeyRecord[K, V]) Record() Record[K, V] { return r.rec }

// WithTimestamp returns a copy of r with the given timestamp.
func (r FixedKeyRecord[K, V]) WithTimestamp(ts int64) FixedKeyRecord[K, V] {
	r.rec.Timestamp = ts
	return r
}

// WithHeaders returns a copy of r with the given headers.
func (r FixedKeyRecord[K, V]) WithHeaders(h Headers) FixedKeyRecord[K, V] {
	r.rec.Headers = h
	return r
}

// WithValue returns a record with r's key, timestamp and headers and the
// given value, of a possibly different type.
func WithValue[K, V, VR any](r FixedKeyRecord[K, V], value VR) FixedKeyRecord[K, VR] {
	return FixedKeyRecord[K, VR]{rec: Convert(r.rec, r.rec.Key, value, true, false)}
}

// TaskID identifies a task: a sub-topology applied to one partition of its
// input topics.
type TaskID struct {
	SubTopology int
	Partition   int32
}

// String returns the task id in Kafka Streams' form, "<subtopology>_<partition>".
func (t TaskID) String() string { return fmt.Sprintf("%d_%d", t.SubTopology, t.Partition) }

// RecordMetadata locates the input record being processed.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
}

// PunctuationType chooses the clock that drives a punctuation.
type PunctuationType int

const (
	// StreamTime punctuations fire as the task's stream time (the largest
	// record timestamp it has processed) advances; without new records they
	// do not fire.
	StreamTime PunctuationType = iota
	// WallClockTime punctuations fire as the system clock advances,
	// whether records arrive or not.
	WallClockTime
)

func (t PunctuationType) String() string {
	switch t {
	case StreamTime:
		return "stream-time"
	case WallClockTime:
		return "wall-clock-time"
	}
	return fmt.Sprintf("PunctuationType(%d)", int(t))
}

// Punctuator is called by a scheduled punctuation with the current time of
// its clock, in milliseconds.
type Punctuator func(timestamp int64) error

// Cancellable cancels a scheduled punctuation.
type Cancellable interface {
	Cancel()
}

// StateStore is implemented by every state store. Use [GetStore] to look a
// store up by name with its concrete type.
type StateStore interface {
	// Name returns the store's name, unique within a topology.
	Name() string
}

// BaseContext holds what every processor context offers, whatever the
// types it forwards.
type BaseContext interface {
	// ApplicationID returns the application id the topology runs under.
	ApplicationID() string
	// TaskID returns the id of the task this processor instance belongs to.
	TaskID() TaskID
	// RecordMetadata returns the topic, partition and offset of the input
	// record being processed. It returns false inside a punctuation.
	RecordMetadata() (RecordMetadata, bool)
	// StreamTime returns the task's stream time: the largest timestamp of
	// the records it has processed, or NoTimestamp before the first.
	StreamTime() int64
	// WallClockTime returns the current system time in milliseconds (a
	// controllable clock under the test driver).
	WallClockTime() int64
	// Schedule calls fn every interval of the given clock until cancelled or
	// until the task closes. Stream-time schedules are aligned to epoch 0 and
	// fire first as soon as the task has a stream time; wall-clock schedules
	// fire first one interval from now. When time jumps over several
	// intervals, fn is called once.
	Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) (Cancellable, error)
	// StateStore returns a store connected to this processor. Use
	// [GetStore] for a typed lookup.
	StateStore(name string) (StateStore, error)
	// RequestCommit asks the runtime to commit as soon as possible.
	RequestCommit()
	// Logger returns a logger carrying the task and processor names.
	Logger() *slog.Logger
}

// Context is the view a Processor has of the runtime.
type Context[KOut, VOut any] interface {
	BaseContext
	// Forward sends rec to every child of this processor, in order, and
	// returns the first error a child returns.
	Forward(rec Record[KOut, VOut]) error
	// ForwardTo sends rec to the named child only.
	ForwardTo(child string, rec Record[KOut, VOut]) error
}

// FixedKeyContext is the view a FixedKeyProcessor has of the runtime.
type FixedKeyContext[K, VOut any] interface {
	BaseContext
	// Forward sends rec to every child of this processor.
	Forward(rec FixedKeyRecord[K, VOut]) error
	// ForwardTo sends rec to the named child only.
	ForwardTo(child string, rec FixedKeyRecord[K, VOut]) error
}

// GetStore returns the store named name, connected to the processor whose
// context is ctx, as type S. The error names the store when it is not
// connected and says which type it has when it is not an S.
func GetStore[S StateStore](ctx BaseContext, name string) (S, error) {
	var zero S
	st, err := ctx.StateStore(name)
	if err != nil {
		return zero, err
	}
	s, ok := st.(S)
	if !ok {
		return zero, fmt.Errorf("processor: state store %q is a %T, not a %T", name, st, zero)
	}
	return s, nil
}
