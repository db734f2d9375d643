package providers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/internal/redistest"
)

// BenchmarkSharedCache measures what the shared cache (issue 15) costs
// and saves, in one run so that the ratios hold on a noisy machine
// (scripts/bench.sh prints them):
//
//   - in_process_hit/{off,on}: the cached path, without and with a shared
//     cache configured; the in-process cache answers first, so on ≈ off;
//   - redis_hit: an in-process miss that Redis answers (GET, open the
//     sealed value, decode), over the unix socket of a local redis-server;
//   - provider_call: no cache at all, one introspection call to a
//     loopback HTTP server: the cheapest a real provider call can be.
func BenchmarkSharedCache(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"active": true, "client_id": "svc-jira", "exp": time.Now().Add(time.Hour).Unix(),
			"ext": map[string]any{"username": "alice", "groups": []string{"jira-users"}},
		})
	}))
	b.Cleanup(srv.Close)
	newP := func(b *testing.B, shared SharedCache, size int) *Introspection {
		p, err := NewIntrospection(IntrospectionConfig{
			Name: "as", Endpoint: srv.URL + "/introspect", ClientID: "rs-jira", ClientSecret: "s", AllowAnyClient: true,
			Mapping: IdentityMapping{UsernameClaims: []string{"ext.username"}, GroupsClaim: "ext.groups"},
			Remote:  RemoteOptions{Shared: shared, CacheSize: size},
		})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	const token = "ory_at_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ.0123456789abcdef"
	hit := func(b *testing.B, p *Introspection, evict bool) {
		if _, err := p.Validate(ctx, token); err != nil {
			b.Fatal(err)
		}
		// The answer reaches Redis after it is handed back: wait for it.
		if s, ok := p.cache.results.(*sharedResults[*authz.Identity]); ok {
			s.pending.Wait()
		}
		b.ReportAllocs()
		for b.Loop() {
			if evict {
				p.Evict(Eviction{All: true})
			}
			if id, err := p.Validate(ctx, token); err != nil || !id.CacheHit {
				b.Fatalf("%v %+v", err, id)
			}
		}
	}
	b.Run("in_process_hit/off", func(b *testing.B) { hit(b, newP(b, nil, 0), false) })
	b.Run("provider_call", func(b *testing.B) {
		p := newP(b, nil, -1)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Validate(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	if !redistest.Available() {
		b.Log("redis-server not installed: the shared-cache cases are skipped")
		return
	}
	rs := redistest.Start(b, redistest.Options{})
	shared := func(b *testing.B) SharedCache {
		return fleetCacheB(b, rs)
	}
	b.Run("in_process_hit/on", func(b *testing.B) { hit(b, newP(b, shared(b), 0), false) })
	b.Run("redis_hit", func(b *testing.B) { hit(b, newP(b, shared(b), 0), true) })
	b.Run("evict_only", func(b *testing.B) {
		// What redis_hit spends on emptying the in-process cache each time,
		// to subtract.
		p := newP(b, nil, 0)
		b.ReportAllocs()
		for b.Loop() {
			p.Evict(Eviction{All: true})
		}
	})
}
