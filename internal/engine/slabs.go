package engine

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordSlabs recycles the slices franz-go decodes fetched records into (a
// kgo.PoolRecords). A thread copies each fetched record into its queue and
// recycles it at once, so that a batch's slice is reused as soon as the
// batch is queued instead of becoming garbage: decoding the input was the
// largest allocation of a stateless application. Slices are kept by
// capacity, in powers of two, up to maxFreeSlabBytes in all: a fetch
// decodes all its batches before the first is taken, so reuse needs about
// one fetch's worth of slices (a few hundred small batches, or a few large
// ones). Unlike a sync.Pool, a garbage collection does not empty the lists.
// It is safe for concurrent use.
type recordSlabs struct {
	mu   sync.Mutex
	free [32][][]kgo.Record
	// bytes is the capacity, in bytes, of the slices in free.
	bytes int
}

// maxFreeSlabBytes bounds the memory recordSlabs keeps for reuse: about
// 200,000 records' slots.
const maxFreeSlabBytes = 32 << 20

const recordBytes = int(unsafe.Sizeof(kgo.Record{}))

// GetRecords implements kgo.PoolRecords.
func (p *recordSlabs) GetRecords(n int) []kgo.Record {
	if n <= 0 {
		return nil
	}
	c := bits.Len(uint(n - 1)) // the smallest class that holds n
	if c >= len(p.free) {
		return make([]kgo.Record, 0, n)
	}
	p.mu.Lock()
	if k := len(p.free[c]); k > 0 {
		s := p.free[c][k-1]
		p.free[c][k-1] = nil
		p.free[c] = p.free[c][:k-1]
		p.bytes -= cap(s) * recordBytes
		p.mu.Unlock()
		return s
	}
	p.mu.Unlock()
	return make([]kgo.Record, 0, 1<<c)
}

// PutRecords implements kgo.PoolRecords.
func (p *recordSlabs) PutRecords(s []kgo.Record) {
	c := bits.Len(uint(cap(s))) - 1 // the largest class s holds
	if c < 0 || c >= len(p.free) {
		return
	}
	size := cap(s) * recordBytes
	p.mu.Lock()
	if p.bytes+size <= maxFreeSlabBytes {
		p.free[c] = append(p.free[c], s[:0])
		p.bytes += size
	}
	p.mu.Unlock()
}
