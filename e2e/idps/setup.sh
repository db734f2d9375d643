#!/usr/bin/env bash
# setup.sh CACHE_DIR - prepares the real identity providers of the e2e/idps tests:
#   - Ory Hydra v2.3.0, built once into CACHE_DIR/hydra-v2.3.0/hydra (about 5 minutes on
#     2 cores with cold caches; skipped when the binary is already there);
#   - node oidc-provider, installed with `npm ci` from e2e/idps/oidc-provider/package-lock.json
#     into CACHE_DIR/oidc-provider-<lockfile hash>/ (skipped when already installed).
# It prints the two export lines the tests read, for eval:
#   eval "$(e2e/idps/setup.sh "$HOME/.cache/restguard-e2e")"
# Progress goes to stderr; only the export lines go to stdout.
# Needs: go (with cgo and gcc, for Hydra's SQLite), node and npm.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=$(mkdir -p "${1:?usage: setup.sh CACHE_DIR}" && cd "$1" && pwd)

HYDRA_VERSION=v2.3.0
# Hydra's own go.mod replaces gobuffalo/pop with Ory's fork; a replace in a dependency is
# ignored, so the build module repeats it (without it: "p.conn.Store.SQLDB undefined").
POP_REPLACE=github.com/gobuffalo/pop/v6=github.com/ory/pop/v6@v6.2.1-0.20241121111754-e5dfc0f3344b
HYDRA_DIR="$CACHE/hydra-$HYDRA_VERSION"
HYDRA_BIN="$HYDRA_DIR/hydra"

if [ ! -x "$HYDRA_BIN" ]; then
	echo "setup: building Ory Hydra $HYDRA_VERSION into $HYDRA_DIR (takes a few minutes)" >&2
	mkdir -p "$HYDRA_DIR"
	W=$(mktemp -d)
	trap 'rm -rf "$W"' EXIT
	(
		cd "$W"
		export GOFLAGS=-mod=mod
		go mod init restguard.invalid/hydrabuild >/dev/null 2>&1
		go get -tool "github.com/ory/hydra/v2@$HYDRA_VERSION" >&2
		go mod edit -replace "$POP_REPLACE"
		go mod tidy >&2
		# -tags sqlite: the in-memory DSN (dsn: memory) is SQLite, which needs cgo.
		CGO_ENABLED=1 GOBIN="$W/bin" go install -tags sqlite,sqlite_omit_load_extension github.com/ory/hydra/v2 >&2
	)
	mv "$W/bin/hydra" "$HYDRA_BIN.tmp" && mv "$HYDRA_BIN.tmp" "$HYDRA_BIN"
	echo "setup: hydra built: $HYDRA_BIN" >&2
else
	echo "setup: hydra already built: $HYDRA_BIN" >&2
fi

LOCK="$HERE/oidc-provider/package-lock.json"
SUM=$(cat "$HERE/oidc-provider/package.json" "$LOCK" | sha256sum | cut -c1-16)
OP_DIR="$CACHE/oidc-provider-$SUM"
if [ ! -f "$OP_DIR/.installed" ]; then
	echo "setup: npm ci for oidc-provider into $OP_DIR" >&2
	rm -rf "$OP_DIR"
	mkdir -p "$OP_DIR"
	cp "$HERE/oidc-provider/package.json" "$LOCK" "$OP_DIR/"
	(cd "$OP_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
	touch "$OP_DIR/.installed"
else
	echo "setup: oidc-provider already installed: $OP_DIR" >&2
fi

echo "export RESTGUARD_HYDRA_BIN=$HYDRA_BIN"
echo "export RESTGUARD_OIDC_PROVIDER_DIR=$OP_DIR"
