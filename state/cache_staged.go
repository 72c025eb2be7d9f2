package state

import "hash/maphash"

// A cached key-value store reads the store below on a cache miss. Through
// the task's staged batch such a read costs more than a read of the
// committed state (Pebble's indexed batch builds iterators over the batch),
// and it is needed only when the batch may hold a write of the key. The
// batch of a cached store holds only what its cache flushed since the last
// commit, so a key the cache does not hold can be in the batch only if its
// entry was flushed and then removed (evicted) since. stagedKeys remembers
// those keys, in a Bloom filter: a key it has not seen is certainly not
// staged, and the miss reads the committed state.

// stagedKeys is a Bloom filter of keys that may be staged. The zero value
// holds no key.
type stagedKeys struct {
	bits []uint64
	// n counts the keys added; past limit the filter is too full to be
	// useful and all reports every key as staged.
	n, limit int
	all      bool
	// overflowed is set when all was set by overflow in this period: the
	// filter grows at the next reset.
	overflowed bool
	seed       maphash.Seed
}

const (
	stagedMinBits = 1 << 14 // 2 KiB
	stagedMaxBits = 1 << 21 // 256 KiB
)

func (f *stagedKeys) hash(key []byte) (uint64, uint64) {
	h := maphash.Bytes(f.seed, key)
	return h, h>>32 | 1
}

// add records key as possibly staged.
func (f *stagedKeys) add(key []byte) {
	if f.all {
		return
	}
	if f.bits == nil {
		f.bits = make([]uint64, stagedMinBits/64)
		f.limit = stagedMinBits / 10
		f.seed = maphash.MakeSeed()
	}
	if f.n >= f.limit {
		f.all, f.overflowed = true, true
		return
	}
	f.n++
	m := uint64(len(f.bits) * 64)
	h1, h2 := f.hash(key)
	for i := range uint64(3) {
		b := (h1 + i*h2) % m
		f.bits[b/64] |= 1 << (b % 64)
	}
}

// mayHave reports whether key may be staged.
func (f *stagedKeys) mayHave(key []byte) bool {
	if f.all {
		return true
	}
	if f.n == 0 {
		return false
	}
	m := uint64(len(f.bits) * 64)
	h1, h2 := f.hash(key)
	for i := range uint64(3) {
		b := (h1 + i*h2) % m
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// setAll makes the filter report every key as staged, until reset.
func (f *stagedKeys) setAll() { f.all = true }

// reset forgets every key: nothing is staged any more. A filter that
// overflowed grows.
func (f *stagedKeys) reset() {
	if f.overflowed && len(f.bits)*64 < stagedMaxBits {
		f.bits = make([]uint64, len(f.bits)*2)
		f.limit = len(f.bits) * 64 / 10
	} else if f.n > 0 {
		clear(f.bits)
	}
	f.n, f.all, f.overflowed = 0, false, false
}
