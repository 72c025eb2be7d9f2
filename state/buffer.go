package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/RaduBerinde/btreemap"

	"github.com/seed992c72d9/streams/processor"
)

// BufferBuilder builds a TimeOrderedBuffer for each task.
type BufferBuilder struct {
	name string
	opts storeOptions
}

// TimeOrderedBufferBuilder describes the buffer of a suppression operator:
// table updates by key, ordered by a buffer time, kept until the operator
// emits them. It is Kafka Streams' InMemoryTimeOrderedKeyValueChangeBuffer,
// kept in the task's state: the buffer lives in memory for speed, and every
// key changed since the last flush, with the operator's stream time, is
// staged when the store flushes (before the task commits), so that the
// buffer commits atomically with the task, survives restarts and, when
// logged (the default), is restored from its compacted changelog. Caching
// options do not apply.
func TimeOrderedBufferBuilder(name string, opts ...StoreOption) *BufferBuilder {
	return &BufferBuilder{name: name, opts: applyStoreOptions(opts)}
}

// Name returns the store name.
func (b *BufferBuilder) Name() string { return b.name }

// Changelog returns the changelog topic configuration: compacted.
func (b *BufferBuilder) Changelog() (ChangelogConfig, bool) {
	if !b.opts.logging {
		return ChangelogConfig{}, false
	}
	c := map[string]string{"cleanup.policy": "compact"}
	for k, v := range b.opts.changelogConf {
		c[k] = v
	}
	return ChangelogConfig{Configs: c}, true
}

// Build creates the buffer of one task, loading what the task committed.
func (b *BufferBuilder) Build(env Env) (Store, error) {
	if err := ValidateName(b.name); err != nil {
		return nil, err
	}
	if env.State == nil {
		return nil, fmt.Errorf("state: store %q: the runtime provides no state", b.name)
	}
	s := &TimeOrderedBuffer{name: b.name, env: env, bucket: env.State.Bucket(b.name), stale: true}
	if b.opts.logging && env.Changelog != nil {
		s.log = env.Changelog
	}
	s.unhook = env.State.hook(taskHook{
		beforeCommit: func() error { return s.stage(false) },
		afterAbort:   func() { s.stale = true },
	})
	if err := s.load(); err != nil {
		s.unhook()
		return nil, err
	}
	return s, nil
}

// BufferedRecord is one entry of a TimeOrderedBuffer: the latest update of
// a key, with the buffer time of its first update.
type BufferedRecord struct {
	// Key is the serialized key.
	Key []byte
	// Time is the buffer time the key was first buffered with; later
	// updates keep it.
	Time int64
	// Prior is the value the key had before it was first buffered (the old
	// value of its first update), nil when null.
	Prior []byte
	// Old and New are the old and new values of the latest update, nil
	// when null.
	Old, New []byte
	// Context is the context of the latest update's record.
	Context RecordContext
}

// size estimates the memory an entry takes, as Kafka Streams'
// computeRecordSize: the buffer time, the key, the values and the record
// context (timestamp, offset, partition, topic and headers).
func (r *BufferedRecord) size() int64 {
	n := int64(8 + len(r.Key) + len(r.Prior) + len(r.New))
	if !sameBytes(r.Prior, r.Old) {
		n += int64(len(r.Old))
	}
	n += 8 + 8 + 4 + int64(len(r.Context.Topic))
	for _, h := range r.Context.Headers {
		n += int64(len(h.Key) + len(h.Value))
	}
	return n
}

func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

type bufferKey struct {
	time int64
	key  string
}

func compareBufferKeys(a, b bufferKey) int {
	switch {
	case a.time < b.time:
		return -1
	case a.time > b.time:
		return 1
	}
	return strings.Compare(a.key, b.key)
}

// TimeOrderedBuffer is the suppression buffer of one task (see
// TimeOrderedBufferBuilder). It is used by its task's goroutine only.
type TimeOrderedBuffer struct {
	name   string
	env    Env
	bucket *Bucket
	log    ChangelogWriter
	unhook func()
	closed bool
	// stale is set until the buffer is loaded, and by an abort.
	stale bool

	index  map[string]*BufferedRecord
	sorted *btreemap.BTreeMap[bufferKey, *BufferedRecord]
	bytes  int64
	// streamTime is the owning operator's observed stream time.
	streamTime      int64
	hasStreamTime   bool
	streamTimeDirty bool
	timeUnlogged    bool
	// dirty holds the keys changed since they were last staged, in the
	// order they were first changed; unlogged the ones a commit staged
	// without logging them.
	dirty    keySet
	unlogged keySet
}

// keySet is a set of keys that remembers the order they were added in.
type keySet struct {
	has  map[string]bool
	list []string
}

func (k *keySet) add(key string) {
	if k.has[key] {
		return
	}
	if k.has == nil {
		k.has = map[string]bool{}
	}
	k.has[key] = true
	k.list = append(k.list, key)
}

func (k *keySet) reset() {
	clear(k.has)
	clear(k.list)
	k.list = k.list[:0]
}

// Bucket keys: entries under 'e' | key, the stream time under 'm' 't'.
var bufferStreamTimeKey = []byte{'m', 't'}

const bufferEntryPrefix = 'e'

// Name returns the store name.
func (s *TimeOrderedBuffer) Name() string { return s.name }

func (s *TimeOrderedBuffer) errorf(format string, args ...any) error {
	return fmt.Errorf("state: store %q: "+format, append([]any{s.name}, args...)...)
}

func (s *TimeOrderedBuffer) check() error {
	if s.closed {
		return s.errorf("%w", ErrClosed)
	}
	if s.stale {
		return s.load()
	}
	return nil
}

// load reads the buffer from the task's state.
func (s *TimeOrderedBuffer) load() error {
	s.index = map[string]*BufferedRecord{}
	s.sorted = btreemap.New[bufferKey, *BufferedRecord](16, compareBufferKeys)
	s.bytes, s.streamTime, s.hasStreamTime, s.streamTimeDirty = 0, 0, false, false
	s.dirty.reset()
	s.unlogged.reset()
	s.timeUnlogged = false
	for e, err := range s.bucket.All(nil, nil, false) {
		if err != nil {
			return s.errorf("loading: %w", err)
		}
		switch {
		case bytes.Equal(e.Key, bufferStreamTimeKey):
			if len(e.Value) != 8 {
				return s.errorf("corrupt stream time of %d bytes", len(e.Value))
			}
			s.streamTime, s.hasStreamTime = int64(binary.BigEndian.Uint64(e.Value)), true
		case len(e.Key) > 0 && e.Key[0] == bufferEntryPrefix:
			r, err := decodeBuffered(e.Key[1:], e.Value)
			if err != nil {
				return s.errorf("loading: %w", err)
			}
			s.insert(r)
		}
	}
	s.stale = false
	return nil
}

func (s *TimeOrderedBuffer) insert(r *BufferedRecord) {
	s.index[string(r.Key)] = r
	s.sorted.ReplaceOrInsert(bufferKey{r.Time, string(r.Key)}, r)
	s.bytes += r.size()
}

func (s *TimeOrderedBuffer) remove(r *BufferedRecord) {
	delete(s.index, string(r.Key))
	s.sorted.Delete(bufferKey{r.Time, string(r.Key)})
	s.bytes -= r.size()
	s.markDirty(r.Key)
}

func (s *TimeOrderedBuffer) markDirty(key []byte) {
	if !s.dirty.has[string(key)] {
		s.dirty.add(string(key))
	}
}

// Put buffers an update of key at the given buffer time, with the old and
// new values of the update (nil for null) and its record's context. A key
// already buffered keeps its place (its buffer time) and its prior value;
// its update is replaced.
func (s *TimeOrderedBuffer) Put(time int64, key, oldValue, newValue []byte, rc RecordContext) error {
	if err := s.check(); err != nil {
		return err
	}
	if prev, ok := s.index[string(key)]; ok {
		// The key keeps its place: update the entry in place. (Eviction
		// hands out copies of entries, so none is shared.)
		s.bytes -= prev.size()
		prev.Old, prev.New, prev.Context = cloneNil(oldValue), cloneNil(newValue), rc
		s.bytes += prev.size()
		s.markDirty(prev.Key)
		return nil
	}
	prior := cloneNil(oldValue)
	r := &BufferedRecord{Key: bytes.Clone(key), Time: time, Prior: prior, Old: prior, New: cloneNil(newValue), Context: rc}
	s.insert(r)
	s.markDirty(r.Key)
	return nil
}

// MinTime returns the smallest buffer time, or math.MaxInt64 when the
// buffer is empty.
func (s *TimeOrderedBuffer) MinTime() (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	k, _, ok := s.sorted.Min()
	if !ok {
		return math.MaxInt64, nil
	}
	return k.time, nil
}

// Len returns the number of buffered keys.
func (s *TimeOrderedBuffer) Len() (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	return len(s.index), nil
}

// SizeBytes returns the estimated size of the buffered entries.
func (s *TimeOrderedBuffer) SizeBytes() (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	return s.bytes, nil
}

// EvictWhile removes the entries in buffer time order, then key order,
// while more returns true, calling emit with each before removing it.
func (s *TimeOrderedBuffer) EvictWhile(more func() bool, emit func(BufferedRecord) error) error {
	if err := s.check(); err != nil {
		return err
	}
	for more() {
		_, r, ok := s.sorted.Min()
		if !ok {
			return nil
		}
		if err := emit(*r); err != nil {
			return err
		}
		if s.stale {
			return s.errorf("aborted while evicting")
		}
		if cur, ok := s.index[string(r.Key)]; ok && cur == r {
			s.remove(r)
		}
	}
	return nil
}

// PriorValue returns the value key had before it was first buffered (nil
// when null), and false when key is not buffered.
func (s *TimeOrderedBuffer) PriorValue(key []byte) ([]byte, bool, error) {
	if err := s.check(); err != nil {
		return nil, false, err
	}
	r, ok := s.index[string(key)]
	if !ok {
		return nil, false, nil
	}
	return cloneNil(r.Prior), true, nil
}

// StreamTime returns the stream time the owning operator last set, and
// false when it never set one.
func (s *TimeOrderedBuffer) StreamTime() (int64, bool, error) {
	if err := s.check(); err != nil {
		return 0, false, err
	}
	return s.streamTime, s.hasStreamTime, nil
}

// SetStreamTime keeps the owning operator's observed stream time with the
// buffer, committed with it.
func (s *TimeOrderedBuffer) SetStreamTime(ts int64) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.hasStreamTime && s.streamTime == ts {
		return nil
	}
	s.streamTime, s.hasStreamTime, s.streamTimeDirty = ts, true, true
	return nil
}

// Flush stages the changed keys (and the stream time) in the task's state
// and writes them to the changelog.
func (s *TimeOrderedBuffer) Flush() error {
	if s.closed {
		return s.errorf("%w", ErrClosed)
	}
	if s.stale {
		return nil
	}
	return s.stage(true)
}

// stage writes the changed keys (and the stream time) to the bucket; with
// log, it also sends them (and those a commit staged earlier without
// logging) to the changelog.
func (s *TimeOrderedBuffer) stage(log bool) error {
	if s.closed || s.stale {
		return nil
	}
	if s.streamTimeDirty {
		v := binary.BigEndian.AppendUint64(nil, uint64(s.streamTime))
		if err := s.bucket.Set(bufferStreamTimeKey, v); err != nil {
			return s.errorf("staging: %w", err)
		}
		s.streamTimeDirty = false
		s.timeUnlogged = s.log != nil
	}
	logNow := log && s.log != nil
	for _, k := range s.dirty.list {
		bk, v := s.encoded(k)
		var err error
		if v == nil {
			err = s.bucket.Delete(bk)
		} else {
			err = s.bucket.Set(bk, v)
		}
		if err != nil {
			return s.errorf("staging: %w", err)
		}
		switch {
		case logNow && !s.unlogged.has[k]:
			// The bucket copied key and value: the changelog may own them.
			if err := s.log.Log(s.name, bk, v, s.logTime(k)); err != nil {
				return s.errorf("logging: %w", err)
			}
		case s.log != nil:
			s.unlogged.add(k)
		}
	}
	s.dirty.reset()
	if !logNow {
		return nil
	}
	for _, k := range s.unlogged.list {
		bk, v := s.encoded(k)
		if err := s.log.Log(s.name, bk, v, s.logTime(k)); err != nil {
			return s.errorf("logging: %w", err)
		}
	}
	s.unlogged.reset()
	if s.timeUnlogged {
		v := binary.BigEndian.AppendUint64(nil, uint64(s.streamTime))
		if err := s.log.Log(s.name, bytes.Clone(bufferStreamTimeKey), v, max(s.streamTime, 0)); err != nil {
			return s.errorf("logging: %w", err)
		}
		s.timeUnlogged = false
	}
	return nil
}

// logTime is the changelog timestamp of a key: its record's, or the stream
// time for a key that left the buffer.
func (s *TimeOrderedBuffer) logTime(k string) int64 {
	if r, ok := s.index[k]; ok {
		return max(r.Context.Timestamp, 0)
	}
	return max(s.streamTime, 0)
}

// encoded returns the bucket (and changelog) key and value of a dirty key:
// nil value when the key left the buffer.
func (s *TimeOrderedBuffer) encoded(k string) ([]byte, []byte) {
	bk := append([]byte{bufferEntryPrefix}, k...)
	r, ok := s.index[k]
	if !ok {
		return bk, nil
	}
	return bk, encodeBuffered(r)
}

// RestoreBatch applies changelog records to the task's state; the buffer
// reloads from it before its next use.
func (s *TimeOrderedBuffer) RestoreBatch(recs []ChangelogRecord) error {
	if s.closed {
		return s.errorf("%w", ErrClosed)
	}
	for _, r := range recs {
		var err error
		if r.Value == nil {
			err = s.bucket.Delete(r.Key)
		} else {
			err = s.bucket.Set(r.Key, r.Value)
		}
		if err != nil {
			return s.errorf("restoring: %w", err)
		}
	}
	s.stale = true
	return nil
}

// Close releases the buffer; what was not staged is lost.
func (s *TimeOrderedBuffer) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.unhook != nil {
		s.unhook()
	}
	return nil
}

// encodeBuffered encodes an entry's value: time | context | prior | old |
// new, each value a flag byte (0 null, 1 present) and, when present, its
// uvarint length and bytes.
func encodeBuffered(r *BufferedRecord) []byte {
	out := make([]byte, 0, 64+len(r.Prior)+len(r.Old)+len(r.New))
	out = binary.BigEndian.AppendUint64(out, uint64(r.Time))
	out = binary.BigEndian.AppendUint64(out, uint64(r.Context.Timestamp))
	out = binary.BigEndian.AppendUint32(out, uint32(r.Context.Partition))
	out = binary.BigEndian.AppendUint64(out, uint64(r.Context.Offset))
	out = appendBytesField(out, []byte(r.Context.Topic))
	out = binary.AppendUvarint(out, uint64(len(r.Context.Headers)))
	for _, h := range r.Context.Headers {
		out = appendBytesField(out, []byte(h.Key))
		out = appendBytesField(out, h.Value)
	}
	out = appendBytesField(out, r.Prior)
	out = appendBytesField(out, r.Old)
	return appendBytesField(out, r.New)
}

func appendBytesField(out, b []byte) []byte {
	if b == nil {
		return append(out, 0)
	}
	out = append(out, 1)
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

var errCorruptBuffered = errors.New("corrupt buffered entry")

func readBytesField(in []byte) ([]byte, []byte, error) {
	if len(in) == 0 {
		return nil, nil, errCorruptBuffered
	}
	if in[0] == 0 {
		return nil, in[1:], nil
	}
	n, k := binary.Uvarint(in[1:])
	if k <= 0 || uint64(len(in)-1-k) < n {
		return nil, nil, errCorruptBuffered
	}
	start := 1 + k
	return bytes.Clone(in[start : start+int(n)]), in[start+int(n):], nil
}

func decodeBuffered(key, v []byte) (*BufferedRecord, error) {
	if len(v) < 28 {
		return nil, errCorruptBuffered
	}
	r := &BufferedRecord{Key: bytes.Clone(key)}
	r.Time = int64(binary.BigEndian.Uint64(v))
	r.Context.Timestamp = int64(binary.BigEndian.Uint64(v[8:]))
	r.Context.Partition = int32(binary.BigEndian.Uint32(v[16:]))
	r.Context.Offset = int64(binary.BigEndian.Uint64(v[20:]))
	rest := v[28:]
	topic, rest, err := readBytesField(rest)
	if err != nil {
		return nil, err
	}
	r.Context.Topic = string(topic)
	nh, k := binary.Uvarint(rest)
	if k <= 0 || nh > uint64(len(rest)) {
		return nil, errCorruptBuffered
	}
	rest = rest[k:]
	for range nh {
		var hk, hv []byte
		if hk, rest, err = readBytesField(rest); err != nil {
			return nil, err
		}
		if hv, rest, err = readBytesField(rest); err != nil {
			return nil, err
		}
		r.Context.Headers = append(r.Context.Headers, headerOf(string(hk), hv))
	}
	if r.Prior, rest, err = readBytesField(rest); err != nil {
		return nil, err
	}
	if r.Old, rest, err = readBytesField(rest); err != nil {
		return nil, err
	}
	if r.New, rest, err = readBytesField(rest); err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errCorruptBuffered
	}
	return r, nil
}

func headerOf(key string, value []byte) processor.Header {
	return processor.Header{Key: key, Value: value}
}
