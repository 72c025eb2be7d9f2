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

// SessionEntry is one session of a session store: a key, the session's
// start and end (ms, both inclusive: the first and last record times) and
// its value.
type SessionEntry[K, V any] struct {
	Key   K
	Start int64
	End   int64
	Value V
}

// sessionSuffix is the size of a session store key's suffix: end(8) |
// start(8), as Kafka Streams' SessionKeySchema.
const sessionSuffix = 16

// SessionBuilder builds a SessionStore for each task.
type SessionBuilder[K, V any] struct {
	name      string
	ks        serde.Serde[K]
	vs        serde.Serde[V]
	retention time.Duration
	opts      storeOptions
}

// SessionStoreBuilder describes a session store named name: values by key
// and session, kept for retention after the latest session end written (the
// store's observed stream time).
//
// The changelog topic is "compact,delete" with retention.ms = retention + 1
// day, as for window stores.
func SessionStoreBuilder[K, V any](name string, ks serde.Serde[K], vs serde.Serde[V], retention time.Duration, opts ...StoreOption) *SessionBuilder[K, V] {
	return &SessionBuilder[K, V]{name: name, ks: ks, vs: vs, retention: retention, opts: applyStoreOptions(opts)}
}

// Name returns the store name.
func (b *SessionBuilder[K, V]) Name() string { return b.name }

// Retention returns the store's retention period.
func (b *SessionBuilder[K, V]) Retention() time.Duration { return b.retention }

// Changelog returns the changelog topic configuration: compacted, and
// deleted a day after the retention period.
func (b *SessionBuilder[K, V]) Changelog() (ChangelogConfig, bool) {
	return segmentedChangelog(b.opts, b.retention)
}

func (b *SessionBuilder[K, V]) validate() (int64, error) {
	if err := ValidateName(b.name); err != nil {
		return 0, err
	}
	if b.ks == nil || b.vs == nil {
		return 0, fmt.Errorf("state: store %q: key and value serdes are required", b.name)
	}
	return retentionMillis(b.name, b.retention)
}

// Build creates the store of one task.
func (b *SessionBuilder[K, V]) Build(env Env) (Store, error) {
	retention, err := b.validate()
	if err != nil {
		return nil, err
	}
	if env.State == nil {
		return nil, fmt.Errorf("state: store %q: the runtime provides no state", b.name)
	}
	seg, err := newSegmented(b.name, DroppedExpiredSession, env, retention, b.opts)
	if err != nil {
		return nil, err
	}
	seg.entryTS = sessionEntryTS
	return &SessionStore[K, V]{name: b.name, ks: b.ks, vs: b.vs, seg: seg, lat: newOpTimer(env, b.name)}, nil
}

// BuildReadOnly returns a read-only store over b: writes fail with
// ErrReadOnly.
func (b *SessionBuilder[K, V]) BuildReadOnly(bucket *Bucket) (Store, error) {
	return b.ReadOnly(bucket)
}

// ReadOnly returns the typed read-only store over bucket, such as the
// committed state from DB.Committed. It is safe for concurrent use.
func (b *SessionBuilder[K, V]) ReadOnly(bucket *Bucket) (*SessionStore[K, V], error) {
	retention, err := b.validate()
	if err != nil {
		return nil, err
	}
	return &SessionStore[K, V]{name: b.name, ks: b.ks, vs: b.vs, seg: newReadOnlySegmented(b.name, bucket, retention)}, nil
}

// SessionStore is a typed session store of one task: values by key and
// session [start, end] (ms, 0 <= start <= end). Reads see the task's own
// writes at once; others see them after the task commits. Iterations see
// the store as it was when they started. Merging overlapping sessions is the
// caller's work: the store keeps whatever sessions it is given.
//
// The store keeps sessions for its retention period after its observed
// stream time, the latest session end written: a write to a session that
// ends at or before observed − retention is dropped and counted (Env.Dropped
// with DroppedExpiredSession), and reads never return such sessions.
// Expired sessions are deleted a segment (max(retention/2, 60 s) of session
// ends) at a time.
//
// A value that serializes to nil removes its session.
type SessionStore[K, V any] struct {
	name   string
	ks     serde.Serde[K]
	vs     serde.Serde[V]
	seg    *segmented
	closed bool
	// lat times a sample of the operations; nil for none.
	lat *opTimer
}

// Name returns the store name.
func (s *SessionStore[K, V]) Name() string { return s.name }

// Retention returns the store's retention period.
func (s *SessionStore[K, V]) Retention() time.Duration {
	return time.Duration(s.seg.m.retention) * time.Millisecond
}

// ObservedStreamTime returns the latest session end written, or
// processor.NoTimestamp before the first write.
func (s *SessionStore[K, V]) ObservedStreamTime() (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	m, err := s.seg.meta()
	if err != nil {
		return 0, err
	}
	return m.observed, nil
}

func (s *SessionStore[K, V]) errorf(format string, args ...any) error {
	return fmt.Errorf("state: store %q: "+format, append([]any{s.name}, args...)...)
}

func (s *SessionStore[K, V]) check() error {
	if s.closed {
		return s.errorf("%w", ErrClosed)
	}
	return nil
}

func (s *SessionStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.ks.Serialize(k)
	if err != nil {
		return nil, s.errorf("serializing key: %w", err)
	}
	if b == nil {
		return nil, s.errorf("null key")
	}
	return b, nil
}

func (s *SessionStore[K, V]) decode(v []byte) (V, error) {
	out, err := s.vs.Deserialize(v)
	if err != nil {
		return out, s.errorf("deserializing value: %w", err)
	}
	return out, nil
}

// storeKey returns segment(end) | key | end | start.
func (s *SessionStore[K, V]) storeKey(kb []byte, start, end int64) []byte {
	out := make([]byte, 0, 8+len(kb)+sessionSuffix)
	out = appendInt64(out, s.seg.m.segmentID(end))
	out = append(out, kb...)
	out = appendInt64(out, end)
	return appendInt64(out, start)
}

// splitSessionKey decodes a full store key.
func splitSessionKey(key []byte) (k []byte, start, end int64, ok bool) {
	if len(key) < 8+sessionSuffix {
		return nil, 0, 0, false
	}
	n := len(key) - sessionSuffix
	return key[8:n], int64(binary.BigEndian.Uint64(key[n+8:])), int64(binary.BigEndian.Uint64(key[n:])), true
}

// sessionChangelogTime returns the session end of a changelog key (key |
// end | start).
func sessionChangelogTime(key []byte) (int64, error) {
	if len(key) < sessionSuffix {
		return 0, fmt.Errorf("session changelog key of %d bytes is shorter than its %d-byte suffix", len(key), sessionSuffix)
	}
	n := len(key) - sessionSuffix
	end, start := int64(binary.BigEndian.Uint64(key[n:])), int64(binary.BigEndian.Uint64(key[n+8:]))
	if start < 0 || end < start {
		return 0, fmt.Errorf("session changelog key has an invalid session [%d, %d]", start, end)
	}
	return end, nil
}

func (s *SessionStore[K, V]) checkSession(start, end int64) error {
	if start < 0 || end < start {
		return s.errorf("invalid session [%d, %d]: want 0 <= start <= end", start, end)
	}
	return nil
}

// Put stores value for key's session [start, end]; a value that serializes
// to nil removes the session.
func (s *SessionStore[K, V]) Put(key K, start, end int64, value V) error {
	if s.lat.sample(OpPut) {
		t := time.Now()
		err := s.putValue(key, start, end, value)
		s.lat.observe(OpPut, t)
		return err
	}
	return s.putValue(key, start, end, value)
}

func (s *SessionStore[K, V]) putValue(key K, start, end int64, value V) error {
	if err := s.check(); err != nil {
		return err
	}
	vb, err := s.vs.Serialize(value)
	if err != nil {
		return s.errorf("serializing value: %w", err)
	}
	return s.put(key, start, end, vb)
}

// Remove removes key's session [start, end].
func (s *SessionStore[K, V]) Remove(key K, start, end int64) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.lat.sample(OpDelete) {
		t := time.Now()
		err := s.put(key, start, end, nil)
		s.lat.observe(OpDelete, t)
		return err
	}
	return s.put(key, start, end, nil)
}

func (s *SessionStore[K, V]) put(key K, start, end int64, vb []byte) error {
	if s.seg.readOnly {
		return s.errorf("%w", ErrReadOnly)
	}
	if err := s.checkSession(start, end); err != nil {
		return err
	}
	kb, err := s.key(key)
	if err != nil {
		return err
	}
	return s.seg.put(s.storeKey(kb, start, end), end, vb)
}

// FetchSession returns the value of key's session [start, end], unless it
// is absent or expired.
func (s *SessionStore[K, V]) FetchSession(key K, start, end int64) (V, bool, error) {
	if s.lat.sample(OpGet) {
		t := time.Now()
		v, ok, err := s.fetchSession(key, start, end)
		s.lat.observe(OpGet, t)
		return v, ok, err
	}
	return s.fetchSession(key, start, end)
}

func (s *SessionStore[K, V]) fetchSession(key K, start, end int64) (V, bool, error) {
	var zero V
	if err := s.check(); err != nil {
		return zero, false, err
	}
	kb, err := s.key(key)
	if err != nil {
		return zero, false, err
	}
	if start < 0 || end < start {
		return zero, false, nil
	}
	vb, ok, err := s.seg.get(s.storeKey(kb, start, end), end)
	if err != nil || !ok {
		return zero, false, err
	}
	v, err := s.decode(vb)
	return v, err == nil, err
}

// FindSessions iterates over key's sessions that end at or after
// earliestSessionEnd and start at or before latestSessionStart, both
// inclusive, by ascending end, then start. The sessions a record at time t
// merges with under an inactivity gap g are FindSessions(key, t-g, t+g).
func (s *SessionStore[K, V]) FindSessions(key K, earliestSessionEnd, latestSessionStart int64) iter.Seq2[SessionEntry[K, V], error] {
	return s.findKey(key, earliestSessionEnd, latestSessionStart, false)
}

// BackwardFindSessions is FindSessions in descending order.
func (s *SessionStore[K, V]) BackwardFindSessions(key K, earliestSessionEnd, latestSessionStart int64) iter.Seq2[SessionEntry[K, V], error] {
	return s.findKey(key, earliestSessionEnd, latestSessionStart, true)
}

// Fetch iterates over every unexpired session of key, by ascending end, then
// start.
func (s *SessionStore[K, V]) Fetch(key K) iter.Seq2[SessionEntry[K, V], error] {
	return s.findKey(key, 0, math.MaxInt64, false)
}

// BackwardFetch is Fetch in descending order.
func (s *SessionStore[K, V]) BackwardFetch(key K) iter.Seq2[SessionEntry[K, V], error] {
	return s.findKey(key, 0, math.MaxInt64, true)
}

func (s *SessionStore[K, V]) findKey(key K, earliestEnd, latestStart int64, reverse bool) iter.Seq2[SessionEntry[K, V], error] {
	return func(yield func(SessionEntry[K, V], error) bool) {
		timeRange(s.lat, yield, func(yield func(SessionEntry[K, V], error) bool) {
			if err := s.check(); err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			kb, err := s.key(key)
			if err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			m, err := s.seg.meta()
			if err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			lo, hi, ok := m.span(earliestEnd, math.MaxInt64)
			if !ok || latestStart < 0 {
				return
			}
			from := m.actualFrom(earliestEnd)
			// As Kafka Streams' SessionKeySchema: from key | end=from | start=0
			// to key | end=max | start=latestStart.
			ranges := segmentRanges(lo, hi, reverse, func(seg []byte) keyRange {
				l := appendInt64(appendInt64(append(bytes.Clone(seg), kb...), from), 0)
				h := appendInt64(appendInt64(append(bytes.Clone(seg), kb...), math.MaxInt64), latestStart)
				return keyRange{l, append(h, 0)}
			})
			match := func(k []byte, start, end int64) bool {
				return bytes.Equal(k, kb) && end >= from && start <= latestStart
			}
			for e, err := range s.entries(ranges, reverse, match, false) {
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

// FindSessionsRange iterates over the sessions of the keys from keyFrom to
// keyTo (by serialized bytes, both inclusive) that end at or after
// earliestSessionEnd and start at or before latestSessionStart. The order
// is Kafka Streams' RocksDB session store's: by segment, then by the bytes
// of key | end | start within a segment — key, then end, then start order
// when no serialized key is a prefix of another.
func (s *SessionStore[K, V]) FindSessionsRange(keyFrom, keyTo K, earliestSessionEnd, latestSessionStart int64) iter.Seq2[SessionEntry[K, V], error] {
	return s.findKeys(keyFrom, keyTo, earliestSessionEnd, latestSessionStart, false)
}

// BackwardFindSessionsRange is FindSessionsRange in reverse order.
func (s *SessionStore[K, V]) BackwardFindSessionsRange(keyFrom, keyTo K, earliestSessionEnd, latestSessionStart int64) iter.Seq2[SessionEntry[K, V], error] {
	return s.findKeys(keyFrom, keyTo, earliestSessionEnd, latestSessionStart, true)
}

// FetchKeyRange iterates over every unexpired session of the keys from
// keyFrom to keyTo, in FindSessionsRange's order.
func (s *SessionStore[K, V]) FetchKeyRange(keyFrom, keyTo K) iter.Seq2[SessionEntry[K, V], error] {
	return s.findKeys(keyFrom, keyTo, 0, math.MaxInt64, false)
}

// BackwardFetchKeyRange is FetchKeyRange in reverse order.
func (s *SessionStore[K, V]) BackwardFetchKeyRange(keyFrom, keyTo K) iter.Seq2[SessionEntry[K, V], error] {
	return s.findKeys(keyFrom, keyTo, 0, math.MaxInt64, true)
}

func (s *SessionStore[K, V]) findKeys(keyFrom, keyTo K, earliestEnd, latestStart int64, reverse bool) iter.Seq2[SessionEntry[K, V], error] {
	return func(yield func(SessionEntry[K, V], error) bool) {
		timeRange(s.lat, yield, func(yield func(SessionEntry[K, V], error) bool) {
			if err := s.check(); err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			kFrom, err := s.key(keyFrom)
			if err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			kTo, err := s.key(keyTo)
			if err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			if bytes.Compare(kFrom, kTo) > 0 {
				return
			}
			m, err := s.seg.meta()
			if err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			lo, hi, ok := m.span(earliestEnd, math.MaxInt64)
			if !ok || latestStart < 0 {
				return
			}
			from := m.actualFrom(earliestEnd)
			maxSuffix := appendInt64(appendInt64(nil, math.MaxInt64), latestStart)
			ranges := segmentRanges(lo, hi, reverse, func(seg []byte) keyRange {
				return keyRangeBounds(seg, kFrom, kTo, maxSuffix)
			})
			match := func(k []byte, start, end int64) bool {
				return bytes.Compare(k, kFrom) >= 0 && bytes.Compare(k, kTo) <= 0 && end >= from && start <= latestStart
			}
			s.entries(ranges, reverse, match, true)(yield)
		})
	}
}

// FindSessionsEndingBetween iterates over the sessions of every key that end
// in [earliestSessionEnd, latestSessionEnd], in FindSessionsRange's order.
// It serves emitting sessions as they close.
func (s *SessionStore[K, V]) FindSessionsEndingBetween(earliestSessionEnd, latestSessionEnd int64) iter.Seq2[SessionEntry[K, V], error] {
	return s.scanEnds(earliestSessionEnd, latestSessionEnd, false)
}

// All iterates over every unexpired session, in FindSessionsRange's order.
func (s *SessionStore[K, V]) All() iter.Seq2[SessionEntry[K, V], error] {
	return s.scanEnds(0, math.MaxInt64, false)
}

// BackwardAll is All in reverse order.
func (s *SessionStore[K, V]) BackwardAll() iter.Seq2[SessionEntry[K, V], error] {
	return s.scanEnds(0, math.MaxInt64, true)
}

func (s *SessionStore[K, V]) scanEnds(earliestEnd, latestEnd int64, reverse bool) iter.Seq2[SessionEntry[K, V], error] {
	return func(yield func(SessionEntry[K, V], error) bool) {
		timeRange(s.lat, yield, func(yield func(SessionEntry[K, V], error) bool) {
			if err := s.check(); err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			m, err := s.seg.meta()
			if err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			lo, hi, ok := m.span(earliestEnd, latestEnd)
			if !ok {
				return
			}
			from := m.actualFrom(earliestEnd)
			match := func(_ []byte, _, end int64) bool { return end >= from && end <= latestEnd }
			s.entries(segmentRanges(lo, hi, reverse, wholeSegment), reverse, match, true)(yield)
		})
	}
}

// entries decodes the matching entries of the ranges.
func (s *SessionStore[K, V]) entries(ranges []keyRange, reverse bool, match func(k []byte, start, end int64) bool, decodeKey bool) iter.Seq2[SessionEntry[K, V], error] {
	return func(yield func(SessionEntry[K, V], error) bool) {
		for e, err := range s.seg.scan(ranges, reverse) {
			if err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			kb, start, end, ok := splitSessionKey(e.Key)
			if !ok {
				yield(SessionEntry[K, V]{}, s.errorf("corrupt store key of %d bytes", len(e.Key)))
				return
			}
			if !match(kb, start, end) {
				continue
			}
			out := SessionEntry[K, V]{Start: start, End: end}
			if decodeKey {
				if out.Key, err = s.ks.Deserialize(kb); err != nil {
					yield(SessionEntry[K, V]{}, s.errorf("deserializing key: %w", err))
					return
				}
			}
			if out.Value, err = s.decode(e.Value); err != nil {
				yield(SessionEntry[K, V]{}, err)
				return
			}
			if !yield(out, nil) {
				return
			}
		}
	}
}

// SetFlushListener makes the store call fn for every session its cache
// flushes, with the value it replaced (nil when the session was absent;
// newValue nil when it was removed). It reports whether the store is
// cached: an uncached store never calls fn.
func (s *SessionStore[K, V]) SetFlushListener(fn func(key K, start, end int64, newValue, oldValue *V, rc RecordContext) error) bool {
	if s.seg.cache == nil {
		return false
	}
	s.seg.cache.listener = func(full, nb, ob []byte, rc RecordContext) error {
		kb, start, end, ok := splitSessionKey(full)
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
		return fn(k, start, end, nv, ov, rc)
	}
	return true
}

// Flush writes cached updates to the staged state and the changelog.
func (s *SessionStore[K, V]) Flush() error {
	if err := s.check(); err != nil {
		return err
	}
	if s.lat != nil {
		defer s.lat.observe(OpFlush, time.Now())
	}
	return s.seg.flush()
}

// Close drops unflushed cache entries and closes the store.
func (s *SessionStore[K, V]) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.seg.close()
}

// RestoreBatch applies changelog records (key | end | start → value) below
// the cache and the changelog, through the retention logic: the observed
// stream time advances to the batch's latest session end and expired
// sessions are skipped.
func (s *SessionStore[K, V]) RestoreBatch(recs []ChangelogRecord) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.seg.restore(recs, sessionChangelogTime)
}
