package sharedcache

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restguard/restguard/internal/redistest"
)

// The cost of the shared cache against a local redis-server, per call, for
// docs/scaling.md:
//
//	go test -run '^$' -bench . -benchtime 2s ./sharedcache
//
// Get is GET plus HKDF and AES-GCM; Set is one MULTI/EXEC (SET, two index
// SADDs, four PEXPIREs) plus the seal.
func BenchmarkSharedCache(b *testing.B) {
	for _, transport := range []string{"unix", "tcp"} {
		srv := redistest.Start(b, redistest.Options{TCP: true})
		cfg := testConfig(b, srv)
		if transport == "tcp" {
			cfg.Address = srv.Addr
		}
		c := newCache(b, cfg, nil)
		ctx := context.Background()
		value := []byte(resultA)
		key := keyOf("corp", tokenA)
		if err := c.Set(ctx, key, tokenA, value, time.Hour, "corp", "alice"); err != nil {
			b.Fatal(err)
		}
		b.Run("Get/hit/"+transport, func(b *testing.B) {
			for b.Loop() {
				if _, ok, err := c.Get(ctx, key, tokenA); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
		b.Run("Get/miss/"+transport, func(b *testing.B) {
			miss := keyOf("corp", tokenB)
			for b.Loop() {
				if _, ok, err := c.Get(ctx, miss, tokenB); ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
		b.Run("Set/"+transport, func(b *testing.B) {
			i := 0
			for b.Loop() {
				tok := tokenA + strconv.Itoa(i%1000)
				if err := c.Set(ctx, keyOf("corp", tok), tok, value, time.Minute, "corp", "alice"); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("Get/hit/parallel/"+transport, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, ok, err := c.Get(ctx, key, tokenA); !ok || err != nil {
						b.Fatal(ok, err)
					}
				}
			})
		})
	}
}

// BenchmarkCircuitOpen is what a check pays per call during an outage once
// the circuit is open.
func BenchmarkCircuitOpen(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	cfg := testConfig(b, srv)
	cfg.BreakerThreshold, cfg.BreakerInterval = 1, time.Hour
	c := newCache(b, cfg, nil)
	srv.Stop(b)
	key := keyOf("corp", tokenA)
	if _, _, err := c.Get(context.Background(), key, tokenA); err == nil {
		b.Fatal("Redis still answers")
	}
	for b.Loop() {
		if _, _, err := c.Get(context.Background(), key, tokenA); err == nil {
			b.Fatal("no error")
		}
	}
}

// BenchmarkSeal is the cryptography alone (no Redis).
func BenchmarkSeal(b *testing.B) {
	c, err := New(Config{Address: "127.0.0.1:1", FleetSecretFile: secretFile(b)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	key := keyOf("corp", tokenA)
	value := []byte(strings.Repeat("v", len(resultA)))
	now := time.Now()
	blob, _ := c.seal(key, tokenA, value, now.Add(time.Hour))
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.seal(key, tokenA, value, now.Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.open(key, tokenA, blob, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReferenceLoopbackHTTP is the yardstick: one HTTP POST to an
// identity-provider-like server on 127.0.0.1 answering a small JSON body,
// with a kept-alive connection. A real identity provider is further away
// and slower; this is the least a miss can cost.
func BenchmarkReferenceLoopbackHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, resultA)
	}))
	b.Cleanup(srv.Close)
	client := srv.Client()
	for b.Loop() {
		resp, err := client.Post(srv.URL+"/introspect", "application/x-www-form-urlencoded", strings.NewReader("token="+tokenA))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
