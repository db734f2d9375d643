# restguard container image: a static binary on an empty base, running as a non-root user.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t restguard:dev .
#   docker run --rm -v $PWD/examples/restguard.yaml:/etc/restguard/restguard.yaml:ro restguard:dev
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first: a source change does not re-download them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/restguard ./cmd/restguard \
 && /out/restguard version

FROM scratch
# CA roots for https JWKS, discovery and introspection endpoints.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/restguard /restguard
# The "nonroot" uid/gid of distroless images; no shell, no package manager, nothing to run as root.
USER 65532:65532
# gRPC ext_authz, HTTP forward-auth, admin (/healthz, /readyz).
EXPOSE 9001 9002 9003
ENTRYPOINT ["/restguard"]
CMD ["serve", "-config", "/etc/restguard/restguard.yaml"]
