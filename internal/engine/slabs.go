package engine

import (
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordSlabs recycles the slices franz-go decodes fetched records into (a
// kgo.PoolRecords). A thread copies each fetched record into its queue and
// recycles it at once, so that a batch's slice is reused as soon as the
// batch is queued instead of becoming garbage: decoding the input was the
// largest allocation of a stateless application. Slices are kept by
// capacity, in powers of two, at most maxFreeSlabs of each; unlike a
// sync.Pool, a garbage collection does not empty the lists, so reuse does
// not depend on how often the heap is collected. It is safe for concurrent
// use.
type recordSlabs struct {
	classes [32]slabClass
}

type slabClass struct {
	mu   sync.Mutex
	free [][]kgo.Record
}

// maxFreeSlabs bounds the free slices of one capacity: about what a fetch
// in flight and a fetch being queued hold (a batch per partition each).
const maxFreeSlabs = 16

// GetRecords implements kgo.PoolRecords.
func (p *recordSlabs) GetRecords(n int) []kgo.Record {
	if n <= 0 {
		return nil
	}
	c := bits.Len(uint(n - 1)) // the smallest class that holds n
	if c >= len(p.classes) {
		return make([]kgo.Record, 0, n)
	}
	cl := &p.classes[c]
	cl.mu.Lock()
	if k := len(cl.free); k > 0 {
		s := cl.free[k-1]
		cl.free[k-1] = nil
		cl.free = cl.free[:k-1]
		cl.mu.Unlock()
		return s
	}
	cl.mu.Unlock()
	return make([]kgo.Record, 0, 1<<c)
}

// PutRecords implements kgo.PoolRecords.
func (p *recordSlabs) PutRecords(s []kgo.Record) {
	c := bits.Len(uint(cap(s))) - 1 // the largest class s holds
	if c < 0 || c >= len(p.classes) {
		return
	}
	cl := &p.classes[c]
	cl.mu.Lock()
	if len(cl.free) < maxFreeSlabs {
		cl.free = append(cl.free, s[:0])
	}
	cl.mu.Unlock()
}
