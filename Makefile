# restguard — see README.md.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# fail a target with a bare "context deadline exceeded" when the deadline
# falls while a worker is mid-batch (go.dev/issue/75804, fixed in Go 1.27);
# a count has no deadline to race. 100000 executions take 1 to 30 s here.
FUZZTIME  ?= 100000x
# Every native fuzz target, as package:Target.
FUZZ_TARGETS := \
	./authz:FuzzParseCredential \
	./authz:FuzzFoldName \
	./config:FuzzParse \
	./policy:FuzzNormalizePath \
	./policy:FuzzRouterMatch \
	./policy:FuzzClientIP \
	./providers:FuzzJWTValidate \
	./providers:FuzzStrictJSON \
	./providers:FuzzStrictJSONFast \
	./providers:FuzzClaimPath \
	./providers:FuzzIntrospectionAnswer \
	./providers:FuzzDecodeResult \
	./policy:FuzzPasswordChannels \
	./envoy:FuzzToRequest \
	./envoy:FuzzToResponse \
	./envoy:FuzzWireDecode \
	./envoy:FuzzWireResponse \
	./envoy:FuzzHTTPHandler \
	./assertion:FuzzVerify \
	./assertion:FuzzStrictJSON \
	./sharedcache:FuzzDecodeRevocation \
	./sharedcache:FuzzOpen

.PHONY: build run test test-unit lint deps-check fuzz fuzz-ci validate-examples image image-multiarch image-pin bench soak soak-hardening clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/restguard ./cmd/restguard

## run: a complete local setup with no external services (throw-away IdP, loopback only)
run:
	$(GO) run ./cmd/restguard dev

## test: what CI runs — vet, the dependency rule, the race-enabled tests, a short fuzz pass
test: lint test-unit validate-examples fuzz-ci

# The result line per package, failing tests' output, and at the end the
# list of skipped tests with their reasons (internal/testreport).
test-unit:
	$(GO) build -o bin/testreport ./internal/testreport
	$(GO) test -race -count=1 -json ./... | bin/testreport

lint: deps-check
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK) ./...

# staticcheck, run through the module proxy at this version (2026.1).
STATICCHECK := v0.8.2

# Each direct module and the packages that may import it (its home).
MODULE_HOMES := github.com/envoyproxy/go-control-plane/envoy:envoy|cmd/restguard-load/internal/nullauthz \
	google.golang.org/grpc:envoy|cmd/restguard-load/internal/nullauthz \
	google.golang.org/genproto/googleapis/rpc:envoy|cmd/restguard-load/internal/nullauthz \
	google.golang.org/protobuf:envoy|cmd/restguard-load/internal/nullauthz \
	github.com/lestrrat-go/jwx/v2:providers|internal/idptest \
	github.com/hashicorp/golang-lru/v2:providers \
	golang.org/x/sync:providers \
	github.com/prometheus/client_golang:metrics \
	gopkg.in/yaml.v3:config \
	github.com/redis/go-redis/v9:sharedcache

## deps-check: authz imports only the standard library; each direct module has one home
deps-check:
	@bad=$$($(GO) list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./authz | grep -v '^github.com/restguard/restguard/authz$$' || true); \
	if [ -n "$$bad" ]; then echo "authz must import only the standard library, found:"; echo "$$bad"; exit 1; fi
	@for mod in $$($(GO) list -m -f '{{if and (not .Indirect) (not .Main)}}{{.Path}}{{end}}' all); do \
		case " $(MODULE_HOMES) " in *" $$mod:"*) ;; *) echo "direct module $$mod has no home in MODULE_HOMES (deps-check)"; exit 1;; esac; \
	done
	@for pair in $(foreach h,$(MODULE_HOMES),'$(h)'); do \
		mod=$${pair%%:*}; home=$${pair##*:}; \
		users=$$($(GO) list -f '{{.ImportPath}} {{join .Imports " "}}' ./... | grep " $$mod" | cut -d' ' -f1 | grep -v -E "^github.com/restguard/restguard/($$home)$$" || true); \
		if [ -n "$$users" ]; then echo "$$mod may only be imported by $$home/, found in:"; echo "$$users"; exit 1; fi; \
	done
	@echo "dependency rules hold"

## fuzz-ci: every fuzz target for FUZZTIME executions (CI uses the default 100000x)
fuzz-ci:
	@set -e; log=$$(mktemp -d)/fuzz.log; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg > $$log 2>&1 || { cat $$log; exit 1; }; \
	done; rm -rf $$(dirname $$log)

## fuzz: longer fuzzing, e.g. make fuzz FUZZTIME=20000000x (a duration such as 10m works too, see FUZZTIME)
fuzz: FUZZTIME=3000000x
fuzz: fuzz-ci

## validate-examples: schema-check every Envoy, Istio, compose and Kubernetes example (own module)
validate-examples:
	cd examples/validate && $(GO) test -count=1 ./...

## image: the container image for the builder's platform (multi-stage, static, non-root, OCI labels)
IMAGE      ?= restguard
PLATFORMS  ?= linux/amd64,linux/arm64
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
CREATED    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
IMAGE_ARGS  = --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg CREATED=$(CREATED)
image:
	docker build $(IMAGE_ARGS) -t $(IMAGE):$(VERSION) .

## image-multiarch: linux/amd64 + linux/arm64 in one index with buildx; Go cross-compiles, no
## emulation. PUSH=1 pushes $(IMAGE):$(VERSION); otherwise an OCI archive in bin/.
image-multiarch:
	mkdir -p bin
	docker buildx build --platform $(PLATFORMS) $(IMAGE_ARGS) -t $(IMAGE):$(VERSION) \
		$(if $(PUSH),--push,--output type=oci,dest=bin/restguard-$(VERSION).oci.tar) .

## image-pin: resolve the build stage's golang tag to its current index digest and write it
## into the Dockerfile (needs docker buildx and the registry)
image-pin:
	@ref=$$(sed -n 's|^FROM --platform=$$BUILDPLATFORM \(golang:[^@ ]*\).*|\1|p' Dockerfile); \
	test -n "$$ref" || { echo "no golang FROM line in Dockerfile"; exit 1; }; \
	digest=$$(docker buildx imagetools inspect "$$ref" --format '{{json .Manifest}}' | grep -o '"digest":"sha256:[0-9a-f]\{64\}"' | head -1 | cut -d'"' -f4); \
	test -n "$$digest" || { echo "could not resolve $$ref"; exit 1; }; \
	sed -i "s|^\(FROM --platform=\$$BUILDPLATFORM $$ref\)\(@sha256:[0-9a-f]*\)\{0,1\} AS|\1@$$digest AS|" Dockerfile; \
	grep -n "^FROM --platform" Dockerfile

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
