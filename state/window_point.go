package state

import (
	"encoding/binary"

	"github.com/seed992c72d9/streams/serde"
)

// pointStoreKey builds the full store key (segment | key | start | seq) of
// a point operation into the store's reusable buffer, serializing the key
// in place when its serde can append. The result is valid until the next
// call: every layer below copies the keys it keeps.
func (s *WindowStore[K, V]) pointStoreKey(key K, start int64, seq uint32) ([]byte, error) {
	var buf []byte
	if !s.seg.readOnly {
		// A read-only store is shared by concurrent readers: no reuse.
		buf = s.keyBuf[:0]
	}
	buf = appendInt64(buf, s.seg.m.segmentID(start))
	if a, ok := s.ks.(serde.Appender[K]); ok {
		out, notNull, err := a.AppendSerialize(buf, key)
		if err != nil {
			return nil, s.errorf("serializing key: %w", err)
		}
		if !notNull {
			return nil, s.errorf("null key")
		}
		buf = out
	} else {
		kb, err := s.key(key)
		if err != nil {
			return nil, err
		}
		buf = append(buf, kb...)
	}
	buf = appendInt64(buf, start)
	buf = binary.BigEndian.AppendUint32(buf, seq)
	if !s.seg.readOnly {
		s.keyBuf = buf
	}
	return buf, nil
}

// pointValue serializes a put's value into the store's reusable buffer
// when the value serde can append (nil for a null value). The result is
// valid until the next call: the layers below copy the values they keep.
func (s *WindowStore[K, V]) pointValue(v V) ([]byte, error) {
	a, ok := s.vs.(serde.Appender[V])
	if !ok {
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

// freshTS is a timestamp first written while the store was open, above its
// observed stream time: no entry had it before. removed is the cache's
// removal count then: while it has not changed, every entry with the
// timestamp is still in the cache, so a cache miss means the entry is
// absent, and the store need not be read. (The first write of each key to a
// new window, in order, would otherwise read the store every time.)
//
// For a window store, whose keys say their timestamp (entryTS), only the
// removal of an entry with the same timestamp ends the shortcut (gone): a
// full cache evicts entries of older windows, and those do not matter.
type freshTS struct {
	ts      int64
	removed uint64
	gone    bool
}

// maxFresh bounds the fresh timestamps a store remembers.
const maxFresh = 8

// noteFresh remembers a timestamp the observed stream time just moved to.
func (s *segmented) noteFresh(ts int64) {
	if s.cache == nil {
		return
	}
	if len(s.fresh) == maxFresh {
		copy(s.fresh, s.fresh[1:])
		s.fresh = s.fresh[:maxFresh-1]
	}
	s.fresh = append(s.fresh, freshTS{ts: ts, removed: s.cache.removed})
}

// knownAbsent reports whether an entry at ts that the cache does not hold
// is certainly absent.
func (s *segmented) knownAbsent(ts int64) bool {
	for i := len(s.fresh) - 1; i >= 0; i-- {
		if f := s.fresh[i]; f.ts == ts {
			if s.entryTS != nil {
				return !f.gone
			}
			return f.removed == s.cache.removed
		}
	}
	return false
}

// noteRemoved hears the cache remove the entry of a full store key: the
// shortcut of its timestamp ends.
func (s *segmented) noteRemoved(key []byte) {
	if s.entryTS == nil {
		return
	}
	ts := s.entryTS(key)
	for i := range s.fresh {
		if s.fresh[i].ts == ts {
			s.fresh[i].gone = true
		}
	}
}

// windowEntryTS returns the window start of a window store's full key
// (segment | key | start | seq).
func windowEntryTS(key []byte) int64 {
	if len(key) < 20 {
		return -1
	}
	return int64(binary.BigEndian.Uint64(key[len(key)-12:]))
}
