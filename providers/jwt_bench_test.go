package providers

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/restguard/restguard/internal/idptest"
)

// The provider benchmarks isolate JWT validation. docs/performance.md
// compares the engine's cold path (authz BenchmarkEngineCheckCold*) with
// BenchmarkVerify* here: the cost of the signature check alone.

var benchClaims = map[string]any{
	"preferred_username": "alice",
	"email":              "alice@example.com",
	"groups":             []string{"jira-api-users", "employees", "confluence-users"},
}

func benchProvider(b *testing.B, p *idptest.IdP, cacheSize int) *JWT {
	b.Helper()
	j, err := NewJWT(JWTConfig{
		Name: "bench", Issuer: p.Issuer, JWKSURI: p.JWKSURL(),
		Audiences: []string{idptest.Audience}, GroupsClaim: "groups", CacheSize: cacheSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := j.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	return j
}

func benchTokens(b *testing.B, n int, mint func(map[string]any) string) []string {
	b.Helper()
	toks := make([]string, n)
	for i := range toks {
		c := map[string]any{"jti": fmt.Sprint("bench-", i)}
		for k, v := range benchClaims {
			c[k] = v
		}
		toks[i] = mint(c)
	}
	return toks
}

// BenchmarkValidateCached is JWT.Validate on a cache hit.
func BenchmarkValidateCached(b *testing.B) {
	p := idptest.New(b)
	j := benchProvider(b, p, 0)
	tok := p.Mint(b, benchClaims)
	ctx := context.Background()
	if _, err := j.Validate(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if id, err := j.Validate(ctx, tok); err != nil || !id.CacheHit {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateColdRS256 and ES256: every token new (the pool is twice
// the cache size, so each check misses, verifies, and adds an entry).
func BenchmarkValidateColdRS256(b *testing.B) {
	p := idptest.New(b)
	benchValidateCold(b, p, benchTokens(b, 512, func(c map[string]any) string { return p.Mint(b, c) }))
}

func BenchmarkValidateColdES256(b *testing.B) {
	p := idptest.New(b)
	benchValidateCold(b, p, benchTokens(b, 512, func(c map[string]any) string { return p.MintES256(b, c) }))
}

func benchValidateCold(b *testing.B, p *idptest.IdP, toks []string) {
	j := benchProvider(b, p, len(toks)/2)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if id, err := j.Validate(ctx, toks[i%len(toks)]); err != nil || id.CacheHit {
			b.Fatal("want a verified, uncached token", err)
		}
		i++
	}
}

// BenchmarkVerifyJWSRS256 and ES256: the signature check alone, as the
// provider calls it (jws.Verify with the raw public key).
func BenchmarkVerifyJWSRS256(b *testing.B) {
	p := idptest.New(b)
	benchVerifyJWS(b, jwa.RS256, &p.RSAKey().PublicKey, p.Mint(b, benchClaims))
}

func BenchmarkVerifyJWSES256(b *testing.B) {
	p := idptest.New(b)
	benchVerifyJWS(b, jwa.ES256, &p.ECKey().PublicKey, p.MintES256(b, benchClaims))
}

func benchVerifyJWS(b *testing.B, alg jwa.SignatureAlgorithm, pub crypto.PublicKey, tok string) {
	raw := []byte(tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jws.Verify(raw, jws.WithKey(alg, pub)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCryptoRS256 and ES256: the bare standard-library
// operation (hash of the signing input + verify), the lower bound of any
// JWT library.
func BenchmarkVerifyCryptoRS256(b *testing.B) {
	p := idptest.New(b)
	input, sig := splitForVerify(b, p.Mint(b, benchClaims))
	pub := &p.RSAKey().PublicKey
	b.ReportAllocs()
	for b.Loop() {
		sum := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCryptoES256(b *testing.B) {
	p := idptest.New(b)
	input, sig := splitForVerify(b, p.MintES256(b, benchClaims))
	pub := &p.ECKey().PublicKey
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	b.ReportAllocs()
	for b.Loop() {
		sum := sha256.Sum256(input)
		if !ecdsa.Verify(pub, sum[:], r, s) {
			b.Fatal("ecdsa: signature does not verify")
		}
	}
}

func splitForVerify(b *testing.B, tok string) (input, sig []byte) {
	b.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	return []byte(tok[:i]), sig
}

// BenchmarkCacheMemory100k fills one provider's verified-token cache with
// 100,000 tokens (ES256, three groups, an e-mail address) and reports the
// live heap it adds per cached token (bytes/token). The tokens themselves
// are held by the benchmark, not counted: the cache keeps only their
// SHA-256. It does the fill once whatever b.N is; run it with
//
//	go test -run '^$' -bench CacheMemory100k -benchtime 1x ./providers
func BenchmarkCacheMemory100k(b *testing.B) {
	const n = 100_000
	p := idptest.New(b)
	toks := make([]string, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				c := map[string]any{"jti": fmt.Sprint("mem-", i), "preferred_username": fmt.Sprintf("user%06d", i),
					"email": fmt.Sprintf("user%06d@example.com", i), "groups": benchClaims["groups"]}
				toks[i] = p.MintES256(b, c)
			}
		})
	}
	wg.Wait()
	j := benchProvider(b, p, n)
	ctx := context.Background()
	before := liveHeap()
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if _, err := j.Validate(ctx, toks[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	after := liveHeap()
	if got := j.cache.len(); got != n {
		b.Fatalf("cache holds %d tokens, want %d", got, n)
	}
	b.ReportMetric(float64(after-before)/n, "bytes/token")
	b.ReportMetric(float64(n), "tokens")
	runtime.KeepAlive(toks)
	runtime.KeepAlive(j)
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
