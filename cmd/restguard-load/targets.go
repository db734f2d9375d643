package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The targets of issue 13, judged from the files `make bench` writes into
// one directory (scripts/bench.sh names them): reports of this tool as
// JSON, and the output of `go test -bench` as go-bench.txt. Each target is
// a ratio against a floor measured in the same run.

// A comparison of restguard with its floor: the two reports' files.
type comparison struct {
	name        string // what is measured
	floor, load string // file names in the bench directory
	cpuMax      float64
	tputMin     float64 // 0: throughput not judged
	idp         bool    // also judge IdP calls against distinct tokens per TTL
}

// comparisons are the closed-loop targets: CPU per check at most cpuMax
// times the floor's, throughput at least tputMin times the floor's.
var comparisons = []comparison{
	{"cached JWT, gRPC, c=16, sampled allows", "grpc-c16-null.json", "grpc-c16-restguard.json", 1.25, 0.8, false},
	{"cached JWT, gRPC, c=64, sampled allows", "grpc-c64-null.json", "grpc-c64-restguard.json", 1.25, 0.8, false},
	{"cached JWT, gRPC, c=16, every allow logged", "grpc-c16-null.json", "grpc-c16-restguard-logall.json", 1.4, 0, false},
	{"cached JWT, gRPC, c=64, every allow logged", "grpc-c64-null.json", "grpc-c64-restguard-logall.json", 1.4, 0, false},
	{"cached JWT, HTTP forward-auth, c=16", "http-c16-null.json", "http-c16-restguard.json", 1.25, 0.8, false},
	{"cached JWT, HTTP forward-auth, c=64", "http-c64-null.json", "http-c64-restguard.json", 1.25, 0.8, false},
	{"introspection (20 ms IdP, warm), gRPC, c=16", "introspection-c16-null.json", "introspection-c16-restguard.json", 1.25, 0.8, true},
	{"introspection (20 ms IdP, warm), gRPC, c=64", "introspection-c64-null.json", "introspection-c64-restguard.json", 1.25, 0.8, true},
	// Issue 14: the same cached-JWT mix with a signed identity assertion
	// (ES256) on every allow, judged against the same target: the issue
	// asks to say by how much it misses.
	{"cached JWT with an identity assertion, gRPC, c=16", "grpc-c16-null.json", "assertion-c16-restguard.json", 1.25, 0.8, false},
	{"cached JWT with an identity assertion, gRPC, c=64", "grpc-c64-null.json", "assertion-c64-restguard.json", 1.25, 0.8, false},
}

// verdict is one judged target.
type verdict struct {
	target, measured string
	value            float64
	limit            string
	met, known       bool
}

func (v verdict) result() string {
	switch {
	case !v.known:
		return "NOT MEASURED"
	case v.limit == "reported":
		return "REPORTED"
	case v.met:
		return "MET"
	default:
		return "MISSED"
	}
}

// judge evaluates every target it finds files for in dir.
func judge(dir string) ([]verdict, error) {
	var out []verdict
	read := func(name string) (*report, error) {
		r, err := readReport(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return r, err
	}
	for _, c := range comparisons {
		pairs, err := rounds(dir, c, read)
		if err != nil {
			return nil, err
		}
		cpu := verdict{target: c.name + ": CPU per check", limit: fmt.Sprintf("<= %.2fx", c.cpuMax)}
		tput := verdict{target: c.name + ": throughput", limit: fmt.Sprintf(">= %.2fx", c.tputMin)}
		if len(pairs) == 0 {
			out = append(out, cpu)
			if c.tputMin > 0 {
				out = append(out, tput)
			}
			continue
		}
		var cpus, tps []float64
		for _, p := range pairs {
			cpus = append(cpus, p.load.ServerCPUPer1k/p.floor.ServerCPUPer1k)
			tps = append(tps, p.load.RPS/p.floor.RPS)
		}
		m := median(cpus)
		mp := pairs[medianIndex(cpus)]
		cpu.known, cpu.value, cpu.met = true, m, m <= c.cpuMax
		cpu.measured = fmt.Sprintf("%.1f vs %.1f µs; %s", mp.load.ServerCPUPer1k*1000, mp.floor.ServerCPUPer1k*1000, spread(cpus))
		out = append(out, cpu)
		if c.tputMin > 0 {
			m := median(tps)
			mp := pairs[medianIndex(tps)]
			tput.known, tput.value, tput.met = true, m, m >= c.tputMin
			tput.measured = fmt.Sprintf("%.0f/s vs %.0f/s; %s", mp.load.RPS, mp.floor.RPS, spread(tps))
			out = append(out, tput)
		}
		if c.idp {
			out = append(out, idpVerdict(c.name, pairs))
		}
	}
	out = append(out, p99Verdict(dir, read))
	goBench, err := readGoBench(filepath.Join(dir, "go-bench.txt"))
	if err != nil {
		return nil, err
	}
	out = append(out, coldVerdict(goBench), memoryVerdict(goBench))
	out = append(out, assertionVerdict(goBench))
	out = append(out, sharedCacheVerdicts(goBench)...)
	rss, err := read("memory-restguard.json")
	if err != nil {
		return nil, err
	}
	out = append(out, rssVerdict(rss))
	return out, nil
}

// pair is one round of a comparison.
type pair struct{ floor, load *report }

// rounds reads the rounds of a comparison: FLOOR-rN.json and LOAD-rN.json
// for N = 1, 2, ... (or the two files without a round, as one).
func rounds(dir string, c comparison, read func(string) (*report, error)) ([]pair, error) {
	usable := func(f, l *report) bool {
		return f != nil && l != nil && f.ServerCPUPer1k > 0 && l.ServerCPUPer1k >= 0 && f.RPS > 0
	}
	var out []pair
	for n := 1; ; n++ {
		name := func(file string) string { return strings.TrimSuffix(file, ".json") + fmt.Sprintf("-r%d.json", n) }
		f, err := read(name(c.floor))
		if err != nil {
			return nil, err
		}
		l, err := read(name(c.load))
		if err != nil {
			return nil, err
		}
		if f == nil && l == nil {
			break
		}
		if usable(f, l) {
			out = append(out, pair{f, l})
		}
	}
	if len(out) == 0 {
		f, err := read(c.floor)
		if err != nil {
			return nil, err
		}
		l, err := read(c.load)
		if err != nil {
			return nil, err
		}
		if usable(f, l) {
			out = append(out, pair{f, l})
		}
	}
	return out, nil
}

func median(xs []float64) float64 { return xs[medianIndex(xs)] }

// medianIndex is the index of the median (the lower one of an even count).
func medianIndex(xs []float64) int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	return idx[(len(idx)-1)/2]
}

// spread says how many rounds the median is of, and their range.
func spread(xs []float64) string {
	if len(xs) == 1 {
		return "1 round"
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	return fmt.Sprintf("median of %d rounds (%.2f-%.2f)", len(xs), lo, hi)
}

// idpVerdict: calls to the introspection endpoint during the measurement
// at most the distinct tokens per cache TTL (the tokens are all cached
// after the prewarm pass, so the bound per TTL is one call per token), in
// every round.
func idpVerdict(name string, pairs []pair) verdict {
	v := verdict{target: name + ": IdP calls during the measurement", limit: "<= distinct tokens per TTL"}
	var worst *report
	for _, p := range pairs {
		if p.load.Opaque > 0 && (worst == nil || p.load.IdPDuring.Introspect > worst.IdPDuring.Introspect) {
			worst = p.load
		}
	}
	if worst == nil {
		return v
	}
	r := worst
	ttl := r.CacheTTL
	if ttl <= 0 {
		ttl = 60 // restguard's default cache.ttl for remote providers
	}
	periods := int(r.Seconds/ttl) + 1
	bound := int64(r.Opaque * periods)
	v.known = true
	v.value = float64(r.IdPDuring.Introspect)
	v.measured = fmt.Sprintf("%d calls, %d distinct tokens, TTL %gs, %.0fs measured (whole run %d)", r.IdPDuring.Introspect, r.Opaque, ttl, r.Seconds, r.IdP.Introspect)
	v.met = r.IdPDuring.Introspect <= bound
	v.limit = fmt.Sprintf("<= %d", bound)
	return v
}

// p99Verdict: at half of restguard's closed-loop maximum (c=64), its p99
// against the null server's p99 at the same rate.
func p99Verdict(dir string, read func(string) (*report, error)) verdict {
	v := verdict{target: "p99 at half of restguard's maximum rate (c=64)", limit: "<= 2.00x"}
	floor, err1 := read("sweep-null.json")
	load, err2 := read("sweep-restguard.json")
	if err1 != nil || err2 != nil || floor == nil || load == nil || len(floor.Sweep) == 0 || len(load.Sweep) == 0 {
		return v
	}
	// The steps at half of restguard's maximum: the rate both sweeps
	// share that is closest to it.
	half := load.SweepBaseRPS / 2
	pick := func(ps []point) point {
		best := ps[0]
		for _, p := range ps[1:] {
			if abs(p.TargetRate-half) < abs(best.TargetRate-half) {
				best = p
			}
		}
		return best
	}
	f, l := pick(floor.Sweep), pick(load.Sweep)
	if f.Latency.P99 <= 0 || f.TargetRate != l.TargetRate {
		return v
	}
	v.known = true
	v.value = l.Latency.P99 / f.Latency.P99
	v.met = v.value <= 2
	v.measured = fmt.Sprintf("%.2f ms vs %.2f ms at %.0f/s", l.Latency.P99, f.Latency.P99, l.TargetRate)
	return v
}

// goBench holds ns/op and custom metrics of `go test -bench` lines by
// benchmark name (without the -N suffix): the least ns/op of repeated
// lines, the last value of other metrics.
type goBench map[string]map[string]float64

func readGoBench(path string) (goBench, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return goBench{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseGoBench(f)
}

func parseGoBench(r io.Reader) (goBench, error) {
	out := goBench{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := out[name]
		if m == nil {
			m = map[string]float64{}
			out[name] = m
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			// Of repeated runs (-count), the fastest: on a shared machine
			// the others carry other work's interference.
			if unit := f[i+1]; unit != "ns/op" || m[unit] == 0 || v < m[unit] {
				m[unit] = v
			}
		}
	}
	return out, sc.Err()
}

// coldVerdict: a cold RS256 check through the engine against the bare RSA
// verification of the same token.
func coldVerdict(b goBench) verdict {
	v := verdict{target: "cold RS256 check vs bare RSA verification", limit: "<= 1.50x"}
	check, verify := b["BenchmarkEngineCheckColdRS256"]["ns/op"], b["BenchmarkVerifyCryptoRS256"]["ns/op"]
	if check <= 0 || verify <= 0 {
		return v
	}
	v.known, v.value = true, check/verify
	v.met = v.value <= 1.5
	v.measured = fmt.Sprintf("%.1f µs vs %.1f µs", check/1000, verify/1000)
	return v
}

// memoryVerdict: live heap per cached token with 100,000 tokens.
func memoryVerdict(b goBench) verdict {
	v := verdict{target: "bytes per cached token (100,000 tokens)", limit: "<= 2048"}
	per, ok := b["BenchmarkCacheMemory100k"]["bytes/token"]
	if !ok {
		return v
	}
	v.known, v.value, v.met = true, per, per <= 2048
	v.measured = fmt.Sprintf("%.0f bytes", per)
	return v
}

// assertionVerdict reports what signing an identity assertion (ES256)
// adds to a cached check through the engine (issue 14): reported, since
// the signature is the work asked for; the closed-loop comparisons above
// judge it against the floor.
func assertionVerdict(b goBench) verdict {
	v := verdict{target: "cached check with an identity assertion vs without (engine)", limit: "reported"}
	with, without := b["BenchmarkEngineCheckCachedAssertion"]["ns/op"], b["BenchmarkEngineCheckCached"]["ns/op"]
	if with <= 0 || without <= 0 {
		return v
	}
	v.known, v.met, v.value = true, true, with/without
	v.measured = fmt.Sprintf("%.1f µs vs %.1f µs", with/1000, without/1000)
	return v
}

// sharedCacheVerdicts: with the shared cache on, a hit of the in-process
// cache costs what it costs with it off (the shared cache is only asked on
// a local miss), and a Redis hit is reported against the in-process hit
// and against the cheapest possible provider call (issue 15). redis_hit
// empties the in-process cache on every iteration: evict_only, that
// emptying alone, is subtracted.
func sharedCacheVerdicts(b goBench) []verdict {
	ns := func(name string) float64 { return b["BenchmarkSharedCache/"+name]["ns/op"] }
	on := verdict{target: "in-process cache hit, shared cache on vs off", limit: "<= 1.25x"}
	if off, with := ns("in_process_hit/off"), ns("in_process_hit/on"); off > 0 && with > 0 {
		on.known, on.value = true, with/off
		on.met = on.value <= 1.25
		on.measured = fmt.Sprintf("%.2f µs vs %.2f µs", with/1000, off/1000)
	}
	hit := verdict{target: "Redis hit vs in-process hit", limit: "reported"}
	call := verdict{target: "Redis hit vs a loopback introspection call", limit: "reported"}
	redis := ns("redis_hit") - ns("evict_only")
	if local := ns("in_process_hit/on"); ns("redis_hit") > 0 && local > 0 {
		hit.known, hit.met, hit.value = true, true, redis/local
		hit.measured = fmt.Sprintf("%.1f µs vs %.2f µs", redis/1000, local/1000)
	}
	if pc := ns("provider_call"); ns("redis_hit") > 0 && pc > 0 {
		call.known, call.met, call.value = true, true, redis/pc
		call.measured = fmt.Sprintf("%.1f µs vs %.1f µs", redis/1000, pc/1000)
	}
	return []verdict{on, hit, call}
}

// rssVerdict reports restguard's RSS holding 100,000 distinct cached
// tokens (reported, not judged: the figure depends on the machine).
func rssVerdict(r *report) verdict {
	v := verdict{target: "RSS with 100,000 distinct cached tokens", limit: "reported"}
	if r == nil || len(r.Samples) == 0 {
		return v
	}
	var peak int64
	for _, s := range r.Samples {
		peak = max(peak, s.RSSBytes)
	}
	last := r.Samples[len(r.Samples)-1].RSSBytes
	v.known, v.met, v.value = true, true, float64(last)/(1<<20)
	v.measured = fmt.Sprintf("%.1f MiB at the end (peak %.1f MiB), %d tokens", float64(last)/(1<<20), float64(peak)/(1<<20), r.Tokens)
	return v
}

// runTargets is the `targets` subcommand.
func runTargets(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: restguard-load targets BENCH-DIR")
		return 2
	}
	vs, err := judge(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "restguard-load targets:", err)
		return 1
	}
	writeVerdicts(stdout, vs)
	return 0
}

func writeVerdicts(w io.Writer, vs []verdict) {
	fmt.Fprintf(w, "%-66s %-12s %-8s %-44s %s\n", "target (issues 13, 14, 15)", "limit", "ratio", "measured", "result")
	for _, v := range vs {
		val := "-"
		if v.known {
			val = strconv.FormatFloat(v.value, 'f', 2, 64)
		}
		fmt.Fprintf(w, "%-66s %-12s %-8s %-44s %s\n", v.target, v.limit, val, v.measured, v.result())
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
