#!/usr/bin/env bash
# make bench: restguard against the floor (a null ext_authz server) on this
# machine, in one run, then a fixed-rate sweep plotted to
# docs/perf/latency.svg, then the Go micro-benchmarks.
# Not part of CI. Everything binds to 127.0.0.1:0 and stops by itself.
#
# Env: BENCH_DURATION (10s per measurement), BENCH_OUT (bin/bench),
#      BENCH_SWEEP (10%,25%,50%,75%,90%), BENCH_GO (1: also go test -bench),
#      BENCH_PLOT (docs/perf/latency.svg).
set -euo pipefail
cd "$(dirname "$0")/.."
D=${BENCH_DURATION:-10s}
OUT=${BENCH_OUT:-bin/bench}
SWEEP=${BENCH_SWEEP:-10%,25%,50%,75%,90%}
PLOT=${BENCH_PLOT:-docs/perf/latency.svg}
mkdir -p "$OUT" "$(dirname "$PLOT")"

go build -trimpath -o bin/restguard ./cmd/restguard
go build -trimpath -o bin/restguard-load ./cmd/restguard-load
L=bin/restguard-load
# The cached-JWT case of issue 7: 1,000 distinct valid tokens, reused.
common=(-tokens 1000 -mix valid=100 -d "$D" -warmup 2s)

echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3)"
for c in 16 64; do
	echo "== concurrency $c: null server (the floor)"
	$L -null -c "$c" "${common[@]}" -label null -json "$OUT/null-c$c.json"
	echo "== concurrency $c: restguard"
	$L -restguard-bin bin/restguard -c "$c" "${common[@]}" -label restguard -json "$OUT/restguard-c$c.json"
done

echo "== fixed-rate sweep ($SWEEP of each server's closed-loop maximum, concurrency 64)"
$L -null -c 64 "${common[@]}" -sweep "$SWEEP" -label null -json "$OUT/null-sweep.json" >/dev/null
$L -restguard-bin bin/restguard -c 64 "${common[@]}" -sweep "$SWEEP" -label restguard -json "$OUT/restguard-sweep.json" >/dev/null
$L plot -o "$PLOT" -title "restguard vs the null ext_authz server ($(nproc) cores, cached JWT)" \
	"$OUT/null-sweep.json" "$OUT/restguard-sweep.json"
echo "wrote $PLOT"

echo
echo "== ratios (same machine, same run)"
for c in 16 64; do
	$L compare "$OUT/null-c$c.json" "$OUT/restguard-c$c.json"
done
$L compare "$OUT/null-sweep.json" "$OUT/restguard-sweep.json"

if [ "${BENCH_GO:-1}" = 1 ]; then
	echo
	echo "== go test -bench (compare runs with benchstat)"
	go test -run '^$' -bench . -benchmem -count "${BENCH_COUNT:-1}" \
		./authz ./config ./policy ./providers | tee "$OUT/go-bench.txt" | grep -E '^(Benchmark|ok|FAIL)'
fi
