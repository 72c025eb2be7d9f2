package state

import (
	"encoding/binary"
	"iter"
)

// kvBytes is a key-value store of bytes: the layers under a typed
// KeyValueStore (bucket, changelog, cache) all implement it.
type kvBytes interface {
	// get returns the value of key. The slice may be a buffer the layer
	// reuses or the value it keeps: it is valid until the next call on the
	// store, and the caller must not modify it. (Serdes never alias the
	// bytes they decode, so decoding it at once is safe.)
	get(key []byte) ([]byte, bool, error)
	// put stores value under key for the record rc; a nil value deletes.
	put(key, value []byte, rc RecordContext) error
	// iter walks [lower, upper); nil bounds are open.
	iter(lower, upper []byte, reverse bool) iter.Seq2[Entry, error]
	// flush writes buffered updates through.
	flush() error
	close() error
}

// bucketKV stores keys in a bucket.
type bucketKV struct{ b *Bucket }

func (s *bucketKV) get(key []byte) ([]byte, bool, error) { return s.b.get(key) }

func (s *bucketKV) put(key, value []byte, _ RecordContext) error {
	if value == nil {
		return s.b.Delete(key)
	}
	return s.b.Set(key, value)
}

func (s *bucketKV) iter(lower, upper []byte, reverse bool) iter.Seq2[Entry, error] {
	return s.b.All(lower, upper, reverse)
}

func (s *bucketKV) flush() error { return nil }
func (s *bucketKV) close() error { return nil }

// loggedKV sends every write to the store's changelog.
type loggedKV struct {
	kvBytes
	store string
	log   ChangelogWriter
	// timestamped stores keep an 8-byte timestamp before the value; their
	// changelog records carry the plain value and that timestamp.
	timestamped bool
	// skip is the number of leading key bytes the changelog key leaves out:
	// the segment id of window and session stores.
	skip int
}

func (s *loggedKV) put(key, value []byte, rc RecordContext) error {
	if err := s.kvBytes.put(key, value, rc); err != nil {
		return err
	}
	return s.logWrite(key, value, rc)
}

func (s *loggedKV) stage(key, value []byte, rc RecordContext) error {
	return s.kvBytes.put(key, value, rc)
}

// logWrite sends the changelog record of a write.
func (s *loggedKV) logWrite(key, value []byte, rc RecordContext) error {
	ts := rc.Timestamp
	v := value
	if s.timestamped && len(value) >= 8 {
		ts = int64(binary.BigEndian.Uint64(value))
		v = value[8:]
	}
	k := key[s.skip:]
	if v == nil {
		return s.log.Log(s.store, append(make([]byte, 0, len(k)), k...), nil, ts)
	}
	// One allocation for the key and the value, which the writer keeps.
	kv := make([]byte, len(k)+len(v))
	copy(kv, k)
	copy(kv[len(k):], v)
	return s.log.Log(s.store, kv[:len(k):len(k)], kv[len(k):], ts)
}

// cloneNil copies b, keeping nil apart from empty.
func cloneNil(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
