package providers

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/internal/idptest"
)

func fail500(w http.ResponseWriter, _ *http.Request) bool {
	http.Error(w, "down", http.StatusInternalServerError)
	return true
}

func TestKeyRotationRefetchesOnce(t *testing.T) {
	p := idptest.New(t)
	j, clk := newProvider(t, p, nil)
	before := p.JWKSHits()
	clk.Add(j.cfg.MinRefreshInterval)
	k3 := p.AddKey(t, "k3")
	id := mustValidate(t, j, p.MintWithKey(t, "k3", k3, nil))
	if id.KeyID != "k3" {
		t.Fatalf("key id %q", id.KeyID)
	}
	mustValidate(t, j, p.MintWithKey(t, "k3", k3, map[string]any{"jti": "2"}))
	mustValidate(t, j, p.Mint(t, nil))
	if n := p.JWKSHits() - before; n != 1 {
		t.Fatalf("%d jwks fetches, want exactly 1", n)
	}
}

func TestUnknownKidDoesNotStormJWKS(t *testing.T) {
	p := idptest.New(t)
	j, clk := newProvider(t, p, nil)
	clk.Add(j.cfg.MinRefreshInterval + time.Second) // one refetch is allowed now
	before := p.JWKSHits()
	kx, _ := rsa.GenerateKey(rand.Reader, 2048)
	body := claimsJSON(t, p, nil)
	tokens := make(chan string, 200)
	for i := range 200 {
		tokens <- p.MintRaw(t, header(fmt.Sprintf("rand-%d-%s", i, rand.Text()), "RS256", nil), body, "RS256", kx)
	}
	close(tokens)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 32 {
		wg.Go(func() {
			for tok := range tokens {
				_, err := j.Validate(context.Background(), tok)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var re *authz.ReasonError
		if !errors.As(err, &re) || re.Reason != authz.ReasonKeyUnknown {
			t.Fatalf("got %v, want key_unknown", err)
		}
	}
	if n := p.JWKSHits() - before; n != 1 {
		t.Fatalf("%d jwks fetches for 200 unknown kids, want exactly 1", n)
	}
	// Still within MinRefreshInterval of that fetch: no further fetch.
	clk.Add(j.cfg.MinRefreshInterval / 2)
	_, _ = j.Validate(context.Background(), p.MintRaw(t, header("again", "RS256", nil), body, "RS256", kx))
	if n := p.JWKSHits() - before; n > 1 {
		t.Fatalf("%d jwks fetches, want at most 1", n)
	}
}

func TestStaleKeysServedWhenJWKSDown(t *testing.T) {
	p := idptest.New(t)
	j, clk := newProvider(t, p, func(c *JWTConfig) { c.CacheSize = -1 })
	p.SetJWKSFault(fail500)
	clk.Add(time.Hour)
	if err := j.Refresh(context.Background()); err == nil {
		t.Fatal("refresh against a 500 succeeded")
	}
	if !j.Ready() || j.KeyCount() != 2 {
		t.Fatal("stale keys dropped after a failed refresh")
	}
	mustValidate(t, j, p.Mint(t, nil))
	// Beyond MaxStale the old keys are no longer used.
	clk.Add(j.cfg.MaxStale)
	_, err := j.Validate(context.Background(), p.Mint(t, nil))
	wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable)
	if j.Ready() {
		t.Fatal("ready with keys beyond max stale")
	}
	// Recovery.
	p.SetJWKSFault(nil)
	clk.Add(j.cfg.MinRefreshInterval)
	mustValidate(t, j, p.Mint(t, nil))
}

func TestJWKSNeverLoadedIsUnavailable(t *testing.T) {
	p := idptest.New(t)
	p.SetJWKSFault(fail500)
	clk := newClock()
	j, err := NewJWT(baseConfig(p, clk))
	if err != nil {
		t.Fatal(err)
	}
	tok := p.Mint(t, nil)
	for range 3 {
		_, err = j.Validate(context.Background(), tok)
		wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable)
		if errors.Is(err, authz.ErrInvalidToken) {
			t.Fatal("outage reported as invalid token")
		}
	}
	if n := p.JWKSHits(); n != 1 {
		t.Fatalf("%d fetches, want 1 (rate limited)", n)
	}
	if j.Ready() {
		t.Fatal("ready without keys")
	}
	// After recovery, the next rate-limited fetch loads the keys (K5: the
	// outage was not cached).
	p.SetJWKSFault(nil)
	clk.Add(j.cfg.MinRefreshInterval)
	mustValidate(t, j, tok)
}

func TestRemovedKeyRevokesCachedToken(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	tok := p.Mint(t, nil)
	mustValidate(t, j, tok)
	if id := mustValidate(t, j, tok); !id.CacheHit {
		t.Fatal("second validation not a cache hit")
	}
	p.RemoveKey("k1")
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := j.Validate(context.Background(), tok)
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonKeyUnknown)
	// k2 tokens are unaffected.
	mustValidate(t, j, p.MintES256(t, nil))
}

func TestReplacedKeyRevokesCachedToken(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	tok := p.Mint(t, nil)
	mustValidate(t, j, tok)
	// Same kid, new key material.
	p.RemoveKey("k1")
	p.AddKey(t, "k1")
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := j.Validate(context.Background(), tok)
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenInvalid)
	// A refresh that keeps the key keeps the cache entry.
	tok2 := p.MintES256(t, nil)
	mustValidate(t, j, tok2)
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if id := mustValidate(t, j, tok2); !id.CacheHit {
		t.Fatal("unchanged key lost its cache entry")
	}
}

func TestEmptyJWKSReplacesKeys(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	p.SetJWKSFault(func(w http.ResponseWriter, _ *http.Request) bool {
		_, _ = w.Write([]byte(`{"keys":[]}`))
		return true
	})
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if j.Ready() || j.KeyCount() != 0 {
		t.Fatal("old keys kept after a successful empty set")
	}
	_, err := j.Validate(context.Background(), p.Mint(t, nil))
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonKeyUnknown)
}

func TestJWKSFaultsKeepPreviousSet(t *testing.T) {
	p := idptest.New(t)
	other, hits := canary(t, nil)
	faults := map[string]func(http.ResponseWriter, *http.Request) bool{
		"500 with a valid body": func(w http.ResponseWriter, _ *http.Request) bool {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"keys":[]}`))
			return true
		},
		"html": func(w http.ResponseWriter, _ *http.Request) bool {
			_, _ = w.Write([]byte(`<html>maintenance</html>`))
			return true
		},
		"truncated": func(w http.ResponseWriter, _ *http.Request) bool {
			_, _ = w.Write([]byte(`{"keys":`))
			return true
		},
		"not a set": func(w http.ResponseWriter, _ *http.Request) bool {
			_, _ = w.Write([]byte(`{"kty":"oct","k":"AAAA"}`))
			return true
		},
		"10 MiB body": func(w http.ResponseWriter, _ *http.Request) bool {
			_, _ = w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("a", 10<<20) + `"}`))
			return true
		},
		"hang": func(_ http.ResponseWriter, r *http.Request) bool {
			<-r.Context().Done()
			return true
		},
		"redirect to another host": func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, other+"/jwks", http.StatusFound)
			return true
		},
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			j, _ := newProvider(t, p, func(c *JWTConfig) { c.FetchTimeout = 500 * time.Millisecond })
			tok := p.Mint(t, nil)
			p.SetJWKSFault(f)
			defer p.SetJWKSFault(nil)
			if err := j.Refresh(context.Background()); err == nil {
				t.Fatal("refresh succeeded")
			}
			if j.KeyCount() != 2 {
				t.Fatal("previous set lost")
			}
			mustValidate(t, j, tok)
		})
	}
	if hits.Load() != 0 {
		t.Fatalf("redirect target got %d hits", hits.Load())
	}
}

func TestDiscovery(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, func(c *JWTConfig) { c.JWKSURI = "" })
	mustValidate(t, j, p.Mint(t, nil))
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d, k := p.DiscoveryHits(), p.JWKSHits(); d != 1 || k != 2 {
		t.Fatalf("discovery hits %d jwks hits %d, want 1 and 2", d, k)
	}
}

func TestDiscoveryIssuerMismatchRefused(t *testing.T) {
	p := idptest.New(t)
	for name, doc := range map[string]string{
		"other issuer":      `{"issuer":"https://evil.example.test","jwks_uri":"` + p.JWKSURL() + `"}`,
		"trailing slash":    `{"issuer":"` + p.Issuer + `/","jwks_uri":"` + p.JWKSURL() + `"}`,
		"no jwks_uri":       `{"issuer":"` + p.Issuer + `"}`,
		"insecure jwks":     `{"issuer":"` + p.Issuer + `","jwks_uri":"http://idp.example.test/jwks"}`,
		"issuer not string": `{"issuer":["` + p.Issuer + `"],"jwks_uri":"` + p.JWKSURL() + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			p.SetDiscoveryFault(func(w http.ResponseWriter, _ *http.Request) bool {
				_, _ = w.Write([]byte(doc))
				return true
			})
			defer p.SetDiscoveryFault(nil)
			j, err := NewJWT(JWTConfig{Name: "d", Issuer: p.Issuer, Audiences: []string{idptest.Audience}})
			if err != nil {
				t.Fatal(err)
			}
			jwksBefore := p.JWKSHits()
			if err := j.Refresh(context.Background()); err == nil {
				t.Fatal("discovery accepted")
			}
			if j.Ready() || p.JWKSHits() != jwksBefore {
				t.Fatal("jwks fetched after a refused discovery")
			}
		})
	}
}

func TestNoKidSingleKey(t *testing.T) {
	p := idptest.New(t)
	p.RemoveKey("k2")
	j, _ := newProvider(t, p, nil)
	id := mustValidate(t, j, p.MintRaw(t, header("", "RS256", nil), claimsJSON(t, p, nil), "RS256", p.RSAKey()))
	if id.KeyID != "k1" {
		t.Fatalf("key id %q", id.KeyID)
	}
}

func TestRefreshHonoursContext(t *testing.T) {
	p := idptest.New(t)
	p.SetJWKSFault(func(_ http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	})
	cfg := baseConfig(p, newClock())
	cfg.FetchTimeout = 200 * time.Millisecond
	j, err := NewJWT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := j.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	// A cancelled request waiting for a fetch ends with its context error.
	_, err = j.Validate(ctx, p.Mint(t, nil))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// steppedWait replaces a key set's sleep: each wait reports its duration
// on waits and returns when the test sends on fire (or ctx ends). With an
// injected clock the test then drives the background refresh step by step.
type steppedWait struct {
	waits chan time.Duration
	fire  chan struct{}
}

func newSteppedWait(k *KeySet) *steppedWait {
	s := &steppedWait{waits: make(chan time.Duration), fire: make(chan struct{})}
	k.wait = func(ctx context.Context, d time.Duration) bool {
		select {
		case s.waits <- d:
		case <-ctx.Done():
			return false
		}
		select {
		case <-s.fire:
			return true
		case <-ctx.Done():
			return false
		}
	}
	return s
}

// TestNoEarlyJWKSRefetchAfterStartup: started as serve does (Start, then
// Refresh before ready), a key set fetches once at startup and then once
// per refresh interval. The timer used to be armed before the first keys
// loaded, with the short retry interval, so every provider fetched again
// 30 s after a good start (seams item 17).
func TestNoEarlyJWKSRefetchAfterStartup(t *testing.T) {
	p := idptest.New(t)
	clk := newClock()
	j, err := NewJWT(baseConfig(p, clk))
	if err != nil {
		t.Fatal(err)
	}
	step := newSteppedWait(j.keys)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-j.keys.stopped }()
	j.Start(ctx)
	if err := j.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	interval := j.cfg.RefreshInterval
	for elapsed := time.Duration(0); elapsed <= 3*interval; {
		d := <-step.waits
		if want := 1 + int64(elapsed/interval); p.JWKSHits() != want {
			t.Fatalf("%d fetches %s after startup, want %d (one at startup, then one per %s)", p.JWKSHits(), elapsed, want, interval)
		}
		if d <= 0 || d > interval {
			t.Fatalf("next wait %s, want within (0, %s]", d, interval)
		}
		clk.Add(d)
		elapsed += d
		step.fire <- struct{}{}
	}
}

// TestBackgroundRefreshRetriesUntilKeysLoad: a key set whose startup
// fetch failed retries every min_refresh_interval, then settles to the
// refresh interval.
func TestBackgroundRefreshRetriesUntilKeysLoad(t *testing.T) {
	p := idptest.New(t)
	p.SetJWKSFault(fail500)
	clk := newClock()
	j, err := NewJWT(baseConfig(p, clk))
	if err != nil {
		t.Fatal(err)
	}
	step := newSteppedWait(j.keys)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-j.keys.stopped }()
	j.Start(ctx)
	if err := j.Refresh(ctx); err == nil {
		t.Fatal("refresh against a 500 succeeded")
	}
	for i, want := range []struct {
		wait time.Duration
		hits int64
	}{
		{j.cfg.MinRefreshInterval, 1}, // armed at Start
		{j.cfg.MinRefreshInterval, 2}, // the retry failed too
		{j.cfg.RefreshInterval, 3},    // the retry loaded the keys
	} {
		d := <-step.waits
		if d != want.wait || p.JWKSHits() != want.hits {
			t.Fatalf("step %d: wait %s after %d fetches, want %s after %d", i, d, p.JWKSHits(), want.wait, want.hits)
		}
		if i == 1 {
			p.SetJWKSFault(nil)
		}
		clk.Add(d)
		step.fire <- struct{}{}
	}
	<-step.waits
	if !j.Ready() {
		t.Fatal("not ready after a successful retry")
	}
}

// TestProvidersOfOneIssuerShareOneKeySet: providers that differ only in
// their audiences share one key set: one fetch at startup, and a kid
// rotation seen by both is one refetch (seams item 17).
func TestProvidersOfOneIssuerShareOneKeySet(t *testing.T) {
	p := idptest.New(t)
	clk := newClock()
	p.SetNow(clk.Now)
	cfg := baseConfig(p, clk)
	ks, err := NewKeySet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg, cfg
	a.Name, a.KeySet = "jira", ks
	b.Name, b.KeySet, b.Audiences = "wiki", ks, []string{"wiki"}
	ja, err := NewJWT(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := NewJWT(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := ja.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !jb.Ready() || p.JWKSHits() != 1 {
		t.Fatalf("ready %v after %d fetches, want the shared set loaded by 1", jb.Ready(), p.JWKSHits())
	}
	clk.Add(cfg.KeySetConfig().MinRefreshInterval)
	k3 := p.AddKey(t, "k3")
	mustValidate(t, ja, p.MintWithKey(t, "k3", k3, nil))
	mustValidate(t, jb, p.MintWithKey(t, "k3", k3, map[string]any{"aud": "wiki"}))
	if n := p.JWKSHits(); n != 2 {
		t.Fatalf("%d fetches, want 2 (startup and one refetch for the rotation)", n)
	}
	// The audience stays each provider's own.
	_, err = jb.Validate(context.Background(), p.MintWithKey(t, "k3", k3, nil))
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonAudienceMismatch)

	other := cfg
	other.KeySet, other.RefreshInterval = ks, time.Minute
	if _, err := NewJWT(other); err == nil {
		t.Fatal("a key set with other settings was shared")
	}
}

// TestJWKSAmbiguousOrRedirectedRefused: the JWKS goes through the same
// bounded, strict fetch as every remote answer. A document with a
// duplicate member name is ambiguous (which "keys" is the issuer's?), and
// a redirect is not followed even to the same origin: the keys come from
// the configured URL or not at all. The previous set is kept.
func TestJWKSAmbiguousOrRedirectedRefused(t *testing.T) {
	p := idptest.New(t)
	for name, f := range map[string]func(http.ResponseWriter, *http.Request) bool{
		"duplicate keys member": func(w http.ResponseWriter, _ *http.Request) bool {
			_, _ = w.Write([]byte(`{"keys":[],"keys":[]}`))
			return true
		},
		"same-origin redirect": func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Query().Get("moved") != "" {
				return false // the real set, were the redirect followed
			}
			http.Redirect(w, r, "/jwks?moved=1", http.StatusFound)
			return true
		},
	} {
		t.Run(name, func(t *testing.T) {
			j, _ := newProvider(t, p, nil)
			p.SetJWKSFault(f)
			defer p.SetJWKSFault(nil)
			if err := j.Refresh(context.Background()); err == nil {
				t.Fatal("refresh succeeded")
			}
			if j.KeyCount() != 2 {
				t.Fatal("previous set lost")
			}
		})
	}
}
