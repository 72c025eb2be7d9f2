package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/seed992c72d9/streams/processor"
)

// DB holds the state of every task of one application instance: Pebble on
// disk ([OpenPebble]) or memory ([OpenMemory]), with identical semantics.
//
// Each task writes through its own [TaskState], which stages every write in
// a batch that readers of the DB do not see until [TaskState.Commit] applies
// it atomically, together with the task's metadata (changelog offsets, input
// positions, operators' stream times). So the DB never holds uncommitted
// writes: after a crash a task's state is at most behind its changelog, never
// ahead.
//
// Keys are laid out as uvarint(len(task)) task uvarint(len(store)) store key,
// so that a task's or a store's bytes form one contiguous range.
type DB struct {
	e      engine
	mu     sync.Mutex
	open   map[string]bool // tasks with an open TaskState
	closed bool
	// isClosed mirrors closed for readers that do not take mu: buckets
	// check it so that a read after Close fails with ErrDBClosed instead of
	// reaching a closed engine. Closing the DB while reading concurrently is
	// still the caller's error.
	isClosed atomic.Bool
}

// engine is what the Pebble and memory implementations provide.
type engine interface {
	// begin opens a staged transaction over the task whose keys start with
	// prefix.
	begin(prefix []byte) (txn, error)
	// reader returns a view of the committed state of a task, safe for
	// concurrent use.
	reader(prefix []byte) reader
	// drop deletes every committed key of a task.
	drop(prefix []byte) error
	close() error
}

// reader reads committed or staged keys. Keys passed in and returned carry
// the full DB key (with task and store prefix).
type reader interface {
	// view calls fn with the value of key, if present; fn must not retain
	// the slice.
	view(key []byte, fn func(value []byte) error) (bool, error)
	// get appends the value of key, if present, to dst and returns it.
	// Unlike view it takes no closure, so a point read allocates nothing
	// when dst has room.
	get(key, dst []byte) ([]byte, bool, error)
	// iter returns an iterator over [lower, upper).
	iter(lower, upper []byte, reverse bool) (rawIter, error)
}

// txn is a task's staged writes over its committed state.
type txn interface {
	reader
	// getCommitted is get that may skip the staged writes: the caller
	// knows that none of them is to key. (Pebble then reads the DB
	// without the batch's iterators; the memory engine reads as get.)
	getCommitted(key, dst []byte) ([]byte, bool, error)
	set(key, value []byte) error
	del(key []byte) error
	delRange(start, end []byte) error
	commit() error
	abort() error
	size() int
	close() error
}

// rawIter walks keys in order. Key and Value are valid until the next call.
type rawIter interface {
	Valid() bool
	Key() []byte
	Value() []byte
	Next() bool
	Error() error
	Close() error
}

// ErrTaskOpen is returned when a task's state is opened twice.
var ErrTaskOpen = errors.New("state: task state is already open")

// ErrDBClosed is returned by a closed DB.
var ErrDBClosed = errors.New("state: DB is closed")

func taskPrefix(id processor.TaskID) []byte {
	s := id.String()
	p := binary.AppendUvarint(nil, uint64(len(s)))
	return append(p, s...)
}

func storePrefix(task []byte, store string) []byte {
	p := append([]byte(nil), task...)
	p = binary.AppendUvarint(p, uint64(len(store)))
	return append(p, store...)
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// Task opens the staged state of a task. Only one TaskState per task may be
// open at a time; close it to open it again.
func (db *DB) Task(id processor.TaskID) (*TaskState, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil, ErrDBClosed
	}
	key := id.String()
	if db.open[key] {
		return nil, fmt.Errorf("%w: task %s", ErrTaskOpen, key)
	}
	prefix := taskPrefix(id)
	t, err := db.e.begin(prefix)
	if err != nil {
		return nil, fmt.Errorf("state: opening task %s: %w", key, err)
	}
	db.open[key] = true
	return &TaskState{db: db, id: id, prefix: prefix, t: t}, nil
}

// Committed returns a read-only view of the committed state of one store of
// a task. It is safe for concurrent use with the task's processing.
func (db *DB) Committed(id processor.TaskID, store string) *Bucket {
	return &Bucket{r: db.e.reader(taskPrefix(id)), prefix: storePrefix(taskPrefix(id), store), db: db}
}

// DropTask deletes every committed key of a task, such as when the task has
// moved to another instance for good. The task's state must not be open.
func (db *DB) DropTask(id processor.TaskID) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return ErrDBClosed
	}
	if db.open[id.String()] {
		return fmt.Errorf("%w: cannot drop task %s", ErrTaskOpen, id)
	}
	return db.e.drop(taskPrefix(id))
}

// Close closes the DB. Open task states must be closed first; their staged
// writes are lost.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	db.isClosed.Store(true)
	return db.e.close()
}

// TaskState is a task's staged view of its stores: reads see the task's own
// uncommitted writes; other readers see only what Commit applied. It is used
// by one goroutine.
type TaskState struct {
	db     *DB
	id     processor.TaskID
	prefix []byte
	t      txn
	closed bool
	// iters counts the open iterators of the task's buckets. Commit and
	// Abort refuse to run while any is open: Pebble recycles a batch on
	// commit, under the feet of its iterators.
	iters int
	// hooks let stores take part in Commit and Abort.
	hooks    map[int]taskHook
	nextHook int
}

// taskHook is a store's part in its task's Commit and Abort.
type taskHook struct {
	// beforeCommit, if set, runs first in Commit: a store stages what it
	// keeps in memory (such as its observed stream time) to commit it with
	// its data.
	beforeCommit func() error
	// afterAbort, if set, runs after Abort: a store drops what it keeps in
	// memory about the dropped writes (cached entries, stream time).
	afterAbort func()
	// afterCommit, if set, runs after a successful Commit, when nothing is
	// staged any more.
	afterCommit func()
}

// metaStore names the bucket that holds a task's metadata. Store names
// cannot start with a NUL byte, so it never collides with a store.
const metaStore = "\x00meta"

// ID returns the task id.
func (s *TaskState) ID() processor.TaskID { return s.id }

// Bucket returns the staged view of one store's keys.
func (s *TaskState) Bucket(store string) *Bucket {
	return &Bucket{r: s.t, w: s.t, prefix: storePrefix(s.prefix, store), closed: &s.closed, db: s.db, iters: &s.iters}
}

// Meta returns the task's metadata bucket: changelog offsets, positions and
// stream times, written with the task's data and committed with it.
func (s *TaskState) Meta() *Bucket { return s.Bucket(metaStore) }

// StagedBytes returns the size of the staged writes, for bounding them.
func (s *TaskState) StagedBytes() int {
	if s.closed {
		return 0
	}
	return s.t.size()
}

// Commit applies the staged writes atomically. It does not sync to disk
// (unless PebbleOptions.SyncCommits): the changelog in Kafka is the durable
// copy, and a lost commit leaves the state behind its changelog, never
// ahead.
func (s *TaskState) Commit() error {
	if err := s.usable("committing"); err != nil {
		return err
	}
	for _, h := range s.hooks {
		if h.beforeCommit != nil {
			if err := h.beforeCommit(); err != nil {
				return fmt.Errorf("state: committing task %s: %w", s.id, err)
			}
		}
	}
	if err := s.t.commit(); err != nil {
		return fmt.Errorf("state: committing task %s: %w", s.id, err)
	}
	for _, h := range s.hooks {
		if h.afterCommit != nil {
			h.afterCommit()
		}
	}
	return nil
}

// Abort drops the staged writes. The task's stores forget what they kept
// in memory about them (cached entries, observed stream time).
func (s *TaskState) Abort() error {
	if err := s.usable("aborting"); err != nil {
		return err
	}
	if err := s.t.abort(); err != nil {
		return fmt.Errorf("state: aborting task %s: %w", s.id, err)
	}
	for _, h := range s.hooks {
		if h.afterAbort != nil {
			h.afterAbort()
		}
	}
	return nil
}

// ErrOpenIterators is returned by Commit and Abort while an iterator over
// the task's state is open: a range loop must end (or Iterator.Close be
// called) first.
var ErrOpenIterators = errors.New("state: iterators are open")

func (s *TaskState) usable(op string) error {
	switch {
	case s.closed:
		return ErrClosed
	case s.db.isClosed.Load():
		return ErrDBClosed
	case s.iters > 0:
		return fmt.Errorf("state: %s task %s: %w (%d)", op, s.id, ErrOpenIterators, s.iters)
	}
	return nil
}

// hook registers a store's part in Commit and Abort and returns a function
// that unregisters it.
func (s *TaskState) hook(h taskHook) (unregister func()) {
	if s.hooks == nil {
		s.hooks = map[int]taskHook{}
	}
	id := s.nextHook
	s.nextHook++
	s.hooks[id] = h
	return func() { delete(s.hooks, id) }
}

// Close drops the staged writes and releases the task.
func (s *TaskState) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.t.close()
	s.db.mu.Lock()
	delete(s.db.open, s.id.String())
	s.db.mu.Unlock()
	return err
}
