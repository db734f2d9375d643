package catalogue

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/idptest"
)

// TestAbuse floods one restguard (its own process, so that its memory is
// measured alone) with random-kid tokens, 4 MiB CheckRequests and many
// concurrent streams, while valid traffic keeps flowing: every valid
// request is allowed with its own user, every attack is refused, the IdP
// sees a bounded number of JWKS fetches and the RSS stays bounded.
func TestAbuse(t *testing.T) {
	idp, kx := idptest.New(t), idptest.New(t)
	p := startNoWait(t, fmt.Sprintf(`
listen: {grpc: "127.0.0.1:0", admin: "127.0.0.1:0"}
providers: [{name: a, issuer: %q, audiences: [%q], groups: {claim: groups}, cache: {size: 1000}}]
rules: [{name: api, paths: ["/rest/**"], authenticate: [a], block_basic: {enabled: true}}]
`, idp.Issuer, jiraAud))
	if !eventually(30*time.Second, func() bool { return readyz(p.Admin) == 200 }) {
		t.Fatalf("not ready:\n%s", p.Logs())
	}
	conns := make([]*envoy.Client, 8)
	for i := range conns {
		c, err := envoy.Dial(p.GRPC)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	rounds, workers := 24, 32
	if testing.Short() {
		rounds, workers = 12, 16
	}
	users := make([]string, 20)
	for i := range users {
		users[i] = idp.Mint(t, p0(idp.Issuer, map[string]any{"preferred_username": fmt.Sprintf("u%02d", i)}))
	}
	bigToken := "A" + repeat("b", 4<<20-64<<10) // just under grpc's 4 MiB message limit
	attacks := []func(i int) (string, int){
		func(i int) (string, int) { // random kid
			return kx.MintWithKey(t, "k-"+randHex(6), kx.RSAKey(), p0(idp.Issuer, nil)), 401
		},
		func(i int) (string, int) { return repeat(".", 60000), 401 },
		func(i int) (string, int) { return "x" + randHex(8), 401 },
		func(i int) (string, int) { // 4 MiB, one attack in four
			return bigToken, 401
		},
	}
	flood := func(round string) {
		hits0 := idp.JWKSHits()
		var wrong, allowed, refused atomic.Int64
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		total := int64(rounds * workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := &env{grpc: conns[w%len(conns)]}
				for {
					i := int(next.Add(1)) - 1
					if int64(i) >= total {
						return
					}
					if i%2 == 0 {
						u := (i / 2) % len(users)
						o := e.checkGRPC(t, mustReq(t, in{path: "/rest/api/2/myself", headers: hdrs(bearer(users[u]))}))
						if o.status != 200 || o.headers[userHeader] != fmt.Sprintf("u%02d", u) {
							wrong.Add(1)
						}
						allowed.Add(1)
						continue
					}
					tok, want := attacks[(i/2)%len(attacks)](i)
					o := e.checkGRPC(t, mustReq(t, in{path: "/rest/api/2/myself", headers: hdrs(bearer(tok))}))
					if o.status != want {
						wrong.Add(1)
					}
					refused.Add(1)
				}
			}()
		}
		wg.Wait()
		hits := idp.JWKSHits() - hits0
		t.Logf("%s: %d valid and %d attack checks over %d streams in %s; JWKS fetches %d; RSS %d MiB",
			round, allowed.Load(), refused.Load(), workers, time.Since(start), hits, p.RSS(t)>>20)
		if wrong.Load() != 0 {
			t.Errorf("%s: %d decisions were wrong under load", round, wrong.Load())
		}
		if hits > 2 {
			t.Errorf("%s: %d JWKS fetches during the random-kid flood (min_refresh_interval 30s)", round, hits)
		}
	}
	rss0 := p.RSS(t)
	flood("first flood")
	rss1 := p.RSS(t)
	flood("second flood")
	rss2 := p.RSS(t)
	// Concurrent 4 MiB messages are buffered by gRPC (up to streams x 4
	// MiB at once): the first flood may raise the RSS; a second identical
	// flood must not raise it much further (no leak), and it stays far
	// below what an unbounded process would reach.
	if rss2 > rss1+128<<20 || rss2 > rss0+768<<20 {
		t.Errorf("RSS %d -> %d -> %d MiB over two identical floods", rss0>>20, rss1>>20, rss2>>20)
	}
	// Still healthy afterwards.
	e := &env{grpc: conns[0]}
	if o := e.checkGRPC(t, mustReq(t, in{path: "/rest/x", headers: hdrs(bearer(users[0]))})); o.status != 200 {
		t.Errorf("after the flood: %d %s", o.status, o.reason)
	}
	if readyz(p.Admin) != 200 {
		t.Error("not ready after the flood")
	}
}
