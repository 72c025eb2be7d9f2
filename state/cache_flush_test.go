package state

import (
	"fmt"
	"testing"
	"unsafe"
)

// TestFlushReusesDirtyList checks that a flush hands its list of dirty
// entries back to the cache, emptied, so that the next interval's updates
// do not grow a new list from nothing, and that the reused list flushes
// exactly the next interval's updates, in their order.
func TestFlushReusesDirtyList(t *testing.T) {
	h := newHarness(t, openMemory(t))
	h.cache = NewCache(1 << 20)
	s := kvStore(t, h, "kv", WithCaching(true))
	for i := range 100 {
		must(t, s.Put(fmt.Sprintf("k%03d", i), "1"))
	}
	list := unsafe.SliceData(s.cache.dirty)
	must(t, s.Flush())
	if d := s.cache.dirty; len(d) != 0 || cap(d) < 100 || unsafe.SliceData(d) != list {
		t.Fatalf("after the flush the dirty list has %d entries, capacity %d, same array %v; want 0, at least 100, true",
			len(d), cap(d), unsafe.SliceData(d) == list)
	}
	for _, e := range s.cache.dirty[:cap(s.cache.dirty)] {
		if e != nil {
			t.Fatalf("the emptied list still holds entry %q", e.key)
		}
	}
	logged := len(h.log.recs["kv"])
	for _, k := range []string{"k007", "k003", "k007", "k050"} {
		must(t, s.Put(k, "2"))
	}
	if unsafe.SliceData(s.cache.dirty) != list {
		t.Fatal("the next updates did not reuse the list")
	}
	must(t, s.Flush())
	var keys []string
	for _, r := range h.log.recs["kv"][logged:] {
		keys = append(keys, string(r.Key)+"="+string(r.Value))
	}
	equal(t, "logged by the second flush", keys, []string{"k003=2", "k007=2", "k050=2"})
}
