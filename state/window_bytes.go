package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"time"

	"github.com/seed992c72d9/streams/processor"
)

// Segmented stores: the byte layer under WindowStore and SessionStore.
//
// Every key in the store's bucket is
//
//	segmentID(8 BE) | keyBytes | suffix
//
// where the suffix starts with the timestamp the store is segmented by (a
// window's start, a session's end) and segmentID = timestamp /
// segmentInterval. A segment is the unit of expiry: when the observed stream
// time moves a segment out of the retention period, one DeleteRange removes
// it. Timestamps are never negative, so segment ids sort as unsigned bytes.
//
// Keys have variable length, so a byte range over keyBytes | suffix also
// holds other keys (a key that extends another, followed by a suffix, sorts
// among the suffixes of the shorter key). Every scan decodes each entry and
// filters on the exact key and times, as Kafka Streams' key schemas do.
//
// The store's metadata — observed stream time and the reserved sequence
// numbers — lives in the same bucket under segmentedMetaKey, which sorts
// after every segment (segment ids start with a byte <= 0x7F). The store
// keeps it in memory and stages it when its task commits (once per commit,
// however often stream time moved), so it commits atomically with the data
// it describes and survives restarts; an abort reloads it.

const (
	// DroppedExpiredWindow is the reason Env.Dropped hears for a write to a
	// window that is older than the store's retention period.
	DroppedExpiredWindow = "expired-window"
	// DroppedExpiredSession is the reason Env.Dropped hears for a write to
	// a session that ended before the store's retention period.
	DroppedExpiredSession = "expired-session"
)

// minSegmentInterval is the smallest segment interval, as in Kafka Streams.
const minSegmentInterval = int64(60_000)

// changelogAdditionalRetention is added to a window or session store's
// retention for its changelog topic's retention.ms, as Kafka Streams'
// windowstore.changelog.additional.retention.ms (one day).
const changelogAdditionalRetention = 24 * time.Hour

// seqBlock is how many sequence numbers a store retaining duplicates
// reserves with one metadata write.
const seqBlock = 1024

// seqMask keeps sequence numbers in [0, 2^31), as Kafka Streams does.
const seqMask = 0x7FFFFFFF

var segmentedMetaKey = []byte{0xFF, 'm', 'e', 't', 'a'}

// segmentInterval returns the segment interval for a retention period:
// max(retention/2, 60 s), as Kafka Streams' window and session stores.
func segmentInterval(retention int64) int64 {
	return max(retention/2, minSegmentInterval)
}

// segmentedChangelog returns the changelog topic configuration of window and
// session stores: compacted and deleted after retention plus a day.
func segmentedChangelog(o storeOptions, retention time.Duration) (ChangelogConfig, bool) {
	if !o.logging {
		return ChangelogConfig{}, false
	}
	c := map[string]string{
		"cleanup.policy": "compact,delete",
		"retention.ms":   fmt.Sprint((retention + changelogAdditionalRetention).Milliseconds()),
	}
	for k, v := range o.changelogConf {
		c[k] = v
	}
	return ChangelogConfig{Configs: c}, true
}

// segMeta is what a segmented store knows about time: its observed stream
// time and the segments it keeps.
type segMeta struct {
	retention int64 // ms, > 0
	interval  int64 // ms
	// observed is the largest timestamp written (window start, session
	// end), processor.NoTimestamp before the first write. No stored entry
	// has a larger one.
	observed int64
	// live is the smallest segment id that may hold entries: the smaller
	// ones were deleted, in the batch that moved observed past them.
	live int64
	// seq is the last sequence number handed out (retainDuplicates
	// windows); the stored metadata reserves every number up to
	// seq+seqAvail, so a restarted store never reuses one.
	seq      uint64
	seqAvail int
}

func (m *segMeta) segmentID(ts int64) int64 { return ts / m.interval }

// minLiveSegment is the oldest segment that may hold unexpired entries.
func (m *segMeta) minLiveSegment() int64 {
	if m.observed == processor.NoTimestamp {
		return 0
	}
	return m.segmentID(max(0, m.observed-m.retention))
}

// expired reports whether an entry at ts is out of the retention period:
// ts <= observed - retention.
func (m *segMeta) expired(ts int64) bool {
	return m.observed != processor.NoTimestamp && ts <= m.observed-m.retention
}

// actualFrom raises a lower time bound past the expired entries, as Kafka
// Streams' getActualFrom, and to 0: no entry has a negative time.
func (m *segMeta) actualFrom(from int64) int64 {
	if m.observed == processor.NoTimestamp {
		return max(from, 0)
	}
	return max(from, m.observed-m.retention+1, 0)
}

// span returns the segments that may hold entries with timestamps in [from,
// to] once from was raised past the expired entries, and false when there
// are none.
func (m *segMeta) span(from, to int64) (lo, hi int64, ok bool) {
	if m.observed == processor.NoTimestamp {
		return 0, 0, false
	}
	from = m.actualFrom(from)
	to = min(to, m.observed)
	if to < from {
		return 0, 0, false
	}
	return max(m.segmentID(from), m.live), m.segmentID(to), true
}

func (m *segMeta) decode(v []byte) error {
	if len(v) != 16 {
		return fmt.Errorf("corrupt metadata: %d bytes, want 16", len(v))
	}
	m.observed = int64(binary.BigEndian.Uint64(v))
	m.seq = binary.BigEndian.Uint64(v[8:])
	m.seqAvail = 0
	m.live = m.minLiveSegment()
	return nil
}

func (m *segMeta) encode() []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(m.observed))
	return binary.BigEndian.AppendUint64(v, m.seq+uint64(m.seqAvail))
}

// segmented keeps a store's segments, its observed stream time and its
// expiry. A task's segmented store is used by the task's goroutine only; a
// read-only one (over committed state) reads the metadata afresh for every
// operation and is safe for concurrent use.
type segmented struct {
	name string
	env  Env
	// reason is what Env.Dropped hears for an expired write.
	reason string
	bucket *Bucket
	// kv is the write path over full store keys: [cache ->] guard ->
	// [changelog ->] bucket.
	kv kvBytes
	// cache is the store's part of the record cache, nil when uncached.
	cache    *namedCache
	readOnly bool
	// m is the task's store's metadata, as staged.
	m segMeta
	// stale is set until m is loaded, and by an abort (which dropped the
	// staged metadata).
	stale bool
	// metaDirty is set when m changed since it was last staged: the task's
	// Commit stages it (once per commit, not once per advance).
	metaDirty bool
	unhook    func()
	// marks are the owning processor's values kept with the data (see
	// marks.go); log is the changelog they go to, nil when not logged.
	marks markSet
	log   ChangelogWriter
	// fresh are the latest timestamps first written while open (see
	// window_point.go).
	fresh []freshTS
	// entryTS, when set, returns the timestamp of a full store key (see
	// freshTS).
	entryTS func(key []byte) int64
}

// newSegmented opens the segmented layer of a task's store over the staged
// bucket of env.State, with its changelog and cache as the options say.
func newSegmented(name, reason string, env Env, retention int64, o storeOptions) (*segmented, error) {
	b := env.State.Bucket(name)
	s := &segmented{name: name, env: env, reason: reason, bucket: b, stale: true,
		m: segMeta{retention: retention, interval: segmentInterval(retention)}}
	var under cacheUnder = &bucketKV{b: b}
	if o.logging && env.Changelog != nil {
		under = &loggedKV{kvBytes: under, store: name, log: env.Changelog, skip: 8}
		s.log = env.Changelog
	}
	guard := &segmentGuard{cacheUnder: under, s: s}
	var kv kvBytes = guard
	var afterCommit func()
	if o.caching && env.Cache != nil {
		s.cache = env.Cache.newNamed(guard)
		// The store's data keys are written only by the cache (and by
		// restore, which says so); its metadata and marks have keys the
		// cache never reads, and a segment's DeleteRange makes reads go
		// through the staged batch until the commit: a miss may read
		// committed state (cache_staged.go).
		s.cache.direct = b
		s.cache.onRemove = s.noteRemoved
		afterCommit = s.cache.committed
		kv = &cachedKV{nc: s.cache}
	}
	s.kv = kv
	s.unhook = env.State.hook(taskHook{
		beforeCommit: s.commitMeta,
		afterCommit:  afterCommit,
		afterAbort: func() {
			s.stale = true
			s.metaDirty = false
			s.marks.reset()
			s.fresh = s.fresh[:0]
			if s.cache != nil {
				s.cache.drop()
			}
		},
	})
	if _, err := s.meta(); err != nil {
		s.unhook()
		return nil, err
	}
	return s, nil
}

// newReadOnlySegmented opens a read-only segmented layer over b.
func newReadOnlySegmented(name string, b *Bucket, retention int64) *segmented {
	return &segmented{name: name, bucket: b, kv: &bucketKV{b: b}, readOnly: true,
		m: segMeta{retention: retention, interval: segmentInterval(retention)}}
}

func (s *segmented) errorf(format string, args ...any) error {
	return fmt.Errorf("state: store %q: "+format, append([]any{s.name}, args...)...)
}

func (s *segmented) readMeta(m *segMeta) error {
	m.observed, m.seq, m.seqAvail, m.live = processor.NoTimestamp, 0, 0, 0
	v, ok, err := s.bucket.Get(segmentedMetaKey)
	if err != nil {
		return s.errorf("%w", err)
	}
	if ok {
		if err := m.decode(v); err != nil {
			return s.errorf("%w", err)
		}
	}
	return nil
}

// meta returns the metadata to run an operation with: the stored one for a
// read-only store, the store's own (reloaded after an abort) otherwise.
func (s *segmented) meta() (*segMeta, error) {
	if s.readOnly {
		m := s.m
		return &m, s.readMeta(&m)
	}
	if s.stale {
		if err := s.readMeta(&s.m); err != nil {
			return nil, err
		}
		s.stale = false
	}
	return &s.m, nil
}

func (s *segmented) saveMeta() error {
	if err := s.bucket.Set(segmentedMetaKey, s.m.encode()); err != nil {
		return s.errorf("writing metadata: %w", err)
	}
	s.metaDirty = false
	return nil
}

// commitMeta stages the metadata if it changed, before the task commits.
func (s *segmented) commitMeta() error {
	if err := s.stageMarks(false); err != nil {
		return err
	}
	if !s.metaDirty {
		return nil
	}
	return s.saveMeta()
}

// advance moves the observed stream time to ts if it is later, persisting
// it and deleting the segments that fell out of the retention period.
func (s *segmented) advance(ts int64) error {
	if ts <= s.m.observed {
		return nil
	}
	s.m.observed = ts
	s.metaDirty = true
	if live := s.m.minLiveSegment(); live > s.m.live {
		// Everything before the first live segment goes, including
		// segments skipped over by a jump in stream time.
		if err := s.bucket.DeleteRange(nil, segmentKey(live)); err != nil {
			return s.errorf("deleting expired segments: %w", err)
		}
		s.m.live = live
	}
	return nil
}

// nextSeq hands out the next sequence number, reserving a new block in the
// stored metadata when the current one is used up.
func (s *segmented) nextSeq() (uint32, error) {
	if _, err := s.meta(); err != nil {
		return 0, err
	}
	if s.m.seqAvail == 0 {
		s.m.seqAvail = seqBlock
		if err := s.saveMeta(); err != nil {
			return 0, err
		}
	}
	s.m.seq++
	s.m.seqAvail--
	return uint32(s.m.seq & seqMask), nil
}

// put writes value (nil deletes) under the full store key for the entry at
// ts. A write to an expired entry is dropped: counted and logged when it
// carries a value, silently when it deletes.
func (s *segmented) put(key []byte, ts int64, value []byte) error {
	if s.readOnly {
		return s.errorf("%w", ErrReadOnly)
	}
	if _, err := s.meta(); err != nil {
		return err
	}
	fresh := ts > s.m.observed
	if err := s.advance(ts); err != nil {
		return err
	}
	if fresh {
		s.noteFresh(ts)
	}
	if s.m.expired(ts) {
		if value != nil {
			s.env.dropped(s.reason)
			if s.env.Logger != nil {
				s.env.Logger.Debug("state: dropping a write to an expired entry", slog.String("store", s.name),
					slog.String("reason", s.reason), slog.Int64("timestamp", ts),
					slog.Int64("observed_stream_time", s.m.observed), slog.Int64("retention_ms", s.m.retention))
			}
		}
		return nil
	}
	if err := s.kv.put(key, value, s.env.record()); err != nil {
		return s.errorf("%w", err)
	}
	return nil
}

// get returns the value under a full store key for the entry at ts, unless
// it expired.
func (s *segmented) get(key []byte, ts int64) ([]byte, bool, error) {
	m, err := s.meta()
	if err != nil {
		return nil, false, err
	}
	if m.expired(ts) {
		return nil, false, nil
	}
	if s.cache != nil && !s.readOnly && len(s.fresh) > 0 && s.knownAbsent(key, ts) {
		// An entry of a fresh timestamp is in the cache or nowhere.
		v, ok := s.cache.peek(key)
		return v, ok, nil
	}
	v, ok, err := s.kv.get(key)
	if err != nil {
		return nil, false, s.errorf("%w", err)
	}
	return v, ok, nil
}

// keyRange is a range [lo, hi) of full store keys.
type keyRange struct{ lo, hi []byte }

// scan walks the ranges in order (each in reverse when reverse is set),
// merged with the cache. Every range's iterator is opened before the first
// entry is yielded, so the scan sees the store as it was when it started;
// all are closed when the loop ends, however it ends.
func (s *segmented) scan(ranges []keyRange, reverse bool) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		its := make([]*Iterator, 0, len(ranges))
		defer func() {
			for _, it := range its {
				it.Close()
			}
		}()
		var cached [][]cachedValue
		for _, r := range ranges {
			it, err := s.bucket.Iter(r.lo, r.hi, reverse)
			if err != nil {
				yield(Entry{}, s.errorf("%w", err))
				return
			}
			its = append(its, it)
			if s.cache != nil {
				cached = append(cached, s.cache.snapshot(r.lo, r.hi, reverse))
			}
		}
		for i, it := range its {
			seq := iteratorSeq(it)
			if s.cache != nil {
				seq = mergeCached(cached[i], seq, reverse)
			}
			for e, err := range seq {
				if err != nil {
					yield(Entry{}, s.errorf("%w", err))
					return
				}
				if !yield(e, nil) {
					return
				}
			}
		}
	}
}

// segmentRanges returns one range per segment in [lo, hi], in iteration
// order, with bounds built by bound.
func segmentRanges(lo, hi int64, reverse bool, bound func(seg []byte) keyRange) []keyRange {
	out := make([]keyRange, 0, hi-lo+1)
	for id := lo; id <= hi; id++ {
		out = append(out, bound(segmentKey(id)))
	}
	if reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// wholeSegment is the range of every key of a segment.
func wholeSegment(seg []byte) keyRange {
	return keyRange{seg, segmentKey(int64(binary.BigEndian.Uint64(seg)) + 1)}
}

// keyRangeBounds returns the range of a segment that holds every entry
// whose key is in [from, to] (nil bounds are open) and whose suffix is at
// most maxSuffix. The lower bound is seg|from: every key >= from followed by
// any suffix sorts at or after it. The upper bound must pass k|maxSuffix for
// every k <= to, and k|maxSuffix can sort after to|maxSuffix when k is a
// proper prefix of to (k = "a", to = "a\x00"), so it is the largest
// p|maxSuffix over the prefixes p of to.
func keyRangeBounds(seg, from, to, maxSuffix []byte) keyRange {
	lo := append(bytes.Clone(seg), from...)
	if to == nil {
		return keyRange{lo, segmentKey(int64(binary.BigEndian.Uint64(seg)) + 1)}
	}
	var best []byte
	cand := make([]byte, 0, len(to)+len(maxSuffix))
	for i := 0; i <= len(to); i++ {
		cand = append(append(cand[:0], to[:i]...), maxSuffix...)
		if best == nil || bytes.Compare(cand, best) > 0 {
			best = bytes.Clone(cand)
		}
	}
	hi := append(append(bytes.Clone(seg), best...), 0) // just past best
	return keyRange{lo, hi}
}

// restore applies changelog records directly to the bucket through the
// retention logic: stream time first advances to the batch's largest
// timestamp (as Kafka Streams does), then each unexpired record is written.
// ts extracts the segmenting timestamp of a changelog key.
func (s *segmented) restore(recs []ChangelogRecord, ts func(key []byte) (int64, error)) error {
	if s.readOnly {
		return s.errorf("%w", ErrReadOnly)
	}
	if _, err := s.meta(); err != nil {
		return err
	}
	if s.cache != nil {
		// These writes bypass the cache: until the commit, any key may
		// be staged.
		s.cache.staged.setAll()
	}
	recs, err := s.splitMarks(recs)
	if err != nil {
		return err
	}
	// Restored entries bypass the cache: no timestamp is fresh any more.
	s.fresh = s.fresh[:0]
	times := make([]int64, len(recs))
	maxTS := int64(processor.NoTimestamp)
	for i, r := range recs {
		t, err := ts(r.Key)
		if err != nil {
			return s.errorf("restoring record at offset %d: %w", r.Offset, err)
		}
		times[i] = t
		maxTS = max(maxTS, t)
	}
	if err := s.advance(maxTS); err != nil {
		return err
	}
	var buf []byte
	for i, r := range recs {
		if s.m.expired(times[i]) {
			continue
		}
		buf = append(append(buf[:0], segmentKey(s.m.segmentID(times[i]))...), r.Key...)
		var err error
		if r.Value == nil {
			err = s.bucket.Delete(buf)
		} else {
			err = s.bucket.Set(buf, r.Value)
		}
		if err != nil {
			return s.errorf("restoring: %w", err)
		}
	}
	return nil
}

func (s *segmented) flush() error {
	if err := s.kv.flush(); err != nil {
		return s.errorf("flushing: %w", err)
	}
	return s.stageMarks(true)
}

func (s *segmented) close() error {
	err := s.stageMarks(false)
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrDBClosed) {
		err = nil
	}
	if err == nil && s.metaDirty {
		// Stage the metadata with the data it describes, should the task
		// commit after the store closed; a closed task has nothing to stage.
		if err = s.saveMeta(); errors.Is(err, ErrClosed) || errors.Is(err, ErrDBClosed) {
			err = nil
		}
	}
	if s.unhook != nil {
		s.unhook()
	}
	return errors.Join(err, s.kv.close())
}

// segmentGuard drops writes to deleted segments. Only the cache writes
// late: an entry cached before its segment expired is flushed after the
// DeleteRange, and writing it would bring the segment back.
type segmentGuard struct {
	cacheUnder
	s *segmented
}

// dead reports whether key is in a deleted segment.
func (g *segmentGuard) dead(key []byte) bool {
	return len(key) >= 8 && int64(binary.BigEndian.Uint64(key)) < g.s.m.live
}

func (g *segmentGuard) put(key, value []byte, rc RecordContext) error {
	if g.dead(key) {
		return nil
	}
	return g.cacheUnder.put(key, value, rc)
}

func (g *segmentGuard) stage(key, value []byte, rc RecordContext) error {
	if g.dead(key) {
		return nil
	}
	return g.cacheUnder.stage(key, value, rc)
}

// logWrite skips what stage skipped: segments only ever expire, so a key
// dead when staged is dead when logged.
func (g *segmentGuard) logWrite(key, value []byte, rc RecordContext) error {
	if g.dead(key) {
		return nil
	}
	return g.cacheUnder.logWrite(key, value, rc)
}

// segmentKey returns the 8-byte prefix of a segment.
func segmentKey(id int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(id))
}

// iteratorSeq yields the entries of an open iterator; the caller closes it.
func iteratorSeq(it *Iterator) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
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

// appendInt64 appends v big-endian.
func appendInt64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// addSaturating returns a+b, or math.MaxInt64 when that overflows (b >= 0).
func addSaturating(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// retentionMillis validates a retention period and returns it in ms.
func retentionMillis(store string, retention time.Duration) (int64, error) {
	if retention < time.Millisecond {
		return 0, fmt.Errorf("state: store %q: retention period %v must be at least 1ms", store, retention)
	}
	return retention.Milliseconds(), nil
}
