package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/envoy"
)

// TestMain lets the test binary play the null server when the load tool
// re-executes itself (startNull runs os.Executable with roleEnv set).
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "null-server" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// testOptions are tiny runs: a few hundred requests, bounded by -n.
func testOptions(t *testing.T, args ...string) *options {
	t.Helper()
	base := []string{"-n", "300", "-d", "20s", "-warmup", "0", "-c", "4", "-conns", "2", "-tokens", "8"}
	o, err := parseFlags(append(base, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func startTestIdP(t *testing.T) *idp {
	t.Helper()
	p, err := startIdP(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p
}

func checkCounts(t *testing.T, rep *report, want int64) {
	t.Helper()
	var sum int64
	for _, v := range rep.Results {
		sum += v
	}
	if rep.Requests != want || sum != want || rep.Errors != 0 {
		t.Fatalf("requests %d, results add up to %d, errors %d; want %d and no errors: %v", rep.Requests, sum, rep.Errors, want, rep.Results)
	}
	if rep.RPS <= 0 || rep.Latency.P50 <= 0 || rep.Latency.P50 > rep.Latency.P99 || rep.Latency.P99 > rep.Latency.Max {
		t.Fatalf("implausible figures: %.0f/s, latency %+v", rep.RPS, rep.Latency)
	}
}

// TestNullServerSubprocess runs the floor as a child process and measures
// its CPU time.
func TestNullServerSubprocess(t *testing.T) {
	srv, err := startNull(false)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	p := startTestIdP(t)
	o := testOptions(t, "-null")
	rep, err := execute(context.Background(), o, p, target{name: srv.name, grpc: srv.grpc, pid: srv.pid()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, rep, 300)
	if rep.Results["200"] != 300 {
		t.Errorf("the null server should allow everything: %v", rep.Results)
	}
	if rep.ServerCPU < 0 || rep.ServerCPUPer1k < 0 {
		t.Errorf("no CPU figures for pid %d", srv.pid())
	}
	var text strings.Builder
	rep.writeText(&text)
	if !strings.Contains(text.String(), "per 1,000 checks") {
		t.Errorf("report lacks the CPU line:\n%s", text.String())
	}
}

// TestNullHTTPServerSubprocess runs the forward-auth floor as a child
// process: every request is answered 200.
func TestNullHTTPServerSubprocess(t *testing.T) {
	srv, err := startNull(true)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	if srv.http == "" || srv.grpc != "" {
		t.Fatalf("addresses: grpc %q http %q", srv.grpc, srv.http)
	}
	p := startTestIdP(t)
	o := testOptions(t, "-null", "-transport", "http")
	rep, err := execute(context.Background(), o, p, target{name: srv.name, http: srv.http, pid: srv.pid()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, rep, 300)
	if rep.Results["200"] != 300 || rep.ServerCPU < 0 {
		t.Errorf("results %v, cpu %v", rep.Results, rep.ServerCPU)
	}
}

// TestIntrospectionMixInProcess: the generated introspection configuration
// loads, and opaque tokens are allowed through the tool's RFC 7662
// endpoint, each asked about once within the cache TTL.
func TestIntrospectionMixInProcess(t *testing.T) {
	p := startTestIdP(t)
	grpcAddr, _ := inProcessRestguardWith(t, p, genOptions{logLevel: "info", introspection: true, cacheTTL: time.Hour})
	o := testOptions(t, "-addr", grpcAddr, "-mix", "opaque=100", "-provider", "introspection")
	rep, err := execute(context.Background(), o, p, target{name: "in-process", grpc: grpcAddr}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, rep, 300)
	if rep.Results["200 authenticated"] != 300 {
		t.Fatalf("results %v", rep.Results)
	}
	// 8 distinct tokens, each introspected at most once (the prewarm
	// pass) and then answered from the cache.
	if rep.Opaque != 8 || rep.IdP.Introspect > int64(rep.Opaque) || rep.IdPDuring.Introspect != 0 {
		t.Errorf("introspection calls: %d in all, %d during the measurement, for %d tokens", rep.IdP.Introspect, rep.IdPDuring.Introspect, rep.Opaque)
	}
}

// inProcessRestguard builds restguard from the configuration the tool
// generates and serves it over gRPC and forward-auth HTTP on loopback.
func inProcessRestguard(t *testing.T, p *idp) (grpcAddr, httpAddr string) {
	t.Helper()
	return inProcessRestguardWith(t, p, genOptions{http: true, logLevel: "info"})
}

func inProcessRestguardWith(t *testing.T, p *idp, gen genOptions) (grpcAddr, httpAddr string) {
	t.Helper()
	c, err := config.Parse("load.yaml", []byte(restguardConfig(p, gen)))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	engine := func() *authz.Engine { return rt.Engine }
	g := envoy.NewGRPCServer(envoy.NewServer(engine, nil), envoy.Connections{})
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(gl) }()
	t.Cleanup(g.Stop)
	hs := &http.Server{Handler: envoy.NewHTTPHandler(engine, envoy.HTTPOptions{Style: envoy.StyleEnvoy}, nil), ReadHeaderTimeout: 5 * time.Second}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(hl) }()
	t.Cleanup(func() { _ = hs.Close() })
	return gl.Addr().String(), hl.Addr().String()
}

// TestRestguardInProcess drives a real engine with every credential kind
// over both transports and checks each kind got its decision.
func TestRestguardInProcess(t *testing.T) {
	p := startTestIdP(t)
	grpcAddr, httpAddr := inProcessRestguard(t, p)
	mixArg := "valid=50,badsig=10,expired=10,basic=10,none=10,opaque=10"
	want := map[string]bool{
		"200 authenticated": true, "401 token_invalid": true, "401 token_expired": true,
		"401 basic_auth_blocked": true, "401 credentials_missing": true,
	}
	for _, tc := range []struct {
		name string
		args []string
		tgt  target
	}{
		{"grpc", []string{"-addr", grpcAddr}, target{name: "in-process", grpc: grpcAddr}},
		{"http", []string{"-http", httpAddr}, target{name: "in-process", http: httpAddr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t, append(tc.args, "-mix", mixArg, "-sources", "10.9.0.0/30,127.0.0.1")...)
			rep, err := execute(context.Background(), o, p, tc.tgt, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			checkCounts(t, rep, 300)
			for k := range want {
				if rep.Results[k] == 0 {
					t.Errorf("no %q among %v", k, rep.Results)
				}
			}
			// Opaque tokens reach no introspection provider in the
			// generated configuration: a JWT-only provider refuses them.
			for k := range rep.Results {
				if !want[k] && !strings.HasPrefix(k, "401 ") {
					t.Errorf("unexpected result %q (%d)", k, rep.Results[k])
				}
			}
			if rep.ServerCPUPer1k != -1 {
				t.Errorf("CPU per 1k without a pid: %v", rep.ServerCPUPer1k)
			}
		})
	}
}

// TestAssertionMixInProcess: with -assertion the generated configuration
// loads with a signing key, every allow is authenticated, and the answer
// carries a signed identity assertion (what `make bench` pays for).
func TestAssertionMixInProcess(t *testing.T) {
	p := startTestIdP(t)
	key, err := writeAssertionKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, httpAddr := inProcessRestguardWith(t, p, genOptions{http: true, logLevel: "info", assertionKey: key})
	o := testOptions(t, "-http", httpAddr, "-mix", "valid=100")
	rep, err := execute(context.Background(), o, p, target{name: "in-process", http: httpAddr}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, rep, 300)
	if rep.Results["200 authenticated"] != 300 {
		t.Fatalf("results %v", rep.Results)
	}
	tok, err := p.mint(p.claims(1, time.Now(), time.Hour), true)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+envoy.DefaultPathPrefix+"/rest/api/2/myself", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Forwarded-For", "127.0.0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := resp.Header.Get("X-Restguard-Assertion"); resp.StatusCode != http.StatusOK || strings.Count(a, ".") != 2 {
		t.Fatalf("status %d, assertion %q: want 200 and a compact JWS", resp.StatusCode, a)
	}
}

func TestRefusesNonLoopbackTargets(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "192.0.2.1:9001"},
		{"-http", "example.com:80"},
		{"-addr", "[2001:db8::1]:9001"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%v: got %v, want a loopback refusal", args, err)
		}
	}
	if _, err := parseFlags([]string{"-addr", "[::1]:9001"}, io.Discard); err != nil {
		t.Errorf("::1 refused: %v", err)
	}
}

// TestAssertionNeedsTheGeneratedConfiguration: -assertion only changes a
// configuration the tool writes; against an external server or a template
// it would measure nothing and is refused.
func TestAssertionNeedsTheGeneratedConfiguration(t *testing.T) {
	for _, args := range [][]string{
		{"-assertion", "-addr", "127.0.0.1:9001"},
		{"-assertion", "-restguard-bin", "bin/restguard", "-restguard-config", "t.yaml"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil || !strings.Contains(err.Error(), "-assertion needs") {
			t.Errorf("%v: got %v, want the -assertion refusal", args, err)
		}
	}
	if _, err := parseFlags([]string{"-assertion", "-restguard-bin", "bin/restguard"}, io.Discard); err != nil {
		t.Errorf("-assertion with -restguard-bin refused: %v", err)
	}
}

func TestMixLayout(t *testing.T) {
	m, err := parseMix("valid=80,basic=10,none=10")
	if err != nil {
		t.Fatal(err)
	}
	ts := &tokenSet{valid: []string{"a", "b", "c", "d"}}
	slots := buildSlots(m, ts, []string{"10.0.0.1", "10.0.0.2"})
	if len(slots) != 5 {
		t.Fatalf("%d slots, want 5 (4 valid tokens at 80%%)", len(slots))
	}
	got := map[string]int{}
	seen := map[string]bool{}
	for _, s := range slots {
		got[s.kind]++
		if s.kind == kindValid {
			seen[s.auth] = true
		}
	}
	if got[kindValid] != 4 || len(seen) != 4 {
		t.Errorf("valid slots %d with %d distinct tokens, want 4 and 4: %+v", got[kindValid], len(seen), slots)
	}
	if _, err := parseMix("valid=1,bogus=2"); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := newHist()
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.quantile(tc.q)
		if d := got - tc.want; d < -tc.want/100 || d > tc.want/100 {
			t.Errorf("q%.2f = %v, want %v within 1%%", tc.q, got, tc.want)
		}
	}
}

func TestPlotWritesSVG(t *testing.T) {
	rep := &report{Label: "null", Sweep: []point{
		{RPS: 1000, Latency: latencies{P50: 0.2, P99: 0.9}},
		{RPS: 5000, Latency: latencies{P50: 0.4, P99: 3.1}},
	}}
	svg := svgPlot("test <plot>", []*report{rep})
	for _, s := range []string{"<svg", "</svg>", "polyline", "null p99", "test &lt;plot&gt;"} {
		if !strings.Contains(svg, s) {
			t.Errorf("SVG lacks %q", s)
		}
	}
}

// TestTargetsJudgesABenchDirectory writes the reports `make bench` would
// and checks the verdicts: met, missed and not measured.
func TestTargetsJudgesABenchDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, r report) {
		if err := r.writeJSON(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	pt := func(rps, cpu float64) point { return point{RPS: rps, ServerCPUPer1k: cpu, Seconds: 5} }
	write("grpc-c16-null.json", report{Label: "null", point: pt(10000, 0.040)})
	write("grpc-c16-restguard.json", report{Label: "restguard", point: pt(8500, 0.048)})        // 1.20x, 0.85x: met
	write("grpc-c16-restguard-logall.json", report{Label: "restguard", point: pt(8000, 0.060)}) // 1.50x: missed
	r := report{Label: "restguard", point: pt(8200, 0.049), Opaque: 1000, CacheTTL: 60}
	r.IdPDuring.Introspect, r.IdP.Introspect = 3, 1003
	write("introspection-c16-restguard.json", r)
	write("introspection-c16-null.json", report{Label: "null", point: pt(10000, 0.040)})
	for i, cpu := range []float64{0.044, 0.060, 0.048} { // ratios 1.1, 1.5, 1.2: the median 1.2 is met
		write(fmt.Sprintf("grpc-c64-null-r%d.json", i+1), report{Label: "null", point: pt(10000, 0.040)})
		write(fmt.Sprintf("grpc-c64-restguard-r%d.json", i+1), report{Label: "restguard", point: pt(9000, cpu)})
	}
	write("sweep-null.json", report{SweepBaseRPS: 8000, Sweep: []point{{TargetRate: 2000, Latency: latencies{P99: 1}}, {TargetRate: 4000, Latency: latencies{P99: 2}}}})
	write("sweep-restguard.json", report{SweepBaseRPS: 8000, Sweep: []point{{TargetRate: 2000, Latency: latencies{P99: 9}}, {TargetRate: 4000, Latency: latencies{P99: 3.5}}}})
	write("memory-restguard.json", report{Tokens: 100000, Samples: []sample{{RSSBytes: 90 << 20}, {RSSBytes: 80 << 20}}})
	gb := "BenchmarkEngineCheckColdRS256-2  100  52000 ns/op  11000 B/op  230 allocs/op\n" +
		"BenchmarkEngineCheckColdRS256-2  100  45000 ns/op  11000 B/op  230 allocs/op\n" +
		"BenchmarkVerifyCryptoRS256-2  100  30000 ns/op\n" +
		"BenchmarkCacheMemory100k-2  1  7 ns/op  599.0 bytes/token\n" +
		"BenchmarkEngineCheckCached-2  1000  5000 ns/op\n" +
		"BenchmarkEngineCheckCachedAssertion-2  1000  40000 ns/op\n" +
		"BenchmarkSharedCache/in_process_hit/off-2  1000  800 ns/op\n" +
		"BenchmarkSharedCache/provider_call-2  1000  130000 ns/op\n" +
		"BenchmarkSharedCache/in_process_hit/on-2  1000  1100 ns/op\n" +
		"BenchmarkSharedCache/redis_hit-2  1000  45000 ns/op\n" +
		"BenchmarkSharedCache/evict_only-2  1000  1000 ns/op\n"
	if err := os.WriteFile(filepath.Join(dir, "go-bench.txt"), []byte(gb), 0o644); err != nil {
		t.Fatal(err)
	}
	vs, err := judge(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range vs {
		got[v.target] = v.result()
	}
	for target, want := range map[string]string{
		"cached JWT, gRPC, c=16, sampled allows: CPU per check":                         "MET",
		"cached JWT, gRPC, c=16, sampled allows: throughput":                            "MET",
		"cached JWT, gRPC, c=16, every allow logged: CPU per check":                     "MISSED",
		"cached JWT, gRPC, c=64, sampled allows: CPU per check":                         "MET",
		"cached JWT, gRPC, c=64, every allow logged: CPU per check":                     "NOT MEASURED",
		"introspection (20 ms IdP, warm), gRPC, c=16: IdP calls during the measurement": "MET",
		"p99 at half of restguard's maximum rate (c=64)":                                "MET",
		"cold RS256 check vs bare RSA verification":                                     "MET",
		"bytes per cached token (100,000 tokens)":                                       "MET",
		"RSS with 100,000 distinct cached tokens":                                       "REPORTED",
		"cached check with an identity assertion vs without (engine)":                   "REPORTED",
		"in-process cache hit, shared cache on vs off":                                  "MISSED", // 1.375x
		"Redis hit vs in-process hit":                                                   "REPORTED",
		"cached JWT with an identity assertion, gRPC, c=16: CPU per check":              "NOT MEASURED",
	} {
		if got[target] != want {
			t.Errorf("%s: %q, want %q", target, got[target], want)
		}
	}
	var out strings.Builder
	writeVerdicts(&out, vs)
	if !strings.Contains(out.String(), "80.0 MiB at the end (peak 90.0 MiB)") || !strings.Contains(out.String(), "MISSED") ||
		!strings.Contains(out.String(), "median of 3 rounds (1.10-1.50)") ||
		!strings.Contains(out.String(), "44.0 µs vs 1.10 µs") || !strings.Contains(out.String(), "40.0 µs vs 5.0 µs") {
		t.Errorf("table:\n%s", out.String())
	}
}
