package main

import (
	"math"
	"math/bits"
	"time"
)

// histSubBits sets the histogram's precision: every power of two is split
// into 2^histSubBits linear buckets, so a recorded value is known to within
// 1/2^histSubBits (0.8 %) of itself, as in an HDR histogram with 2-3
// significant digits.
const histSubBits = 7

// Hist is a log-linear histogram of non-negative durations, kept in
// microseconds. Values below 2^histSubBits µs are exact. It is not safe for
// concurrent use.
type Hist struct {
	counts []uint64
	n      uint64
	min    int64
	max    int64
	sum    float64
}

// bucketOf returns the bucket index of v ≥ 0.
func bucketOf(v int64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	// Shift v so that it has histSubBits+1 significant bits: the top bit
	// selects the power of two, the rest the linear sub-bucket.
	shift := bits.Len64(uint64(v)) - histSubBits - 1
	return (shift+1)<<histSubBits + int(v>>shift) - 1<<histSubBits
}

// bucketBounds returns the smallest and largest value of bucket b.
func bucketBounds(b int) (lo, hi int64) {
	if b < 1<<histSubBits {
		return int64(b), int64(b)
	}
	shift := b>>histSubBits - 1
	mant := int64(b&(1<<histSubBits-1) + 1<<histSubBits)
	lo = mant << shift
	return lo, lo + (int64(1)<<shift - 1)
}

// Record adds one duration; negative durations count as zero.
func (h *Hist) Record(d time.Duration) { h.RecordMicros(d.Microseconds()) }

// RecordMicros adds one value in microseconds.
func (h *Hist) RecordMicros(v int64) {
	if v < 0 {
		v = 0
	}
	b := bucketOf(v)
	if b >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, b+1-len(h.counts)+64)...)
	}
	h.counts[b]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Count returns the number of recorded values.
func (h *Hist) Count() uint64 { return h.n }

// Max returns the largest recorded value (exact).
func (h *Hist) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Mean returns the mean of the recorded values.
func (h *Hist) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/float64(h.n)) * time.Microsecond
}

// Quantile returns the value at quantile q (0 < q ≤ 1): the largest value of
// the bucket holding the ⌈q·n⌉-th smallest value, clamped to the exact
// minimum and maximum (HDR's "highest equivalent value").
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(b)
			return time.Duration(min(max(hi, h.min), h.max)) * time.Microsecond
		}
	}
	return h.Max()
}

// Merge adds o's values to h.
func (h *Hist) Merge(o *Hist) {
	if o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]uint64, len(o.counts)-len(h.counts))...)
	}
	for b, c := range o.counts {
		h.counts[b] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}
