package providers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/internal/idptest"
)

// TestDiscoveryDecidesJWTOrIntrospection: the custom preset's provider
// validates JWTs against the discovered jwks_uri and sends opaque tokens to
// the discovered introspection endpoint.
func TestDiscoveryDecidesJWTOrIntrospection(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t)
	clk := newClock()
	as := newFakeAS(t, activeFor(clk))
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "jwks_uri": idp.JWKSURL(), "introspection_endpoint": as.srv.URL + "/introspect"})
	}))
	t.Cleanup(srv.Close)
	d, err := NewDiscovery(DiscoveryConfig{
		JWT:           JWTConfig{Name: "c", Issuer: srv.URL, Audiences: []string{idptest.Audience}},
		Introspection: &IntrospectionConfig{Name: "c", ClientID: "rs", ClientSecret: "s", ClientIDs: []string{"svc-jira"}, Mapping: IdentityMapping{UsernameClaims: []string{"ext.username"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Validate(context.Background(), "opaque")
	wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable) // not discovered yet
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !d.Ready() {
		t.Fatal("not ready after refresh")
	}
	id, err := d.Validate(context.Background(), idp.Mint(t, map[string]any{"iss": srv.URL, "preferred_username": "bob"}))
	if err != nil || id.Username != "bob" || id.Via != "jwks" {
		t.Fatalf("jwt: %v %+v", err, id)
	}
	id, err = d.Validate(context.Background(), "opaque")
	if err != nil || id.Username != "alice" || id.Via != "introspection" {
		t.Fatalf("opaque: %v %+v", err, id)
	}
}
