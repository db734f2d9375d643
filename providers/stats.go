package providers

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/restguard/restguard/authz"
)

// callStats counts a provider's outbound calls in atomics (the request
// path pays an atomic add; the metrics code reads them at scrape time) and
// hands each call's duration to the provider's latency observer, a
// Prometheus histogram supplied by the metrics code
// (RemoteOptions.CallLatency).
type callStats struct {
	ok, rejected, failed atomic.Uint64
	latency              authz.Observer // nil: durations are not observed
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
	if s.latency != nil {
		s.latency.Observe(d.Seconds())
	}
}

// fill copies the counters into st.
func (s *callStats) fill(st *authz.ProviderStats) {
	st.Calls = map[string]uint64{"ok": s.ok.Load(), "rejected": s.rejected.Load(), "error": s.failed.Load()}
}

// Kind is "introspection".
func (p *Introspection) Kind() string { return KindIntrospection }

// Stats reports the provider's calls and cache for metrics.
func (p *Introspection) Stats() authz.ProviderStats { return remoteStats(&p.calls, p.cache) }

// remoteStats reports a remote validator's calls and cache.
func remoteStats(calls *callStats, cache *remoteCache) authz.ProviderStats {
	st := authz.ProviderStats{Keys: -1}
	calls.fill(&st)
	cache.stats(&st)
	return st
}

// Kind is "userinfo".
func (u *Userinfo) Kind() string { return KindUserinfo }

// Stats reports the provider's calls (userinfo and app binding) and cache.
func (u *Userinfo) Stats() authz.ProviderStats { return remoteStats(&u.calls, u.cache) }

// Kind is "atlassian".
func (a *AtlassianTokens) Kind() string { return "atlassian" }

// Stats reports the product "who am I" calls.
func (a *AtlassianTokens) Stats() authz.ProviderStats {
	st := authz.ProviderStats{Keys: -1}
	a.calls.fill(&st)
	return st
}
