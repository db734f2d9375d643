package validate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
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
	identity := identityHeaders(t)
	if !h.GetNormalizePath().GetValue() || !h.GetMergeSlashes() {
		t.Error("normalize_path and merge_slashes must be on")
	}
	if a := h.GetPathWithEscapedSlashesAction(); a != hcmv3.HttpConnectionManager_REJECT_REQUEST {
		t.Errorf("path_with_escaped_slashes_action = %v, want REJECT_REQUEST (docs/deploy.md)", a)
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
	removedBefore := map[string]bool{}
	for i, f := range filters {
		if f.GetTypedConfig().MessageIs((*headermutationv3.HeaderMutation)(nil)) && ea == nil {
			for _, m := range unpack(t, f.GetTypedConfig(), &headermutationv3.HeaderMutation{}).GetMutations().GetRequestMutations() {
				if r := m.GetRemove(); r != "" {
					removedBefore[strings.ToLower(r)] = true
				}
			}
		}
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
	// Client copies of every identity header are removed before the check,
	// on every route (a filter before ext_authz can never remove what
	// restguard sets).
	for _, name := range identity {
		if !removedBefore[name] {
			t.Errorf("no header_mutation before ext_authz removes %s", name)
		}
	}
	if ea.GetFailureModeAllow() {
		t.Error("failure_mode_allow must be false")
	}
	if ea.GetStatusOnError().GetCode() != 503 {
		t.Errorf("status_on_error = %v, want ServiceUnavailable", ea.GetStatusOnError().GetCode())
	}
	if ea.GetClearRouteCache() {
		t.Error("clear_route_cache re-routes an authorized request; no route here reads a header restguard sets")
	}
	if !ea.GetEncodeRawHeaders() {
		t.Error("encode_raw_headers must be true (docs/deploy.md)")
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
		allowed := map[string]bool{}
		for _, m := range hs.GetAuthorizationResponse().GetAllowedUpstreamHeaders().GetPatterns() {
			allowed[strings.ToLower(m.GetExact())] = true
		}
		for _, h := range allowHeaders {
			if !allowed[h] {
				t.Errorf("allowed_upstream_headers lacks %s: restguard sets it on an allow and Envoy's HTTP ext_authz drops it", h)
			}
		}
	default:
		t.Fatal("ext_authz has neither grpc_service nor http_service")
	}

	for _, vh := range h.GetRouteConfig().GetVirtualHosts() {
		checkRoutes(t, vh, clusters, identity)
	}
}

// checkRoutes holds the identity-header and Set-Cookie rules of
// docs/deploy.md for one virtual host:
//   - a route where ext_authz is disabled removes every identity header
//     itself (nothing sets one there);
//   - a route where ext_authz runs never lists an identity header in
//     request_headers_to_remove: the router applies route-level removals
//     after ext_authz, so it would remove the identity restguard set;
//   - the first checked route matches every request that carries an
//     Authorization header and drops Set-Cookie from its response.
func checkRoutes(t *testing.T, vh *routev3.VirtualHost, clusters map[string]*clusterv3.Cluster, identity []string) {
	t.Helper()
	firstChecked := true
	for _, r := range vh.GetRoutes() {
		name := vh.GetName() + "/" + r.GetName()
		if r.GetName() == "" {
			t.Errorf("%s %v: every route has a name (the docs' snippets refer to it)", vh.GetName(), r.GetMatch())
		}
		if c := r.GetRoute().GetCluster(); c != "" && clusters[c] == nil {
			t.Errorf("%s: unknown cluster %q", name, c)
		}
		removed := map[string]bool{}
		for _, h := range r.GetRequestHeadersToRemove() {
			removed[strings.ToLower(h)] = true
		}
		if routeUnchecked(t, r) {
			for _, h := range identity {
				if !removed[h] {
					t.Errorf("%s: no check here, so the route must remove %s", name, h)
				}
			}
			continue
		}
		for _, h := range identity {
			if removed[h] {
				t.Errorf("%s: ext_authz runs here, but request_headers_to_remove lists %s: the router would remove it after restguard set it", name, h)
			}
		}
		if firstChecked {
			firstChecked = false
			if !matchesAnyAuthorization(r) || r.GetMatch().GetPrefix() != "/" || !slices.Contains(r.GetResponseHeadersToRemove(), "set-cookie") {
				t.Errorf("%s: the first checked route must match every request with an Authorization header (prefix /, present_match) and drop set-cookie", name)
			}
		}
	}
	if firstChecked {
		t.Errorf("%s: no route where ext_authz runs", vh.GetName())
	}
}

// routeUnchecked reports whether ext_authz is disabled on the route.
func routeUnchecked(t *testing.T, r *routev3.Route) bool {
	a := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]
	return a != nil && unpack(t, a, &extauthzv3.ExtAuthzPerRoute{}).GetDisabled()
}

func matchesAnyAuthorization(r *routev3.Route) bool {
	for _, m := range r.GetMatch().GetHeaders() {
		if m.GetName() == "authorization" && m.GetPresentMatch() && !m.GetInvertMatch() {
			return true
		}
	}
	return false
}

// allowHeaders are the headers restguard's examples set on an allow: the
// user and groups, the Atlassian bearer marker, the identity assertion, and
// the Cookie header without the product's session cookies. With an
// http_service (or Istio's envoyExtAuthzHttp) each must be let through by
// name, or the product never sees it.
var allowHeaders = []string{"x-forwarded-user", "x-forwarded-groups", "x-restguard-bearer", "x-restguard-assertion", "cookie"}

// identityHeaders are the request headers a header-authentication component
// may trust, lower-cased: restguard's built-in list (config.DefaultRemoveHeaders),
// the Atlassian presets' bearer marker (config.DefaultBearerMarker) and the
// identity assertion's header (assertion.HeaderName), read
// from the source so that a header added there must be handled here too.
func identityHeaders(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, src := range []struct{ file, name string }{
		{filepath.Join("..", "..", "config", "defaults.go"), "DefaultRemoveHeaders"},
		{filepath.Join("..", "..", "config", "atlassian.go"), "DefaultBearerMarker"},
		{filepath.Join("..", "..", "assertion", "claims.go"), "HeaderName"},
	} {
		vals := stringValues(t, src.file, src.name)
		if len(vals) == 0 {
			t.Fatalf("%s: no string values for %s", src.file, src.name)
		}
		for _, v := range vals {
			out = append(out, strings.ToLower(v))
		}
	}
	return out
}

// stringValues returns the string literals of the package-level var or
// const name in file (a single string or a []string composite literal).
func stringValues(t *testing.T, file, name string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range vs.Names {
			if id.Name != name || i >= len(vs.Values) {
				continue
			}
			ast.Inspect(vs.Values[i], func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, _ := strconv.Unquote(lit.Value)
					out = append(out, v)
				}
				return true
			})
		}
		return true
	})
	return out
}
