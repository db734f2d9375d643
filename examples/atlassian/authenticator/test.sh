#!/usr/bin/env bash
# Builds the reference authenticators against the API shim and runs their tests,
# including the shared test vectors. Needs a JDK 17 or later (javac, java); no
# network, no third-party libraries. Exit status is the tests' status.
set -euo pipefail
cd "$(dirname "$0")"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# A short-lived compiler: C1 only and the serial collector start faster.
jc=(javac -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC --release 17 -proc:none -Xlint:all -Werror -encoding UTF-8)

# Every source at once, with the shim standing in for the products' APIs.
mapfile -t sources < <(find shim src test -name '*.java' | sort)
"${jc[@]}" -d "$out/classes" "${sources[@]}"

# The shipped sources compile per product without the tests and with only that
# product's part of the shim, so no product's class depends on another's API.
pids=()
for product in jira confluence bamboo bitbucket; do
	case $product in
	bitbucket) deps=(shim/com/atlassian/bitbucket) ;;
	*) deps=(shim/com/atlassian/seraph "shim/com/atlassian/$product" src/seraph) ;;
	esac
	mapfile -t ps < <(find shim/javax src/core src/servlet "${deps[@]}" "src/$product" -name '*.java' | sort)
	"${jc[@]}" -d "$out/$product" "${ps[@]}" &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	wait "$pid"
done

java -cp "$out/classes" com.github.restguard.atlassian.TestMain testdata/vectors.json
