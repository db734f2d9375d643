// Package validate holds the tests that parse and schema-check every file
// under examples/: Envoy bootstraps into go-control-plane's Bootstrap with
// ValidateAll, Istio resources into istio.io/api types, Kubernetes
// manifests into k8s.io/api types (ServiceMonitors into the Prometheus
// Operator's), the Helm chart rendered by Helm's own engine, the rate-limit
// service's configuration with envoyproxy/ratelimit's own loader, the
// Dockerfile's labels and pinned bases, and the compose files for services,
// images, ports and mounted files. It is its own module so that these
// schema modules never enter restguard's.
//
//	cd examples/validate && go test ./...
package validate
