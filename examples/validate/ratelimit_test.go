package validate

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	ratelimitcommonv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	rlconfig "github.com/envoyproxy/ratelimit/src/config"
	rlsettings "github.com/envoyproxy/ratelimit/src/settings"
	rlstats "github.com/envoyproxy/ratelimit/src/stats"
	gostats "github.com/lyft/gostats"
	"sigs.k8s.io/yaml"
)

// The rate-limit example is checked with envoyproxy/ratelimit's own
// configuration loader (src/config: ConfigFileContentToYaml refuses unknown
// keys, NewRateLimitConfigImpl refuses empty keys, bad units and duplicate
// descriptors, both by panicking with a RateLimitConfigError), and then asked
// for the limit of sample requests built the way Envoy builds descriptors from
// envoy.yaml's rate_limits actions.

const (
	ratelimitDir  = "../ratelimit"
	extAuthzNS    = "envoy.filters.http.ext_authz"
	ratelimitRepo = "github.com/envoyproxy/ratelimit"
)

// restguardMetadataKeys reads the dynamic metadata keys restguard sets from
// its source (envoy/response.go, the Meta* constants), so that an action
// reading a key restguard never sets fails here. client_id is announced for
// the allow's metadata (issue 15) and accepted before it appears there.
func restguardMetadataKeys(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "..", "envoy", "response.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"client_id"}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "Meta") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, _ := strconv.Unquote(lit.Value)
					keys = append(keys, v)
				}
			}
		}
	}
	if !slices.Contains(keys, "user") || !slices.Contains(keys, "rule") {
		t.Fatalf("envoy/response.go: metadata keys %v lack user or rule", keys)
	}
	return keys
}

// loadRateLimitConfig loads ratelimit/config.yaml with the service's loader.
func loadRateLimitConfig(t *testing.T) (domain string, cfg rlconfig.RateLimitConfig, root *rlconfig.YamlRoot) {
	t.Helper()
	file := filepath.Join(ratelimitDir, "ratelimit", "config.yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: envoyproxy/ratelimit refuses it: %v", file, r)
		}
	}()
	root = rlconfig.ConfigFileContentToYaml("config.yaml", string(b))
	stats := rlstats.NewStatManager(gostats.NewStore(gostats.NewNullSink(), false), rlsettings.NewSettings())
	cfg = rlconfig.NewRateLimitConfigImpl([]rlconfig.RateLimitConfigToLoad{{Name: "config.yaml", ConfigYaml: root}}, stats, false)
	if cfg.IsEmptyDomains() {
		t.Fatalf("%s: no domain loaded", file)
	}
	return root.Domain, cfg, root
}

// rateLimitEnvoy returns the example's ratelimit filter and the virtual
// host that carries the rate_limits.
func rateLimitEnvoy(t *testing.T) (*ratelimitv3.RateLimit, *routev3.VirtualHost, map[string]bool) {
	t.Helper()
	b := loadBootstrap(t, filepath.Join(ratelimitDir, "envoy.yaml"))
	var rl *ratelimitv3.RateLimit
	var vh *routev3.VirtualHost
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if !f.GetTypedConfig().MessageIs((*hcmv3.HttpConnectionManager)(nil)) {
					continue
				}
				h := unpack(t, f.GetTypedConfig(), &hcmv3.HttpConnectionManager{})
				for _, hf := range h.GetHttpFilters() {
					if hf.GetTypedConfig().MessageIs((*ratelimitv3.RateLimit)(nil)) {
						rl = unpack(t, hf.GetTypedConfig(), &ratelimitv3.RateLimit{})
					}
				}
				for _, v := range h.GetRouteConfig().GetVirtualHosts() {
					if len(v.GetRateLimits()) > 0 {
						vh = v
					}
				}
			}
		}
	}
	if rl == nil || vh == nil {
		t.Fatal("envoy.yaml: no ratelimit filter or no virtual host with rate_limits")
	}
	http2 := map[string]bool{}
	for _, c := range b.GetStaticResources().GetClusters() {
		opts := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
		http2[c.GetName()] = opts != nil && unpack(t, opts, &httpv3.HttpProtocolOptions{}).GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
	}
	return rl, vh, http2
}

// descriptor builds the descriptor Envoy sends for one rate_limits entry
// from an allow's dynamic metadata, or nil when an action finds no value
// (Envoy then sends nothing for the entry: MetaData.skip_if_absent is false
// and no default_value is set, which the test insists on).
func descriptor(t *testing.T, r *routev3.RateLimit, metadata map[string]string) *ratelimitcommonv3.RateLimitDescriptor {
	t.Helper()
	d := &ratelimitcommonv3.RateLimitDescriptor{}
	for _, a := range r.GetActions() {
		md := a.GetMetadata()
		if md == nil {
			t.Fatalf("action %v: the example uses metadata actions only", a)
		}
		v, ok := metadata[md.GetMetadataKey().GetPath()[0].GetKey()]
		if !ok {
			return nil
		}
		d.Entries = append(d.Entries, &ratelimitcommonv3.RateLimitDescriptor_Entry{Key: md.GetDescriptorKey(), Value: v})
	}
	return d
}

func TestRateLimitEnvoyActions(t *testing.T) {
	rl, vh, http2 := rateLimitEnvoy(t)
	domain, _, _ := loadRateLimitConfig(t)
	if rl.GetDomain() != domain {
		t.Errorf("ratelimit filter domain %q, ratelimit/config.yaml domain %q", rl.GetDomain(), domain)
	}
	if rl.GetTimeout() == nil {
		t.Error("ratelimit filter without an explicit timeout (Envoy's default is 20ms)")
	}
	svc := rl.GetRateLimitService()
	if svc.GetTransportApiVersion().String() != "V3" || !http2[svc.GetGrpcService().GetEnvoyGrpc().GetClusterName()] {
		t.Errorf("rate_limit_service: V3 over an HTTP/2 cluster, got %v", svc)
	}
	known := restguardMetadataKeys(t)
	for i, r := range vh.GetRateLimits() {
		if len(r.GetActions()) == 0 {
			t.Errorf("rate_limits[%d]: no actions", i)
		}
		for _, a := range r.GetActions() {
			md := a.GetMetadata()
			if md == nil {
				t.Errorf("rate_limits[%d]: %v is not a metadata action", i, a)
				continue
			}
			path := md.GetMetadataKey().GetPath()
			if md.GetMetadataKey().GetKey() != extAuthzNS || len(path) != 1 || !slices.Contains(known, path[0].GetKey()) {
				t.Errorf("rate_limits[%d]: reads %s %v; restguard sets %v in %s", i, md.GetMetadataKey().GetKey(), path, known, extAuthzNS)
			}
			if md.GetSource() != routev3.RateLimit_Action_MetaData_DYNAMIC {
				t.Errorf("rate_limits[%d]: source %v, want DYNAMIC (ext_authz's metadata is dynamic)", i, md.GetSource())
			}
			// A default value would put every anonymous request into one
			// shared bucket; skip_if_absent would send a shorter descriptor
			// that can match another limit.
			if md.GetDefaultValue() != "" || md.GetSkipIfAbsent() {
				t.Errorf("rate_limits[%d]: %s: no default_value and no skip_if_absent", i, md.GetDescriptorKey())
			}
		}
	}
}

// TestRateLimitConfigLimits asks the service's loaded configuration for the
// limit of the descriptors Envoy builds from sample allows: the numbers the
// README promises, and no limit where none is meant.
func TestRateLimitConfigLimits(t *testing.T) {
	_, vh, _ := rateLimitEnvoy(t)
	domain, cfg, _ := loadRateLimitConfig(t)
	limit := func(md map[string]string) []string {
		var got []string
		for _, r := range vh.GetRateLimits() {
			d := descriptor(t, r, md)
			if d == nil {
				continue
			}
			if l := cfg.GetLimit(context.Background(), domain, d); l != nil {
				got = append(got, l.FullKey+"="+strconv.Itoa(int(l.Limit.GetRequestsPerUnit()))+"/"+strings.ToLower(l.Limit.GetUnit().String()))
			}
		}
		slices.Sort(got)
		return got
	}
	cases := []struct {
		name string
		md   map[string]string
		want []string
	}{
		{"user through the generic API", map[string]string{"user": "alice", "provider": "keycloak", "client_id": "jira-cli", "rule": "rest-api"},
			[]string{"jira.provider_keycloak.client_id=1200/minute", "jira.user=600/minute"}},
		{"the CI client has its own number", map[string]string{"user": "svc-ci", "provider": "keycloak", "client_id": "jenkins", "rule": "rest-api"},
			[]string{"jira.provider_keycloak.client_id_jenkins=6000/minute", "jira.user=600/minute"}},
		{"a client of another provider", map[string]string{"user": "carol", "provider": "github", "client_id": "Iv1.abc", "rule": "rest-api"},
			[]string{"jira.provider.client_id=1200/minute", "jira.user=600/minute"}},
		{"JQL search is stricter", map[string]string{"user": "alice", "provider": "keycloak", "client_id": "jira-cli", "rule": "rest-search"},
			[]string{"jira.provider_keycloak.client_id=1200/minute", "jira.rule_rest-search.user=60/minute", "jira.user=600/minute"}},
		{"no client id (an API key)", map[string]string{"user": "svc-backup", "provider": "ci", "rule": "rest-api"},
			[]string{"jira.user=600/minute"}},
		{"anonymous pass rule", map[string]string{"rule": "public"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := limit(c.md); !slices.Equal(got, c.want) {
				t.Errorf("limits %v, want %v", got, c.want)
			}
		})
	}
}

// TestRateLimitRulesExist: every rule value in ratelimit/config.yaml names a
// rule of the example's restguard.yaml (a renamed rule would silently lose
// its limit).
func TestRateLimitRulesExist(t *testing.T) {
	_, _, root := loadRateLimitConfig(t)
	b, err := os.ReadFile(filepath.Join(ratelimitDir, "restguard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rg struct {
		Rules []struct {
			Name string `json:"name"`
		} `json:"rules"`
	}
	if err := yaml.Unmarshal(b, &rg); err != nil {
		t.Fatal(err)
	}
	var walk func([]rlconfig.YamlDescriptor)
	found := 0
	walk = func(ds []rlconfig.YamlDescriptor) {
		for _, d := range ds {
			if d.Key == "rule" && d.Value != "" {
				found++
				if !slices.ContainsFunc(rg.Rules, func(r struct {
					Name string `json:"name"`
				}) bool {
					return r.Name == d.Value
				}) {
					t.Errorf("ratelimit/config.yaml limits rule %q, which restguard.yaml does not have", d.Value)
				}
			}
			walk(d.Descriptors)
		}
	}
	walk(root.Descriptors)
	if found == 0 {
		t.Error("no per-rule limit")
	}
}

// TestRateLimitCompose: the stack runs restguard, Envoy, the rate-limit
// service and Redis; the service's environment names only settings the
// service has; its image is the commit whose loader this module runs.
func TestRateLimitCompose(t *testing.T) {
	services := checkCompose(t, ratelimitDir, "envoy", "restguard", "keycloak", "jira", "ratelimit", "redis")
	rl, ok := services["ratelimit"]
	if !ok {
		t.FailNow()
	}
	settings := map[string]bool{}
	st := reflect.TypeFor[rlsettings.Settings]()
	for i := range st.NumField() {
		if tag := st.Field(i).Tag.Get("envconfig"); tag != "" {
			settings[tag] = true
		}
	}
	for k := range rl.Environment {
		if !settings[k] {
			t.Errorf("ratelimit: environment %s is not a setting of envoyproxy/ratelimit", k)
		}
	}
	if rl.Environment["RUNTIME_IGNOREDOTFILES"] != "true" {
		t.Error("ratelimit: RUNTIME_IGNOREDOTFILES must be true (Kubernetes ConfigMap mounts carry ..data entries)")
	}
	mounted := false
	for _, v := range rl.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == rl.Environment["RUNTIME_ROOT"]+"/"+rl.Environment["RUNTIME_SUBDIRECTORY"]+"/config/config.yaml" {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("ratelimit: config.yaml is not mounted under RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/config/: %v", rl.Volumes)
	}
	_, tag, _ := strings.Cut(rl.Image, ":")
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build info")
	}
	for _, m := range bi.Deps {
		if m.Path == ratelimitRepo {
			// Pseudo-version v1.4.1-0.DATE-COMMIT12; the image tags are the
			// commit's first 8 hex digits.
			commit := m.Version[strings.LastIndex(m.Version, "-")+1:]
			if len(tag) != 8 || !strings.HasPrefix(commit, tag) {
				t.Errorf("ratelimit image %s is not the commit %s whose loader examples/validate uses (%s)", rl.Image, commit, m.Version)
			}
		}
	}
}
