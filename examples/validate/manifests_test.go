package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// documents splits a multi-document YAML file.
func documents(t *testing.T, file string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

func TestIstioMeshConfig(t *testing.T) {
	y, err := os.ReadFile(filepath.Join("..", "istio", "meshconfig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	mc := &meshv1alpha1.MeshConfig{}
	if err := protojson.Unmarshal(j, mc); err != nil {
		t.Fatalf("meshconfig.yaml: %v", err)
	}
	providers := mc.GetExtensionProviders()
	if len(providers) == 0 {
		t.Fatal("no extensionProviders")
	}
	for _, p := range providers {
		type common interface {
			GetService() string
			GetPort() uint32
			GetFailOpen() bool
			GetStatusOnError() string
		}
		var c common
		var timeout time.Duration
		switch {
		case p.GetEnvoyExtAuthzGrpc() != nil:
			c, timeout = p.GetEnvoyExtAuthzGrpc(), p.GetEnvoyExtAuthzGrpc().GetTimeout().AsDuration()
		case p.GetEnvoyExtAuthzHttp() != nil:
			h := p.GetEnvoyExtAuthzHttp()
			c, timeout = h, h.GetTimeout().AsDuration()
			if h.GetPathPrefix() != "/ext-authz" {
				t.Errorf("%s: pathPrefix %q", p.GetName(), h.GetPathPrefix())
			}
			for _, want := range allowHeaders {
				if !slices.Contains(h.GetHeadersToUpstreamOnAllow(), want) {
					t.Errorf("%s: headersToUpstreamOnAllow lacks %s, which restguard sets on an allow", p.GetName(), want)
				}
			}
		default:
			t.Errorf("%s: not an ext_authz provider", p.GetName())
			continue
		}
		if timeout <= 0 || timeout > time.Second {
			t.Errorf("%s: timeout %v: set it explicitly (Istio's default is 600s)", p.GetName(), timeout)
		}
		if c.GetFailOpen() || c.GetStatusOnError() != "503" || c.GetPort() == 0 || !strings.HasSuffix(c.GetService(), ".svc.cluster.local") {
			t.Errorf("%s: failOpen %v statusOnError %q port %d service %q", p.GetName(), c.GetFailOpen(), c.GetStatusOnError(), c.GetPort(), c.GetService())
		}
	}
}

func TestIstioAuthorizationPolicy(t *testing.T) {
	mc := &meshv1alpha1.MeshConfig{}
	y, _ := os.ReadFile(filepath.Join("..", "istio", "meshconfig.yaml"))
	j, _ := yaml.YAMLToJSON(y)
	if err := protojson.Unmarshal(j, mc); err != nil {
		t.Fatal(err)
	}
	docs := documents(t, filepath.Join("..", "istio", "authorizationpolicy.yaml"))
	if len(docs) == 0 {
		t.Fatal("no policy")
	}
	for _, d := range docs {
		var obj struct {
			APIVersion string          `json:"apiVersion"`
			Kind       string          `json:"kind"`
			Metadata   map[string]any  `json:"metadata"`
			Spec       json.RawMessage `json:"spec"`
		}
		if err := yaml.UnmarshalStrict(d, &obj); err != nil {
			t.Fatal(err)
		}
		if obj.APIVersion != "security.istio.io/v1" && obj.APIVersion != "security.istio.io/v1beta1" || obj.Kind != "AuthorizationPolicy" {
			t.Fatalf("unexpected %s %s", obj.APIVersion, obj.Kind)
		}
		ap := &securityv1beta1.AuthorizationPolicy{}
		if err := protojson.Unmarshal(obj.Spec, ap); err != nil {
			t.Fatalf("spec: %v", err)
		}
		if ap.GetAction() != securityv1beta1.AuthorizationPolicy_CUSTOM {
			t.Errorf("action %v, want CUSTOM", ap.GetAction())
		}
		if len(ap.GetRules()) == 0 {
			t.Error("a CUSTOM policy without rules never matches")
		}
		name := ap.GetProvider().GetName()
		if !slices.ContainsFunc(mc.GetExtensionProviders(), func(p *meshv1alpha1.MeshConfig_ExtensionProvider) bool { return p.GetName() == name }) {
			t.Errorf("provider %q is not in meshconfig.yaml", name)
		}
	}
}

// k8sObject decodes one manifest strictly into the k8s.io/api type of its
// kind; unknown kinds and unknown fields are errors.
func k8sObject(t *testing.T, file string, doc []byte) (kind string, obj any) {
	t.Helper()
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	switch meta.APIVersion + " " + meta.Kind {
	case "v1 Namespace":
		obj = &corev1.Namespace{}
	case "v1 ServiceAccount":
		obj = &corev1.ServiceAccount{}
	case "v1 Secret":
		obj = &corev1.Secret{}
	case "v1 ConfigMap":
		obj = &corev1.ConfigMap{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		obj = &autoscalingv2.HorizontalPodAutoscaler{}
	case "policy/v1 PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1 NetworkPolicy":
		obj = &networkingv1.NetworkPolicy{}
	default:
		t.Fatalf("%s: unexpected %s %s", file, meta.APIVersion, meta.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		t.Fatalf("%s: %s: %v", file, meta.Kind, err)
	}
	return meta.Kind, obj
}

func TestKubernetesManifests(t *testing.T) {
	for _, dir := range []string{"kubernetes", "istio"} {
		t.Run(dir, func(t *testing.T) {
			file := filepath.Join("..", dir, "deploy.yaml")
			kinds := map[string]any{}
			for _, d := range documents(t, file) {
				k, obj := k8sObject(t, file, d)
				kinds[k] = obj
			}
			want := []string{"Namespace", "ServiceAccount", "Deployment", "Service", "PodDisruptionBudget"}
			if dir == "kubernetes" {
				want = append(want, "Secret", "HorizontalPodAutoscaler")
			}
			for _, k := range want {
				if kinds[k] == nil {
					t.Errorf("no %s", k)
				}
			}
			dep, _ := kinds["Deployment"].(*appsv1.Deployment)
			svc, _ := kinds["Service"].(*corev1.Service)
			if dep == nil || svc == nil {
				t.FailNow()
			}
			checkDeployment(t, dep)
			checkDrain(t, dep, drainDelay(t, filepath.Join("..", dir, "restguard.yaml")))
			checkGoMemLimit(t, dep)
			grpcPort := false
			for _, p := range svc.Spec.Ports {
				if p.Name == "grpc" && p.AppProtocol != nil && *p.AppProtocol == "grpc" {
					grpcPort = true
				}
			}
			if !grpcPort {
				t.Error("the Service needs a port named grpc (Istio and Envoy build HTTP/2 from it)")
			}
			checkKustomization(t, filepath.Join("..", dir), dep)
		})
	}
}

func checkDeployment(t *testing.T, dep *appsv1.Deployment) {
	t.Helper()
	pod := dep.Spec.Template.Spec
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Error("the pod must run as a non-root user")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.ReadinessProbe == nil || c.ReadinessProbe.GRPC == nil || c.LivenessProbe == nil || c.LivenessProbe.GRPC == nil {
		t.Error("readiness and liveness must be gRPC probes")
	} else {
		// envoy/server.go registers exactly these health service names.
		for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
			if s := p.GRPC.Service; s != nil && *s != "" && *s != "liveness" && *s != "envoy.service.auth.v3.Authorization" {
				t.Errorf("probe asks for unknown health service %q", *s)
			}
		}
		if c.LivenessProbe.GRPC.Service == nil || *c.LivenessProbe.GRPC.Service != "liveness" {
			t.Error("liveness must ask for service liveness (independent of the IdP)")
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("no resource requests")
	}
	if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("container security context: no privilege escalation, read-only root")
	}
	for _, m := range c.VolumeMounts {
		if m.SubPath != "" {
			t.Errorf("mount %s uses subPath: ConfigMap updates would never arrive", m.Name)
		}
	}
	if !slices.Contains(c.Args, "/etc/restguard/restguard.yaml") {
		t.Errorf("args %v do not name the mounted configuration", c.Args)
	}
}

// checkKustomization: the ConfigMap the Deployment mounts is generated from
// restguard.yaml in the same directory, and every listed file exists.
func checkKustomization(t *testing.T, dir string, dep *appsv1.Deployment) {
	t.Helper()
	var k struct {
		APIVersion         string   `json:"apiVersion"`
		Kind               string   `json:"kind"`
		Resources          []string `json:"resources"`
		ConfigMapGenerator []struct {
			Name      string   `json:"name"`
			Namespace string   `json:"namespace"`
			Files     []string `json:"files"`
		} `json:"configMapGenerator"`
		GeneratorOptions struct {
			DisableNameSuffixHash bool `json:"disableNameSuffixHash"`
		} `json:"generatorOptions"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	for _, f := range append(slices.Clone(k.Resources), k.ConfigMapGenerator[0].Files...) {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", f, err)
		}
	}
	mounted := ""
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			mounted = v.ConfigMap.Name
		}
	}
	if len(k.ConfigMapGenerator) != 1 || k.ConfigMapGenerator[0].Name != mounted || !slices.Equal(k.ConfigMapGenerator[0].Files, []string{"restguard.yaml"}) {
		t.Errorf("configMapGenerator %+v does not produce the mounted ConfigMap %q from restguard.yaml", k.ConfigMapGenerator, mounted)
	}
	if k.ConfigMapGenerator[0].Namespace != dep.Namespace {
		t.Errorf("ConfigMap namespace %q, Deployment %q", k.ConfigMapGenerator[0].Namespace, dep.Namespace)
	}
}

// composeService is the part of a compose service the examples use; the
// strict parse refuses any other key.
type composeService struct {
	Image       string            `json:"image"`
	Build       map[string]any    `json:"build"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	Volumes     []string          `json:"volumes"`
	Ports       []string          `json:"ports"`
	DependsOn   []string          `json:"depends_on"`
	NetworkMode string            `json:"network_mode"`
	Restart     string            `json:"restart"`
}

// checkCompose checks dir/compose.yaml: the required services, pinned
// images (or a build), well-formed ports, mounted files that exist (relative
// to dir), and references to services that exist.
func checkCompose(t *testing.T, dir string, required ...string) map[string]composeService {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]composeService `json:"services"`
	}
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range required {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	for name, s := range c.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("%s: neither image nor build", name)
		}
		if s.Build == nil && (!strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest") || strings.HasSuffix(s.Image, ":master")) {
			t.Errorf("%s: pin the image tag (%q)", name, s.Image)
		}
		if ctx, ok := s.Build["context"].(string); ok {
			if _, err := os.Stat(filepath.Join(dir, ctx, "Dockerfile")); err != nil {
				t.Errorf("%s: build context: %v", name, err)
			}
		}
		for _, p := range s.Ports {
			var host, container int
			if _, err := fmt.Sscanf(p, "%d:%d", &host, &container); err != nil || host <= 0 || container <= 0 {
				t.Errorf("%s: port %q is not HOST:CONTAINER", name, p)
			}
		}
		for _, v := range s.Volumes {
			src, _, ok := strings.Cut(v, ":")
			if !ok || !(strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../")) {
				t.Errorf("%s: volume %q is not a relative bind mount", name, v)
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
				t.Errorf("%s: mounted file: %v", name, err)
			}
		}
		for _, d := range s.DependsOn {
			if _, ok := c.Services[d]; !ok {
				t.Errorf("%s depends on unknown service %s", name, d)
			}
		}
		if m, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
			if _, ok := c.Services[m]; !ok {
				t.Errorf("%s: network_mode names unknown service %s", name, m)
			}
		}
	}
	return c.Services
}

// TestCompose checks the compose file: the services of the walk-through,
// pinned images (or a build), well-formed ports, and mounted files that
// exist.
func TestCompose(t *testing.T) {
	dir := filepath.Join("..", "compose")
	checkCompose(t, dir, "envoy", "restguard", "keycloak", "jira")
	// The realm import has what restguard's provider expects.
	var realm struct {
		Realm   string                      `json:"realm"`
		Users   []struct{ Username string } `json:"users"`
		Groups  []struct{ Name string }     `json:"groups"`
		Clients []struct {
			ClientID        string `json:"clientId"`
			ProtocolMappers []struct {
				ProtocolMapper string            `json:"protocolMapper"`
				Config         map[string]string `json:"config"`
			} `json:"protocolMappers"`
		} `json:"clients"`
	}
	rb, err := os.ReadFile(filepath.Join(dir, "keycloak", "realm-jira.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &realm); err != nil {
		t.Fatal(err)
	}
	mappers := map[string]map[string]string{}
	for _, cl := range realm.Clients {
		for _, m := range cl.ProtocolMappers {
			mappers[m.ProtocolMapper] = m.Config
		}
	}
	if mappers["oidc-audience-mapper"]["included.custom.audience"] != "jira" || mappers["oidc-group-membership-mapper"]["claim.name"] != "groups" {
		t.Errorf("realm mappers: %v", mappers)
	}
	if realm.Realm != "jira" || len(realm.Users) < 2 || len(realm.Groups) < 2 {
		t.Errorf("realm %q with %d users and %d groups", realm.Realm, len(realm.Users), len(realm.Groups))
	}
}

// TestExamplesHaveReadmes: every deployment example explains itself.
func TestExamplesHaveReadmes(t *testing.T) {
	for _, d := range []string{"envoy", "istio", "compose", "nginx", "caddy", "kubernetes", "ratelimit"} {
		if _, err := os.Stat(filepath.Join("..", d, "README.md")); err != nil {
			t.Errorf("examples/%s: %v", d, err)
		}
		if _, err := os.Stat(filepath.Join("..", d, "restguard.yaml")); err != nil {
			t.Errorf("examples/%s: %v (the configuration tests load it)", d, err)
		}
	}
}
