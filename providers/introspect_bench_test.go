package providers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkIntrospectionCacheHit is the remote-validation hot path: an
// opaque token the introspection endpoint answered before, served from the
// provider's cache (exp re-checked, identity copied).
func BenchmarkIntrospectionCacheHit(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"active": true, "client_id": "svc-jira", "exp": time.Now().Add(time.Hour).Unix(),
			"ext": map[string]any{"username": "alice", "groups": []string{"jira-users"}},
		})
	}))
	b.Cleanup(srv.Close)
	p, err := NewIntrospection(IntrospectionConfig{
		Name: "as", Endpoint: srv.URL + "/introspect", ClientID: "rs-jira", ClientSecret: "s", AllowAnyClient: true,
		Mapping: IdentityMapping{UsernameClaims: []string{"ext.username"}, GroupsClaim: "ext.groups"},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const token = "ory_at_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ.0123456789abcdef"
	if _, err := p.Validate(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if id, err := p.Validate(ctx, token); err != nil || !id.CacheHit {
			b.Fatalf("%v %+v", err, id)
		}
	}
}
