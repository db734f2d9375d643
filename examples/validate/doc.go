// Package validate holds the tests that parse and schema-check every file
// under examples/: Envoy bootstraps into go-control-plane's Bootstrap with
// ValidateAll, Istio resources into istio.io/api types, Kubernetes
// manifests into k8s.io/api types, and the compose file for services,
// images, ports and mounted files. It is its own module so that these
// schema modules never enter restguard's.
//
//	cd examples/validate && go test ./...
package validate
