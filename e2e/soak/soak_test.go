// Package soak holds the hardening soak: mixed load against the real
// binary for RESTGUARD_SOAK_DURATION (default 10m) with a configuration
// reload every minute, reporting errors, memory and goroutines over time.
// RESTGUARD_SOAK_RELOAD changes the reload interval. It runs only with
// RESTGUARD_SOAK=1 (not in CI):
//
//	RESTGUARD_SOAK=1 go test -run TestSoakHardening -timeout 30m -v ./e2e/soak/
//
// scripts/soak.sh (the performance soak) is separate.
package soak

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/e2eutil"
	"github.com/restguard/restguard/internal/idptest"
)

const config = `
listen: {grpc: "127.0.0.1:0", admin: "127.0.0.1:0"}
realm: soak
log: {allowed_sample: 0.01}
providers: [{name: a, issuer: %q, audiences: [restguard], groups: {claim: groups}, cache: {size: 2000}}]
rules:
  - {name: public, paths: ["/status"], action: pass, block_basic: {enabled: true}}
  - {name: api, paths: ["/rest/**"], authenticate: [a], block_basic: {enabled: true}, groups: {any_of: [%s]}}
`

func TestSoakHardening(t *testing.T) {
	if os.Getenv("RESTGUARD_SOAK") != "1" {
		t.Skip("set RESTGUARD_SOAK=1 to run the hardening soak")
	}
	dur := 10 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("RESTGUARD_SOAK_DURATION")); err == nil {
		dur = d
	}
	idp := idptest.New(t)
	kx := idptest.New(t)
	rg := e2eutil.Start(t, fmt.Sprintf(config, idp.Issuer, "users"))
	c, err := envoy.Dial(rg.GRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	type kind struct {
		name   string
		status int
		req    func() (string, []string)
	}
	valid := make([]string, 200)
	for i := range valid {
		valid[i] = idp.Mint(t, map[string]any{"preferred_username": fmt.Sprintf("u%d", i), "groups": []string{"users"}, "exp": time.Now().Add(dur + time.Hour).Unix()})
	}
	expired := idp.Mint(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})
	var n atomic.Int64
	kinds := []kind{
		{"valid", 200, func() (string, []string) {
			return "/rest/x", []string{"Authorization: Bearer " + valid[n.Add(1)%int64(len(valid))]}
		}},
		{"expired", 401, func() (string, []string) { return "/rest/x", []string{"Authorization: Bearer " + expired} }},
		{"random_kid", 401, func() (string, []string) {
			return "/rest/x", []string{"Authorization: Bearer " + kx.MintWithKey(t, fmt.Sprintf("k%d", n.Add(1)), kx.RSAKey(), nil)}
		}},
		{"basic", 401, func() (string, []string) { return "/rest/x", []string{"Authorization: Basic YWxpY2U6cGFzcw=="} }},
		{"none", 401, func() (string, []string) { return "/rest/x", nil }},
		{"public", 200, func() (string, []string) { return "/status", []string{"X-Forwarded-User: admin"} }},
		{"dotdot_to_protected", 401, func() (string, []string) { return "/status/..;/rest/x", nil }},
		{"ambiguous_to_public", 400, func() (string, []string) { return "/%73tatus", nil }},
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var total, unexpected atomic.Int64
	var mu sync.Mutex
	firstErr := map[string]string{}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				k := kinds[i%len(kinds)]
				path, headers := k.req()
				req, _ := envoy.NewCheckRequest(envoy.CheckInput{Host: "jira.example.com", Path: path, Headers: headers})
				cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := c.Check(cctx, req)
				ccancel()
				total.Add(1)
				got := -1
				if err == nil {
					got = envoy.ReadResponse(resp).Status
				}
				if got != k.status {
					unexpected.Add(1)
					mu.Lock()
					if _, ok := firstErr[k.name]; !ok {
						firstErr[k.name] = fmt.Sprintf("status %d (err %v)", got, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	// Reload every minute (alternating two equivalent configurations so
	// that the provider pool and the engine swap are exercised) and sample
	// memory and goroutines every 10 seconds.
	every := time.Minute
	if d, err := time.ParseDuration(os.Getenv("RESTGUARD_SOAK_RELOAD")); err == nil && d > 0 {
		every = d
	}
	reload := time.NewTicker(every)
	sample := time.NewTicker(10 * time.Second)
	defer reload.Stop()
	defer sample.Stop()
	start := time.Now()
	reloads := 0
	t.Logf("%8s %10s %10s %10s %10s", "elapsed", "checks", "unexpected", "rss_mib", "goroutines")
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-reload.C:
			reloads++
			group := []string{"users", "users, other"}[reloads%2]
			if err := os.WriteFile(rg.ConfigPath, []byte(fmt.Sprintf(config, idp.Issuer, group)), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := rg.Reload(); err != nil {
				t.Fatal(err)
			}
		case <-sample.C:
			m := metrics(t, rg.Admin)
			t.Logf("%8s %10d %10d %10.1f %10.0f", time.Since(start).Round(time.Second), total.Load(), unexpected.Load(), m["process_resident_memory_bytes"]/(1<<20), m["go_goroutines"])
		}
	}
	wg.Wait()
	if !rg.WaitLog("configuration reloaded", reloads, 30*time.Second) {
		var lines []string
		for _, l := range strings.Split(rg.Logs(), "\n") {
			if strings.Contains(l, "reload") || strings.Contains(l, "level\":\"WARN") || strings.Contains(l, "level\":\"ERROR") {
				lines = append(lines, l)
			}
		}
		t.Errorf("not every reload was applied (%d sent, %d logged):\n%s", reloads, strings.Count(rg.Logs(), "configuration reloaded"), strings.Join(lines, "\n"))
	}
	t.Logf("%d checks, %d reloads, %d unexpected", total.Load(), reloads, unexpected.Load())
	if unexpected.Load() != 0 {
		t.Errorf("%d unexpected answers; first per kind: %v", unexpected.Load(), firstErr)
	}
}

func metrics(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Errorf("metrics: %v", err)
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		var name string
		var v float64
		if _, err := fmt.Sscanf(line, "%s %g", &name, &v); err == nil && !strings.HasPrefix(name, "#") {
			out[name] = v
		}
	}
	return out
}
