package authz_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"testing"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/internal/idptest"
)

// The engine benchmarks build the engine exactly as `restguard serve` does
// (config.Parse + config.Build) against a real HTTP identity provider, so
// that the figures in docs/performance.md are those of the production
// path. Compare runs with benchstat:
//
//	go test -run '^$' -bench . -count 10 ./authz > new.txt

// benchConfig is a realistic Jira configuration: a public route, the REST
// API with Basic blocking, a group rule and an IP rule, then a catch-all.
// cacheSize 0 keeps the default size.
func benchConfig(issuer string, cacheSize int) string {
	cache := ""
	if cacheSize > 0 {
		cache = fmt.Sprintf("\n    cache: {size: %d}", cacheSize)
	}
	return fmt.Sprintf(`
realm: jira
providers:
  - name: corp
    issuer: %s
    audiences: [%s]
    username: {claims: [preferred_username, sub], lowercase: true}
    groups: {claim: groups}%s
rules:
  - name: public
    paths: ["/status", "/s/**"]
    action: pass
    block_basic: {enabled: true}
  - name: rest-api
    paths: ["/rest/**"]
    authenticate: [corp]
    block_basic: {enabled: true, allow_users: [svc-backup]}
    groups: {any_of: [jira-api-users, jira-administrators]}
    ip: {allow: ["10.0.0.0/8", "127.0.0.0/8"]}
default:
  action: deny
  block_basic: {enabled: true}
upstream:
  groups_header: X-Forwarded-Groups
`, issuer, idptest.Audience, cache)
}

// benchEngine builds and warms an engine for p. logger nil: the decision
// log is off (a discarding handler, as in config.Build's default).
func benchEngine(b *testing.B, p *idptest.IdP, cacheSize int, logger *slog.Logger) *authz.Engine {
	b.Helper()
	c, err := config.Parse("bench.yaml", []byte(benchConfig(p.Issuer, cacheSize)))
	if err != nil {
		b.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	return rt.Engine
}

// benchRequest is what envoy.ToRequest produces for a typical Jira REST
// call through Envoy: a dozen headers, the bearer token among them.
func benchRequest(token string) *authz.Request {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "jira-cli/3.1")
	h.Set("X-Forwarded-Proto", "https")
	h.Set("X-Request-Id", "5f0c8a3e-8d7b-4b1e-9a55-0d5c2e3f4a6b")
	h.Set("X-Envoy-Expected-Rq-Timeout-Ms", "15000")
	h.Set("Content-Length", "0")
	return &authz.Request{
		ID:     "5f0c8a3e-8d7b-4b1e-9a55-0d5c2e3f4a6b",
		Method: "GET",
		Host:   "jira.example.com",
		Path:   "/rest/api/2/issue/PROJ-123",
		Query:  "fields=summary",
		Header: h,
		Source: netip.MustParseAddr("10.1.2.3"),
	}
}

var benchClaims = map[string]any{
	"preferred_username": "alice",
	"email":              "alice@example.com",
	"groups":             []string{"jira-api-users", "employees", "confluence-users"},
}

// BenchmarkEngineCheckCached is the hot path: a token seen before, found
// in the verified-token cache. Decision log off.
func BenchmarkEngineCheckCached(b *testing.B) {
	p := idptest.New(b)
	eng := benchEngine(b, p, 0, nil)
	benchCached(b, eng, p)
}

// BenchmarkEngineCheckCachedAssertion is the hot path of a deployment that
// signs identity assertions (issue 14): the cached check plus one signed
// ES256 assertion per allow, bound to the request.
func BenchmarkEngineCheckCachedAssertion(b *testing.B) {
	p := idptest.New(b)
	cfg := benchConfig(p.Issuer, 0) + `
assertion:
  issuer: restguard-bench
  key_file: ../examples/compose/keys/demo-assertion-key.pem
  audience: https://jira.example.com
`
	c, err := config.Parse("bench.yaml", []byte(cfg))
	if err != nil {
		b.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	req := benchRequest(p.Mint(b, benchClaims))
	if d := rt.Engine.Check(context.Background(), req); d.AssertionID == "" {
		b.Fatalf("no assertion signed: %s %s", d.Verdict, d.Reason)
	}
	benchCached(b, rt.Engine, p)
}

// BenchmarkEngineCheckCachedJSONLog is the hot path with the production
// decision log (JSON, Info) written to io.Discard.
func BenchmarkEngineCheckCachedJSONLog(b *testing.B) {
	p := idptest.New(b)
	eng := benchEngine(b, p, 0, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	benchCached(b, eng, p)
}

func benchCached(b *testing.B, eng *authz.Engine, p *idptest.IdP) {
	req := benchRequest(p.Mint(b, benchClaims))
	ctx := context.Background()
	if d := eng.Check(ctx, req); d.Verdict != authz.Allow || d.Reason != authz.ReasonAuthenticated {
		b.Fatalf("warm-up: got %s %s (%s), want an allow", d.Verdict, d.Reason, d.Detail)
	}
	b.ReportAllocs()
	for b.Loop() {
		d := eng.Check(ctx, req)
		if d.Verdict != authz.Allow {
			b.Fatalf("got %s %s", d.Verdict, d.Reason)
		}
	}
}

// coldPool is the number of distinct tokens cycled through by the cold
// benchmarks; the cache holds half of them, so every check misses, verifies
// the signature and adds (and evicts) a cache entry, as with a stream of
// new tokens.
const coldPool = 512

// BenchmarkEngineCheckColdRS256: every token new (RS256, 2048-bit key).
func BenchmarkEngineCheckColdRS256(b *testing.B) {
	p := idptest.New(b)
	benchCold(b, p, func(c map[string]any) string { return p.Mint(b, c) })
}

// BenchmarkEngineCheckColdES256: every token new (ES256, P-256).
func BenchmarkEngineCheckColdES256(b *testing.B) {
	p := idptest.New(b)
	benchCold(b, p, func(c map[string]any) string { return p.MintES256(b, c) })
}

func benchCold(b *testing.B, p *idptest.IdP, mint func(map[string]any) string) {
	eng := benchEngine(b, p, coldPool/2, nil)
	reqs := make([]*authz.Request, coldPool)
	for i := range reqs {
		c := map[string]any{"jti": fmt.Sprint("bench-", i)} // RS256 signatures are deterministic
		for k, v := range benchClaims {
			c[k] = v
		}
		reqs[i] = benchRequest(mint(c))
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d := eng.Check(ctx, reqs[i%coldPool])
		if d.Verdict != authz.Allow {
			b.Fatalf("got %s %s (%s)", d.Verdict, d.Reason, d.Detail)
		}
		i++
	}
}
