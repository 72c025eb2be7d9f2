package state

import (
	"bytes"
	"iter"
	"sync"

	"github.com/RaduBerinde/btreemap"
)

// OpenMemory returns a DB that keeps state in memory, with the same semantics
// as Pebble. It is meant for tests and for stores that need no persistence.
func OpenMemory() *DB {
	return &DB{e: &memEngine{tasks: map[string]*memTask{}}, open: map[string]bool{}}
}

type tree = btreemap.BTreeMap[[]byte, []byte]

func newTree() *tree { return btreemap.New[[]byte, []byte](16, bytes.Compare) }

// memEngine keeps one copy-on-write B-tree of committed state per task. A
// transaction works on a clone (O(1)); commit publishes it and keeps working
// on a new clone, so readers of the published tree never see later writes.
type memEngine struct {
	mu    sync.Mutex
	tasks map[string]*memTask
}

type memTask struct {
	mu        sync.RWMutex
	committed *tree
}

func (e *memEngine) task(prefix []byte) *memTask {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tasks[string(prefix)]
	if !ok {
		t = &memTask{committed: newTree()}
		e.tasks[string(prefix)] = t
	}
	return t
}

func (e *memEngine) begin(prefix []byte) (txn, error) {
	t := e.task(prefix)
	t.mu.Lock()
	work := t.committed.Clone()
	t.mu.Unlock()
	return &memTxn{t: t, work: work}, nil
}

func (e *memEngine) reader(prefix []byte) reader { return memReader{e.task(prefix)} }

func (e *memEngine) drop(prefix []byte) error {
	t := e.task(prefix)
	t.mu.Lock()
	t.committed = newTree()
	t.mu.Unlock()
	return nil
}

func (e *memEngine) close() error { return nil }

// memReader reads a task's committed tree.
type memReader struct{ t *memTask }

func (r memReader) snapshot() *tree {
	r.t.mu.RLock()
	defer r.t.mu.RUnlock()
	return r.t.committed
}

func (r memReader) view(key []byte, fn func([]byte) error) (bool, error) {
	return treeView(r.snapshot(), key, fn)
}

func (r memReader) iter(lower, upper []byte, reverse bool) (rawIter, error) {
	return newMemIter(r.snapshot(), lower, upper, reverse), nil
}

func treeView(t *tree, key []byte, fn func([]byte) error) (bool, error) {
	_, v, ok := t.Get(key)
	if !ok {
		return false, nil
	}
	return true, fn(v)
}

func treeGet(t *tree, key, dst []byte) ([]byte, bool, error) {
	_, v, ok := t.Get(key)
	if !ok {
		return dst, false, nil
	}
	return append(dst, v...), true, nil
}

func (r memReader) get(key, dst []byte) ([]byte, bool, error) {
	return treeGet(r.snapshot(), key, dst)
}

type memTxn struct {
	t      *memTask
	work   *tree
	staged int
}

func (m *memTxn) view(key []byte, fn func([]byte) error) (bool, error) {
	return treeView(m.work, key, fn)
}

func (m *memTxn) get(key, dst []byte) ([]byte, bool, error) { return treeGet(m.work, key, dst) }

// getCommitted reads the working tree: it is as cheap as the committed one.
func (m *memTxn) getCommitted(key, dst []byte) ([]byte, bool, error) { return m.get(key, dst) }

func (m *memTxn) iter(lower, upper []byte, reverse bool) (rawIter, error) {
	// Iterate a clone so that writes during the iteration do not show.
	return newMemIter(m.work.Clone(), lower, upper, reverse), nil
}

func (m *memTxn) set(key, value []byte) error {
	// One allocation for the key and the value: the tree keeps both.
	kv := make([]byte, len(key)+len(value))
	copy(kv, key)
	copy(kv[len(key):], value)
	m.work.ReplaceOrInsert(kv[:len(key):len(key)], kv[len(key):])
	m.staged += len(key) + len(value)
	return nil
}

func (m *memTxn) del(key []byte) error {
	m.work.Delete(key)
	m.staged += len(key)
	return nil
}

func (m *memTxn) delRange(start, end []byte) error {
	var keys [][]byte
	for k := range m.work.Ascend(btreemap.GE(start), btreemap.LT(end)) {
		keys = append(keys, k)
	}
	for _, k := range keys {
		m.work.Delete(k)
	}
	m.staged += len(start) + len(end)
	return nil
}

func (m *memTxn) size() int { return m.staged }

func (m *memTxn) commit() error {
	m.t.mu.Lock()
	m.t.committed = m.work
	m.work = m.work.Clone()
	m.t.mu.Unlock()
	m.staged = 0
	return nil
}

func (m *memTxn) abort() error {
	m.t.mu.Lock()
	m.work = m.t.committed.Clone()
	m.t.mu.Unlock()
	m.staged = 0
	return nil
}

func (m *memTxn) close() error { return m.abort() }

// memIter adapts a B-tree range to rawIter with a pull iterator.
type memIter struct {
	next  func() ([]byte, []byte, bool)
	stop  func()
	k, v  []byte
	valid bool
}

func newMemIter(t *tree, lower, upper []byte, reverse bool) *memIter {
	var seq iter.Seq2[[]byte, []byte]
	lo, hi := btreemap.Min[[]byte](), btreemap.Max[[]byte]()
	if lower != nil {
		lo = btreemap.GE(lower)
	}
	if upper != nil {
		hi = btreemap.LT(upper)
	}
	if reverse {
		seq = t.Descend(hi, lo)
	} else {
		seq = t.Ascend(lo, hi)
	}
	next, stop := iter.Pull2(seq)
	it := &memIter{next: next, stop: stop}
	it.Next()
	return it
}

func (it *memIter) Valid() bool   { return it.valid }
func (it *memIter) Key() []byte   { return it.k }
func (it *memIter) Value() []byte { return it.v }
func (it *memIter) Error() error  { return nil }
func (it *memIter) Next() bool {
	it.k, it.v, it.valid = it.next()
	return it.valid
}
func (it *memIter) Close() error {
	it.stop()
	it.valid = false
	return nil
}
