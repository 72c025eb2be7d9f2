package state

import (
	"bytes"
	"errors"
	"iter"
)

// Bucket is the ordered key space of one store within a task: a staged,
// writable view from [TaskState.Bucket], or a read-only view of committed
// state from [DB.Committed]. Keys and values are bytes; an empty value is a
// value, distinct from an absent key.
//
// A staged bucket is used by its task's goroutine only. A read-only bucket
// is safe for concurrent use.
type Bucket struct {
	r      reader
	w      txn // nil for read-only buckets
	prefix []byte
	buf    []byte // reused for keys by staged buckets only
	vbuf   []byte // reused for values by get, staged buckets only
	closed *bool
	db     *DB
	iters  *int // the task's open iterator count; nil for read-only buckets
}

// ErrReadOnly is returned by writes to a read-only bucket.
var ErrReadOnly = errors.New("state: bucket is read-only")

func (b *Bucket) key(k []byte) []byte {
	if b.w == nil {
		// Read-only buckets are shared by concurrent readers.
		return append(append(make([]byte, 0, len(b.prefix)+len(k)), b.prefix...), k...)
	}
	b.buf = append(append(b.buf[:0], b.prefix...), k...)
	return b.buf
}

func (b *Bucket) check(write bool) error {
	if b.closed != nil && *b.closed {
		return ErrClosed
	}
	if b.db != nil && b.db.isClosed.Load() {
		return ErrDBClosed
	}
	if write && b.w == nil {
		return ErrReadOnly
	}
	return nil
}

// View calls fn with the value stored under key, if any, and reports whether
// there was one. The slice is valid only during fn.
func (b *Bucket) View(key []byte, fn func(value []byte) error) (bool, error) {
	if err := b.check(false); err != nil {
		return false, err
	}
	return b.r.view(b.key(key), fn)
}

// Get returns a copy of the value stored under key.
func (b *Bucket) Get(key []byte) ([]byte, bool, error) {
	if err := b.check(false); err != nil {
		return nil, false, err
	}
	v, ok, err := b.r.get(b.key(key), nil)
	if ok && v == nil {
		v = []byte{}
	}
	return v, ok, err
}

// get returns the value stored under key, in a buffer that a staged bucket
// reuses: it is valid until the next get, and the caller must not modify
// it. A read-only bucket, shared by concurrent readers, returns a copy.
func (b *Bucket) get(key []byte) ([]byte, bool, error) {
	if b.w == nil {
		return b.Get(key)
	}
	if err := b.check(false); err != nil {
		return nil, false, err
	}
	return b.reuse(b.r.get(b.key(key), b.vbuf[:0]))
}

// getCommitted is get for a key the caller knows the task has not written
// since its last commit: it may skip the staged writes. Staged buckets only.
func (b *Bucket) getCommitted(key []byte) ([]byte, bool, error) {
	if err := b.check(false); err != nil {
		return nil, false, err
	}
	return b.reuse(b.w.getCommitted(b.key(key), b.vbuf[:0]))
}

// reuse keeps the buffer of a get for the next one.
func (b *Bucket) reuse(v []byte, ok bool, err error) ([]byte, bool, error) {
	if cap(v) > cap(b.vbuf) {
		b.vbuf = v[:0]
	}
	if !ok || err != nil {
		return nil, false, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// Set stores value under key. Both are copied.
func (b *Bucket) Set(key, value []byte) error {
	if err := b.check(true); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	return b.w.set(b.key(key), value)
}

// Delete removes key.
func (b *Bucket) Delete(key []byte) error {
	if err := b.check(true); err != nil {
		return err
	}
	return b.w.del(b.key(key))
}

// DeleteRange removes the keys in [start, end); a nil bound is open.
func (b *Bucket) DeleteRange(start, end []byte) error {
	if err := b.check(true); err != nil {
		return err
	}
	lo, hi := b.bounds(start, end)
	return b.w.delRange(lo, hi)
}

func (b *Bucket) bounds(lower, upper []byte) ([]byte, []byte) {
	lo := append(bytes.Clone(b.prefix), lower...)
	var hi []byte
	if upper == nil {
		hi = prefixEnd(b.prefix)
	} else {
		hi = append(bytes.Clone(b.prefix), upper...)
	}
	return lo, hi
}

// Iter returns an iterator over the keys in [lower, upper), in reverse order
// when reverse is set; nil bounds are open. It sees the bucket as it was when
// Iter was called. The caller must Close it.
func (b *Bucket) Iter(lower, upper []byte, reverse bool) (*Iterator, error) {
	if err := b.check(false); err != nil {
		return nil, err
	}
	lo, hi := b.bounds(lower, upper)
	it, err := b.r.iter(lo, hi, reverse)
	if err != nil {
		return nil, err
	}
	if b.iters != nil {
		*b.iters++
	}
	return &Iterator{it: it, strip: len(b.prefix), count: b.iters}, nil
}

// All returns a Go iterator over the keys in [lower, upper). The underlying
// iterator is closed when the loop ends, however it ends. An error ends the
// sequence with a nil key and the error.
func (b *Bucket) All(lower, upper []byte, reverse bool) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		it, err := b.Iter(lower, upper, reverse)
		if err != nil {
			yield(Entry{}, err)
			return
		}
		defer it.Close()
		for ; it.Valid(); it.Next() {
			if !yield(Entry{Key: it.Key(), Value: it.Value()}, nil) {
				return
			}
		}
		if err := it.Error(); err != nil {
			yield(Entry{}, err)
		}
	}
}

// Entry is a key and value from an iteration; both are valid until the next
// step.
type Entry struct {
	Key, Value []byte
}

// Iterator walks a bucket's keys in order. Key and Value are valid until the
// next call to Next.
type Iterator struct {
	it     rawIter
	strip  int
	count  *int // decremented on the first Close
	closed bool
}

// Valid reports whether the iterator is positioned at a key.
func (it *Iterator) Valid() bool { return it.it.Valid() }

// Key returns the current key, without the bucket prefix.
func (it *Iterator) Key() []byte { return it.it.Key()[it.strip:] }

// Value returns the current value.
func (it *Iterator) Value() []byte { return it.it.Value() }

// Next moves to the next key and reports whether there is one.
func (it *Iterator) Next() bool { return it.it.Next() }

// Error returns the error that stopped the iteration, if any.
func (it *Iterator) Error() error { return it.it.Error() }

// Close releases the iterator. Closing it again does nothing.
func (it *Iterator) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	if it.count != nil {
		*it.count--
	}
	return it.it.Close()
}
