package validate

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The Helm chart is rendered the way `helm template` renders it: Helm's own
// chart loader, values coalescing (with values.schema.json if the chart has
// one) and template engine, from helm.sh/helm/v4. Every rendered object is
// then parsed strictly into its k8s.io/api type (unknown fields are errors)
// and checked like the plain manifests.

const chartDir = "../helm/restguard"

// render renders the chart with the values file (none: the defaults) and
// returns the rendered documents by template.
func render(t *testing.T, valuesFile string) map[string][]byte {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{}
	if valuesFile != "" {
		v, err := common.ReadValuesFile(valuesFile)
		if err != nil {
			t.Fatal(err)
		}
		vals = v
	}
	caps := common.DefaultCapabilities.Copy()
	kv, err := common.ParseKubeVersion("v1.33.0")
	if err != nil {
		t.Fatal(err)
	}
	caps.KubeVersion = *kv
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals, common.ReleaseOptions{Name: "restguard", Namespace: "restguard", IsInstall: true}, caps, false)
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	out, err := engine.Render(ch, top)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	docs := map[string][]byte{}
	for name, text := range out {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" || strings.TrimSpace(text) == "" {
			continue
		}
		docs[name] = []byte(text)
	}
	return docs
}

// renderedObjects parses every rendered document strictly; it returns the
// objects by kind and the ServiceMonitor documents (not a k8s.io/api type).
type rendered struct {
	byKind          map[string][]any
	serviceMonitors [][]byte
}

func parseRendered(t *testing.T, docs map[string][]byte) rendered {
	t.Helper()
	r := rendered{byKind: map[string][]any{}}
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, d := range bytes.Split(docs[name], []byte("\n---\n")) {
			if len(bytes.TrimSpace(stripComments(d))) == 0 {
				continue
			}
			var meta struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(d, &meta); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, d)
			}
			if meta.Kind == "ServiceMonitor" {
				r.serviceMonitors = append(r.serviceMonitors, d)
				continue
			}
			kind, obj := k8sObject(t, name, d)
			r.byKind[kind] = append(r.byKind[kind], obj)
		}
	}
	return r
}

func one[T any](t *testing.T, r rendered, kind string) T {
	t.Helper()
	objs := r.byKind[kind]
	if len(objs) != 1 {
		t.Fatalf("%d %s objects rendered, want 1", len(objs), kind)
	}
	return objs[0].(T)
}

// checkChartRender runs the checks every rendering must pass.
func checkChartRender(t *testing.T, r rendered) (*appsv1.Deployment, *corev1.Service, []byte) {
	t.Helper()
	dep := one[*appsv1.Deployment](t, r, "Deployment")
	svc := one[*corev1.Service](t, r, "Service")
	cm := one[*corev1.ConfigMap](t, r, "ConfigMap")
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "ServiceAccount", "NetworkPolicy", "PodDisruptionBudget"} {
		if len(r.byKind[kind]) == 0 {
			t.Errorf("no %s rendered", kind)
		}
	}
	// Every object in the release namespace; no Namespace of its own.
	for kind, objs := range r.byKind {
		for _, o := range objs {
			if ns := reflect.ValueOf(o).Elem().FieldByName("Namespace").String(); ns != "restguard" {
				t.Errorf("%s in namespace %q, want the release namespace", kind, ns)
			}
		}
	}
	if len(r.byKind["Namespace"]) > 0 {
		t.Error("the chart must not create its namespace (helm install --create-namespace does)")
	}
	checkDeployment(t, dep)
	checkNoNestedMounts(t, dep)
	config := []byte(cm.Data["restguard.yaml"])
	if len(config) == 0 {
		t.Fatal("ConfigMap has no restguard.yaml")
	}
	checkDrain(t, dep, drainDelayOf(t, config))
	checkGoMemLimit(t, dep)
	checkAdminService(t, svc, len(r.serviceMonitors) == 0)
	np := one[*networkingv1.NetworkPolicy](t, r, "NetworkPolicy")
	checkNetworkPolicy(t, np, dep)
	for _, sm := range r.serviceMonitors {
		checkServiceMonitor(t, sm, svc)
	}
	if pdbs := r.byKind["PodDisruptionBudget"]; len(pdbs) == 1 {
		if !selects(t, pdbs[0].(*policyv1.PodDisruptionBudget).Spec.Selector, podLabels(dep)) {
			t.Error("the PodDisruptionBudget does not select restguard's pods")
		}
	}
	if hpas := r.byKind["HorizontalPodAutoscaler"]; len(hpas) == 1 {
		if ref := hpas[0].(*autoscalingv2.HorizontalPodAutoscaler).Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != dep.Name {
			t.Errorf("HPA scales %s %s, not the Deployment %s", ref.Kind, ref.Name, dep.Name)
		}
		if dep.Spec.Replicas != nil {
			t.Error("with the HPA on, the Deployment must not set replicas (every upgrade would reset the scale)")
		}
	}
	if !selects(t, dep.Spec.Selector, podLabels(dep)) || !selects(t, metaSelector(svc.Spec.Selector), podLabels(dep)) {
		t.Error("the Deployment's or the Service's selector does not match the pods")
	}
	var sa string
	for _, o := range r.byKind["ServiceAccount"] {
		sa = o.(*corev1.ServiceAccount).Name
	}
	if dep.Spec.Template.Spec.ServiceAccountName != sa {
		t.Errorf("pods run as %q, the chart creates %q", dep.Spec.Template.Spec.ServiceAccountName, sa)
	}
	// The configuration listens where the container ports and probes are.
	var c struct {
		Listen map[string]string `json:"listen"`
	}
	if err := yaml.Unmarshal(config, &c); err != nil {
		t.Fatalf("restguard.yaml: %v", err)
	}
	for name, addr := range c.Listen {
		if want := ":" + itoa(containerPort(dep, name)); addr != want {
			t.Errorf("listen.%s %q, container port %s", name, addr, want)
		}
	}
	return dep, svc, config
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

func metaSelector(m map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: m}
}

func TestHelmChartDefaults(t *testing.T) {
	r := parseRendered(t, render(t, ""))
	dep, _, config := checkChartRender(t, r)
	if len(r.serviceMonitors) != 0 {
		t.Error("ServiceMonitor rendered by default: its CRD may be missing")
	}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			t.Errorf("secret %s mounted by default", v.Secret.SecretName)
		}
	}
	// The default configuration is the plain Kubernetes example's, which
	// the product's configuration tests load and build.
	want, err := os.ReadFile(filepath.Join("..", "kubernetes", "restguard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got, exp map[string]any
	if err := yaml.Unmarshal(config, &got); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(want, &exp); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("the chart's default configuration differs from examples/kubernetes/restguard.yaml:\n%s", config)
	}
}

func TestHelmChartAllOn(t *testing.T) {
	r := parseRendered(t, render(t, filepath.Join(chartDir, "ci", "all-on-values.yaml")))
	dep, svc, config := checkChartRender(t, r)
	if len(r.serviceMonitors) != 1 {
		t.Errorf("%d ServiceMonitors", len(r.serviceMonitors))
	}
	if _, ok := svc.Annotations["prometheus.io/scrape"]; ok {
		t.Error("scrape annotations and a ServiceMonitor: every replica scraped twice")
	}
	if len(r.byKind["HorizontalPodAutoscaler"]) != 0 || dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 {
		t.Error("autoscaling off: no HPA, replicas from replicaCount")
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; !strings.Contains(img, "@sha256:") {
		t.Errorf("image %q is not pinned by digest", img)
	}
	// Every file the configuration names lies in a mounted Secret, and every
	// mounted Secret is read-only.
	mounts := map[string]string{}
	vols := map[string]*corev1.SecretVolumeSource{}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		vols[v.Name] = v.Secret
	}
	for _, m := range dep.Spec.Template.Spec.Containers[0].VolumeMounts {
		if s := vols[m.Name]; s != nil {
			mounts[m.MountPath] = s.SecretName
			if !m.ReadOnly || s.DefaultMode == nil || *s.DefaultMode&0o077 != 0 {
				t.Errorf("secret %s: mount read-only, mode 0400", s.SecretName)
			}
		}
	}
	for _, want := range []string{"restguard-clients", "restguard-directory", "restguard-assertion-key", "restguard-admin", "corp-ca", "restguard-redis", "restguard-redis-tls", "restguard-fleet"} {
		if !slices.Contains(mapValues(mounts), want) {
			t.Errorf("secret %s not mounted", want)
		}
	}
	files := fileRefs(t, config)
	if len(files) < 7 {
		t.Errorf("only %d file references in the configuration: %v", len(files), files)
	}
	for _, f := range files {
		if _, ok := mounts[filepath.Dir(f)]; !ok {
			t.Errorf("the configuration reads %s, which is in no mounted Secret (%v)", f, mounts)
		}
	}
	// The Redis section the chart adds.
	var c struct {
		Redis struct {
			Address         string `json:"address"`
			UsernameFile    string `json:"username_file"`
			PasswordFile    string `json:"password_file"`
			FleetSecretFile string `json:"fleet_secret_file"`
			TLS             struct {
				Enabled    bool   `json:"enabled"`
				CAFile     string `json:"ca_file"`
				CertFile   string `json:"cert_file"`
				KeyFile    string `json:"key_file"`
				ServerName string `json:"server_name"`
			} `json:"tls"`
		} `json:"redis"`
		Admin struct {
			SecretFile string `json:"secret_file"`
		} `json:"admin"`
	}
	if err := yaml.Unmarshal(config, &c); err != nil {
		t.Fatal(err)
	}
	if rd := c.Redis; rd.Address == "" || rd.PasswordFile == "" || rd.UsernameFile == "" || rd.FleetSecretFile == "" || !rd.TLS.Enabled || rd.TLS.CAFile == "" || rd.TLS.CertFile == "" || rd.TLS.ServerName == "" {
		t.Errorf("redis section incomplete: %+v", rd)
	}
	if c.Admin.SecretFile == "" {
		t.Error("secrets.admin set, but no admin.secret_file")
	}
	// restguard itself reads every key the chart writes: its only
	// complaints are the files, which live in the cluster's Secrets.
	if !testing.Short() {
		file := filepath.Join(t.TempDir(), "helm-config.yaml")
		if err := os.WriteFile(file, config, 0o600); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command(buildRestguard(t), "validate", file).CombinedOutput()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if !strings.Contains(line, "/etc/restguard-secrets/") {
				t.Errorf("restguard validate on the chart's configuration: %s", line)
			}
		}
	}
	// Pod annotations pass through: an Istio ProxyConfig stays parseable.
	if _, ok := dep.Spec.Template.Annotations["proxy.istio.io/config"]; !ok {
		t.Error("podAnnotations lost")
	}
}

// TestHelmChartRefusesLoosePeers: a NetworkPolicy peer with only one selector
// admits too much; values.schema.json refuses it, and the template refuses it
// again when the schema is skipped (helm --skip-schema-validation).
func TestHelmChartRefusesLoosePeers(t *testing.T) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := common.ReadValues([]byte("networkPolicy:\n  proxies:\n    - podSelector: {matchLabels: {app: envoy}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, skipSchema := range []bool{false, true} {
		top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, v, common.ReleaseOptions{Name: "restguard", Namespace: "restguard"}, nil, skipSchema)
		if err == nil {
			_, err = engine.Render(ch, top)
		}
		if err == nil || !strings.Contains(err.Error(), "namespaceSelector") {
			t.Errorf("skip schema %v: a peer without a namespaceSelector was accepted: %v", skipSchema, err)
		}
	}
}

// TestHelmChartLint runs Helm's chart linter (Chart.yaml, values, templates)
// with both values files.
func TestHelmChartLint(t *testing.T) {
	for _, vf := range []string{"", filepath.Join(chartDir, "ci", "all-on-values.yaml")} {
		vals := map[string]any{}
		if vf != "" {
			v, err := common.ReadValuesFile(vf)
			if err != nil {
				t.Fatal(err)
			}
			vals = v
		}
		l := lint.RunAll(chartDir, vals, "restguard")
		for _, m := range l.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("helm lint %s: %s", vf, m)
			}
		}
	}
}

// fileRefs collects every value of a key named file or ending in _file.
func fileRefs(t *testing.T, config []byte) []string {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(config, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if s, ok := val.(string); ok && (k == "file" || strings.HasSuffix(k, "_file")) {
					out = append(out, s)
				}
				walk(val)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	sort.Strings(out)
	return out
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
