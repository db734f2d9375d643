package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restguard/restguard/authz"
)

// StatsSource is a provider that reports statistics.
type StatsSource struct {
	Name, Kind string
	authz.StatsReporter
}

var (
	descCalls = prometheus.NewDesc("restguard_provider_calls_total",
		"Outbound validation calls by provider and outcome.", []string{"provider", "kind", "outcome"}, nil)
	descCache = prometheus.NewDesc("restguard_cache_events_total",
		"Token cache hits, misses and evictions by provider.", []string{"provider", "event"}, nil)
	descCacheSize = prometheus.NewDesc("restguard_cache_entries",
		"Entries in the provider's token cache.", []string{"provider"}, nil)
	descRefreshes = prometheus.NewDesc("restguard_jwks_refreshes_total",
		"JWKS fetches by provider and outcome.", []string{"provider", "outcome"}, nil)
	descKeys = prometheus.NewDesc("restguard_jwks_keys",
		"Usable keys in the provider's current key set.", []string{"provider"}, nil)
	descCallLatency = prometheus.NewDesc("restguard_provider_call_duration_seconds",
		"Latency of outbound validation calls by provider.", []string{"provider", "kind"}, nil)
)

type providerCollector struct {
	mu      sync.Mutex
	sources []StatsSource
}

func (c *providerCollector) set(ps []StatsSource) {
	c.mu.Lock()
	c.sources = ps
	c.mu.Unlock()
}

func (c *providerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCalls, descCache, descCacheSize, descRefreshes, descKeys, descCallLatency} {
		ch <- d
	}
}

func (c *providerCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := c.sources
	c.mu.Unlock()
	for _, s := range sources {
		name, st := s.Name, s.Stats()
		for outcome, n := range st.Calls {
			ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(n), name, s.Kind, outcome)
		}
		ch <- prometheus.MustNewConstMetric(descCache, prometheus.CounterValue, float64(st.CacheHits), name, "hit")
		ch <- prometheus.MustNewConstMetric(descCache, prometheus.CounterValue, float64(st.CacheMisses), name, "miss")
		ch <- prometheus.MustNewConstMetric(descCache, prometheus.CounterValue, float64(st.CacheEvictions), name, "eviction")
		ch <- prometheus.MustNewConstMetric(descCacheSize, prometheus.GaugeValue, float64(st.CacheSize), name)
		for outcome, n := range st.KeyRefreshes {
			ch <- prometheus.MustNewConstMetric(descRefreshes, prometheus.CounterValue, float64(n), name, outcome)
		}
		if h := st.CallLatency; len(h.Bounds) > 0 {
			buckets := make(map[float64]uint64, len(h.Bounds))
			for i, b := range h.Bounds {
				buckets[b] = h.Cumulative[i]
			}
			ch <- prometheus.MustNewConstHistogram(descCallLatency, h.Count, h.Sum, buckets, name, s.Kind)
		}
		if st.Keys >= 0 {
			ch <- prometheus.MustNewConstMetric(descKeys, prometheus.GaugeValue, float64(st.Keys), name)
		}
	}
}
