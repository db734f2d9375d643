package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"google.golang.org/protobuf/encoding/protojson"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// The production duties of issue 15 §4: the drain on shutdown, GOMEMLIMIT,
// the NetworkPolicy, the admin port and its scraping, restguard inside the
// Istio mesh with an ALLOW policy on its callers.

const (
	// defaultDrainDelay is restguard's shutdown.drain_delay when the
	// configuration does not set it.
	defaultDrainDelay = 5 * time.Second
	// longestCheck bounds one in-flight check: Envoy's and Istio's ext_authz
	// timeout in the examples is 0.25s.
	longestCheck = time.Second
	// shutdownMargin is time for the HTTP listeners and the log flush.
	shutdownMargin = 2 * time.Second

	portGRPC, portHTTP, portAdmin = 9001, 9002, 9003
)

// drainDelay reads shutdown.drain_delay from a restguard configuration, or
// the default.
func drainDelay(t *testing.T, file string) time.Duration {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return drainDelayOf(t, b)
}

func drainDelayOf(t *testing.T, config []byte) time.Duration {
	t.Helper()
	var c struct {
		Shutdown struct {
			DrainDelay string `json:"drain_delay"`
		} `json:"shutdown"`
	}
	if err := yaml.Unmarshal(config, &c); err != nil {
		t.Fatal(err)
	}
	if c.Shutdown.DrainDelay == "" {
		return defaultDrainDelay
	}
	d, err := time.ParseDuration(c.Shutdown.DrainDelay)
	if err != nil {
		t.Fatalf("shutdown.drain_delay: %v", err)
	}
	return d
}

// checkDrain: a preStop sleep (the image has no shell), and a grace period
// that covers preStop + drain_delay + the longest check + a margin.
func checkDrain(t *testing.T, dep *appsv1.Deployment, drain time.Duration) (preStop time.Duration) {
	t.Helper()
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Error("no preStop sleep: the pod must keep answering while its endpoint removal spreads")
		return 0
	}
	if c.Lifecycle.PreStop.Exec != nil {
		t.Error("preStop exec: the image is scratch, there is no shell or sleep binary")
	}
	preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	if preStop <= 0 {
		t.Error("preStop sleep of 0s")
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Fatal("no terminationGracePeriodSeconds (the default 30s hides the relation)")
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if need := preStop + drain + longestCheck + shutdownMargin; grace < need {
		t.Errorf("terminationGracePeriodSeconds %v < preStop %v + drain_delay %v + longest check %v + margin %v", grace, preStop, drain, longestCheck, shutdownMargin)
	}
	return preStop
}

// checkGoMemLimit: GOMEMLIMIT follows the container's memory limit through
// a resourceFieldRef, in bytes, a little below the limit. Kubernetes expands
// $(VAR) only for variables defined earlier in the list.
func checkGoMemLimit(t *testing.T, dep *appsv1.Deployment) {
	t.Helper()
	c := dep.Spec.Template.Spec.Containers[0]
	limit := c.Resources.Limits.Memory()
	if limit.IsZero() {
		t.Error("no memory limit, so GOMEMLIMIT has nothing to follow")
		return
	}
	vars := map[string]string{}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			got := expandEnv(t, e.Value, vars)
			bytes, err := goByteCount(got)
			if err != nil {
				t.Fatalf("GOMEMLIMIT %q (from %q): %v", got, e.Value, err)
			}
			ratio := float64(bytes) / float64(limit.Value())
			if ratio < 0.85 || ratio > 0.96 {
				t.Errorf("GOMEMLIMIT %d is %.1f%% of the limit %s; keep it near 90%%", bytes, 100*ratio, limit)
			}
			return
		}
		if r := e.ValueFrom; r != nil && r.ResourceFieldRef != nil {
			ref := r.ResourceFieldRef
			if ref.Resource != "limits.memory" || (ref.ContainerName != "" && ref.ContainerName != c.Name) {
				t.Errorf("%s: resourceFieldRef %+v is not this container's memory limit", e.Name, ref)
				continue
			}
			div := ref.Divisor
			if div.IsZero() {
				div = resource.MustParse("1")
			}
			// The kubelet rounds up: ceil(limit / divisor).
			n := (limit.Value() + div.Value() - 1) / div.Value()
			vars[e.Name] = strconv.FormatInt(n, 10)
		} else if e.ValueFrom == nil {
			vars[e.Name] = e.Value
		}
	}
	t.Error("no GOMEMLIMIT")
}

// goByteCount parses a GOMEMLIMIT value as the Go runtime does: digits and
// an optional B, KiB, MiB, GiB or TiB suffix (runtime.parseByteCount).
func goByteCount(s string) (int64, error) {
	mult := int64(1)
	for i, suffix := range []string{"TiB", "GiB", "MiB", "KiB", "B"} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = n, int64(1)<<(10*(4-i))
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("not a byte count with a Go unit")
	}
	return n * mult, nil
}

// expandEnv expands $(NAME) like the kubelet; an unknown name stays as it is
// (and then fails the byte-count parse).
func expandEnv(t *testing.T, v string, vars map[string]string) string {
	t.Helper()
	for name, val := range vars {
		v = strings.ReplaceAll(v, "$("+name+")", val)
	}
	return v
}

// checkNoNestedMounts: no volume is mounted inside another one. ConfigMap and
// Secret volumes are read-only, so the runtime cannot create a mount point in
// them and the pod never starts (kubernetes/kubernetes#62417).
func checkNoNestedMounts(t *testing.T, dep *appsv1.Deployment) {
	t.Helper()
	mounts := dep.Spec.Template.Spec.Containers[0].VolumeMounts
	for _, a := range mounts {
		for _, b := range mounts {
			if a.Name != b.Name && strings.HasPrefix(b.MountPath, strings.TrimSuffix(a.MountPath, "/")+"/") {
				t.Errorf("volume %s at %s is inside volume %s at %s", b.Name, b.MountPath, a.Name, a.MountPath)
			}
		}
	}
}

// podLabels returns the labels a selector must match: the Deployment's pods.
func podLabels(dep *appsv1.Deployment) labels.Set { return dep.Spec.Template.Labels }

func selects(t *testing.T, sel *metav1.LabelSelector, set labels.Set) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(set)
}

// checkNetworkPolicy: the policy selects restguard's pods and isolates
// their ingress; the check ports are open only to pods matched by BOTH a
// namespace and a pod selector, the admin port likewise to Prometheus, and
// no rule opens every port or every peer.
func checkNetworkPolicy(t *testing.T, np *networkingv1.NetworkPolicy, dep *appsv1.Deployment) {
	t.Helper()
	if !selects(t, &np.Spec.PodSelector, podLabels(dep)) {
		t.Errorf("podSelector %v does not select restguard's pods %v", np.Spec.PodSelector, podLabels(dep))
	}
	if np.Namespace != dep.Namespace {
		t.Errorf("NetworkPolicy in %q, restguard in %q", np.Namespace, dep.Namespace)
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Error("policyTypes lacks Ingress: the pods are not isolated")
	}
	open := map[int32]int{}
	for i, r := range np.Spec.Ingress {
		if len(r.Ports) == 0 {
			t.Errorf("ingress[%d] opens every port", i)
		}
		if len(r.From) == 0 {
			t.Errorf("ingress[%d] admits every peer", i)
		}
		for _, p := range r.From {
			if p.IPBlock != nil {
				t.Errorf("ingress[%d]: ipBlock %v; name the proxies by labels", i, p.IPBlock)
			}
			// Both selectors in one peer: pods with the label in the
			// namespaces with the label. Either alone is too wide.
			if p.NamespaceSelector == nil || p.PodSelector == nil || len(p.NamespaceSelector.MatchLabels)+len(p.NamespaceSelector.MatchExpressions) == 0 || len(p.PodSelector.MatchLabels)+len(p.PodSelector.MatchExpressions) == 0 {
				t.Errorf("ingress[%d]: peer %+v must have a non-empty namespaceSelector and podSelector together", i, p)
			}
		}
		for _, p := range r.Ports {
			if p.Port == nil || p.EndPort != nil {
				t.Errorf("ingress[%d]: port %+v is not one port", i, p)
				continue
			}
			port := p.Port.IntVal
			if p.Port.StrVal != "" {
				port = containerPort(dep, p.Port.StrVal)
			}
			open[port]++
			// The admin port never shares a rule with the check ports: the
			// proxies have no business there, Prometheus none on 9001/9002.
			for _, q := range r.Ports {
				other := q.Port.IntVal
				if q.Port.StrVal != "" {
					other = containerPort(dep, q.Port.StrVal)
				}
				if (port == portAdmin) != (other == portAdmin) {
					t.Errorf("ingress[%d] opens the admin port and a check port to the same peers", i)
				}
			}
		}
	}
	for _, p := range []int32{portGRPC, portHTTP, portAdmin} {
		if p == portHTTP && containerPortName(dep, p) == "" {
			continue // no forward-auth listener (forward_auth not configured)
		}
		if open[p] == 0 {
			t.Errorf("port %d is closed to everyone", p)
		}
	}
	for p := range open {
		if containerPortName(dep, p) == "" {
			t.Errorf("the policy opens port %d, which no container declares", p)
		}
	}
}

func containerPort(dep *appsv1.Deployment, name string) int32 {
	for _, p := range dep.Spec.Template.Spec.Containers[0].Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return -1
}

func containerPortName(dep *appsv1.Deployment, port int32) string {
	for _, p := range dep.Spec.Template.Spec.Containers[0].Ports {
		if p.ContainerPort == port {
			return p.Name
		}
	}
	return ""
}

// checkAdminService: the admin port is in the Service, and something tells
// Prometheus to scrape it.
func checkAdminService(t *testing.T, svc *corev1.Service, annotated bool) {
	t.Helper()
	found := false
	for _, p := range svc.Spec.Ports {
		if p.Name == "admin" && p.Port == portAdmin {
			found = true
		}
	}
	if !found {
		t.Error("the Service has no admin port 9003")
	}
	if annotated {
		a := svc.Annotations
		if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != strconv.Itoa(portAdmin) || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("Service scrape annotations: %v", a)
		}
	}
}

// checkServiceMonitor parses a ServiceMonitor strictly into the Prometheus
// Operator's types and checks that it finds the Service's admin port.
func checkServiceMonitor(t *testing.T, doc []byte, svc *corev1.Service) {
	t.Helper()
	sm := &monitoringv1.ServiceMonitor{}
	if err := yaml.UnmarshalStrict(doc, sm); err != nil {
		t.Fatalf("ServiceMonitor: %v", err)
	}
	if sm.APIVersion != "monitoring.coreos.com/v1" || sm.Kind != "ServiceMonitor" {
		t.Fatalf("%s %s", sm.APIVersion, sm.Kind)
	}
	if !selects(t, &sm.Spec.Selector, svc.Labels) {
		t.Errorf("selector %v does not select the Service (labels %v)", sm.Spec.Selector, svc.Labels)
	}
	if ns := sm.Spec.NamespaceSelector; !ns.Any && !slices.Contains(ns.MatchNames, svc.Namespace) && sm.Namespace != svc.Namespace {
		t.Errorf("namespaceSelector %+v misses %q", ns, svc.Namespace)
	}
	if len(sm.Spec.Endpoints) == 0 {
		t.Fatal("no endpoints")
	}
	for _, e := range sm.Spec.Endpoints {
		if e.Port != "admin" || e.Path != "/metrics" {
			t.Errorf("endpoint port %q path %q, want admin /metrics", e.Port, e.Path)
		}
	}
}

func TestKubernetesProduction(t *testing.T) {
	dir := filepath.Join("..", "kubernetes")
	var dep *appsv1.Deployment
	var svc *corev1.Service
	for _, d := range documents(t, filepath.Join(dir, "deploy.yaml")) {
		switch _, obj := k8sObject(t, "deploy.yaml", d); o := obj.(type) {
		case *appsv1.Deployment:
			dep = o
		case *corev1.Service:
			svc = o
		}
	}
	if dep == nil || svc == nil {
		t.Fatal("deploy.yaml: no Deployment or Service")
	}
	checkAdminService(t, svc, true)
	checkNoNestedMounts(t, dep)

	nps := documents(t, filepath.Join(dir, "networkpolicy.yaml"))
	if len(nps) != 1 {
		t.Fatalf("networkpolicy.yaml: %d documents", len(nps))
	}
	_, obj := k8sObject(t, "networkpolicy.yaml", nps[0])
	checkNetworkPolicy(t, obj.(*networkingv1.NetworkPolicy), dep)

	sms := documents(t, filepath.Join(dir, "servicemonitor.yaml"))
	if len(sms) != 1 {
		t.Fatalf("servicemonitor.yaml: %d documents", len(sms))
	}
	checkServiceMonitor(t, sms[0], svc)

	// The NetworkPolicy is applied by default, the ServiceMonitor is not
	// (its CRD may be missing).
	var k struct {
		Resources []string `json:"resources"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(k.Resources, "networkpolicy.yaml") || slices.Contains(k.Resources, "servicemonitor.yaml") {
		t.Errorf("kustomization resources %v: networkpolicy.yaml in, servicemonitor.yaml out", k.Resources)
	}
}

// istioPolicy reads one Istio security resource's spec.
func istioPolicy(t *testing.T, doc []byte) (kind string, meta metav1.ObjectMeta, spec []byte) {
	t.Helper()
	var obj struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
		Spec       map[string]any    `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(doc, &obj); err != nil {
		t.Fatal(err)
	}
	if obj.APIVersion != "security.istio.io/v1" && obj.APIVersion != "security.istio.io/v1beta1" {
		t.Fatalf("%s %s", obj.APIVersion, obj.Kind)
	}
	j, err := yaml.Marshal(obj.Spec)
	if err != nil {
		t.Fatal(err)
	}
	spec, err = yaml.YAMLToJSON(j)
	if err != nil {
		t.Fatal(err)
	}
	return obj.Kind, obj.Metadata, spec
}

// checkIstioCallers: STRICT mTLS and an ALLOW policy on restguard's pods
// that names its callers by principal, on the check ports only; and no
// CUSTOM policy selects restguard (its sidecar would ask restguard about
// every check).
func checkIstioCallers(t *testing.T, docs [][]byte, customDocs [][]byte, dep *appsv1.Deployment) {
	t.Helper()
	var strict, allow bool
	for _, d := range docs {
		kind, meta, spec := istioPolicy(t, d)
		if meta.Namespace != dep.Namespace {
			t.Errorf("%s %s in %q, restguard in %q", kind, meta.Name, meta.Namespace, dep.Namespace)
		}
		switch kind {
		case "PeerAuthentication":
			pa := &securityv1beta1.PeerAuthentication{}
			if err := protojson.Unmarshal(spec, pa); err != nil {
				t.Fatalf("PeerAuthentication: %v", err)
			}
			strict = pa.GetMtls().GetMode() == securityv1beta1.PeerAuthentication_MutualTLS_STRICT &&
				labels.SelectorFromSet(pa.GetSelector().GetMatchLabels()).Matches(podLabels(dep)) && len(pa.GetSelector().GetMatchLabels()) > 0
		case "AuthorizationPolicy":
			ap := &securityv1beta1.AuthorizationPolicy{}
			if err := protojson.Unmarshal(spec, ap); err != nil {
				t.Fatalf("AuthorizationPolicy: %v", err)
			}
			if ap.GetAction() != securityv1beta1.AuthorizationPolicy_ALLOW {
				t.Errorf("%s: action %v on restguard, want ALLOW", meta.Name, ap.GetAction())
				continue
			}
			if len(ap.GetSelector().GetMatchLabels()) == 0 || !labels.SelectorFromSet(ap.GetSelector().GetMatchLabels()).Matches(podLabels(dep)) {
				t.Errorf("%s: selector %v does not select restguard", meta.Name, ap.GetSelector())
			}
			if len(ap.GetRules()) == 0 {
				t.Errorf("%s: an ALLOW policy without rules denies everything", meta.Name)
			}
			for _, r := range ap.GetRules() {
				var principals []string
				for _, f := range r.GetFrom() {
					src := f.GetSource()
					principals = append(principals, src.GetPrincipals()...)
					if len(src.GetNamespaces()) > 0 || len(src.GetIpBlocks()) > 0 || len(src.GetRemoteIpBlocks()) > 0 || len(src.GetRequestPrincipals()) > 0 {
						t.Errorf("%s: sources by principal only, got %v", meta.Name, src)
					}
				}
				if len(principals) == 0 {
					t.Errorf("%s: a rule without principals admits every caller", meta.Name)
				}
				for _, p := range principals {
					if strings.Contains(p, "*") || !strings.Contains(p, "/ns/") || !strings.Contains(p, "/sa/") {
						t.Errorf("%s: principal %q is not one service account", meta.Name, p)
					}
				}
				var ports []string
				for _, to := range r.GetTo() {
					ports = append(ports, to.GetOperation().GetPorts()...)
				}
				if len(ports) == 0 {
					t.Errorf("%s: a rule without ports admits the admin port too", meta.Name)
				}
				for _, p := range ports {
					if p != strconv.Itoa(portGRPC) && p != strconv.Itoa(portHTTP) {
						t.Errorf("%s: port %s; callers need only %d and %d", meta.Name, p, portGRPC, portHTTP)
					}
				}
			}
			allow = true
		default:
			t.Errorf("unexpected %s", kind)
		}
	}
	if !strict || !allow {
		t.Errorf("restguard needs a STRICT PeerAuthentication (%v) and an ALLOW policy (%v)", strict, allow)
	}
	for _, d := range customDocs {
		_, meta, spec := istioPolicy(t, d)
		ap := &securityv1beta1.AuthorizationPolicy{}
		if err := protojson.Unmarshal(spec, ap); err != nil {
			t.Fatal(err)
		}
		if ap.GetAction() != securityv1beta1.AuthorizationPolicy_CUSTOM {
			continue
		}
		if len(ap.GetSelector().GetMatchLabels()) == 0 || meta.Namespace == "istio-system" ||
			(meta.Namespace == dep.Namespace && labels.SelectorFromSet(ap.GetSelector().GetMatchLabels()).Matches(podLabels(dep))) {
			t.Errorf("CUSTOM policy %s/%s could select restguard itself (a check loop)", meta.Namespace, meta.Name)
		}
	}
}

// checkInMesh: restguard's pods get a sidecar, start after it and outlive
// their drain with it.
func checkInMesh(t *testing.T, ns *corev1.Namespace, dep *appsv1.Deployment, preStop, drain time.Duration) {
	t.Helper()
	tpl := dep.Spec.Template
	if v, ok := tpl.Labels["sidecar.istio.io/inject"]; ok && v != "true" {
		t.Errorf("sidecar.istio.io/inject=%q: restguard must stay in the mesh (mTLS, caller identity)", v)
	}
	if v, ok := tpl.Annotations["sidecar.istio.io/inject"]; ok && v != "true" {
		t.Errorf("sidecar.istio.io/inject annotation %q", v)
	}
	if ns != nil && ns.Labels["istio-injection"] != "enabled" && ns.Labels["istio.io/rev"] == "" {
		t.Errorf("namespace %s is not labelled for injection: %v", ns.Name, ns.Labels)
	}
	pc := &meshv1alpha1.ProxyConfig{}
	raw, ok := tpl.Annotations["proxy.istio.io/config"]
	if !ok {
		t.Fatal("no proxy.istio.io/config annotation")
	}
	j, err := yaml.YAMLToJSON([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal(j, pc); err != nil {
		t.Fatalf("proxy.istio.io/config: %v", err)
	}
	if !pc.GetHoldApplicationUntilProxyStarts().GetValue() {
		t.Error("holdApplicationUntilProxyStarts: restguard fetches the IdP keys through the sidecar at startup")
	}
	if d := pc.GetTerminationDrainDuration().AsDuration(); d < preStop+drain+longestCheck {
		t.Errorf("terminationDrainDuration %v < preStop %v + drain_delay %v + longest check %v: the sidecar would leave first", d, preStop, drain, longestCheck)
	}
	a := tpl.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != fmt.Sprint(portAdmin) {
		t.Errorf("pod scrape annotations (for Istio's metrics merging): %v", a)
	}
}

func TestIstioProduction(t *testing.T) {
	dir := filepath.Join("..", "istio")
	var dep *appsv1.Deployment
	var ns *corev1.Namespace
	for _, d := range documents(t, filepath.Join(dir, "deploy.yaml")) {
		switch _, obj := k8sObject(t, "deploy.yaml", d); o := obj.(type) {
		case *appsv1.Deployment:
			dep = o
		case *corev1.Namespace:
			ns = o
		}
	}
	if dep == nil {
		t.Fatal("no Deployment")
	}
	drain := drainDelay(t, filepath.Join(dir, "restguard.yaml"))
	preStop := checkDrain(t, dep, drain)
	checkNoNestedMounts(t, dep)
	checkInMesh(t, ns, dep, preStop, drain)
	checkIstioCallers(t, documents(t, filepath.Join(dir, "restguard-policy.yaml")), documents(t, filepath.Join(dir, "authorizationpolicy.yaml")), dep)
}
