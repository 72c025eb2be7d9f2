package state

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"

	"github.com/seed992c72d9/streams/processor"
)

// ErrClosed is returned by every operation on a closed store.
var ErrClosed = errors.New("state: store is closed")

// Env is what the runtime hands a Builder to build a store for one task.
type Env struct {
	// Task is the task that owns the store.
	Task processor.TaskID
	// ApplicationID is the application's id.
	ApplicationID string
	// Logger carries the task and store names.
	Logger *slog.Logger
	// State is the task's staged state, where the store keeps its bytes.
	State *TaskState
	// Changelog receives the store's changelog records; nil when the
	// runtime keeps no changelogs (the store is then not logged).
	Changelog ChangelogWriter
	// Cache is the record cache; nil disables caching.
	Cache *Cache
	// Record returns the context of the record being processed.
	Record func() RecordContext
	// Dropped counts a record the store dropped, such as a write to an
	// expired window segment; may be nil.
	Dropped func(reason string)
	// OpLatency, when not nil, returns where the store (named store)
	// reports the latency of its operations of kind op (nil: not that
	// kind). Key-value, window and session stores call it once per StoreOp
	// when built, then time a sample of their operations: see
	// [LatencySampleEvery]. Nil measures nothing.
	OpLatency func(store string, op StoreOp) Observer
}

// RecordContext is the input record a store write happens for. Caches keep
// it with each entry so that what they forward on flush carries the context
// of the record that last updated the entry.
type RecordContext struct {
	Timestamp int64
	Headers   processor.Headers
	Topic     string
	Partition int32
	Offset    int64
}

func (e *Env) record() RecordContext {
	if e.Record == nil {
		return RecordContext{Timestamp: processor.NoTimestamp}
	}
	return e.Record()
}

func (e *Env) dropped(reason string) {
	if e.Dropped != nil {
		e.Dropped(reason)
	}
}

// ChangelogWriter sends a store's changelog records. The runtime produces
// them to "<application.id>-<store>-changelog", to the partition of the
// task, in the task's transaction.
type ChangelogWriter interface {
	// Log sends one record; a nil value is a tombstone. The writer takes
	// ownership of key and value.
	Log(store string, key, value []byte, timestamp int64) error
}

// ChangelogRecord is a record read from a store's changelog.
type ChangelogRecord struct {
	Key, Value []byte
	Timestamp  int64
	Offset     int64
}

// Restorer is implemented by stores that can be rebuilt from their
// changelog. RestoreBatch writes the records to the task's staged state,
// bypassing the cache and the changelog; the runtime commits after each
// batch with the changelog offset reached.
type Restorer interface {
	RestoreBatch(recs []ChangelogRecord) error
}

var legalName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// ValidateName checks that name can name a store: it forms the changelog
// topic name, so it must be a legal Kafka topic name part.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("state: a store needs a name")
	}
	if len(name) > 200 {
		return fmt.Errorf("state: store name %q is longer than 200 characters", name)
	}
	if !legalName.MatchString(name) {
		return fmt.Errorf("state: store name %q may contain only ASCII letters, digits, '.', '_' and '-'", name)
	}
	return nil
}
