# restguard — see README.md.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 10s
# Every native fuzz target, as package:Target.
FUZZ_TARGETS := \
	./authz:FuzzParseCredential \
	./authz/config:FuzzParse \
	./policy:FuzzNormalizePath \
	./policy:FuzzRouterMatch \
	./policy:FuzzClientIP \
	./providers:FuzzJWTValidate \
	./providers:FuzzStrictJSON \
	./providers:FuzzClaimPath \
	./providers:FuzzIntrospectionAnswer \
	./policy:FuzzPasswordChannels \
	./envoy:FuzzToRequest \
	./envoy:FuzzToResponse \
	./envoy:FuzzHTTPHandler

.PHONY: build run test test-unit lint deps-check fuzz fuzz-ci validate-examples image bench soak soak-hardening clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/restguard ./cmd/restguard

## run: a complete local setup with no external services (throw-away IdP, loopback only)
run:
	$(GO) run ./cmd/restguard dev

## test: what CI runs — vet, the dependency rule, the race-enabled tests, a short fuzz pass
test: lint test-unit validate-examples fuzz-ci

test-unit:
	$(GO) test -race -count=1 ./...

lint: deps-check
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## deps-check: authz imports only the standard library; each module has one home
deps-check:
	@bad=$$($(GO) list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./authz | grep -v '^github.com/restguard/restguard/authz$$' || true); \
	if [ -n "$$bad" ]; then echo "authz must import only the standard library, found:"; echo "$$bad"; exit 1; fi
	@for pair in "github.com/envoyproxy/go-control-plane:envoy|cmd/restguard-load/internal/nullauthz" "google.golang.org/grpc:envoy|cmd/restguard-load/internal/nullauthz" \
	             "github.com/lestrrat-go/jwx:providers|internal/idptest" "github.com/hashicorp/golang-lru:providers" \
	             "gopkg.in/yaml.v3:authz/config" "github.com/redis/go-redis:sharedcache"; do \
		mod=$${pair%%:*}; home=$${pair##*:}; \
		users=$$($(GO) list -f '{{.ImportPath}} {{join .Imports " "}}' ./... | grep " $$mod" | cut -d' ' -f1 | grep -v -E "^github.com/restguard/restguard/($$home)$$" || true); \
		if [ -n "$$users" ]; then echo "$$mod may only be imported by $$home/, found in:"; echo "$$users"; exit 1; fi; \
	done
	@echo "dependency rules hold"

## fuzz-ci: every fuzz target for FUZZTIME (CI uses the default 10s)
fuzz-ci:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg > /tmp/restguard-fuzz.log 2>&1 || { cat /tmp/restguard-fuzz.log; exit 1; }; \
	done

## fuzz: longer fuzzing, e.g. make fuzz FUZZTIME=10m
fuzz: FUZZTIME=2m
fuzz: fuzz-ci

## validate-examples: schema-check every Envoy, Istio, compose and Kubernetes example (own module)
validate-examples:
	cd examples/validate && $(GO) test -count=1 ./...

## image: the container image (multi-stage, static, non-root, version-stamped)
image:
	docker build --build-arg VERSION=$(VERSION) -t restguard:$(VERSION) .

## bench: restguard against the null ext_authz server in one run, ratios and a latency plot (not in CI)
bench:
	bash scripts/bench.sh

## soak: 10 minutes of constant load, memory and goroutines over time (not in CI)
soak:
	bash scripts/soak.sh

## soak-hardening: mixed load (valid, attacks, faults) with a reload every minute (not in CI)
soak-hardening:
	RESTGUARD_SOAK=1 $(GO) test -run TestSoakHardening -timeout 30m -v ./e2e/soak/

clean:
	rm -rf bin
