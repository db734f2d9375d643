package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// phase describes one measured stretch of load.
type phase struct {
	concurrency int           // workers (requests in flight at most)
	conns       int           // connections the workers share
	duration    time.Duration // stop sending after this long
	requests    int64         // and after this many requests (0: no limit)
	rate        float64       // requests per second; 0: closed loop, as fast as answers come
	timeout     time.Duration // per request (0: none)
}

// measured is what a phase produced.
type measured struct {
	sent    int64
	elapsed time.Duration
	hist    *hist
	counts  map[string]int64
}

// runPhase drives t over slots until the duration or the request count is
// reached, then waits for the requests in flight. In closed-loop mode each
// worker sends its next request when the previous answer arrives, and the
// latency is the round trip. In fixed-rate mode a scheduler releases
// requests at their planned times and the latency runs from the planned
// time, so a server that falls behind is charged for the queue it causes
// (no coordinated omission). ctx aborts everything at once.
func runPhase(ctx context.Context, t transport, nslots int, p phase, next *atomic.Uint64) measured {
	var (
		stop    atomic.Bool
		tickets atomic.Int64
		wg      sync.WaitGroup
	)
	claim := func() bool {
		if stop.Load() || ctx.Err() != nil {
			return false
		}
		return p.requests <= 0 || tickets.Add(1) <= p.requests
	}
	hists := make([]*hist, p.concurrency)
	counts := make([]map[string]int64, p.concurrency)
	var sched chan time.Time
	if p.rate > 0 {
		sched = make(chan time.Time, p.concurrency)
	}
	start := time.Now()
	deadline := time.AfterFunc(p.duration, func() { stop.Store(true) })
	defer deadline.Stop()

	for w := range p.concurrency {
		h, c := newHist(), map[string]int64{}
		hists[w], counts[w] = h, c
		wg.Go(func() {
			send := func(planned time.Time) {
				i := int(next.Add(1)-1) % nslots
				rctx, cancel := ctx, context.CancelFunc(nil)
				if p.timeout > 0 {
					rctx, cancel = context.WithTimeout(ctx, p.timeout)
				}
				o, err := t.do(rctx, w%p.conns, i)
				if cancel != nil {
					cancel()
				}
				h.record(time.Since(planned))
				if err != nil {
					c[errorKey(err)]++
					return
				}
				c[o.String()]++
			}
			if sched == nil {
				for claim() {
					send(time.Now())
				}
				return
			}
			for planned := range sched {
				if ctx.Err() != nil {
					continue // drain
				}
				send(planned)
			}
		})
	}
	if sched != nil {
		schedule(ctx, sched, start, p.rate, claim)
		close(sched)
	}
	wg.Wait()
	m := measured{elapsed: time.Since(start), hist: newHist(), counts: map[string]int64{}}
	for w := range p.concurrency {
		m.hist.merge(hists[w])
		for k, v := range counts[w] {
			m.counts[k] += v
			m.sent += v
		}
	}
	return m
}

// schedule releases request i at start + i/rate until claim refuses.
//
// Timers on a busy (virtual) machine fire up to a millisecond late, so
// requests come out in small batches; each is stamped with the later of
// its planned time and the moment the scheduler woke up, which keeps the
// scheduler's own lateness out of the latency. When every worker is busy
// the send blocks, later requests keep their planned times, and the wait
// is charged to the server (no coordinated omission).
func schedule(ctx context.Context, sched chan<- time.Time, start time.Time, rate float64, claim func() bool) {
	interval := time.Duration(float64(time.Second) / rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	wake := start
	for i := int64(0); ; i++ {
		planned := start.Add(time.Duration(i) * interval)
		if wait := time.Until(planned); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
			wake = time.Now()
		}
		if !claim() {
			return
		}
		stamp := planned
		if wake.After(stamp) {
			stamp = wake
		}
		select {
		case sched <- stamp:
		case <-ctx.Done():
			return
		}
	}
}
