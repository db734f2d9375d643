package providers

import (
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/restguard/restguard/authz"
)

// callBuckets are the latency histogram bounds of outbound provider calls
// (seconds): a provider call inside Envoy's 200 ms budget, or an outage.
var callBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .2, .5, 1, 2.5, 5}

// callStats counts a provider's outbound calls in atomics: the request path
// pays a few atomic adds; the metrics code reads a snapshot at scrape time.
type callStats struct {
	ok, rejected, failed atomic.Uint64
	buckets              [12]atomic.Uint64 // one per callBuckets bound (not cumulative)
	sumNanos             atomic.Uint64
	count                atomic.Uint64
}

// record counts one call: "ok" for a 2xx answer, "rejected" for another
// complete answer (the provider refused the token or the client), "error"
// when no complete answer arrived (an outage).
func (s *callStats) record(status int, err error, d time.Duration) {
	if s == nil {
		return
	}
	switch {
	case err != nil:
		s.failed.Add(1)
	case status >= http.StatusOK && status < 300:
		s.ok.Add(1)
	default:
		s.rejected.Add(1)
	}
	secs := d.Seconds()
	for i, b := range callBuckets {
		if secs <= b {
			s.buckets[i].Add(1)
			break
		}
	}
	s.sumNanos.Add(uint64(max(d, 0)))
	s.count.Add(1)
}

// fill copies the counters into st.
func (s *callStats) fill(st *authz.ProviderStats) {
	st.Calls = map[string]uint64{"ok": s.ok.Load(), "rejected": s.rejected.Load(), "error": s.failed.Load()}
	st.CallLatency.Bounds = callBuckets
	st.CallLatency.Cumulative = make([]uint64, len(callBuckets))
	var run uint64
	for i := range callBuckets {
		run += s.buckets[i].Load()
		st.CallLatency.Cumulative[i] = run
	}
	st.CallLatency.Count = s.count.Load()
	st.CallLatency.Sum = float64(s.sumNanos.Load()) / float64(time.Second)
	if math.IsNaN(st.CallLatency.Sum) {
		st.CallLatency.Sum = 0
	}
}

// Kind is "introspection".
func (p *Introspection) Kind() string { return KindIntrospection }

// Stats reports the provider's calls and cache for metrics.
func (p *Introspection) Stats() authz.ProviderStats {
	st := authz.ProviderStats{Keys: -1}
	p.calls.fill(&st)
	p.cache.stats(&st)
	return st
}

// Kind is "userinfo".
func (u *Userinfo) Kind() string { return KindUserinfo }

// Stats reports the provider's calls (userinfo and app binding) and cache.
func (u *Userinfo) Stats() authz.ProviderStats {
	st := authz.ProviderStats{Keys: -1}
	u.calls.fill(&st)
	u.cache.stats(&st)
	return st
}

// Kind is "atlassian".
func (a *AtlassianTokens) Kind() string { return "atlassian" }

// Stats reports the product "who am I" calls.
func (a *AtlassianTokens) Stats() authz.ProviderStats {
	st := authz.ProviderStats{Keys: -1}
	a.calls.fill(&st)
	return st
}
