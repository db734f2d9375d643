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
)

// CallBuckets are the latency buckets of outbound provider calls
// (seconds): a provider call inside Envoy's 200 ms budget, or an outage.
var CallBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .2, .5, 1, 2.5, 5}

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
	for _, d := range []*prometheus.Desc{descCalls, descCache, descCacheSize, descRefreshes, descKeys} {
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
		if st.Keys >= 0 {
			ch <- prometheus.MustNewConstMetric(descKeys, prometheus.GaugeValue, float64(st.Keys), name)
		}
	}
}

// callLatency holds the latency histogram of each provider's outbound
// calls, one per provider name and kind. A build asks for its providers'
// histograms (Metrics.CallLatency); they are exported while a provider of
// that name and kind is installed (SetProviders), so a provider removed
// by a reload, or one of a build that failed, leaves no series behind. A
// provider kept across reloads keeps its histogram.
type callLatency struct {
	mu        sync.Mutex
	all       map[[2]string]prometheus.Histogram // by provider, kind
	installed []prometheus.Histogram
}

func (c *callLatency) observer(provider, kind string) prometheus.Histogram {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := [2]string{provider, kind}
	h := c.all[k]
	if h == nil {
		h = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "restguard_provider_call_duration_seconds",
			Help:        "Latency of outbound validation calls by provider.",
			Buckets:     CallBuckets,
			ConstLabels: prometheus.Labels{"provider": provider, "kind": kind},
		})
		c.all[k] = h
	}
	return h
}

// install exports the histograms of ps and forgets those of providers no
// longer installed (a build that later asks for one gets a new one).
func (c *callLatency) install(ps []StatsSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := map[[2]string]prometheus.Histogram{}
	c.installed = nil
	for _, s := range ps {
		k := [2]string{s.Name, s.Kind}
		if h := c.all[k]; h != nil {
			kept[k] = h
			c.installed = append(c.installed, h)
		}
	}
	c.all = kept
}

// Describe describes nothing: the series come and go with the
// configuration, so the registry checks them as an unchecked collector's
// (one family, consistent labels) instead.
func (c *callLatency) Describe(chan<- *prometheus.Desc) {}

func (c *callLatency) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	installed := c.installed
	c.mu.Unlock()
	for _, h := range installed {
		h.Collect(ch)
	}
}
