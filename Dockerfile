# syntax=docker/dockerfile:1
# restguard container image: a static binary on an empty base, running as a non-root user.
#   make image             the builder's own platform (docker build)
#   make image-multiarch   linux/amd64 and linux/arm64 in one index (docker buildx)
#   docker run --rm -v $PWD/examples/restguard.yaml:/etc/restguard/restguard.yaml:ro restguard:dev
#
# The build stage always runs on the builder's platform and cross-compiles for the target
# (GOOS/GOARCH from TARGETOS/TARGETARCH): no emulation, and the Go module cache is shared.
#
# The base is pinned by the digest of golang:1.26.8-bookworm's multi-platform index, as
# recorded by the Docker Official Images in docker-library/repo-info
# (repos/golang/remote/1.26.8-bookworm.md, commit 38e7883912ed, built 2026-09-19). The image
# sets GOTOOLCHAIN=local, so its Go must be at least go.mod's (1.26.8). `make image-pin`
# re-resolves the tag's current digest (docker buildx imagetools inspect) and rewrites it here.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm@sha256:f4191582e1522dfc5980a6bdc0309a756f9697f3e7d0f199c7e26fc82ab324fd AS build
WORKDIR /src
# Modules first: a source change does not re-download them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/restguard ./cmd/restguard \
 && if [ "$TARGETOS/$TARGETARCH" = "$(go env GOHOSTOS)/$(go env GOHOSTARCH)" ]; then /out/restguard version; fi

# scratch is no image (nothing is pulled), so there is nothing to pin.
FROM scratch
# OCI annotations (image-spec annotations.md), set by the Makefile from git.
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=""
ARG SOURCE=https://github.com/restguard/restguard
LABEL org.opencontainers.image.title="restguard" \
      org.opencontainers.image.description="External authorization for Envoy in front of Atlassian Data Center REST APIs: OAuth2/OIDC access tokens only" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
# CA roots for https JWKS, discovery and introspection endpoints.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/restguard /restguard
# The "nonroot" uid/gid of distroless images; no shell, no package manager, nothing to run as root.
USER 65532:65532
# gRPC ext_authz, HTTP forward-auth, admin (/healthz, /readyz, /metrics).
EXPOSE 9001 9002 9003
ENTRYPOINT ["/restguard"]
CMD ["serve", "-config", "/etc/restguard/restguard.yaml"]
