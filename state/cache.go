package state

import (
	"bytes"
	"iter"
	"unsafe"

	"github.com/RaduBerinde/btreemap"
)

// DefaultCacheBytes is the default size of the record cache of an instance.
const DefaultCacheBytes = 10 << 20

// cacheEntryOverhead is what an entry counts for besides its key, value,
// topic and header bytes: the 45 bytes Kafka Streams' cache counts for an
// entry's bookkeeping and record context (an LRU node's three references,
// the dirty flag, the timestamp, offset and partition), so that a
// CacheMaxBytes holds as many entries as the same cache.max.bytes.buffering
// does there. Like Kafka Streams' count, it understates the memory an entry
// really takes (docs/operations.md, "Memory").
const cacheEntryOverhead = 45

// Cache is the record cache: a bounded amount of memory in front of the
// stores of the tasks one goroutine runs. Between commits it keeps the
// latest value of each written key, so that a key updated many times is
// written to the store, to the changelog and downstream once. It flushes a
// store's entries when the runtime commits, and when it is full it evicts the
// least recently used entry, flushing its store's dirty entries first (as
// Kafka Streams' ThreadCache does). It is not safe for concurrent use.
type Cache struct {
	max  int64
	size int64
	// head is the most recently used entry, tail the least.
	head, tail *cacheEntry
	// free holds removed entries for reuse, so that a full cache, which
	// evicts an entry for each new key, does not allocate one each time.
	free []*cacheEntry
	// flushing counts the flushes in progress: an entry removed during a
	// flush may still be on the list being flushed, so it is not reused.
	flushing int
}

// maxFreeEntries bounds the entries a Cache keeps for reuse.
const maxFreeEntries = 256

// NewCache returns a cache bounded to maxBytes. A cache of 0 bytes holds
// nothing; pass a nil *Cache in Env to disable caching instead.
func NewCache(maxBytes int64) *Cache { return &Cache{max: maxBytes} }

// Size returns the bytes the cache holds.
func (c *Cache) Size() int64 { return c.size }

type cacheEntry struct {
	nc *namedCache
	// key is never modified: the entries map's key shares its bytes.
	key   []byte
	value []byte // nil marks a deleted key
	// valueGen is the cache's snapshot count when value was set: while it
	// has not changed, no snapshot holds value, and a put of a value that
	// fits may overwrite it in place.
	valueGen uint64
	// flushedGen is the cache's commit generation when the entry was last
	// flushed: while it is the current one, the staged batch may hold it.
	flushedGen uint64
	dirty      bool
	// version counts the entry's updates (it may wrap): a flush tells by
	// it whether the entry changed while the flush ran.
	version uint32
	// dirtyPos is the entry's latest place in its cache's dirty list.
	dirtyPos   int
	rc         RecordContext
	prev, next *cacheEntry
}

// bytes is what the entry counts for in the cache's size: it changes only
// with the entry's value and record context, which the cache updates
// between taking the entry's count out of its size and putting it back.
func (e *cacheEntry) bytes() int64 {
	n := len(e.key) + len(e.value) + len(e.rc.Topic) + cacheEntryOverhead
	for _, h := range e.rc.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return int64(n)
}

func (c *Cache) unlink(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (c *Cache) pushFront(e *cacheEntry) {
	e.next = c.head
	if c.head != nil {
		c.head.prev = e
	}
	c.head = e
	if c.tail == nil {
		c.tail = e
	}
}

// evict removes least recently used entries until the cache fits, flushing
// dirty ones through their store.
func (c *Cache) evict() error {
	for c.size > c.max && c.tail != nil {
		e := c.tail
		if e.dirty {
			if err := e.nc.flush(e); err != nil {
				return err
			}
		}
		e.nc.remove(e)
	}
	return nil
}

// namedCache is the part of the cache that belongs to one store of one task.
type namedCache struct {
	c       *Cache
	entries map[string]*cacheEntry
	// sorted holds the same entries in key order, for range scans: a
	// window or session lookup scans a narrow range of a large cache. It
	// is built by the first scan and kept from then on, so that stores
	// that are never scanned (most key-value stores) do not pay for it.
	sorted *btreemap.BTreeMap[[]byte, *cacheEntry]
	// dirty keeps dirty entries in the order of their latest update, as
	// Kafka Streams' NamedCache: an entry updated again is appended again,
	// and its earlier places (where dirtyPos differs) are stale.
	dirty []*cacheEntry
	// under is the store the cache writes through to.
	under cacheUnder
	// listener, if set, hears each flushed entry with the old value it
	// replaces.
	listener func(key, newValue, oldValue []byte, rc RecordContext) error
	// removed counts the entries removed from this cache (evicted or
	// dropped): while it stays the same, no entry put since has left.
	removed uint64
	// onRemove, if set, hears the key of each entry removed (evicted or
	// deleted; not those a drop clears).
	onRemove func(key []byte)
	// snapshots counts the snapshots taken (see cacheEntry.valueGen).
	snapshots uint64
	// direct, when set, is the bucket under a key-value store's cache,
	// whose staged writes are only what the cache flushed: a miss on a key
	// that is not staged reads its committed state (see cache_staged.go).
	direct *Bucket
	// gen counts the task's commits (from 1); staged holds the keys
	// flushed and then removed in this generation.
	gen    uint64
	staged stagedKeys
	// cacheReads makes a miss that finds a value in the store below
	// cache it, clean (key-value stores, as Kafka Streams').
	cacheReads bool
	// skipOld spares reading the value a flushed update replaces when the
	// listener does not need it; a flushed delete still reads it, to skip
	// the delete of a key the store never held.
	skipOld bool
	// flushItems, flushOrder and oldBuf are flushSorted's buffers, kept
	// for reuse; sorting is set while a flush uses them.
	sorting    bool
	flushItems []flushItem
	flushOrder []keyIndex
	oldBuf     []byte
}

func (c *Cache) newNamed(under cacheUnder) *namedCache {
	return &namedCache{c: c, entries: map[string]*cacheEntry{}, under: under, gen: 1}
}

func newEntryTree() *btreemap.BTreeMap[[]byte, *cacheEntry] {
	return btreemap.New[[]byte, *cacheEntry](16, bytes.Compare)
}

func (n *namedCache) remove(e *cacheEntry) {
	n.removed++
	if n.onRemove != nil {
		n.onRemove(e.key)
	}
	if n.direct != nil && e.flushedGen == n.gen {
		n.staged.add(e.key)
	}
	c := n.c
	c.unlink(e)
	c.size -= e.bytes()
	delete(n.entries, string(e.key))
	if n.sorted != nil {
		n.sorted.Delete(e.key)
	}
	if c.flushing == 0 && !e.dirty && len(c.free) < maxFreeEntries {
		// Only the struct is reused: snapshots may hold its key and
		// value slices.
		*e = cacheEntry{}
		c.free = append(c.free, e)
	}
}

// newEntry returns an entry of nc for a copy of key and value (nil for a
// delete), reusing a removed one when it can. The copies share one
// allocation.
func (c *Cache) newEntry(nc *namedCache, key, value []byte) *cacheEntry {
	var e *cacheEntry
	if n := len(c.free); n > 0 {
		e = c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		e.nc = nc
	} else {
		e = &cacheEntry{nc: nc}
	}
	kv := make([]byte, len(key)+len(value))
	copy(kv, key)
	e.key = kv[:len(key):len(key)]
	if value != nil {
		copy(kv[len(key):], value)
		e.value = kv[len(key):]
	}
	e.valueGen = nc.snapshots
	return e
}

// mapKey returns the entry's key as a string sharing its bytes, for the
// entries map: e.key is never modified, so the map needs no copy.
func (e *cacheEntry) mapKey() string {
	return unsafe.String(unsafe.SliceData(e.key), len(e.key))
}

// setValue sets the value of an entry already in the cache to a copy of
// value (nil for a delete), in place when no snapshot holds the old one.
func (e *cacheEntry) setValue(value []byte) {
	e.version++
	gen := e.nc.snapshots
	if value != nil && e.value != nil && e.valueGen == gen && len(value) <= cap(e.value) {
		e.value = append(e.value[:0], value...)
		return
	}
	e.value = cloneNil(value)
	e.valueGen = gen
}

// compactDirty drops the stale places of the dirty list.
func (n *namedCache) compactDirty() {
	j := 0
	for i, e := range n.dirty {
		if e.dirtyPos == i {
			e.dirtyPos = j
			n.dirty[j] = e
			j++
		}
	}
	clear(n.dirty[j:])
	n.dirty = n.dirty[:j]
}

// flush writes the dirty entries through, first the one being evicted.
func (n *namedCache) flush(first *cacheEntry) error {
	if len(n.dirty) == 0 {
		return nil
	}
	n.compactDirty()
	list := n.dirty
	order := list
	if first != nil {
		order = make([]*cacheEntry, 0, len(list))
		order = append(order, first)
		for _, e := range list {
			if e != first {
				order = append(order, e)
			}
		}
	}
	n.dirty = nil
	err := n.flushSorted(order)
	if n.dirty == nil {
		// Nothing was written meanwhile: the next updates reuse the
		// list's array rather than grow a new one from nothing.
		clear(list)
		n.dirty = list[:0]
	}
	return err
}

// getBelow reads the store below for the entry e, before e is flushed.
func (n *namedCache) getBelow(e *cacheEntry) ([]byte, bool, error) {
	if n.direct != nil && e.flushedGen != n.gen && !n.staged.mayHave(e.key) {
		return n.direct.getCommitted(e.key)
	}
	return n.under.get(e.key)
}

// committed starts a new generation after the task committed: nothing is
// staged.
func (n *namedCache) committed() {
	n.gen++
	n.staged.reset()
}

// peek returns the value the cache holds for key, and false when it holds
// none or a delete, without reading the store below. As kvBytes.get, the
// value is valid until the next call and must not be modified.
func (n *namedCache) peek(key []byte) ([]byte, bool) {
	e, ok := n.entries[string(key)]
	if !ok || e.value == nil {
		return nil, false
	}
	n.c.unlink(e)
	n.c.pushFront(e)
	return e.value, true
}

func (n *namedCache) drop() {
	n.removed++
	// The task's staged writes are dropped with the entries (by an abort)
	// or no longer read (by a close).
	n.committed()
	for _, e := range n.entries {
		n.c.unlink(e)
		n.c.size -= e.bytes()
	}
	n.entries = map[string]*cacheEntry{}
	n.sorted = nil
	n.dirty = nil
}

// cachedKV puts a named cache in front of a kvBytes.
type cachedKV struct {
	nc *namedCache
}

func (s *cachedKV) get(key []byte) ([]byte, bool, error) {
	if e, ok := s.nc.entries[string(key)]; ok {
		s.nc.c.unlink(e)
		s.nc.c.pushFront(e)
		if e.value == nil {
			return nil, false, nil
		}
		return e.value, true, nil
	}
	var v []byte
	var ok bool
	var err error
	if d := s.nc.direct; d != nil && !s.nc.staged.mayHave(key) {
		v, ok, err = d.getCommitted(key)
	} else {
		v, ok, err = s.nc.under.get(key)
	}
	if err != nil || !ok || !s.nc.cacheReads {
		return v, ok, err
	}
	return s.nc.addClean(key, v)
}

// addClean caches a value read from the store below as a clean entry, as
// Kafka Streams' caching key-value store does on a miss, and returns the
// cached copy. Making room may evict (and so flush) other entries.
func (n *namedCache) addClean(key, value []byte) ([]byte, bool, error) {
	c := n.c
	e := c.newEntry(n, key, value)
	n.entries[e.mapKey()] = e
	if n.sorted != nil {
		n.sorted.ReplaceOrInsert(e.key, e)
	}
	c.size += e.bytes()
	c.pushFront(e)
	v := e.value // stays valid if e is evicted at once: only the struct is reused
	return v, true, c.evict()
}

func (s *cachedKV) put(key, value []byte, rc RecordContext) error {
	c := s.nc.c
	e, ok := s.nc.entries[string(key)]
	if ok {
		c.size -= e.bytes()
		c.unlink(e)
		e.setValue(value)
	} else {
		e = c.newEntry(s.nc, key, value)
		s.nc.entries[e.mapKey()] = e
		if s.nc.sorted != nil {
			s.nc.sorted.ReplaceOrInsert(e.key, e)
		}
	}
	e.rc = rc
	e.dirty = true
	e.dirtyPos = len(s.nc.dirty)
	s.nc.dirty = append(s.nc.dirty, e)
	if len(s.nc.dirty) > 2*len(s.nc.entries)+64 {
		s.nc.compactDirty()
	}
	c.size += e.bytes()
	c.pushFront(e)
	return c.evict()
}

// iter merges the cache's entries over the store's: cached values win and
// cached deletes hide keys. Like the store's iterators, it sees the cache as
// it is when the iteration starts.
func (s *cachedKV) iter(lower, upper []byte, reverse bool) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		mergeCached(s.nc.snapshot(lower, upper, reverse), s.nc.under.iter(lower, upper, reverse), reverse)(yield)
	}
}

// cachedValue is a cached key and value at one moment; a nil value marks a
// deleted key. Puts replace an entry's value slice rather than write into
// it, so holding the slice keeps the value of that moment.
type cachedValue struct{ key, value []byte }

// snapshot returns the cached entries with keys in [lower, upper) (nil
// bounds are open), in iteration order.
func (n *namedCache) snapshot(lower, upper []byte, reverse bool) []cachedValue {
	n.snapshots++
	if n.sorted == nil {
		n.sorted = newEntryTree()
		for _, e := range n.entries {
			n.sorted.ReplaceOrInsert(e.key, e)
		}
	}
	lo, hi := btreemap.Min[[]byte](), btreemap.Max[[]byte]()
	if lower != nil {
		lo = btreemap.GE(lower)
	}
	if upper != nil {
		hi = btreemap.LT(upper)
	}
	seq := n.sorted.Ascend(lo, hi)
	if reverse {
		seq = n.sorted.Descend(hi, lo)
	}
	var out []cachedValue
	for _, e := range seq {
		out = append(out, cachedValue{e.key, e.value})
	}
	return out
}

// mergeCached merges cached entries, sorted in iteration order, over the
// store's entries under: cached values win and cached deletes hide keys.
func mergeCached(cached []cachedValue, under iter.Seq2[Entry, error], reverse bool) iter.Seq2[Entry, error] {
	cmp := bytes.Compare
	if reverse {
		cmp = func(a, b []byte) int { return bytes.Compare(b, a) }
	}
	return func(yield func(Entry, error) bool) {
		i := 0
		emitCached := func(e cachedValue) bool {
			if e.value == nil {
				return true
			}
			return yield(Entry{Key: e.key, Value: e.value}, nil)
		}
		for kv, err := range under {
			if err != nil {
				yield(Entry{}, err)
				return
			}
			for i < len(cached) && cmp(cached[i].key, kv.Key) < 0 {
				if !emitCached(cached[i]) {
					return
				}
				i++
			}
			if i < len(cached) && cmp(cached[i].key, kv.Key) == 0 {
				if !emitCached(cached[i]) {
					return
				}
				i++
				continue
			}
			if !yield(kv, nil) {
				return
			}
		}
		for ; i < len(cached); i++ {
			if !emitCached(cached[i]) {
				return
			}
		}
	}
}

func (s *cachedKV) flush() error {
	if err := s.nc.flush(nil); err != nil {
		return err
	}
	return s.nc.under.flush()
}

func (s *cachedKV) close() error {
	s.nc.drop()
	return s.nc.under.close()
}
