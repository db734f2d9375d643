package sharedcache

import (
	"sync"
	"time"
)

// BreakerState is the circuit breaker's state, as Stats reports it.
type BreakerState string

// Breaker states.
const (
	// BreakerClosed: calls go to Redis.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen: calls fail at once with ErrCircuitOpen, without touching
	// Redis, until the open period ends.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen: the open period ended and one call (the probe) is
	// on its way to Redis; the others still fail at once.
	BreakerHalfOpen BreakerState = "half_open"
)

type outcome int

const (
	success outcome = iota // Redis answered (a missing key is an answer)
	failure                // Redis did not answer in time, refused, or said an error
	neutral                // the caller gave up first: says nothing about Redis
)

// breaker turns a Redis outage into one bounded failure per open period
// instead of one timeout per check: after threshold consecutive failures
// it opens for an interval, then lets a single probe through; a failed
// probe doubles the interval (up to max), a good one closes the circuit.
// It is safe for concurrent use.
type breaker struct {
	mu        sync.Mutex
	state     BreakerState
	failures  int
	threshold int
	base, max time.Duration
	wait      time.Duration // the current open period
	retryAt   time.Time
	opens     uint64
	now       func() time.Time
	changed   func(e breakerEvent, wait time.Duration) // called without the lock held
}

type breakerEvent int

const (
	breakerOpened breakerEvent = iota
	breakerClosed
	probeFailed
)

func newBreaker(threshold int, base, max time.Duration, now func() time.Time) *breaker {
	return &breaker{state: BreakerClosed, threshold: threshold, base: base, max: max, wait: base, now: now}
}

// allow says whether a call may go to Redis; probe is true for the single
// half-open probe, whose outcome must be reported with probe set.
func (b *breaker) allow() (probe, ok bool) {
	b.mu.Lock()
	switch b.state {
	case BreakerClosed:
		b.mu.Unlock()
		return false, true
	case BreakerOpen:
		if b.now().Before(b.retryAt) {
			b.mu.Unlock()
			return false, false
		}
		b.state = BreakerHalfOpen
		b.mu.Unlock()
		return true, true
	default: // half-open: the probe is out
		b.mu.Unlock()
		return false, false
	}
}

// done reports the outcome of a call that allow let through.
func (b *breaker) done(probe bool, o outcome) {
	b.mu.Lock()
	from := b.state
	switch {
	case probe && o == success:
		b.state, b.failures, b.wait = BreakerClosed, 0, b.base
	case probe && o == failure:
		b.wait = min(2*b.wait, b.max)
		b.state, b.retryAt = BreakerOpen, b.now().Add(b.wait)
	case probe: // neutral: the next call probes instead
		b.state, b.retryAt = BreakerOpen, b.now()
	case b.state != BreakerClosed:
		// A call that started before the circuit opened: the probe decides.
	case o == success:
		b.failures = 0
	case o == failure:
		b.failures++
		if b.failures >= b.threshold {
			b.state, b.wait = BreakerOpen, b.base
			b.retryAt = b.now().Add(b.wait)
			b.opens++
		}
	}
	to, wait := b.state, b.wait
	b.mu.Unlock()
	if b.changed == nil {
		return
	}
	switch {
	case from == BreakerClosed && to == BreakerOpen:
		b.changed(breakerOpened, wait)
	case from != BreakerClosed && to == BreakerClosed:
		b.changed(breakerClosed, 0)
	case probe && o == failure:
		b.changed(probeFailed, wait)
	}
}

func (b *breaker) snapshot() (BreakerState, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, b.opens
}
