package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"time"

	"github.com/seed992c72d9/streams/serde"
)

// WindowEntry is one window of a window store: a key, the window's start
// and end (start + the store's window size, in ms) and its value.
type WindowEntry[K, V any] struct {
	Key   K
	Start int64
	End   int64
	Value V
}

// windowSuffix is the size of a window store key's suffix: start(8) |
// seq(4).
const windowSuffix = 12

// WindowBuilder builds a WindowStore for each task.
type WindowBuilder[K, V any] struct {
	name       string
	ks         serde.Serde[K]
	vs         serde.Serde[V]
	retention  time.Duration
	windowSize time.Duration
	dups       bool
	opts       storeOptions
}

// WindowStoreBuilder describes a window store named name: values by key and
// window start, kept for retention after the latest window start written
// (the store's observed stream time). Windows are windowSize long; the store
// only uses the size to report window ends. With retainDuplicates, every
// put is kept, even for the same key and window start (as stream-stream
// join stores need); such a store is never cached.
//
// The changelog topic is "compact,delete" with retention.ms = retention + 1
// day, as Kafka Streams' windowstore.changelog.additional.retention.ms.
func WindowStoreBuilder[K, V any](name string, ks serde.Serde[K], vs serde.Serde[V], retention, windowSize time.Duration, retainDuplicates bool, opts ...StoreOption) *WindowBuilder[K, V] {
	return &WindowBuilder[K, V]{name: name, ks: ks, vs: vs, retention: retention, windowSize: windowSize,
		dups: retainDuplicates, opts: applyStoreOptions(opts)}
}

// Name returns the store name.
func (b *WindowBuilder[K, V]) Name() string { return b.name }

// Retention returns the store's retention period.
func (b *WindowBuilder[K, V]) Retention() time.Duration { return b.retention }

// WindowSize returns the size of the store's windows.
func (b *WindowBuilder[K, V]) WindowSize() time.Duration { return b.windowSize }

// RetainDuplicates reports whether the store keeps every put.
func (b *WindowBuilder[K, V]) RetainDuplicates() bool { return b.dups }

// Changelog returns the changelog topic configuration: compacted, and
// deleted a day after the retention period.
func (b *WindowBuilder[K, V]) Changelog() (ChangelogConfig, bool) {
	return segmentedChangelog(b.opts, b.retention)
}

func (b *WindowBuilder[K, V]) validate() (retention int64, err error) {
	if err := ValidateName(b.name); err != nil {
		return 0, err
	}
	if b.ks == nil || b.vs == nil {
		return 0, fmt.Errorf("state: store %q: key and value serdes are required", b.name)
	}
	if b.windowSize < 0 {
		return 0, fmt.Errorf("state: store %q: window size %v is negative", b.name, b.windowSize)
	}
	if retention, err = retentionMillis(b.name, b.retention); err != nil {
		return 0, err
	}
	if b.retention < b.windowSize {
		return 0, fmt.Errorf("state: store %q: retention period %v is shorter than the window size %v", b.name, b.retention, b.windowSize)
	}
	return retention, nil
}

// Build creates the store of one task.
func (b *WindowBuilder[K, V]) Build(env Env) (Store, error) {
	retention, err := b.validate()
	if err != nil {
		return nil, err
	}
	if env.State == nil {
		return nil, fmt.Errorf("state: store %q: the runtime provides no state", b.name)
	}
	o := b.opts
	if b.dups {
		o.caching = false // as Kafka Streams: caching would collapse the duplicates
	}
	seg, err := newSegmented(b.name, DroppedExpiredWindow, env, retention, o)
	if err != nil {
		return nil, err
	}
	seg.entryTS = windowEntryTS
	return &WindowStore[K, V]{name: b.name, ks: b.ks, vs: b.vs, size: b.windowSize.Milliseconds(), dups: b.dups, seg: seg,
		lat: newOpTimer(env, b.name)}, nil
}

// BuildReadOnly returns a read-only store over b: writes fail with
// ErrReadOnly.
func (b *WindowBuilder[K, V]) BuildReadOnly(bucket *Bucket) (Store, error) {
	return b.ReadOnly(bucket)
}

// ReadOnly returns the typed read-only store over bucket, such as the
// committed state from DB.Committed. It is safe for concurrent use.
func (b *WindowBuilder[K, V]) ReadOnly(bucket *Bucket) (*WindowStore[K, V], error) {
	retention, err := b.validate()
	if err != nil {
		return nil, err
	}
	return &WindowStore[K, V]{name: b.name, ks: b.ks, vs: b.vs, size: b.windowSize.Milliseconds(), dups: b.dups,
		seg: newReadOnlySegmented(b.name, bucket, retention)}, nil
}

// WindowStore is a typed window store of one task: values by key and window
// start (ms, never negative). Reads see the task's own writes at once;
// others see them after the task commits. Iterations see the store as it was
// when they started.
//
// The store keeps windows for its retention period after its observed
// stream time, the latest window start written: a write to a window that
// starts at or before observed − retention is dropped and counted
// (Env.Dropped with DroppedExpiredWindow), and reads never return such
// windows. Expired windows are deleted a segment (max(retention/2, 60 s) of
// window starts) at a time. The observed stream time is stored with the
// windows and committed with them.
//
// A value that serializes to nil deletes its window, as null does in Kafka
// Streams (a no-op in a store retaining duplicates).
type WindowStore[K, V any] struct {
	name   string
	ks     serde.Serde[K]
	vs     serde.Serde[V]
	size   int64 // ms
	dups   bool
	seg    *segmented
	closed bool
	// keyBuf holds the store key of a point operation (pointStoreKey),
	// valBuf the value of a put (pointValue).
	keyBuf, valBuf []byte
	// lat times a sample of the operations; nil for none.
	lat *opTimer
}

// Name returns the store name.
func (s *WindowStore[K, V]) Name() string { return s.name }

// WindowSize returns the size of the store's windows.
func (s *WindowStore[K, V]) WindowSize() time.Duration {
	return time.Duration(s.size) * time.Millisecond
}

// Retention returns the store's retention period.
func (s *WindowStore[K, V]) Retention() time.Duration {
	return time.Duration(s.seg.m.retention) * time.Millisecond
}

// ObservedStreamTime returns the latest window start written, or
// processor.NoTimestamp before the first write.
func (s *WindowStore[K, V]) ObservedStreamTime() (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	m, err := s.seg.meta()
	if err != nil {
		return 0, err
	}
	return m.observed, nil
}

func (s *WindowStore[K, V]) errorf(format string, args ...any) error {
	return fmt.Errorf("state: store %q: "+format, append([]any{s.name}, args...)...)
}

func (s *WindowStore[K, V]) check() error {
	if s.closed {
		return s.errorf("%w", ErrClosed)
	}
	return nil
}

func (s *WindowStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.ks.Serialize(k)
	if err != nil {
		return nil, s.errorf("serializing key: %w", err)
	}
	if b == nil {
		return nil, s.errorf("null key")
	}
	return b, nil
}

// storeKey returns segment | key | start | seq.
func (s *WindowStore[K, V]) storeKey(kb []byte, start int64, seq uint32) []byte {
	out := make([]byte, 0, 8+len(kb)+windowSuffix)
	out = appendInt64(out, s.seg.m.segmentID(start))
	out = append(out, kb...)
	out = appendInt64(out, start)
	return binary.BigEndian.AppendUint32(out, seq)
}

// splitWindowKey decodes a full store key.
func splitWindowKey(key []byte) (k []byte, start int64, seq uint32, ok bool) {
	if len(key) < 8+windowSuffix {
		return nil, 0, 0, false
	}
	n := len(key) - windowSuffix
	return key[8:n], int64(binary.BigEndian.Uint64(key[n:])), binary.BigEndian.Uint32(key[n+8:]), true
}

// windowChangelogTime returns the window start of a changelog key (key |
// start | seq).
func windowChangelogTime(key []byte) (int64, error) {
	if len(key) < windowSuffix {
		return 0, fmt.Errorf("window changelog key of %d bytes is shorter than its %d-byte suffix", len(key), windowSuffix)
	}
	ts := int64(binary.BigEndian.Uint64(key[len(key)-windowSuffix:]))
	if ts < 0 {
		return 0, fmt.Errorf("window changelog key has a negative window start %d", ts)
	}
	return ts, nil
}

func (s *WindowStore[K, V]) decode(v []byte) (V, error) {
	out, err := s.vs.Deserialize(v)
	if err != nil {
		return out, s.errorf("deserializing value: %w", err)
	}
	return out, nil
}

// Put stores value for key's window starting at windowStart; a value that
// serializes to nil deletes the window. In a store retaining duplicates
// every put adds a window.
func (s *WindowStore[K, V]) Put(key K, value V, windowStart int64) error {
	if s.lat.sample(OpPut) {
		start := time.Now()
		err := s.put(key, value, windowStart)
		s.lat.observe(OpPut, start)
		return err
	}
	return s.put(key, value, windowStart)
}

func (s *WindowStore[K, V]) put(key K, value V, windowStart int64) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.seg.readOnly {
		return s.errorf("%w", ErrReadOnly)
	}
	if windowStart < 0 {
		return s.errorf("window start %d is negative", windowStart)
	}
	if _, err := s.seg.meta(); err != nil {
		return err
	}
	sk, err := s.pointStoreKey(key, windowStart, 0)
	if err != nil {
		return err
	}
	vb, err := s.pointValue(value)
	if err != nil {
		return s.errorf("serializing value: %w", err)
	}
	if s.dups {
		if vb == nil {
			return nil // deleting one of many duplicates means nothing
		}
		seq, err := s.seg.nextSeq()
		if err != nil {
			return err
		}
		binary.BigEndian.PutUint32(sk[len(sk)-4:], seq)
	}
	return s.seg.put(sk, windowStart, vb)
}

// Fetch returns the value of key's window starting at windowStart, unless it
// is absent or expired. In a store retaining duplicates it returns the
// latest put.
func (s *WindowStore[K, V]) Fetch(key K, windowStart int64) (V, bool, error) {
	if s.lat.sample(OpGet) {
		start := time.Now()
		v, ok, err := s.fetchOne(key, windowStart)
		s.lat.observe(OpGet, start)
		return v, ok, err
	}
	return s.fetchOne(key, windowStart)
}

func (s *WindowStore[K, V]) fetchOne(key K, windowStart int64) (V, bool, error) {
	var zero V
	if err := s.check(); err != nil {
		return zero, false, err
	}
	if !s.dups {
		if _, err := s.seg.meta(); err != nil {
			return zero, false, err
		}
		sk, err := s.pointStoreKey(key, windowStart, 0)
		if err != nil || windowStart < 0 {
			return zero, false, err
		}
		vb, ok, err := s.seg.get(sk, windowStart)
		if err != nil || !ok {
			return zero, false, err
		}
		v, err := s.decode(vb)
		return v, err == nil, err
	}
	return s.fetchLatestDup(key, windowStart)
}

// fetchLatestDup returns the latest put of a window of a store retaining
// duplicates. (Apart from Fetch, whose range loop would make Fetch
// allocate on every call.)
func (s *WindowStore[K, V]) fetchLatestDup(key K, windowStart int64) (V, bool, error) {
	var zero V
	kb, err := s.key(key)
	if err != nil || windowStart < 0 {
		return zero, false, err
	}
	for e, err := range s.fetch(kb, windowStart, windowStart, true) {
		return e.Value, err == nil, err
	}
	return zero, false, nil
}

// FetchRange iterates over key's windows that start in [timeFrom, timeTo],
// both inclusive, by ascending start (and, when duplicates are retained, in
// put order for equal starts).
func (s *WindowStore[K, V]) FetchRange(key K, timeFrom, timeTo int64) iter.Seq2[WindowEntry[K, V], error] {
	return s.fetchKey(key, timeFrom, timeTo, false)
}

// BackwardFetchRange is FetchRange in descending order.
func (s *WindowStore[K, V]) BackwardFetchRange(key K, timeFrom, timeTo int64) iter.Seq2[WindowEntry[K, V], error] {
	return s.fetchKey(key, timeFrom, timeTo, true)
}

func (s *WindowStore[K, V]) fetchKey(key K, timeFrom, timeTo int64, reverse bool) iter.Seq2[WindowEntry[K, V], error] {
	return func(yield func(WindowEntry[K, V], error) bool) {
		timeRange(s.lat, yield, func(yield func(WindowEntry[K, V], error) bool) {
			if err := s.check(); err != nil {
				yield(WindowEntry[K, V]{}, err)
				return
			}
			kb, err := s.key(key)
			if err != nil {
				yield(WindowEntry[K, V]{}, err)
				return
			}
			for e, err := range s.fetch(kb, timeFrom, timeTo, reverse) {
				if err == nil {
					e.Key = key
				}
				if !yield(e, err) || err != nil {
					return
				}
			}
		})
	}
}

// fetch walks the windows of one serialized key, leaving Key unset.
func (s *WindowStore[K, V]) fetch(kb []byte, timeFrom, timeTo int64, reverse bool) iter.Seq2[WindowEntry[K, V], error] {
	return func(yield func(WindowEntry[K, V], error) bool) {
		m, err := s.seg.meta()
		if err != nil {
			yield(WindowEntry[K, V]{}, err)
			return
		}
		lo, hi, ok := m.span(timeFrom, timeTo)
		if !ok {
			return
		}
		from := m.actualFrom(timeFrom)
		ranges := segmentRanges(lo, hi, reverse, func(seg []byte) keyRange {
			l := appendInt64(append(bytes.Clone(seg), kb...), from)
			l = binary.BigEndian.AppendUint32(l, 0)
			h := appendInt64(append(bytes.Clone(seg), kb...), timeTo)
			h = append(binary.BigEndian.AppendUint32(h, math.MaxUint32), 0)
			return keyRange{l, h}
		})
		match := func(k []byte, start int64) bool { return bytes.Equal(k, kb) && start >= from && start <= timeTo }
		s.entries(ranges, reverse, match, false)(yield)
	}
}

// FetchKeyRange iterates over the windows of the keys from keyFrom to keyTo
// (by serialized bytes, both inclusive) that start in [timeFrom, timeTo].
// The order is Kafka Streams' RocksDB window store's: by segment, then by
// the bytes of key | start within a segment — key then start order when no
// serialized key is a prefix of another.
func (s *WindowStore[K, V]) FetchKeyRange(keyFrom, keyTo K, timeFrom, timeTo int64) iter.Seq2[WindowEntry[K, V], error] {
	return s.fetchKeys(keyFrom, keyTo, timeFrom, timeTo, false)
}

// BackwardFetchKeyRange is FetchKeyRange in reverse order.
func (s *WindowStore[K, V]) BackwardFetchKeyRange(keyFrom, keyTo K, timeFrom, timeTo int64) iter.Seq2[WindowEntry[K, V], error] {
	return s.fetchKeys(keyFrom, keyTo, timeFrom, timeTo, true)
}

func (s *WindowStore[K, V]) fetchKeys(keyFrom, keyTo K, timeFrom, timeTo int64, reverse bool) iter.Seq2[WindowEntry[K, V], error] {
	return func(yield func(WindowEntry[K, V], error) bool) {
		timeRange(s.lat, yield, func(yield func(WindowEntry[K, V], error) bool) {
			if err := s.check(); err != nil {
				yield(WindowEntry[K, V]{}, err)
				return
			}
			kFrom, err := s.key(keyFrom)
			if err != nil {
				yield(WindowEntry[K, V]{}, err)
				return
			}
			kTo, err := s.key(keyTo)
			if err != nil {
				yield(WindowEntry[K, V]{}, err)
				return
			}
			if bytes.Compare(kFrom, kTo) > 0 {
				return
			}
			s.scanTimes(timeFrom, timeTo, reverse, kFrom, kTo)(yield)
		})
	}
}

// FetchAll iterates over the windows of every key that start in [timeFrom,
// timeTo], in FetchKeyRange's order.
func (s *WindowStore[K, V]) FetchAll(timeFrom, timeTo int64) iter.Seq2[WindowEntry[K, V], error] {
	return s.scanAll(timeFrom, timeTo, false)
}

// BackwardFetchAll is FetchAll in reverse order.
func (s *WindowStore[K, V]) BackwardFetchAll(timeFrom, timeTo int64) iter.Seq2[WindowEntry[K, V], error] {
	return s.scanAll(timeFrom, timeTo, true)
}

// All iterates over every unexpired window, in FetchKeyRange's order.
func (s *WindowStore[K, V]) All() iter.Seq2[WindowEntry[K, V], error] {
	return s.scanAll(0, math.MaxInt64, false)
}

// BackwardAll is All in reverse order.
func (s *WindowStore[K, V]) BackwardAll() iter.Seq2[WindowEntry[K, V], error] {
	return s.scanAll(0, math.MaxInt64, true)
}

func (s *WindowStore[K, V]) scanAll(timeFrom, timeTo int64, reverse bool) iter.Seq2[WindowEntry[K, V], error] {
	return func(yield func(WindowEntry[K, V], error) bool) {
		timeRange(s.lat, yield, func(yield func(WindowEntry[K, V], error) bool) {
			if err := s.check(); err != nil {
				yield(WindowEntry[K, V]{}, err)
				return
			}
			s.scanTimes(timeFrom, timeTo, reverse, nil, nil)(yield)
		})
	}
}

// scanTimes walks the windows of the keys in [kFrom, kTo] (nil: open) that
// start in [timeFrom, timeTo].
func (s *WindowStore[K, V]) scanTimes(timeFrom, timeTo int64, reverse bool, kFrom, kTo []byte) iter.Seq2[WindowEntry[K, V], error] {
	return func(yield func(WindowEntry[K, V], error) bool) {
		m, err := s.seg.meta()
		if err != nil {
			yield(WindowEntry[K, V]{}, err)
			return
		}
		lo, hi, ok := m.span(timeFrom, timeTo)
		if !ok {
			return
		}
		from := m.actualFrom(timeFrom)
		var ranges []keyRange
		if kFrom == nil && kTo == nil {
			ranges = segmentRanges(lo, hi, reverse, wholeSegment)
		} else {
			maxSuffix := binary.BigEndian.AppendUint32(appendInt64(nil, timeTo), math.MaxUint32)
			ranges = segmentRanges(lo, hi, reverse, func(seg []byte) keyRange {
				return keyRangeBounds(seg, kFrom, kTo, maxSuffix)
			})
		}
		match := func(k []byte, start int64) bool {
			return (kFrom == nil || bytes.Compare(k, kFrom) >= 0) && (kTo == nil || bytes.Compare(k, kTo) <= 0) &&
				start >= from && start <= timeTo
		}
		s.entries(ranges, reverse, match, true)(yield)
	}
}

// entries decodes the matching entries of the ranges.
func (s *WindowStore[K, V]) entries(ranges []keyRange, reverse bool, match func(k []byte, start int64) bool, decodeKey bool) iter.Seq2[WindowEntry[K, V], error] {
	return func(yield func(WindowEntry[K, V], error) bool) {
		for e, err := range s.seg.scan(ranges, reverse) {
			if err != nil {
				yield(WindowEntry[K, V]{}, err)
				return
			}
			kb, start, _, ok := splitWindowKey(e.Key)
			if !ok {
				yield(WindowEntry[K, V]{}, s.errorf("corrupt store key of %d bytes", len(e.Key)))
				return
			}
			if !match(kb, start) {
				continue
			}
			out := WindowEntry[K, V]{Start: start, End: addSaturating(start, s.size)}
			if decodeKey {
				if out.Key, err = s.ks.Deserialize(kb); err != nil {
					yield(WindowEntry[K, V]{}, s.errorf("deserializing key: %w", err))
					return
				}
			}
			if out.Value, err = s.decode(e.Value); err != nil {
				yield(WindowEntry[K, V]{}, err)
				return
			}
			if !yield(out, nil) {
				return
			}
		}
	}
}

// SetFlushListener makes the store call fn for every window its cache
// flushes, with the value it replaced (nil when the window was absent;
// newValue nil when it was deleted). It reports whether the store is
// cached: an uncached store never calls fn.
func (s *WindowStore[K, V]) SetFlushListener(fn func(key K, windowStart int64, newValue, oldValue *V, rc RecordContext) error) bool {
	if s.seg.cache == nil {
		return false
	}
	s.seg.cache.listener = func(full, nb, ob []byte, rc RecordContext) error {
		kb, start, _, ok := splitWindowKey(full)
		if !ok {
			return s.errorf("corrupt store key of %d bytes", len(full))
		}
		k, err := s.ks.Deserialize(kb)
		if err != nil {
			return s.errorf("deserializing key: %w", err)
		}
		nv, ov, err := decodePair(nb, ob, s.decode)
		if err != nil {
			return err
		}
		return fn(k, start, nv, ov, rc)
	}
	return true
}

// decodePair decodes a flushed entry's new and old values; nil bytes decode
// to nil.
func decodePair[V any](nb, ob []byte, decode func([]byte) (V, error)) (nv, ov *V, err error) {
	if nb != nil {
		v, err := decode(nb)
		if err != nil {
			return nil, nil, err
		}
		nv = &v
	}
	if ob != nil {
		v, err := decode(ob)
		if err != nil {
			return nil, nil, err
		}
		ov = &v
	}
	return nv, ov, nil
}

// Flush writes cached updates to the staged state and the changelog.
func (s *WindowStore[K, V]) Flush() error {
	if err := s.check(); err != nil {
		return err
	}
	if s.lat != nil {
		defer s.lat.observe(OpFlush, time.Now())
	}
	return s.seg.flush()
}

// Close drops unflushed cache entries and closes the store.
func (s *WindowStore[K, V]) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.seg.close()
}

// RestoreBatch applies changelog records (key | start | seq → value) below
// the cache and the changelog, through the retention logic: the observed
// stream time advances to the batch's latest window start and expired
// windows are skipped.
func (s *WindowStore[K, V]) RestoreBatch(recs []ChangelogRecord) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := s.seg.restore(recs, windowChangelogTime); err != nil {
		return err
	}
	if s.dups && len(recs) > 0 {
		// The changelog is in put order: carry on after its last number.
		last := recs[len(recs)-1].Key
		s.seg.m.seq = uint64(binary.BigEndian.Uint32(last[len(last)-4:]))
		s.seg.m.seqAvail = 0
		return s.seg.saveMeta()
	}
	return nil
}
