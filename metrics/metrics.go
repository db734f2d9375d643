// Package metrics exposes restguard's Prometheus metrics. It is the only
// package that imports client_golang. Decisions arrive through Observe
// (the engine's OnDecision hook); provider counters are read from
// authz.ProviderStats at scrape time (SetProviders); providers time their
// outbound calls into the histograms CallLatency hands to the build, as
// authz.Observer. Label values are bounded: verdicts, reasons, rule and
// provider names come from the configuration or from fixed sets, never
// from requests (no usernames, no paths).
package metrics

import (
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/restguard/restguard/authz"
)

// Metrics holds restguard's collectors on their own registry (no global
// state).
type Metrics struct {
	reg         *prometheus.Registry
	decisions   *prometheus.CounterVec
	dryRun      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	reloads     *prometheus.CounterVec
	lastReload  prometheus.Gauge
	ready       prometheus.Gauge
	providers   *providerCollector
	callLatency *callLatency
	reloadClock func() time.Time
	sharedOnce  sync.Once // SetSharedCache registers once
	logDropped  atomic.Pointer[func() uint64]

	decisionSeries sync.Map // decisionKey -> prometheus.Counter
	durationSeries sync.Map // authz.Verdict -> prometheus.Observer
}

// CheckBuckets span 50 µs to 1 s: a cached JWT check takes microseconds, a
// remote validation tens of milliseconds, Envoy gives up at 200 ms.
var CheckBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .2, .5, 1}

// New creates the metrics of one process.
func New(version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "restguard_decisions_total",
			Help: "Authorization decisions by verdict, reason, rule and provider.",
		}, []string{"verdict", "reason", "rule", "provider"}),
		dryRun: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "restguard_dry_run_denials_total",
			Help: "Requests a report-only rule would have denied, by the reason it would have given and rule.",
		}, []string{"reason", "rule"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "restguard_check_duration_seconds",
			Help:    "Time to decide one check, by verdict.",
			Buckets: CheckBuckets,
		}, []string{"verdict"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "restguard_config_reloads_total",
			Help: "Configuration loads by outcome (success, failure).",
		}, []string{"outcome"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "restguard_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "restguard_ready",
			Help: "1 when a configuration is loaded and every provider is warm.",
		}),
		providers:   &providerCollector{},
		callLatency: &callLatency{all: map[[2]string]prometheus.Histogram{}},
		reloadClock: time.Now,
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "restguard_build_info",
		Help: "Build information; the value is always 1.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "restguard_decision_log_dropped_total",
		Help: "Allowed-decision log lines dropped because the log buffer was full (its reader is slower than the lines come or has stalled).",
	}, func() float64 {
		if f := m.logDropped.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	m.reg.MustRegister(m.decisions, m.dryRun, m.duration, m.reloads, m.lastReload, m.ready, build, m.providers, m.callLatency, dropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Pre-create the reload series so that dashboards see zeros.
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	return m
}

// Observe records one decision. It is the Engine's OnDecision hook.
func (m *Metrics) Observe(_ *authz.Request, d *authz.Decision) {
	k := decisionKey{d.Verdict, d.Reason, d.Rule, d.Provider}
	c, ok := m.decisionSeries.Load(k)
	if !ok {
		c, _ = m.decisionSeries.LoadOrStore(k, m.decisions.WithLabelValues(d.Verdict.String(), string(d.Reason), d.Rule, d.Provider))
	}
	c.(prometheus.Counter).Inc()
	if d.DryRun {
		m.dryRun.WithLabelValues(string(d.DryRunReason), d.Rule).Inc()
	}
	o, ok := m.durationSeries.Load(d.Verdict)
	if !ok {
		o, _ = m.durationSeries.LoadOrStore(d.Verdict, m.duration.WithLabelValues(d.Verdict.String()))
	}
	o.(prometheus.Observer).Observe(d.Duration.Seconds())
}

// decisionKey names one restguard_decisions_total series. The series of
// each key seen are kept (Observe runs on every check; WithLabelValues
// hashes and validates its labels each time): their number is bounded by
// the configuration, as the labels are.
type decisionKey struct {
	verdict        authz.Verdict
	reason         authz.Reason
	rule, provider string
}

// Reloaded records a configuration load.
func (m *Metrics) Reloaded(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.lastReload.Set(float64(m.reloadClock().UnixNano()) / 1e9)
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
}

// SetLogDropped sets the source of restguard_decision_log_dropped_total
// (logbuf.Writer.Dropped).
func (m *Metrics) SetLogDropped(f func() uint64) { m.logDropped.Store(&f) }

// SetReady records readiness.
func (m *Metrics) SetReady(ready bool) {
	if ready {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}

// SetProviders replaces the provider statistics sources (after a reload),
// and with them the call-latency histograms exported.
func (m *Metrics) SetProviders(ps []StatsSource) {
	m.providers.set(ps)
	m.callLatency.install(ps)
}

// CallLatency returns the histogram of the outbound calls of the provider
// with this name and kind (restguard_provider_call_duration_seconds,
// CallBuckets), for its RemoteOptions.CallLatency. It is exported once
// SetProviders installs the provider.
func (m *Metrics) CallLatency(provider, kind string) authz.Observer {
	return m.callLatency.observer(provider, kind)
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the underlying registry (tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }
