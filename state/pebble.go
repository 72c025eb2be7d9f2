package state

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// PebbleOptions tunes the Pebble engine. Zero values take the defaults.
type PebbleOptions struct {
	// BlockCacheBytes is the size of the block cache shared by every store
	// of the instance (default 64 MiB), besides the memtables, which Pebble
	// charges to the same cache.
	BlockCacheBytes int64
	// MemTableBytes is the size of each memtable (default 32 MiB); Pebble
	// keeps up to two in memory while one is flushed.
	MemTableBytes uint64
	// Logger receives Pebble's error messages (default: discard).
	Logger *slog.Logger
	// SyncCommits makes TaskState.Commit wait until Pebble's write-ahead
	// log is synced to disk. By default a commit returns once Pebble
	// applied it in memory and Pebble writes its log in the background, so
	// a crash — a killed process as well as a lost machine — can lose the
	// last few commits: the state is then behind its changelog (restoring
	// catches up), never ahead and never a mix of commits. With
	// SyncCommits a crash loses at most the commit in progress, for an
	// fsync per commit.
	SyncCommits bool
}

// Memory used by Pebble is roughly BlockCacheBytes + 2 × MemTableBytes, plus
// the staged batches of open tasks (bounded by the runtime's commit size) and
// the index and filter blocks of the open tables (about 1.5 bytes per key for
// the filters).

// OpenPebble opens (creating if needed) the Pebble database in dir.
func OpenPebble(dir string, o PebbleOptions) (*DB, error) {
	if o.BlockCacheBytes <= 0 {
		o.BlockCacheBytes = 64 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 32 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// Pebble takes each memtable's size out of the cache it is given, and
	// keeps a flushed memtable for reuse: in steady state two memtables are
	// charged to the cache. Sized at BlockCacheBytes alone, the defaults
	// (64 MiB, two 32 MiB memtables) left no room for a single block after
	// the first flush, and every read went to disk.
	cache := pebble.NewCache(o.BlockCacheBytes + 2*int64(o.MemTableBytes))
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		MemTableSize: o.MemTableBytes,
		Logger:       pebbleLogger{o.Logger},
	}
	// Bloom filters (10 bits a key, about 1% false positives) spare a
	// point read of an absent key — the first update of every new key of
	// an aggregation — the data blocks of every level it checks. The
	// other levels inherit L0's policy.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("state: opening pebble in %s: %w", dir, err)
	}
	wo := pebble.NoSync
	if o.SyncCommits {
		wo = pebble.Sync
	}
	return &DB{e: &pebbleEngine{db: db, commit: wo}, open: map[string]bool{}}, nil
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(string, ...any) {}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}

type pebbleEngine struct {
	db     *pebble.DB
	commit *pebble.WriteOptions
}

func (e *pebbleEngine) begin([]byte) (txn, error) {
	return &pebbleTxn{db: e.db, b: e.db.NewIndexedBatch(), commitOpts: e.commit}, nil
}

func (e *pebbleEngine) reader([]byte) reader { return pebbleReader{e.db} }

func (e *pebbleEngine) drop(prefix []byte) error {
	return e.db.DeleteRange(prefix, prefixEnd(prefix), pebble.NoSync)
}

func (e *pebbleEngine) close() error { return e.db.Close() }

// pebbleReader reads the committed DB.
type pebbleReader struct{ db *pebble.DB }

func (r pebbleReader) view(key []byte, fn func([]byte) error) (bool, error) {
	return pebbleView(r.db.Get, key, fn)
}

func (r pebbleReader) iter(lower, upper []byte, reverse bool) (rawIter, error) {
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	return newPebbleIter(it, reverse), nil
}

func (r pebbleReader) get(key, dst []byte) ([]byte, bool, error) {
	v, closer, err := r.db.Get(key)
	return pebbleAppend(v, closer, err, dst)
}

// pebbleAppend appends the result of a Pebble Get to dst and releases it.
func pebbleAppend(v []byte, closer io.Closer, err error, dst []byte) ([]byte, bool, error) {
	if errors.Is(err, pebble.ErrNotFound) {
		return dst, false, nil
	}
	if err != nil {
		return dst, false, err
	}
	dst = append(dst, v...)
	return dst, true, closer.Close()
}

func pebbleView(get func([]byte) ([]byte, io.Closer, error), key []byte, fn func([]byte) error) (bool, error) {
	v, closer, err := get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = fn(v)
	if cerr := closer.Close(); err == nil {
		err = cerr
	}
	return true, err
}

type pebbleTxn struct {
	db         *pebble.DB
	b          *pebble.Batch
	commitOpts *pebble.WriteOptions
	// rangeDels is set when the batch holds a range deletion, which may
	// cover any key: getCommitted then reads through the batch.
	rangeDels bool
}

func (t *pebbleTxn) view(key []byte, fn func([]byte) error) (bool, error) {
	return pebbleView(t.b.Get, key, fn)
}

func (t *pebbleTxn) get(key, dst []byte) ([]byte, bool, error) {
	v, closer, err := t.b.Get(key)
	return pebbleAppend(v, closer, err, dst)
}

// getCommitted reads the DB directly: the batch holds no write of key, so
// the batch's view and the DB's agree, and DB.Get spares the batch's
// iterators (and their allocations).
func (t *pebbleTxn) getCommitted(key, dst []byte) ([]byte, bool, error) {
	if t.rangeDels {
		return t.get(key, dst)
	}
	v, closer, err := t.db.Get(key)
	return pebbleAppend(v, closer, err, dst)
}

func (t *pebbleTxn) iter(lower, upper []byte, reverse bool) (rawIter, error) {
	it, err := t.b.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	return newPebbleIter(it, reverse), nil
}

func (t *pebbleTxn) set(key, value []byte) error { return t.b.Set(key, value, nil) }
func (t *pebbleTxn) del(key []byte) error        { return t.b.Delete(key, nil) }
func (t *pebbleTxn) delRange(start, end []byte) error {
	t.rangeDels = true
	return t.b.DeleteRange(start, end, nil)
}
func (t *pebbleTxn) size() int { return t.b.Len() }

func (t *pebbleTxn) commit() error {
	if !t.b.Empty() {
		if err := t.b.Commit(t.commitOpts); err != nil {
			return err
		}
	}
	err := t.b.Close()
	t.b = t.db.NewIndexedBatch()
	t.rangeDels = false
	return err
}

func (t *pebbleTxn) abort() error {
	err := t.b.Close()
	t.b = t.db.NewIndexedBatch()
	t.rangeDels = false
	return err
}

func (t *pebbleTxn) close() error { return t.b.Close() }

type pebbleIter struct {
	it      *pebble.Iterator
	reverse bool
	valid   bool
}

func newPebbleIter(it *pebble.Iterator, reverse bool) *pebbleIter {
	p := &pebbleIter{it: it, reverse: reverse}
	if reverse {
		p.valid = it.Last()
	} else {
		p.valid = it.First()
	}
	return p
}

func (p *pebbleIter) Valid() bool   { return p.valid }
func (p *pebbleIter) Key() []byte   { return p.it.Key() }
func (p *pebbleIter) Value() []byte { return p.it.Value() }
func (p *pebbleIter) Error() error  { return p.it.Error() }
func (p *pebbleIter) Close() error  { return p.it.Close() }
func (p *pebbleIter) Next() bool {
	if p.reverse {
		p.valid = p.it.Prev()
	} else {
		p.valid = p.it.Next()
	}
	return p.valid
}
