package config_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/authz/config"
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
