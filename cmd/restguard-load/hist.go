package main

import (
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram in nanoseconds: 128 linear
// sub-buckets per power of two, so any recorded value is reported within
// 0.8% of itself. Each worker owns one; they are merged after the run.
type hist struct {
	counts []uint64
	n      uint64
	max    int64
}

const (
	subBits    = 7
	subBuckets = 1 << subBits
	histSize   = (64 - subBits + 1) * subBuckets
)

func newHist() *hist { return &hist{counts: make([]uint64, histSize)} }

func bucketOf(v int64) int {
	if v < subBuckets {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - subBits - 1 // v>>e is in [128, 256)
	return (e+1)*subBuckets + int(v>>e) - subBuckets
}

// valueOf is the upper edge of bucket i.
func valueOf(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	e := i/subBuckets - 1
	m := int64(i%subBuckets + subBuckets)
	return (m+1)<<e - 1
}

func (h *hist) record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a share q of the samples lie.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(1, min(rank, h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(valueOf(i), h.max))
		}
	}
	return time.Duration(h.max)
}
