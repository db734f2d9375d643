#!/usr/bin/env bash
# make bench: the targets of issue 13 on this machine, in one run. Every
# figure is a ratio against a floor measured in the same run: the null
# ext_authz gRPC server (decodes, answers OK) and a do-nothing net/http
# endpoint for forward-auth, each run right before restguard. Then the
# p99 comparison at one rate, the memory figures and the Go benchmarks of
# the cold path, and at the end every target with its ratio, MET or
# MISSED (restguard-load targets).
# Not part of CI. Everything binds to 127.0.0.1:0 and stops by itself;
# about six minutes with the defaults.
#
# Env: BENCH_DURATION (3s per measurement), BENCH_WARMUP (1s), BENCH_ROUNDS
#      (3 rounds of every comparison; the median ratio counts), BENCH_OUT
#      (bin/bench), BENCH_GO (1: also go test -bench), BENCH_COUNT (3 runs
#      of each Go benchmark, the fastest counts), BENCH_PLOT
#      (docs/perf/latency.svg), BENCH_MEMORY (1: the 100,000-token run).
set -euo pipefail
cd "$(dirname "$0")/.."
D=${BENCH_DURATION:-3s}
W=${BENCH_WARMUP:-1s}
ROUNDS=${BENCH_ROUNDS:-3}
OUT=${BENCH_OUT:-bin/bench}
PLOT=${BENCH_PLOT:-docs/perf/latency.svg}
mkdir -p "$OUT" "$(dirname "$PLOT")"
rm -f "$OUT"/*.json "$OUT"/*.txt

go build -trimpath -o bin/restguard ./cmd/restguard
go build -trimpath -o bin/restguard-load ./cmd/restguard-load
L=bin/restguard-load
RG=(-restguard-bin bin/restguard)
# The cached-JWT workload: 1,000 distinct valid tokens (RS256 and ES256),
# reused; the generated configuration enforces a public route, Basic
# blocking, a group rule and an IP rule.
JWT=(-tokens 1000 -mix valid=100 -d "$D" -warmup "$W")
# Opaque tokens through RFC 7662 introspection, the tool's IdP answering
# after 20 ms; restguard's cache TTL is its default (1 minute).
OPAQUE=(-provider introspection -tokens 1000 -mix opaque=100 -introspect-latency 20ms -d "$D" -warmup "$W")

run() { # run NAME ARGS...: one measurement, its report in $OUT/NAME.json
	local name=$1
	shift
	echo "-- $name"
	$L "$@" -label "$name" -json "$OUT/$name.json" >"$OUT/$name.txt"
	grep -E '^(requests|server cpu|idp calls)' "$OUT/$name.txt" | sed 's/^/   /'
}

echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3)"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure; compare ratios, run twice when loaded)"

# Each comparison runs ROUNDS times, the floor right before restguard each
# time; targets takes the median of the per-round ratios (a shared machine
# moves single runs by tens of percent).
for r in $(seq "$ROUNDS"); do
	for c in 16 64; do
		echo "== round $r, concurrency $c"
		run grpc-c$c-null-r$r -null -c "$c" "${JWT[@]}"
		run grpc-c$c-restguard-r$r "${RG[@]}" -c "$c" "${JWT[@]}" -allowed-sample 0.1
		run grpc-c$c-restguard-logall-r$r "${RG[@]}" -c "$c" "${JWT[@]}" -allowed-sample 1
		run introspection-c$c-null-r$r -null -c "$c" "${OPAQUE[@]}"
		run introspection-c$c-restguard-r$r "${RG[@]}" -c "$c" "${OPAQUE[@]}" -allowed-sample 0.1
		run http-c$c-null-r$r -null -transport http -c "$c" "${JWT[@]}"
		run http-c$c-restguard-r$r "${RG[@]}" -transport http -c "$c" "${JWT[@]}" -allowed-sample 0.1
		# Issue 14: every allow carries a signed identity assertion (ES256).
		run assertion-c$c-restguard-r$r "${RG[@]}" -assertion -c "$c" "${JWT[@]}" -allowed-sample 0.1
	done
done

echo "== latency at the same rates: 25%, 50%, 75% of restguard's closed-loop maximum (c=64)"
SWEEP=(-c 64 "${JWT[@]}" -sweep 25%,50%,75% -sweep-base "$OUT/grpc-c64-restguard-r1.json")
run sweep-null -null "${SWEEP[@]}"
run sweep-restguard "${RG[@]}" "${SWEEP[@]}" -allowed-sample 0.1
grep -h '^sweep' "$OUT/sweep-null.txt" "$OUT/sweep-restguard.txt" | sed 's/^/   /'
$L plot -o "$PLOT" -title "restguard vs the null ext_authz server at the same rates ($(nproc) cores, cached JWT, c=64)" \
	"$OUT/sweep-null.json" "$OUT/sweep-restguard.json"
echo "   wrote $PLOT"

if [ "${BENCH_MEMORY:-1}" = 1 ]; then
	echo "== memory: 100,000 distinct ES256 tokens, all cached, RSS sampled"
	run memory-restguard "${RG[@]}" -tokens 100000 -es256 1 -cache-size 100000 -mix valid=100 -c 16 -d 3s -warmup 0s -sample 1s -allowed-sample 0.1
fi

if [ "${BENCH_GO:-1}" = 1 ]; then
	echo "== go test -bench: the cold path, the assertion, the shared cache (Redis, when redis-server is installed) and the cache's memory (the fastest of ${BENCH_COUNT:-3} runs counts)"
	# The cold check and the bare verification alternate, so that a busy
	# moment of the machine does not fall on one of them only.
	go test -c -o "$OUT/authz.test" ./authz
	go test -c -o "$OUT/providers.test" ./providers
	A=$(realpath "$OUT/authz.test")
	P=$(realpath "$OUT/providers.test")
	{
		for _ in $(seq "${BENCH_COUNT:-3}"); do
			(cd authz && "$A" -test.run '^$' -test.bench 'EngineCheckCold|EngineCheckCached$|EngineCheckCachedAssertion$' -test.benchmem)
			(cd providers && "$P" -test.run '^$' -test.bench 'VerifyCrypto|ValidateCold|SharedCache' -test.benchmem)
		done
		(cd providers && "$P" -test.run '^$' -test.bench 'CacheMemory100k' -test.benchtime 1x)
	} | tee "$OUT/go-bench.txt" | grep -E '^(Benchmark|FAIL)' | sed 's/^/   /'
fi

echo
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== targets of issues 13, 14 and 15 (ratios against a floor of the same run)"
$L targets "$OUT"
