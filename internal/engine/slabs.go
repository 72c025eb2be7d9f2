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
// largest allocation of a stateless application. Slices are pooled by
// capacity, in powers of two. It is safe for concurrent use.
type recordSlabs struct {
	classes [32]sync.Pool
}

// GetRecords implements kgo.PoolRecords.
func (p *recordSlabs) GetRecords(n int) []kgo.Record {
	if n <= 0 {
		return nil
	}
	c := bits.Len(uint(n - 1)) // the smallest class that holds n
	if c >= len(p.classes) {
		return make([]kgo.Record, 0, n)
	}
	if s, ok := p.classes[c].Get().(*[]kgo.Record); ok {
		return (*s)[:0]
	}
	return make([]kgo.Record, 0, 1<<c)
}

// PutRecords implements kgo.PoolRecords.
func (p *recordSlabs) PutRecords(s []kgo.Record) {
	c := bits.Len(uint(cap(s))) - 1 // the largest class s holds
	if c < 0 || c >= len(p.classes) {
		return
	}
	s = s[:0]
	p.classes[c].Put(&s)
}
