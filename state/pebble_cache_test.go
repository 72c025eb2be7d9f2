package state

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestPebbleBlockCacheBesideMemtables checks that the block cache holds
// BlockCacheBytes of blocks once memtables have been flushed: Pebble charges
// its memtables to the same cache, which must not leave blocks without room.
func TestPebbleBlockCacheBesideMemtables(t *testing.T) {
	d, err := OpenPebble(t.TempDir(), PebbleOptions{BlockCacheBytes: 1 << 20, MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	db := d.e.(*pebbleEngine).db
	value := make([]byte, 100)
	// 4 MiB of writes rotate the 1 MiB memtables several times.
	for i := range 40_000 {
		if err := db.Set(fmt.Appendf(nil, "key-%06d", i), value, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := db.Metrics().MemTable.Count + db.Metrics().MemTable.ZombieCount; n < 2 {
		t.Fatalf("%d memtables, want the live one and a recycled one (the case under test)", n)
	}
	// 2,000 consecutive keys take about 250 KiB of data blocks: a second
	// read of each must find its blocks in the cache.
	read := func() (misses int64) {
		before := db.Metrics().BlockCache.Misses
		for i := range 2000 {
			if _, ok, err := (pebbleReader{db: db}).get(fmt.Appendf(nil, "key-%06d", i), nil); !ok || err != nil {
				t.Fatalf("get(key-%06d) = %v, %v", i, ok, err)
			}
		}
		return db.Metrics().BlockCache.Misses - before
	}
	if first := read(); first == 0 {
		t.Fatal("the first read of flushed keys found every block cached; the test reads nothing from disk")
	}
	if second := read(); second != 0 {
		t.Fatalf("the second read of the same keys missed the block cache %d times, want 0 (cache holds %d bytes)", second, db.Metrics().BlockCache.Size)
	}
}
