package providers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// TestDiscoveryDocumentReadOncePerProvider: the key set and the provider's
// remote endpoints come from one discovery document, fetched once at
// startup; a provider built later on the same (pooled) key set, as after a
// reload, reads the document again.
func TestDiscoveryDocumentReadOncePerProvider(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t)
	cfg := DiscoveryConfig{JWT: JWTConfig{Name: "c", Issuer: idp.Issuer, Audiences: []string{idptest.Audience}}}
	d, err := NewDiscovery(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !d.Ready() || idp.DiscoveryHits() != 1 || idp.JWKSHits() != 1 {
		t.Fatalf("ready %v, discovery hits %d, jwks hits %d; want true, 1, 1", d.Ready(), idp.DiscoveryHits(), idp.JWKSHits())
	}
	cfg.JWT.KeySet = d.KeySet()
	again, err := NewDiscovery(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !again.Ready() || idp.DiscoveryHits() != 2 || idp.JWKSHits() != 1 {
		t.Fatalf("rebuilt: ready %v, discovery hits %d, jwks hits %d; want true, 2, 1", again.Ready(), idp.DiscoveryHits(), idp.JWKSHits())
	}
}

// TestDiscoveryDocumentStrict: one strict reading serves the key set and
// the endpoints, so an ambiguous document (two issuers) loads neither.
func TestDiscoveryDocumentStrict(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t)
	idp.SetDiscoveryFault(func(w http.ResponseWriter, _ *http.Request) bool {
		_, _ = w.Write([]byte(`{"issuer":"https://evil.example","issuer":` + strconv.Quote(idp.Issuer) + `,"jwks_uri":` + strconv.Quote(idp.JWKSURL()) + `}`))
		return true
	})
	d, err := NewDiscovery(DiscoveryConfig{JWT: JWTConfig{Name: "c", Issuer: idp.Issuer, Audiences: []string{idptest.Audience}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Refresh(context.Background()); err == nil || d.Ready() || d.Discovered() {
		t.Fatalf("ambiguous document accepted: %v", err)
	}
	if idp.JWKSHits() != 0 {
		t.Fatalf("%d jwks fetches from an ambiguous document", idp.JWKSHits())
	}
}
