#!/usr/bin/env bash
# make soak: restguard under constant load for SOAK_DURATION (10m), with its
# RSS (and goroutines, when the admin endpoint exposes go_goroutines)
# sampled every SOAK_SAMPLE (30s). Twice as many distinct tokens as the
# token cache holds, so the cache fills to its bound and keeps evicting:
# memory must level off, not grow. Not part of CI.
#
# Env: SOAK_DURATION, SOAK_RATE (1000/s), SOAK_SAMPLE, SOAK_OUT (bin/soak.json).
set -euo pipefail
cd "$(dirname "$0")/.."
go build -trimpath -o bin/restguard ./cmd/restguard
go build -trimpath -o bin/restguard-load ./cmd/restguard-load
OUT=${SOAK_OUT:-bin/soak.json}
bin/restguard-load -restguard-bin bin/restguard -rate "${SOAK_RATE:-1000}" -c 64 \
	-d "${SOAK_DURATION:-10m}" -sample "${SOAK_SAMPLE:-30s}" -warmup 10s -token-ttl 2h \
	-tokens 20000 -es256 1 -cache-size 10000 -mix valid=95,badsig=2,expired=2,basic=1 \
	-label soak -json "$OUT"
echo "wrote $OUT"
