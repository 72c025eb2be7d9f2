package state

import (
	"fmt"
	"testing"
)

// TestPebbleBloomFilters checks that point reads of absent keys (between
// present ones, within the tables' bounds) are answered
// by the tables' Bloom filters, without reading their data blocks.
func TestPebbleBloomFilters(t *testing.T) {
	d := openPebbleIn(t, t.TempDir())
	db := d.e.(*pebbleEngine).db
	for i := range 1000 {
		if err := db.Set(fmt.Appendf(nil, "key-%05d", 2*i), []byte("v"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	before := db.Metrics().Filter
	for i := range 1000 {
		if _, ok, err := (pebbleReader{db: db}).get(fmt.Appendf(nil, "key-%05d", 2*i+1), nil); ok || err != nil {
			t.Fatalf("get(key-%05d) = %v, %v", 2*i+1, ok, err)
		}
	}
	after := db.Metrics().Filter
	// With 10 bits a key about 1% of the absent keys pass the filter.
	if hits := after.Hits - before.Hits; hits < 950 {
		t.Fatalf("the filters excluded %d of 1000 absent keys, want at least 950 (misses %d)", hits, after.Misses-before.Misses)
	}
}
