// Command restguard-load measures an Envoy ext_authz server on this
// machine: it sends Envoy-shaped CheckRequests over gRPC (or forward-auth
// requests over HTTP) with a chosen concurrency, connection count, token
// mix and source addresses, and reports throughput, latency percentiles,
// result counts and the server's CPU time per 1,000 checks.
//
//	restguard-load -null -c 16 -d 10s                       the floor: a server that answers OK and reads nothing
//	restguard-load -null -transport http -c 16 -d 10s       the forward-auth floor: a net/http endpoint that answers 200
//	restguard-load -restguard-bin bin/restguard -c 16 -d 10s restguard, started with a configuration for the tool's IdP
//	restguard-load -addr 127.0.0.1:9001 -pid 1234           a server started elsewhere (its IdP must trust ours: see -print-config)
//	restguard-load -null -sweep 10%,50%,90% -json null.json  a fixed-rate sweep after a closed-loop maximum
//	restguard-load plot -o latency.svg null.json restguard.json
//	restguard-load compare null.json restguard.json         ratios against the floor
//	restguard-load targets bin/bench                         issue 13's targets from a `make bench` directory, MET or MISSED
//
// It serves its own OpenID discovery, JWKS and RFC 7662 introspection on
// 127.0.0.1, refuses targets that are not loopback addresses, and stops by
// itself after -d (or -n requests).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/restguard/restguard/envoy"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "null-server":
			return runNullServer(args[1:], stdout, stderr)
		case "plot":
			return runPlot(args[1:], stdout, stderr)
		case "compare":
			return runCompare(args[1:], stdout, stderr)
		case "targets":
			return runTargets(args[1:], stdout, stderr)
		}
	}
	return runLoad(args, stdout, stderr)
}

// options are the flags of a load run.
type options struct {
	addr, httpAddr, transport string
	httpPrefix                string
	restguardBin, configTmpl  string
	logLevel                  string
	allowedSample             float64
	cacheSize                 int
	null                      bool
	pid                       int
	admin                     string

	concurrency, conns int
	duration, warmup   time.Duration
	timeout            time.Duration
	requests           int64
	rate               float64
	sweep              string
	prewarm            bool
	sample             time.Duration

	tokens            int
	es256             float64
	mix               string
	sources           string
	tokenTTL          time.Duration
	introspectLatency time.Duration
	method, host      string
	path              string

	label, jsonOut string
	printConfig    bool
	serverProfile  string
	provider       string        // jwt or introspection, in the generated configuration
	cacheTTL       time.Duration // the introspection provider's cache.ttl
	sweepBase      string        // a report whose maximum the -sweep percentages refer to
	assertion      bool          // the generated configuration signs an identity assertion
	assertionKey   string        // its key file, written by runLoad
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("restguard-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "", "gRPC ext_authz target `host:port` (loopback only)")
	fs.StringVar(&o.httpAddr, "http", "", "forward-auth HTTP target `host:port` (loopback only); selects -transport http")
	fs.StringVar(&o.httpPrefix, "http-prefix", envoy.DefaultPathPrefix, "forward-auth path prefix: the request line is this prefix followed by the original path (\"\": the original path alone)")
	fs.StringVar(&o.transport, "transport", "", "grpc or http (default grpc, or http with -http)")
	fs.StringVar(&o.restguardBin, "restguard-bin", "", "start this restguard binary with a generated configuration and measure it")
	fs.StringVar(&o.configTmpl, "restguard-config", "", "with -restguard-bin: use this configuration template instead (${ISSUER}, ${JWKS_URI}, ${INTROSPECTION_URL}, ${AUDIENCE} are filled in; listen on 127.0.0.1:0)")
	fs.StringVar(&o.logLevel, "restguard-log", "info", "log level of the started restguard: info or debug (its \"serving\" line gives the addresses)")
	fs.Float64Var(&o.allowedSample, "allowed-sample", 1, "log.allowed_sample of the started restguard: the share of allows in the decision log (1, the default, logs every decision)")
	fs.IntVar(&o.cacheSize, "cache-size", 0, "verified-token cache size of the started restguard (0: its default)")
	fs.BoolVar(&o.null, "null", false, "start the null ext_authz server (answers OK, reads nothing) and measure it")
	fs.IntVar(&o.pid, "pid", 0, "process id of an externally started server, for its CPU time")
	fs.StringVar(&o.admin, "admin", "", "admin address of an externally started restguard, for goroutine samples")
	fs.IntVar(&o.concurrency, "c", 16, "concurrency: requests in flight at most")
	fs.IntVar(&o.conns, "conns", 1, "connections (gRPC channels, or HTTP connections at most)")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "duration of the measurement (and of each sweep step)")
	fs.Int64Var(&o.requests, "n", 0, "stop after this many requests (0: only -d)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before the measurement")
	fs.BoolVar(&o.prewarm, "prewarm", true, "send every prepared request once before the warm-up (fills caches)")
	fs.DurationVar(&o.timeout, "timeout", time.Second, "per-request deadline, sent to the server as Envoy does (0: none)")
	fs.Float64Var(&o.rate, "rate", 0, "fixed rate in requests/s (0: closed loop, as fast as the server answers)")
	fs.StringVar(&o.sweep, "sweep", "", "after the measurement, fixed-rate steps: `list` of rates, absolute (5000) or relative to the measured maximum (50%)")
	fs.DurationVar(&o.sample, "sample", 0, "sample the server's RSS (and goroutines from its admin /metrics) at this interval")
	fs.IntVar(&o.tokens, "tokens", 1000, "distinct valid tokens (and opaque tokens)")
	fs.Float64Var(&o.es256, "es256", 0.5, "share of the valid tokens signed ES256 (the rest RS256)")
	fs.StringVar(&o.mix, "mix", "valid=100", "credential mix as weights: valid, badsig, expired, basic, opaque, none")
	fs.StringVar(&o.sources, "sources", "10.1.0.0/24", "client source addresses (Envoy's peer address): `list` of addresses and CIDRs")
	fs.DurationVar(&o.tokenTTL, "token-ttl", time.Hour, "lifetime of the minted tokens")
	fs.DurationVar(&o.introspectLatency, "introspect-latency", 20*time.Millisecond, "delay of the IdP's introspection answers")
	fs.StringVar(&o.method, "method", "GET", "request method")
	fs.StringVar(&o.host, "host", "jira.example.com", "request host (:authority)")
	fs.StringVar(&o.path, "path", "/rest/api/2/issue/PROJ-1", "request path (the generated configuration protects /rest/**)")
	fs.StringVar(&o.label, "label", "", "name of this run in the report and the plot (default: the server)")
	fs.StringVar(&o.jsonOut, "json", "", "also write the report as JSON to this `file`")
	fs.StringVar(&o.provider, "provider", "jwt", "provider of the generated configuration: jwt (the tool's JWKS) or introspection (its RFC 7662 endpoint; send -mix opaque=N)")
	fs.DurationVar(&o.cacheTTL, "cache-ttl", 0, "with -provider introspection: cache.ttl of the started restguard (0: its default)")
	fs.StringVar(&o.sweepBase, "sweep-base", "", "take the -sweep percentages of this report's closed-loop maximum (another server's), so that two servers sweep the same rates")
	fs.BoolVar(&o.assertion, "assertion", false, "with -restguard-bin: every allow carries a signed identity assertion (ES256, a fresh key per run), the cost issue 14 measures")
	fs.StringVar(&o.serverProfile, "server-profile", "", "with -restguard-bin: turn on admin.pprof and write the server's CPU profile of the measurement to `prefix`.cpu.pprof and its allocations to prefix.allocs.pprof (profiling costs the server a little CPU: not for ratio runs)")
	fs.BoolVar(&o.printConfig, "print-config", false, "print the restguard configuration for the tool's IdP and exit (the IdP lives only while the tool runs)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, o.check()
}

// check refuses contradictory or out-of-range flags, every problem at
// once, and fills in the transport.
func (o *options) check() error {
	errs := o.checkTarget()
	if o.logLevel != "info" && o.logLevel != "debug" {
		errs = append(errs, errors.New("-restguard-log must be info or debug: the addresses come from restguard's \"restguard serving\" line"))
	}
	if o.provider != "jwt" && o.provider != "introspection" {
		errs = append(errs, fmt.Errorf("-provider %q: want jwt or introspection", o.provider))
	}
	if o.serverProfile != "" && o.restguardBin == "" {
		errs = append(errs, errors.New("-server-profile needs -restguard-bin (the profiles come from its admin listener)"))
	}
	if o.assertion && (o.restguardBin == "" && !o.printConfig || o.configTmpl != "") {
		errs = append(errs, errors.New("-assertion needs -restguard-bin (or -print-config) and the generated configuration, not -restguard-config"))
	}
	if o.allowedSample < 0 || o.allowedSample > 1 {
		errs = append(errs, errors.New("-allowed-sample must be within 0..1"))
	}
	if o.concurrency < 1 || o.conns < 1 || o.duration <= 0 || o.tokens < 1 || o.es256 < 0 || o.es256 > 1 || o.rate < 0 || o.requests < 0 {
		errs = append(errs, errors.New("-c, -conns, -d and -tokens must be positive, -es256 within 0..1, -rate and -n not negative"))
	}
	return errors.Join(errs...)
}

// checkTarget checks that exactly one target is chosen, on loopback, and
// that the transport fits it (default grpc, or http with -http).
func (o *options) checkTarget() []error {
	var errs []error
	targets := 0
	for _, set := range []bool{o.addr != "" || o.httpAddr != "", o.restguardBin != "", o.null} {
		if set {
			targets++
		}
	}
	if targets != 1 && !o.printConfig {
		errs = append(errs, errors.New("choose exactly one target: -addr/-http, -restguard-bin or -null"))
	}
	for _, a := range []string{o.addr, o.httpAddr} {
		if a != "" {
			if err := requireLoopback(a); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if o.transport == "" {
		o.transport = "grpc"
		if o.httpAddr != "" {
			o.transport = "http"
		}
	}
	switch {
	case o.transport != "grpc" && o.transport != "http":
		errs = append(errs, fmt.Errorf("-transport %q: want grpc or http", o.transport))
	case o.transport == "grpc" && o.addr == "" && o.httpAddr != "":
		errs = append(errs, errors.New("-transport grpc needs -addr"))
	}
	return errs
}

func runLoad(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "restguard-load:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	p, err := startIdP(o.introspectLatency)
	if err != nil {
		fmt.Fprintln(stderr, "restguard-load:", err)
		return 1
	}
	defer p.close()
	if o.assertion {
		dir, err := os.MkdirTemp("", "restguard-load-key-")
		if err == nil {
			o.assertionKey, err = writeAssertionKey(dir)
		}
		if err != nil {
			fmt.Fprintln(stderr, "restguard-load:", err)
			return 1
		}
		if o.printConfig {
			// The printed configuration names the key: it stays.
			fmt.Fprintf(stderr, "restguard-load: the assertion key is %s (remove its directory when done)\n", o.assertionKey)
		} else {
			defer os.RemoveAll(dir)
		}
	}
	if o.printConfig {
		fmt.Fprint(stdout, restguardConfig(p, o.gen()))
		return 0
	}

	tgt := target{name: "external", grpc: o.addr, http: o.httpAddr, pid: o.pid, admin: o.admin}
	var srv *server
	switch {
	case o.null:
		srv, err = startNull(o.transport == "http")
	case o.restguardBin != "":
		cfg := restguardConfig(p, o.gen())
		if o.configTmpl != "" {
			var b []byte
			if b, err = os.ReadFile(o.configTmpl); err == nil {
				cfg = expandTemplate(string(b), p)
			}
		}
		if err == nil {
			srv, err = startRestguard(o.restguardBin, cfg)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "restguard-load:", err)
		return 1
	}
	if srv != nil {
		defer srv.stop()
		tgt = target{name: srv.name, grpc: srv.grpc, http: srv.http, admin: srv.admin, pid: srv.pid()}
		if o.transport == "http" && srv.http == "" {
			fmt.Fprintln(stderr, "restguard-load: the started restguard has no forward-auth HTTP listener")
			return 1
		}
	}
	rep, err := execute(ctx, o, p, tgt, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "restguard-load:", err)
		return 1
	}
	rep.writeText(stdout)
	if o.jsonOut != "" {
		if err := rep.writeJSON(o.jsonOut); err != nil {
			fmt.Fprintln(stderr, "restguard-load:", err)
			return 1
		}
	}
	return 0
}

// target is the server under load.
type target struct {
	name, grpc, http, admin string
	pid                     int // 0: unknown, no CPU figures
}

// parseSweep reads "10%,50%,4000" into absolute rates given the measured
// maximum.
func parseSweep(s string, maxRate float64) ([]float64, error) {
	var out []float64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		rel := strings.HasSuffix(part, "%")
		v, err := strconv.ParseFloat(strings.TrimSuffix(part, "%"), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("-sweep: %q is not a positive rate or percentage", part)
		}
		if rel {
			v = maxRate * v / 100
		}
		if v < 1 {
			return nil, fmt.Errorf("-sweep: %q gives a rate below 1/s", part)
		}
		out = append(out, v)
	}
	return out, nil
}
