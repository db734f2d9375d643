package authz

// ProviderStats is a snapshot of one provider's operational counters, the
// shared vocabulary between providers (which count in atomics on the
// request path) and the metrics code (which reads them at scrape time).
// Call latency is not here: providers observe it into an Observer the
// metrics code supplies.
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
}

// Observer records observations of a value, such as a call's duration in
// seconds. A prometheus.Histogram satisfies it, so that providers can
// feed the metrics code's histograms without importing client_golang.
// Implementations are safe for concurrent use; where an Observer is
// optional, nil means nothing is observed.
type Observer interface {
	Observe(float64)
}

// StatsReporter is implemented by providers that report statistics.
type StatsReporter interface {
	Stats() ProviderStats
}
