package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"time"

	"github.com/seed992c72d9/streams/serde"
)

// KeyValue is a typed key and value.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// StoreOption configures a store builder.
type StoreOption func(*storeOptions)

type storeOptions struct {
	logging       bool
	caching       bool
	changelogConf map[string]string
	retention     int64
}

// WithLogging turns the store's changelog on or off (default on). A store
// without a changelog cannot be restored on another instance.
func WithLogging(on bool) StoreOption { return func(o *storeOptions) { o.logging = on } }

// WithChangelogConfig adds topic configs to the store's changelog topic,
// such as min.insync.replicas.
func WithChangelogConfig(configs map[string]string) StoreOption {
	return func(o *storeOptions) {
		if o.changelogConf == nil {
			o.changelogConf = map[string]string{}
		}
		for k, v := range configs {
			o.changelogConf[k] = v
		}
	}
}

// WithCaching puts the record cache in front of the store (default off for
// stores built with this package, on for the DSL's stores).
func WithCaching(on bool) StoreOption { return func(o *storeOptions) { o.caching = on } }

func applyStoreOptions(opts []StoreOption) storeOptions {
	o := storeOptions{logging: true}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// KeyValueBuilder builds a KeyValueStore for each task.
type KeyValueBuilder[K, V any] struct {
	name        string
	ks          serde.Serde[K]
	vs          serde.Serde[V]
	opts        storeOptions
	timestamped bool
}

// KeyValueStoreBuilder describes a key-value store named name. Keys are
// ordered by their serialized bytes.
func KeyValueStoreBuilder[K, V any](name string, ks serde.Serde[K], vs serde.Serde[V], opts ...StoreOption) *KeyValueBuilder[K, V] {
	return &KeyValueBuilder[K, V]{name: name, ks: ks, vs: vs, opts: applyStoreOptions(opts)}
}

// Name returns the store name.
func (b *KeyValueBuilder[K, V]) Name() string { return b.name }

// Changelog returns the changelog topic configuration: compacted.
func (b *KeyValueBuilder[K, V]) Changelog() (ChangelogConfig, bool) {
	if !b.opts.logging {
		return ChangelogConfig{}, false
	}
	c := map[string]string{"cleanup.policy": "compact"}
	for k, v := range b.opts.changelogConf {
		c[k] = v
	}
	return ChangelogConfig{Configs: c}, true
}

// Build creates the store of one task.
func (b *KeyValueBuilder[K, V]) Build(env Env) (Store, error) {
	if err := ValidateName(b.name); err != nil {
		return nil, err
	}
	if b.ks == nil || b.vs == nil {
		return nil, fmt.Errorf("state: store %q: key and value serdes are required", b.name)
	}
	if env.State == nil {
		return nil, fmt.Errorf("state: store %q: the runtime provides no state", b.name)
	}
	bucket := env.State.Bucket(b.name)
	s := &KeyValueStore[K, V]{name: b.name, ks: b.ks, vs: b.vs, env: env, bucket: bucket, timestamped: b.timestamped,
		lat: newOpTimer(env, b.name)}
	var under cacheUnder = &bucketKV{b: bucket}
	if b.opts.logging && env.Changelog != nil {
		under = &loggedKV{kvBytes: under, store: b.name, log: env.Changelog, timestamped: b.timestamped}
	}
	s.under = under
	var kv kvBytes = under
	if b.opts.caching && env.Cache != nil {
		s.cache = env.Cache.newNamed(under)
		s.cache.cacheReads = true
		// Only the cache writes to the bucket (and RestoreBatch, which
		// says so): a miss may read committed state (cache_staged.go).
		s.cache.direct = bucket
		kv = &cachedKV{nc: s.cache}
		// Cached entries hold staged writes (dirty ones, and clean ones
		// flushed into the batch): an abort must drop them.
		s.unhook = env.State.hook(taskHook{afterAbort: s.cache.drop, afterCommit: s.cache.committed})
	}
	s.kv = kv
	return s, nil
}

// ReadOnlyBuilder is implemented by builders that can open a read-only view
// of a store over committed state, for global stores and queries.
type ReadOnlyBuilder interface {
	BuildReadOnly(b *Bucket) (Store, error)
}

// BuildReadOnly returns a read-only store over b: writes fail with
// ErrReadOnly.
func (b *KeyValueBuilder[K, V]) BuildReadOnly(bucket *Bucket) (Store, error) {
	return b.ReadOnly(bucket), nil
}

// ReadOnly returns the typed read-only store over bucket.
func (b *KeyValueBuilder[K, V]) ReadOnly(bucket *Bucket) *KeyValueStore[K, V] {
	return &KeyValueStore[K, V]{name: b.name, ks: b.ks, vs: b.vs, bucket: bucket,
		timestamped: b.timestamped, kv: &bucketKV{b: bucket}, shared: true}
}

// KeyValueStore is a typed key-value store of one task. Reads see the task's
// own writes at once; others see them after the task commits. Iterations see
// the store as it was when they started. A nil-able value (nil slice, map or
// pointer) that serializes to nil bytes deletes its key, as null does in
// Kafka Streams.
type KeyValueStore[K, V any] struct {
	name        string
	ks          serde.Serde[K]
	vs          serde.Serde[V]
	env         Env
	bucket      *Bucket
	kv          kvBytes
	under       kvBytes
	cache       *namedCache
	timestamped bool
	closed      bool
	unhook      func() // unregisters the abort hook, if any
	// shared is set for read-only stores, which several goroutines may
	// use at once.
	shared bool
	// keyBuf holds the key of a point operation when the key serde can
	// append: every layer below copies the keys it keeps.
	keyBuf []byte
	// valBuf holds the value of a put when the value serde can append.
	valBuf []byte
	// lat times a sample of the operations; nil for none.
	lat *opTimer
}

// Name returns the store name.
func (s *KeyValueStore[K, V]) Name() string { return s.name }

func (s *KeyValueStore[K, V]) errorf(format string, args ...any) error {
	return fmt.Errorf("state: store %q: "+format, append([]any{s.name}, args...)...)
}

func (s *KeyValueStore[K, V]) check() error {
	if s.closed {
		return s.errorf("%w", ErrClosed)
	}
	return nil
}

func (s *KeyValueStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.ks.Serialize(k)
	if err != nil {
		return nil, s.errorf("serializing key: %w", err)
	}
	if b == nil {
		return nil, s.errorf("null key")
	}
	return b, nil
}

// pointKey serializes the key of a point operation (Get, Put, Delete). The
// result is valid until the next call; range bounds use key.
func (s *KeyValueStore[K, V]) pointKey(k K) ([]byte, error) {
	a, ok := s.ks.(serde.Appender[K])
	if !ok || s.shared {
		// A read-only store may be shared by goroutines (global
		// stores, queries): it must not reuse a buffer.
		return s.key(k)
	}
	b, notNull, err := a.AppendSerialize(s.keyBuf[:0], k)
	if err != nil {
		return nil, s.errorf("serializing key: %w", err)
	}
	if !notNull {
		return nil, s.errorf("null key")
	}
	s.keyBuf = b
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// pointValue serializes a put's value (nil for a null value), into the
// store's reusable buffer when the value serde can append. The result is
// valid until the next call: every layer below copies the values it keeps.
func (s *KeyValueStore[K, V]) pointValue(v V) ([]byte, error) {
	a, ok := s.vs.(serde.Appender[V])
	if !ok || s.shared {
		return s.vs.Serialize(v)
	}
	out, notNull, err := a.AppendSerialize(s.valBuf[:0], v)
	if err != nil || !notNull {
		return nil, err
	}
	s.valBuf = out
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

func (s *KeyValueStore[K, V]) decode(v []byte) (V, error) {
	out, err := s.vs.Deserialize(v)
	if err != nil {
		return out, s.errorf("deserializing value: %w", err)
	}
	return out, nil
}

// Get returns the value of key and whether it is present.
func (s *KeyValueStore[K, V]) Get(key K) (V, bool, error) {
	if s.lat.sample(OpGet) {
		start := time.Now()
		v, ok, err := s.get(key)
		s.lat.observe(OpGet, start)
		return v, ok, err
	}
	return s.get(key)
}

func (s *KeyValueStore[K, V]) get(key K) (V, bool, error) {
	var zero V
	if err := s.check(); err != nil {
		return zero, false, err
	}
	kb, err := s.pointKey(key)
	if err != nil {
		return zero, false, err
	}
	vb, ok, err := s.kv.get(kb)
	if err != nil {
		return zero, false, s.errorf("%w", err)
	}
	if !ok {
		return zero, false, nil
	}
	v, err := s.decode(vb)
	return v, err == nil, err
}

// Put stores value under key; a value that serializes to nil deletes key.
func (s *KeyValueStore[K, V]) Put(key K, value V) error {
	if s.lat.sample(OpPut) {
		start := time.Now()
		err := s.put(key, value)
		s.lat.observe(OpPut, start)
		return err
	}
	return s.put(key, value)
}

func (s *KeyValueStore[K, V]) put(key K, value V) error {
	if err := s.check(); err != nil {
		return err
	}
	kb, err := s.pointKey(key)
	if err != nil {
		return err
	}
	vb, err := s.pointValue(value)
	if err != nil {
		return s.errorf("serializing value: %w", err)
	}
	if err := s.kv.put(kb, vb, s.env.record()); err != nil {
		return s.errorf("%w", err)
	}
	return nil
}

// PutIfAbsent stores value under key unless key is present; it returns the
// present value and true, or the zero V and false after storing.
func (s *KeyValueStore[K, V]) PutIfAbsent(key K, value V) (V, bool, error) {
	old, ok, err := s.Get(key)
	if err != nil || ok {
		return old, ok, err
	}
	return old, false, s.Put(key, value)
}

// PutAll stores every entry, in order.
func (s *KeyValueStore[K, V]) PutAll(entries []KeyValue[K, V]) error {
	for _, e := range entries {
		if err := s.Put(e.Key, e.Value); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes key and returns the value it had.
func (s *KeyValueStore[K, V]) Delete(key K) (V, bool, error) {
	if s.lat.sample(OpDelete) {
		start := time.Now()
		old, ok, err := s.delete(key)
		s.lat.observe(OpDelete, start)
		return old, ok, err
	}
	return s.delete(key)
}

func (s *KeyValueStore[K, V]) delete(key K) (V, bool, error) {
	old, ok, err := s.get(key)
	if err != nil {
		return old, false, err
	}
	kb, err := s.pointKey(key)
	if err != nil {
		return old, false, err
	}
	if err := s.kv.put(kb, nil, s.env.record()); err != nil {
		return old, false, s.errorf("%w", err)
	}
	return old, ok, nil
}

// Range iterates over the keys from from to to, both inclusive, in key byte
// order. The iteration stops at the first error, which it yields.
func (s *KeyValueStore[K, V]) Range(from, to K) iter.Seq2[KeyValue[K, V], error] {
	return s.rangeOf(from, to, false)
}

// ReverseRange is Range in descending order.
func (s *KeyValueStore[K, V]) ReverseRange(from, to K) iter.Seq2[KeyValue[K, V], error] {
	return s.rangeOf(from, to, true)
}

func (s *KeyValueStore[K, V]) rangeOf(from, to K, reverse bool) iter.Seq2[KeyValue[K, V], error] {
	return func(yield func(KeyValue[K, V], error) bool) {
		lo, err := s.key(from)
		if err != nil {
			yield(KeyValue[K, V]{}, err)
			return
		}
		hi, err := s.key(to)
		if err != nil {
			yield(KeyValue[K, V]{}, err)
			return
		}
		if bytes.Compare(lo, hi) > 0 {
			return
		}
		// hi may alias the caller's bytes (serde.Bytes): do not append
		// into its spare capacity.
		s.scan(lo, append(hi[:len(hi):len(hi)], 0), reverse)(yield)
	}
}

// All iterates over every key in ascending order.
func (s *KeyValueStore[K, V]) All() iter.Seq2[KeyValue[K, V], error] { return s.scan(nil, nil, false) }

// ReverseAll iterates over every key in descending order.
func (s *KeyValueStore[K, V]) ReverseAll() iter.Seq2[KeyValue[K, V], error] {
	return s.scan(nil, nil, true)
}

// PrefixScan iterates over the keys whose serialized bytes start with the
// serialized prefix.
func (s *KeyValueStore[K, V]) PrefixScan(prefix K) iter.Seq2[KeyValue[K, V], error] {
	return func(yield func(KeyValue[K, V], error) bool) {
		p, err := s.ks.Serialize(prefix)
		if err != nil {
			yield(KeyValue[K, V]{}, s.errorf("serializing prefix: %w", err))
			return
		}
		s.scan(p, prefixEnd(p), false)(yield)
	}
}

func (s *KeyValueStore[K, V]) scan(lower, upper []byte, reverse bool) iter.Seq2[KeyValue[K, V], error] {
	return func(yield func(KeyValue[K, V], error) bool) {
		timeRange(s.lat, yield, func(yield func(KeyValue[K, V], error) bool) { s.scanBytes(lower, upper, reverse, yield) })
	}
}

// scanBytes is scan's iteration.
func (s *KeyValueStore[K, V]) scanBytes(lower, upper []byte, reverse bool, yield func(KeyValue[K, V], error) bool) {
	if err := s.check(); err != nil {
		yield(KeyValue[K, V]{}, err)
		return
	}
	for e, err := range s.kv.iter(lower, upper, reverse) {
		if err != nil {
			yield(KeyValue[K, V]{}, s.errorf("%w", err))
			return
		}
		k, err := s.ks.Deserialize(e.Key)
		if err != nil {
			yield(KeyValue[K, V]{}, s.errorf("deserializing key: %w", err))
			return
		}
		v, err := s.decode(e.Value)
		if err != nil {
			yield(KeyValue[K, V]{}, err)
			return
		}
		if !yield(KeyValue[K, V]{k, v}, nil) {
			return
		}
	}
}

// ApproximateNumEntries returns the number of keys. It counts them, so it
// takes time proportional to the store's size.
func (s *KeyValueStore[K, V]) ApproximateNumEntries() (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var n int64
	for _, err := range s.kv.iter(nil, nil, false) {
		if err != nil {
			return n, s.errorf("%w", err)
		}
		n++
	}
	return n, nil
}

// SetFlushOldValues says whether the flush listener needs the value each
// flushed update replaces (by default it gets it). Without old values the
// cache reads the store at a flush only for deletes, and the listener gets a
// nil oldValue for updates. The DSL turns them off for tables whose
// downstream operators do not ask for old values.
func (s *KeyValueStore[K, V]) SetFlushOldValues(on bool) {
	if s.cache != nil {
		s.cache.skipOld = !on
	}
}

// SetFlushListener makes the store call fn for every entry its cache
// flushes, with the value it replaced (nil when the key was absent; newValue
// nil when the key was deleted). It reports whether the store is cached: an
// uncached store never calls fn. The DSL uses it to forward updates once per
// commit.
func (s *KeyValueStore[K, V]) SetFlushListener(fn func(key K, newValue, oldValue *V, rc RecordContext) error) bool {
	if s.cache == nil {
		return false
	}
	s.cache.listener = func(kb, nb, ob []byte, rc RecordContext) error {
		k, err := s.ks.Deserialize(kb)
		if err != nil {
			return s.errorf("deserializing key: %w", err)
		}
		var nv, ov *V
		if nb != nil {
			v, err := s.decode(nb)
			if err != nil {
				return err
			}
			nv = &v
		}
		if ob != nil {
			v, err := s.decode(ob)
			if err != nil {
				return err
			}
			ov = &v
		}
		return fn(k, nv, ov, rc)
	}
	return true
}

// Flush writes cached updates to the staged state and the changelog.
func (s *KeyValueStore[K, V]) Flush() error {
	if err := s.check(); err != nil {
		return err
	}
	if s.lat != nil {
		defer s.lat.observe(OpFlush, time.Now())
	}
	if err := s.kv.flush(); err != nil {
		return s.errorf("flushing: %w", err)
	}
	return nil
}

// Close drops unflushed cache entries and closes the store.
func (s *KeyValueStore[K, V]) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.unhook != nil {
		s.unhook()
	}
	return s.kv.close()
}

// RestoreBatch applies changelog records below the cache and the changelog.
func (s *KeyValueStore[K, V]) RestoreBatch(recs []ChangelogRecord) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.cache != nil {
		// These writes bypass the cache: until the commit, any key may
		// be staged.
		s.cache.staged.setAll()
	}
	for _, r := range recs {
		var err error
		switch {
		case r.Value == nil:
			err = s.bucket.Delete(r.Key)
		case s.timestamped:
			v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(r.Value)), uint64(r.Timestamp))
			err = s.bucket.Set(r.Key, append(v, r.Value...))
		default:
			err = s.bucket.Set(r.Key, r.Value)
		}
		if err != nil {
			return s.errorf("restoring: %w", err)
		}
	}
	return nil
}
