package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsRoundTrip(t *testing.T) {
	prevHi := int64(-1)
	for b := 0; b < (64-histSubBits)<<histSubBits; b++ { // every bucket of a non-negative int64
		lo, hi := bucketBounds(b)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", b, lo, prevHi)
		}
		if bucketOf(lo) != b || bucketOf(hi) != b {
			t.Fatalf("bucket %d [%d,%d]: bucketOf gives %d, %d", b, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= 1<<histSubBits && float64(hi-lo)/float64(lo) > 1.0/(1<<histSubBits) {
			t.Fatalf("bucket %d [%d,%d] too wide", b, lo, hi)
		}
		prevHi = hi
	}
}

func TestQuantilesAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Hist
	var vals []int64
	for range 200000 {
		v := int64(r.ExpFloat64() * 5000) // µs
		if r.IntN(1000) == 0 {
			v *= 100
		}
		vals = append(vals, v)
		h.RecordMicros(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q).Microseconds()
		if got < exact || float64(got-exact) > float64(exact)/(1<<histSubBits)+1 {
			t.Errorf("q%v: got %d µs, exact %d µs", q, got, exact)
		}
	}
	if h.Max() != time.Duration(vals[len(vals)-1])*time.Microsecond {
		t.Errorf("max %v", h.Max())
	}
	var m Hist
	m.Merge(&h)
	m.Merge(&h)
	if m.Count() != 2*h.Count() || m.Quantile(0.5) != h.Quantile(0.5) {
		t.Errorf("merge: %d %v %v", m.Count(), m.Quantile(0.5), h.Quantile(0.5))
	}
}
