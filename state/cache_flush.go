package state

import (
	"bytes"
	"slices"
)

// A commit flushes every dirty entry of a cache into the task's Pebble batch
// and from there into the memtable: two skiplist inserts per entry. Both
// skiplists insert keys in ascending order far faster than in random order
// (the batch appends past its last key; the memtable resumes from the
// previous insert's position), so a flush stages its entries in key
// order. It still logs and forwards them in the order of their latest
// updates, as Kafka Streams does: downstream sees the same sequence either
// way.

// cacheUnder is the store under a cache, whose put is two steps: stage
// writes the bytes into the task's batch, logWrite sends the changelog
// record (if any).
type cacheUnder interface {
	kvBytes
	stage(key, value []byte, rc RecordContext) error
	logWrite(key, value []byte, rc RecordContext) error
}

func (s *bucketKV) stage(key, value []byte, rc RecordContext) error { return s.put(key, value, rc) }
func (s *bucketKV) logWrite([]byte, []byte, RecordContext) error    { return nil }

// flushItem is one entry of a sorted flush.
type flushItem struct {
	e *cacheEntry
	// version is the entry's when it was staged.
	version uint32
	hadOld  bool
	skip    bool
	// old locates the replaced value in the flush's oldBuf.
	oldStart, oldEnd int
}

// keyIndex is an item's key and place, sorted by key.
type keyIndex struct {
	key []byte
	i   int32
}

// flushSorted flushes the dirty entries in order (the order of their latest
// updates): it reads the values they replace and stages them in key order,
// then logs and forwards them in order.
//
// Invariants: an entry is staged before it is logged or forwarded, so that a
// read of it by a downstream processor, or after its eviction, finds it; an
// entry whose value changed while the flush forwarded the ones before it
// (an update downstream of the store, written back) is neither logged nor
// forwarded with its staged value: it is dirty again, and the flush ends by
// flushing again (unless its eviction wrote it through already).
func (n *namedCache) flushSorted(order []*cacheEntry) error {
	n.c.flushing++
	defer func() { n.c.flushing-- }()
	if n.sorting {
		// A flush of this cache from inside its own flush (a processor
		// downstream flushed the store): the buffers are in use.
		_, _, _, err := n.flushSortedWith(order, nil, nil, nil)
		return err
	}
	n.sorting = true
	defer func() { n.sorting = false }()
	items, byKey, oldBuf, err := n.flushSortedWith(order, n.flushItems[:0], n.flushOrder[:0], n.oldBuf[:0])
	clear(items)
	clear(byKey)
	n.flushItems, n.flushOrder, n.oldBuf = items[:0], byKey[:0], oldBuf[:0]
	return err
}

// flushSortedWith is flushSorted with the buffers to use, which it returns
// (grown).
func (n *namedCache) flushSortedWith(order []*cacheEntry, items []flushItem, byKey []keyIndex, oldBuf []byte) ([]flushItem, []keyIndex, []byte, error) {
	for _, e := range order {
		if e.dirty {
			items = append(items, flushItem{e: e})
		}
	}
	for i := range items {
		byKey = append(byKey, keyIndex{items[i].e.key, int32(i)})
	}
	slices.SortFunc(byKey, func(a, b keyIndex) int { return bytes.Compare(a.key, b.key) })
	for _, ki := range byKey {
		it := &items[ki.i]
		e := it.e
		e.dirty = false
		if n.listener != nil && (e.value == nil || !n.skipOld) {
			old, hadOld, err := n.getBelow(e)
			if err != nil {
				return items, byKey, oldBuf, err
			}
			if e.value == nil && !hadOld {
				it.skip = true // deleting a key that never reached the store
				continue
			}
			it.hadOld = hadOld
			it.oldStart = len(oldBuf)
			oldBuf = append(oldBuf, old...)
			it.oldEnd = len(oldBuf)
		}
		it.version = e.version
		e.flushedGen = n.gen
		if err := n.under.stage(e.key, e.value, e.rc); err != nil {
			return items, byKey, oldBuf, err
		}
	}
	changed := false
	for i := range items {
		it := &items[i]
		e := it.e
		if it.skip {
			continue
		}
		if e.version != it.version {
			changed = true
			continue
		}
		if err := n.under.logWrite(e.key, e.value, e.rc); err != nil {
			return items, byKey, oldBuf, err
		}
		if n.listener != nil {
			var old []byte
			if it.hadOld {
				old = oldBuf[it.oldStart:it.oldEnd:it.oldEnd]
			}
			if err := n.listener(e.key, e.value, old, e.rc); err != nil {
				return items, byKey, oldBuf, err
			}
		}
	}
	if changed {
		// The newer values are dirty: write them through now, so that
		// what the commit stages is also logged.
		return items, byKey, oldBuf, n.flush(nil)
	}
	return items, byKey, oldBuf, nil
}
