package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// Typed configs used by the examples: registered so that protojson can
	// resolve their Any type URLs. A missing one fails the parse.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
)

// envoyFiles are the Envoy bootstraps among the examples.
func envoyFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "envoy", "envoy*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "compose", "envoy.yaml"), filepath.Join("..", "ratelimit", "envoy.yaml"))
	if len(files) < 4 {
		t.Fatalf("expected at least 4 Envoy bootstraps, found %v", files)
	}
	return files
}

// loadBootstrap parses an Envoy YAML bootstrap strictly (unknown fields and
// unresolvable typed_config types are errors) and validates it, including
// every typed_config inside.
func loadBootstrap(t *testing.T, file string) *bootstrapv3.Bootstrap {
	t.Helper()
	y, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(j, b); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	validateAnys(t, file, b.ProtoReflect())
	return b
}

type validator interface{ ValidateAll() error }

// validateAnys unpacks every Any below m and runs its ValidateAll: the
// generated validators stop at Any fields.
func validateAnys(t *testing.T, file string, m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		visit := func(msg protoreflect.Message) {
			if a, ok := msg.Interface().(*anypb.Any); ok {
				inner, err := a.UnmarshalNew()
				if err != nil {
					t.Errorf("%s: %s: %v", file, a.GetTypeUrl(), err)
					return
				}
				if v, ok := inner.(validator); ok {
					if err := v.ValidateAll(); err != nil {
						t.Errorf("%s: %s: %v", file, a.GetTypeUrl(), err)
					}
				}
				validateAnys(t, file, inner.ProtoReflect())
				return
			}
			validateAnys(t, file, msg)
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visit(l.Get(i).Message())
			}
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					visit(mv.Message())
					return true
				})
			}
		default:
			visit(v.Message())
		}
		return true
	})
}

func unpack[T proto.Message](t *testing.T, a *anypb.Any, m T) T {
	t.Helper()
	if err := a.UnmarshalTo(m); err != nil {
		t.Fatalf("%s: %v", a.GetTypeUrl(), err)
	}
	return m
}

// TestEnvoyBootstraps parses every Envoy example and checks the settings
// docs/deploy.md calls essential.
func TestEnvoyBootstraps(t *testing.T) {
	for _, file := range envoyFiles(t) {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			b := loadBootstrap(t, file)
			clusters := map[string]*clusterv3.Cluster{}
			for _, c := range b.GetStaticResources().GetClusters() {
				clusters[c.GetName()] = c
			}
			var hcms int
			for _, l := range b.GetStaticResources().GetListeners() {
				for _, fc := range l.GetFilterChains() {
					for _, f := range fc.GetFilters() {
						if f.GetTypedConfig().MessageIs((*hcmv3.HttpConnectionManager)(nil)) {
							hcms++
							checkHCM(t, unpack(t, f.GetTypedConfig(), &hcmv3.HttpConnectionManager{}), clusters)
						}
					}
				}
			}
			if hcms == 0 {
				t.Fatal("no http_connection_manager")
			}
		})
	}
}

func checkHCM(t *testing.T, h *hcmv3.HttpConnectionManager, clusters map[string]*clusterv3.Cluster) {
	t.Helper()
	if !h.GetNormalizePath().GetValue() || !h.GetMergeSlashes() {
		t.Error("normalize_path and merge_slashes must be on")
	}
	if a := h.GetPathWithEscapedSlashesAction(); a == hcmv3.HttpConnectionManager_IMPLEMENTATION_SPECIFIC_DEFAULT || a == hcmv3.HttpConnectionManager_KEEP_UNCHANGED {
		t.Errorf("path_with_escaped_slashes_action = %v", a)
	}
	if a := h.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction(); a == 0 {
		t.Error("headers_with_underscores_action must not allow underscores")
	}
	if len(h.GetAccessLog()) == 0 {
		t.Error("no access log")
	}

	filters := h.GetHttpFilters()
	if len(filters) == 0 || filters[len(filters)-1].GetName() != "envoy.filters.http.router" {
		t.Fatal("the router must be the last filter")
	}
	var ea *extauthzv3.ExtAuthz
	for i, f := range filters {
		if f.GetTypedConfig().MessageIs((*extauthzv3.ExtAuthz)(nil)) {
			ea = unpack(t, f.GetTypedConfig(), &extauthzv3.ExtAuthz{})
			// Between ext_authz and the router only filters that never clear
			// the route cache: the global rate-limit filter, which reads
			// ext_authz's metadata and so must come after it.
			for _, after := range filters[i+1 : len(filters)-1] {
				if !after.GetTypedConfig().MessageIs((*ratelimitv3.RateLimit)(nil)) {
					t.Errorf("%s after ext_authz: only the router and the rate-limit filter may follow it (no route-cache clearing after the check)", after.GetName())
				}
			}
		}
	}
	if ea == nil {
		t.Fatal("no ext_authz filter")
	}
	if ea.GetFailureModeAllow() {
		t.Error("failure_mode_allow must be false")
	}
	if ea.GetStatusOnError().GetCode() != 503 {
		t.Errorf("status_on_error = %v, want ServiceUnavailable", ea.GetStatusOnError().GetCode())
	}
	if ea.GetClearRouteCache() {
		t.Error("clear_route_cache re-routes an authorized request")
	}
	switch {
	case ea.GetGrpcService() != nil:
		g := ea.GetGrpcService()
		if g.GetTimeout() == nil {
			t.Error("gRPC ext_authz without an explicit timeout")
		}
		c := clusters[g.GetEnvoyGrpc().GetClusterName()]
		if c == nil {
			t.Fatalf("ext_authz cluster %q not defined", g.GetEnvoyGrpc().GetClusterName())
		}
		opts := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
		if opts == nil || unpack(t, opts, &httpv3.HttpProtocolOptions{}).GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
			t.Errorf("cluster %s: gRPC needs explicit HTTP/2", c.GetName())
		}
		if len(c.GetHealthChecks()) == 0 || c.GetHealthChecks()[0].GetGrpcHealthCheck() == nil {
			t.Errorf("cluster %s: no gRPC health check", c.GetName())
		}
	case ea.GetHttpService() != nil:
		hs := ea.GetHttpService()
		if hs.GetServerUri().GetTimeout() == nil {
			t.Error("http_service without an explicit timeout")
		}
		if hs.GetPathPrefix() != "/ext-authz" {
			t.Errorf("path_prefix = %q", hs.GetPathPrefix())
		}
		if clusters[hs.GetServerUri().GetCluster()] == nil {
			t.Errorf("http_service cluster %q not defined", hs.GetServerUri().GetCluster())
		}
		if len(hs.GetAuthorizationResponse().GetAllowedUpstreamHeaders().GetPatterns()) == 0 {
			t.Error("no allowed_upstream_headers: the identity would never reach the upstream")
		}
	default:
		t.Fatal("ext_authz has neither grpc_service nor http_service")
	}

	for _, vh := range h.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			checkRoute(t, vh.GetName(), r, clusters)
		}
	}
}

// checkRoute: every route removes client identity headers, and a route
// without a check removes the ones restguard would otherwise set.
func checkRoute(t *testing.T, vh string, r *routev3.Route, clusters map[string]*clusterv3.Cluster) {
	t.Helper()
	name := vh + " " + r.GetMatch().String()
	if c := r.GetRoute().GetCluster(); c != "" && clusters[c] == nil {
		t.Errorf("%s: unknown cluster %q", name, c)
	}
	remove := strings.Join(r.GetRequestHeadersToRemove(), ",")
	if !strings.Contains(remove, "remote-user") {
		t.Errorf("%s: request_headers_to_remove lacks client identity headers: %q", name, remove)
	}
	if a := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]; a != nil {
		if unpack(t, a, &extauthzv3.ExtAuthzPerRoute{}).GetDisabled() && !strings.Contains(remove, "x-forwarded-user") {
			t.Errorf("%s: no check here, so x-forwarded-user must be removed", name)
		}
	}
	for _, m := range r.GetMatch().GetHeaders() {
		if m.GetName() == "authorization" && !slicesContains(r.GetResponseHeadersToRemove(), "set-cookie") {
			t.Errorf("%s: the bearer route must drop Set-Cookie", name)
		}
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
