package metrics

import "github.com/prometheus/client_golang/prometheus"

// SharedCacheStats are the shared cache's counters (sharedcache.Stats,
// copied so that this package does not depend on the Redis client).
type SharedCacheStats struct {
	Hits, Misses, Rejected, Errors, Timeouts, ShortCircuited uint64
	// BreakerOpen is true while the circuit is open (or half open).
	BreakerOpen                                bool
	BreakerOpens                               uint64
	Published, Received, Ignored, Resubscribed uint64
}

// SetSharedCache exports the shared cache's counters, read at each scrape.
// A replica without a shared cache exports none of these series.
func (m *Metrics) SetSharedCache(stats func() SharedCacheStats) {
	c := &sharedCacheCollector{stats: stats}
	m.sharedOnce.Do(func() { m.reg.MustRegister(c) })
}

type sharedCacheCollector struct {
	stats func() SharedCacheStats // safe for concurrent use
}

var (
	sharedOps = prometheus.NewDesc("restguard_shared_cache_operations_total",
		"Shared cache (Redis) lookups and failures by result: hit, miss, rejected (a value that did not open: another fleet secret or tampering), error, timeout, short_circuited (refused at once, circuit open).",
		[]string{"result"}, nil)
	sharedBreaker = prometheus.NewDesc("restguard_shared_cache_circuit_open",
		"1 while the shared cache's circuit breaker is open: checks fall back to the in-process caches and the identity providers.", nil, nil)
	sharedOpens = prometheus.NewDesc("restguard_shared_cache_circuit_opens_total",
		"Times the shared cache's circuit breaker opened.", nil, nil)
	sharedRevocations = prometheus.NewDesc("restguard_shared_cache_revocations_total",
		"Revocation messages by event: published (by this replica), received (its own included), ignored (malformed or not signed with the fleet secret), resubscribed (the subscription was re-established; in-process caches were emptied).",
		[]string{"event"}, nil)
)

func (c *sharedCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sharedOps, sharedBreaker, sharedOpens, sharedRevocations} {
		ch <- d
	}
}

func (c *sharedCacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(sharedOps, st.Hits, "hit")
	counter(sharedOps, st.Misses, "miss")
	counter(sharedOps, st.Rejected, "rejected")
	counter(sharedOps, st.Errors, "error")
	counter(sharedOps, st.Timeouts, "timeout")
	counter(sharedOps, st.ShortCircuited, "short_circuited")
	open := 0.0
	if st.BreakerOpen {
		open = 1
	}
	ch <- prometheus.MustNewConstMetric(sharedBreaker, prometheus.GaugeValue, open)
	counter(sharedOpens, st.BreakerOpens)
	counter(sharedRevocations, st.Published, "published")
	counter(sharedRevocations, st.Received, "received")
	counter(sharedRevocations, st.Ignored, "ignored")
	counter(sharedRevocations, st.Resubscribed, "resubscribed")
}
