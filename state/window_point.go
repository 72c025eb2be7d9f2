package state

import (
	"encoding/binary"
	"hash/maphash"

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
// For a window store, whose keys say their timestamp (entryTS), the store
// remembers instead which entries of the timestamp the cache removed, in a
// Bloom filter (gone): a miss on any other entry of the timestamp is still
// an absent entry. A full cache evicts entries all the time, most of them of
// older windows, while the new window's absent entries are what the
// aggregation reads first.
type freshTS struct {
	ts      int64
	removed uint64
	gone    *removedKeys
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

// knownAbsent reports whether the entry of the full store key at ts, which
// the cache does not hold, is certainly absent.
func (s *segmented) knownAbsent(key []byte, ts int64) bool {
	for i := len(s.fresh) - 1; i >= 0; i-- {
		if f := s.fresh[i]; f.ts == ts {
			if s.entryTS != nil {
				return f.gone == nil || !f.gone.mayHave(key)
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
		if f := &s.fresh[i]; f.ts == ts {
			if f.gone == nil {
				f.gone = &removedKeys{}
			}
			f.gone.add(key)
		}
	}
}

// removedKeys is a Bloom filter of the keys of a fresh timestamp that the
// cache removed. It grows as a chain of filters, each twice the size of the
// one before (16 bits per key, about 0.5 % false positives each); past
// removedMaxBits in all (about 250,000 keys) it reports every key.
type removedKeys struct {
	parts []stagedKeys
	full  bool
}

const (
	removedMinBits = 1 << 16 // 8 KiB
	removedMaxBits = 1 << 22 // 512 KiB
)

func (r *removedKeys) add(key []byte) {
	if r.full {
		return
	}
	if n := len(r.parts); n == 0 || r.parts[n-1].n >= r.parts[n-1].limit {
		bits := removedMinBits << n
		if bits*2-removedMinBits > removedMaxBits {
			r.full, r.parts = true, nil
			return
		}
		r.parts = append(r.parts, stagedKeys{bits: make([]uint64, bits/64), limit: bits / 16, seed: maphash.MakeSeed()})
	}
	r.parts[len(r.parts)-1].add(key)
}

func (r *removedKeys) mayHave(key []byte) bool {
	if r.full {
		return true
	}
	for i := range r.parts {
		if r.parts[i].mayHave(key) {
			return true
		}
	}
	return false
}

// windowEntryTS returns the window start of a window store's full key
// (segment | key | start | seq).
func windowEntryTS(key []byte) int64 {
	if len(key) < 20 {
		return -1
	}
	return int64(binary.BigEndian.Uint64(key[len(key)-12:]))
}

// sessionEntryTS returns the end of a session store's full key (segment |
// key | end | start), the timestamp its entries are written and read at.
func sessionEntryTS(key []byte) int64 {
	if len(key) < 8+sessionSuffix {
		return -1
	}
	return int64(binary.BigEndian.Uint64(key[len(key)-16:]))
}
