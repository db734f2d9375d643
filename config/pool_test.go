package config_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/internal/idptest"
)

// install builds yaml with pool and installs it as serve does: start,
// warm, retain.
func install(t *testing.T, ctx context.Context, pool *config.Pool, yaml string) *config.Runtime {
	t.Helper()
	c, err := config.Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	rt.Start(ctx)
	if err := rt.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	pool.Retain(rt)
	return rt
}

func checkOn(e *authz.Engine, host, token string) authz.Decision {
	req := &authz.Request{ID: "t", Method: "GET", Host: host, Path: "/rest/api/2/myself",
		Header: http.Header{"Authorization": {"Bearer " + token}}, Source: netip.MustParseAddr("10.1.2.3")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return e.Check(ctx, req)
}

func wantDecision(t *testing.T, d authz.Decision, allow bool, reason authz.Reason) {
	t.Helper()
	if (d.Verdict == authz.Allow) != allow || d.Reason != reason {
		t.Errorf("got %s %s (%s), want allow=%v %s", d.Verdict, d.Reason, d.Detail, allow, reason)
	}
}

const twoAudiences = `
providers:
  - {name: jira, issuer: %[1]q, audiences: [%[2]s]}
  - {name: wiki, issuer: %[1]q, audiences: [wiki]}
rules:
  - {name: jira, hosts: [jira.example.test], paths: ["/rest/**"], authenticate: [jira]}
  - {name: wiki, hosts: [wiki.example.test], paths: ["/rest/**"], authenticate: [wiki]}
`

// TestOneKeySetPerIssuerAcrossReloads: providers of one issuer share one
// key set within a configuration, and a reload that changes a provider
// keeps the key set: no fetch at startup beyond the first, none at reload
// (seams item 17). A key set no provider uses any more is dropped.
func TestOneKeySetPerIssuerAcrossReloads(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := config.NewPool(ctx)

	rt := install(t, ctx, pool, fmt.Sprintf(twoAudiences, idp.Issuer, "restguard"))
	if n := idp.JWKSHits(); n != 1 || pool.KeySets() != 1 {
		t.Fatalf("%d fetches and %d pooled key sets for two providers of one issuer, want 1 and 1", n, pool.KeySets())
	}
	forJira, forWiki := idp.Mint(t, nil), idp.Mint(t, map[string]any{"aud": "wiki"})
	wantDecision(t, checkOn(rt.Engine, "jira.example.test", forJira), true, authz.ReasonAuthenticated)
	wantDecision(t, checkOn(rt.Engine, "wiki.example.test", forWiki), true, authz.ReasonAuthenticated)

	// jira's audiences change: a new provider, the same key set.
	rt = install(t, ctx, pool, fmt.Sprintf(twoAudiences, idp.Issuer, "jira"))
	if n := idp.JWKSHits(); n != 1 {
		t.Fatalf("the reload fetched the key set again: %d fetches", n)
	}
	wantDecision(t, checkOn(rt.Engine, "jira.example.test", forJira), false, authz.ReasonAudienceMismatch)
	wantDecision(t, checkOn(rt.Engine, "wiki.example.test", forWiki), true, authz.ReasonAuthenticated)

	// Another issuer only: the first key set is released.
	other := idptest.New(t)
	install(t, ctx, pool, fmt.Sprintf(twoAudiences, other.Issuer, "jira"))
	if pool.KeySets() != 1 || other.JWKSHits() != 1 || idp.JWKSHits() != 1 {
		t.Fatalf("%d pooled key sets, fetches %d (new) and %d (old), want 1, 1 and 1", pool.KeySets(), other.JWKSHits(), idp.JWKSHits())
	}
}

// TestKeySetsDifferWhenFetchSettingsDiffer: one issuer with different
// jwks settings gets a key set per setting: each keeps its own interval.
func TestKeySetsDifferWhenFetchSettingsDiffer(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t)
	c, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`
providers:
  - {name: a, issuer: %[1]q, audiences: [restguard]}
  - {name: b, issuer: %[1]q, audiences: [restguard], jwks: {refresh_interval: 1m}}
  - {name: c, issuer: %[1]q, audiences: [wiki], jwks: {refresh_interval: 1m}}
rules: [{name: api, paths: ["/rest/**"], authenticate: [a, b, c]}]
`, idp.Issuer)))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := idp.JWKSHits(); n != 2 {
		t.Fatalf("%d fetches, want 2 (a alone; b and c shared)", n)
	}
}

// validatorOf is the validator of the named provider in rt.
func validatorOf(t *testing.T, rt *config.Runtime, name string) authz.Validator {
	t.Helper()
	for _, bp := range rt.Providers {
		if bp.Name == name {
			return bp.Validator
		}
	}
	t.Fatalf("no provider %q", name)
	return nil
}

const anchored = `
providers:
  - name: wiki
    issuer: %[1]q
    audiences: &auds %[2]s
  - name: api
    issuer: %[1]q
    audiences: *auds
  - {name: other, issuer: %[1]q, audiences: [restguard], cache: {size: 50}}
rules:
  - {name: wiki, hosts: [wiki.example.test], paths: ["/rest/**"], authenticate: [wiki]}
  - {name: other, hosts: [other.example.test], paths: ["/rest/**"], authenticate: [other]}
  - {name: api, hosts: [jira.example.test], paths: ["/rest/**"], authenticate: [api]}
`

// TestReloadRevokesAudienceRemovedFromAnchor: a reload reuses a provider
// only when its decoded configuration is unchanged. It used to compare the
// YAML text of the provider's node, where "audiences: *auds" prints the
// same whatever the anchor holds: an audience removed from the anchor was
// still accepted after "configuration reloaded" (seams item 18).
func TestReloadRevokesAudienceRemovedFromAnchor(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := config.NewPool(ctx)
	rt1 := install(t, ctx, pool, fmt.Sprintf(anchored, idp.Issuer, "[restguard, wiki]"))
	tok := idp.Mint(t, nil) // aud restguard
	wantDecision(t, checkOn(rt1.Engine, "jira.example.test", tok), true, authz.ReasonAuthenticated)

	rt2 := install(t, ctx, pool, fmt.Sprintf(anchored, idp.Issuer, "[wiki]"))
	wantDecision(t, checkOn(rt2.Engine, "jira.example.test", tok), false, authz.ReasonAudienceMismatch)
	wantDecision(t, checkOn(rt2.Engine, "wiki.example.test", tok), false, authz.ReasonAudienceMismatch)
	wantDecision(t, checkOn(rt2.Engine, "other.example.test", tok), true, authz.ReasonAuthenticated)
	if validatorOf(t, rt2, "api") == validatorOf(t, rt1, "api") {
		t.Error("the provider whose anchored audiences changed was reused")
	}
	if validatorOf(t, rt2, "other") != validatorOf(t, rt1, "other") {
		t.Error("the unchanged provider was rebuilt")
	}
	if n := idp.JWKSHits(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1: the reload keeps the key set", n)
	}
}

// TestReloadRereadsChangedSecret: a remote provider is reused across a
// reload (with its cache) while its configuration and secret are
// unchanged, and rebuilt with the new secret when the secret file's
// content changed, even though the configuration text did not.
func TestReloadRereadsChangedSecret(t *testing.T) {
	t.Parallel()
	var password atomic.Value
	password.Store("first-secret")
	var calls atomic.Int64
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if _, p, _ := r.BasicAuth(); p != password.Load().(string) {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"active":true,"client_id":"jira-cli","username":"alice","exp":%d}`, time.Now().Add(time.Hour).Unix())
	}))
	t.Cleanup(as.Close)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("first-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`
check_timeout: 5s
providers:
  - name: p
    kind: introspection
    introspection: {endpoint: %q}
    client_id: restguard
    client_secret: {file: %q}
    client_ids: [jira-cli]
rules: [{name: api, paths: ["/rest/**"], authenticate: [p]}]
`, as.URL, secret)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := config.NewPool(ctx)
	rt1 := install(t, ctx, pool, yaml)
	wantDecision(t, check(rt1.Engine, "opaque-1"), true, authz.ReasonAuthenticated)

	rt2 := install(t, ctx, pool, yaml)
	if validatorOf(t, rt2, "p") != validatorOf(t, rt1, "p") {
		t.Error("an unchanged introspection provider was rebuilt")
	}
	if d := check(rt2.Engine, "opaque-1"); d.Verdict != authz.Allow || !d.Identity.CacheHit || calls.Load() != 1 {
		t.Errorf("after an unchanged reload: %s, cache hit %v, %d calls; want a cache hit and 1 call", d.Verdict, d.Identity != nil && d.Identity.CacheHit, calls.Load())
	}

	password.Store("second-secret")
	if err := os.WriteFile(secret, []byte("second-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rt3 := install(t, ctx, pool, yaml)
	if validatorOf(t, rt3, "p") == validatorOf(t, rt2, "p") {
		t.Fatal("the provider was reused although its secret changed")
	}
	wantDecision(t, check(rt3.Engine, "opaque-2"), true, authz.ReasonAuthenticated)
}
