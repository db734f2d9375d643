package authz

// ProviderStats is a snapshot of one provider's operational counters, the
// shared vocabulary between providers (which count in atomics on the
// request path) and the metrics code (which reads them at scrape time).
type ProviderStats struct {
	// Calls counts outbound validation calls by outcome: "ok", "invalid",
	// "error".
	Calls map[string]uint64
	// Token cache counters.
	CacheHits, CacheMisses, CacheEvictions uint64
	CacheSize                              int
	// KeyRefreshes counts JWKS fetches by outcome: "ok", "error".
	KeyRefreshes map[string]uint64
	// Keys is the number of usable keys; -1 when the provider has none by
	// nature (not a JWKS provider).
	Keys int
	// CallLatency is the latency histogram of outbound calls.
	CallLatency Histogram
}

// Histogram is a latency histogram snapshot in Prometheus form.
type Histogram struct {
	Bounds     []float64 // upper bounds, seconds
	Cumulative []uint64  // observations <= each bound
	Count      uint64
	Sum        float64 // seconds
}

// StatsReporter is implemented by providers that report statistics.
type StatsReporter interface {
	Stats() ProviderStats
}
