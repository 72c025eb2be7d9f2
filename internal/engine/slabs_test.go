package engine

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRecordSlabs checks that slices come back by capacity class, large
// enough for what was asked, and that at most maxFreeSlabBytes are kept.
func TestRecordSlabs(t *testing.T) {
	var p recordSlabs
	if s := p.GetRecords(0); s != nil {
		t.Fatalf("GetRecords(0) = %d-cap slice, want nil", cap(s))
	}
	s := p.GetRecords(5000)
	if len(s) != 0 || cap(s) != 8192 {
		t.Fatalf("GetRecords(5000): len %d cap %d, want 0 and 8192", len(s), cap(s))
	}
	s = append(s, kgo.Record{Offset: 7})
	p.PutRecords(s)
	if got := p.GetRecords(8192); cap(got) != 8192 || len(got) != 0 || &got[:1][0] != &s[0] {
		t.Fatalf("GetRecords(8192) after a put of that class: cap %d len %d, not the slice put", cap(got), len(got))
	}
	if got := p.GetRecords(8193); cap(got) != 16384 {
		t.Fatalf("GetRecords(8193): cap %d, want 16384", cap(got))
	}
	// A slice of an odd capacity (grown by franz-go) goes to the largest
	// class it can serve.
	p.PutRecords(make([]kgo.Record, 3, 100))
	if got := p.GetRecords(64); cap(got) != 100 {
		t.Fatalf("GetRecords(64) after putting a 100-cap slice: cap %d, want 100", cap(got))
	}
	const slab = 1 << 12
	perSlab := slab * recordBytes
	for range maxFreeSlabBytes/perSlab + 5 {
		p.PutRecords(make([]kgo.Record, 0, slab))
	}
	if n, want := len(p.free[12]), maxFreeSlabBytes/perSlab; n != want || p.bytes > maxFreeSlabBytes {
		t.Fatalf("class of %d keeps %d slices (%d bytes), want %d (at most %d bytes)", slab, n, p.bytes, want, maxFreeSlabBytes)
	}
	p.GetRecords(slab)
	if n, want := len(p.free[12]), maxFreeSlabBytes/perSlab-1; n != want {
		t.Fatalf("after a get, class of %d keeps %d slices, want %d", slab, n, want)
	}
}
