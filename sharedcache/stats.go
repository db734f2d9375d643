package sharedcache

// Stats are the shared cache's counters since New, for the metrics package
// to export (this package imports no metrics library).
type Stats struct {
	Hits   uint64 // Get found a value that opened with the token
	Misses uint64 // Get found nothing usable (Rejected included)
	// Rejected: Get found a value that did not open (another fleet secret,
	// tampering, an expired or replayed value). Also counted in Misses.
	Rejected uint64
	Errors   uint64 // calls Redis refused or failed (timeouts excluded)
	Timeouts uint64 // calls that hit the call timeout or the caller's deadline
	// ShortCircuited: calls refused at once because the circuit was open.
	ShortCircuited uint64
	Breaker        BreakerState // now
	BreakerOpens   uint64       // times the circuit opened

	Published    uint64 // revocations this process published
	Received     uint64 // revocations received (its own included)
	Ignored      uint64 // messages on the channel dropped as malformed or unauthenticated
	Resubscribed uint64 // (re)established subscriptions, i.e. Resync events
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	state, opens := c.br.snapshot()
	return Stats{
		Hits:           c.st.hits.Load(),
		Misses:         c.st.misses.Load(),
		Rejected:       c.st.rejected.Load(),
		Errors:         c.st.errors.Load(),
		Timeouts:       c.st.timeouts.Load(),
		ShortCircuited: c.st.shortCircuited.Load(),
		Breaker:        state,
		BreakerOpens:   opens,
		Published:      c.st.published.Load(),
		Received:       c.st.received.Load(),
		Ignored:        c.st.ignored.Load(),
		Resubscribed:   c.st.resubscribed.Load(),
	}
}
