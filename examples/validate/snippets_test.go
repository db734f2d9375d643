package validate

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	"sigs.k8s.io/yaml"
)

// The docs show Envoy settings as fenced YAML blocks whose first line is
//
//	# envoy snippet: <kind>
//
// The kind says what the block is a fragment of, and which part of each
// example it is compared with:
//
//	http_connection_manager  the HttpConnectionManager of every example bootstrap
//	routes                   a list of routes, each compared with the route of the
//	                         same name in every example virtual host
//	cluster                  the example cluster of the same name
//	istio_meshconfig         examples/istio/meshconfig.yaml
//
// Every setting a snippet states (every key written in the block, false and
// zero values included) must have the same value in every example it
// applies to, and the snippet must parse strictly into Envoy's (or Istio's)
// own types. Lists of named things (filters, routes, header matchers,
// extension providers) are matched by name, other lists of messages by
// content, and lists of strings must be equal as sets.
const snippetMarker = "# envoy snippet:"

var snippetKinds = []string{"http_connection_manager", "routes", "cluster", "istio_meshconfig"}

// snippet is one parsed snippet.
type snippet struct {
	fence
	kind   string
	stated any             // the block as JSON values: what it states
	msgs   []proto.Message // the block parsed into the kind's type (one per route)
}

// envoySnippets finds and parses every snippet of the docs.
func envoySnippets(t *testing.T) []snippet {
	t.Helper()
	var out []snippet
	for _, file := range docFiles(t) {
		for _, f := range fences(t, file) {
			if !strings.HasPrefix(f.firstLine(), snippetMarker) {
				if strings.Contains(f.body, snippetMarker) {
					t.Errorf("%s: %q must be the block's first line", f.where(), snippetMarker)
				}
				continue
			}
			if f.lang != "yaml" {
				t.Errorf("%s: an Envoy snippet is a yaml block, not %q", f.where(), f.lang)
				continue
			}
			s := snippet{fence: f, kind: strings.TrimSpace(strings.TrimPrefix(f.firstLine(), snippetMarker))}
			if !slices.Contains(snippetKinds, s.kind) {
				t.Errorf("%s: unknown snippet kind %q (one of %v)", f.where(), s.kind, snippetKinds)
				continue
			}
			j, err := yaml.YAMLToJSON([]byte(f.body))
			if err != nil {
				t.Errorf("%s: %v", f.where(), err)
				continue
			}
			if err := json.Unmarshal(j, &s.stated); err != nil {
				t.Errorf("%s: %v", f.where(), err)
				continue
			}
			if err := s.parse(j); err != nil {
				t.Errorf("%s: not valid as %s: %v", f.where(), s.kind, err)
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

// parse decodes the snippet strictly into its kind's type and validates
// what is complete in it (routes, clusters, every filter and typed config).
func (s *snippet) parse(j []byte) error {
	switch s.kind {
	case "routes":
		items, ok := s.stated.([]any)
		if !ok || len(items) == 0 {
			return fmt.Errorf("a routes snippet is a list of routes")
		}
		for _, it := range items {
			b, _ := json.Marshal(it)
			r := &routev3.Route{}
			if err := protojson.Unmarshal(b, r); err != nil {
				return err
			}
			if err := r.ValidateAll(); err != nil {
				return err
			}
			s.msgs = append(s.msgs, r)
		}
		return nil
	case "http_connection_manager":
		h := &hcmv3.HttpConnectionManager{}
		if err := protojson.Unmarshal(j, h); err != nil {
			return err
		}
		// A fragment: the manager itself lacks required fields, its
		// filters do not.
		for _, f := range h.GetHttpFilters() {
			if err := f.ValidateAll(); err != nil {
				return err
			}
		}
		s.msgs = []proto.Message{h}
	case "cluster":
		c := &clusterv3.Cluster{}
		if err := protojson.Unmarshal(j, c); err != nil {
			return err
		}
		if err := c.ValidateAll(); err != nil {
			return err
		}
		s.msgs = []proto.Message{c}
	case "istio_meshconfig":
		m := &meshv1alpha1.MeshConfig{}
		if err := protojson.Unmarshal(j, m); err != nil {
			return err
		}
		s.msgs = []proto.Message{m}
	}
	var err error
	for _, m := range s.msgs {
		walkAnys(m.ProtoReflect(), func(a *anypb.Any) {
			inner, uerr := a.UnmarshalNew()
			if uerr != nil {
				err = uerr
				return
			}
			if v, ok := inner.(validator); ok {
				if verr := v.ValidateAll(); verr != nil {
					err = verr
				}
			}
		})
	}
	return err
}

// walkAnys calls f for every Any below m.
func walkAnys(m protoreflect.Message, f func(*anypb.Any)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		visit := func(msg protoreflect.Message) {
			if a, ok := msg.Interface().(*anypb.Any); ok {
				f(a)
				if inner, err := a.UnmarshalNew(); err == nil {
					walkAnys(inner.ProtoReflect(), f)
				}
				return
			}
			walkAnys(msg, f)
		}
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				visit(v.List().Get(i).Message())
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

// example is one example file the snippets are compared with.
type example struct {
	file string
	hcms []*hcmv3.HttpConnectionManager
	boot *bootstrapv3.Bootstrap
	mesh *meshv1alpha1.MeshConfig
}

func snippetExamples(t *testing.T) []example {
	t.Helper()
	var out []example
	for _, file := range envoyFiles(t) {
		b := loadBootstrap(t, file)
		ex := example{file: file, boot: b}
		for _, l := range b.GetStaticResources().GetListeners() {
			for _, fc := range l.GetFilterChains() {
				for _, f := range fc.GetFilters() {
					if f.GetTypedConfig().MessageIs((*hcmv3.HttpConnectionManager)(nil)) {
						ex.hcms = append(ex.hcms, unpack(t, f.GetTypedConfig(), &hcmv3.HttpConnectionManager{}))
					}
				}
			}
		}
		out = append(out, ex)
	}
	file := filepath.Join("..", "istio", "meshconfig.yaml")
	y, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	mc := &meshv1alpha1.MeshConfig{}
	if err := protojson.Unmarshal(j, mc); err != nil {
		t.Fatal(err)
	}
	return append(out, example{file: file, mesh: mc})
}

// TestEnvoySnippetsAgreeWithExamples: every Envoy setting the docs state is
// the setting of every example it applies to.
func TestEnvoySnippetsAgreeWithExamples(t *testing.T) {
	snippets := envoySnippets(t)
	if len(snippets) < 4 {
		t.Fatalf("found %d Envoy snippets in the docs, want at least 4", len(snippets))
	}
	examples := snippetExamples(t)
	for _, s := range snippets {
		applied := 0
		for _, ex := range examples {
			diffs, ok := s.compareWith(ex)
			if !ok {
				continue
			}
			applied++
			for _, d := range diffs {
				t.Errorf("%s (%s) disagrees with %s: %s", s.where(), s.kind, rel(ex.file), d)
			}
		}
		if applied == 0 {
			t.Errorf("%s (%s) applies to no example: the examples have nothing it describes", s.where(), s.kind)
		}
	}
}

// compareWith compares the snippet with one example; ok is false when the
// snippet does not apply to it (another kind of file, a cluster or route
// the example does not have, a gRPC snippet on an http_service example).
func (s snippet) compareWith(ex example) (diffs []string, ok bool) {
	switch s.kind {
	case "istio_meshconfig":
		if ex.mesh == nil {
			return nil, false
		}
		return compareMessage("", s.stated.(map[string]any), s.msgs[0].ProtoReflect(), ex.mesh.ProtoReflect()), true
	case "cluster":
		if ex.boot == nil {
			return nil, false
		}
		c := s.msgs[0].(*clusterv3.Cluster)
		for _, ec := range ex.boot.GetStaticResources().GetClusters() {
			if ec.GetName() == c.GetName() {
				return compareMessage("", s.stated.(map[string]any), c.ProtoReflect(), ec.ProtoReflect()), true
			}
		}
		return nil, false
	case "http_connection_manager":
		if len(ex.hcms) == 0 {
			return nil, false
		}
		h := s.msgs[0].(*hcmv3.HttpConnectionManager)
		for _, eh := range ex.hcms {
			if !sameExtAuthzService(h, eh) {
				return nil, false
			}
			diffs = append(diffs, compareMessage("", s.stated.(map[string]any), h.ProtoReflect(), eh.ProtoReflect())...)
			diffs = append(diffs, filterOrder(h, eh)...)
		}
		return diffs, true
	case "routes":
		if len(ex.hcms) == 0 {
			return nil, false
		}
		for i, m := range s.msgs {
			r := m.(*routev3.Route)
			stated := s.stated.([]any)[i].(map[string]any)
			if r.GetName() == "" {
				diffs = append(diffs, fmt.Sprintf("route %d has no name: name it as the examples do", i))
				continue
			}
			for _, eh := range ex.hcms {
				for _, vh := range eh.GetRouteConfig().GetVirtualHosts() {
					i := slices.IndexFunc(vh.GetRoutes(), func(er *routev3.Route) bool { return er.GetName() == r.GetName() })
					if i < 0 {
						diffs = append(diffs, fmt.Sprintf("virtual host %s has no route %q", vh.GetName(), r.GetName()))
						continue
					}
					for _, d := range compareMessage("", stated, r.ProtoReflect(), vh.GetRoutes()[i].ProtoReflect()) {
						diffs = append(diffs, "route "+r.GetName()+d)
					}
				}
			}
		}
		return diffs, true
	}
	return nil, false
}

// sameExtAuthzService: a snippet whose ext_authz filter talks gRPC describes
// the gRPC examples, one with http_service the http_service example.
func sameExtAuthzService(snip, ex *hcmv3.HttpConnectionManager) bool {
	kind := func(h *hcmv3.HttpConnectionManager) string {
		for _, f := range h.GetHttpFilters() {
			if f.GetTypedConfig().MessageIs((*extauthzv3.ExtAuthz)(nil)) {
				ea := &extauthzv3.ExtAuthz{}
				if err := f.GetTypedConfig().UnmarshalTo(ea); err != nil {
					return "invalid"
				}
				switch {
				case ea.GetGrpcService() != nil:
					return "grpc"
				case ea.GetHttpService() != nil:
					return "http"
				}
			}
		}
		return ""
	}
	k := kind(snip)
	return k == "" || k == kind(ex)
}

// filterOrder: the filters a snippet lists come in the same order in the
// example (header mutation before ext_authz, the router last).
func filterOrder(snip, ex *hcmv3.HttpConnectionManager) []string {
	var names []string
	for _, f := range ex.GetHttpFilters() {
		names = append(names, f.GetName())
	}
	last := -1
	for _, f := range snip.GetHttpFilters() {
		i := slices.Index(names, f.GetName())
		if i < 0 {
			continue // reported by compareMessage
		}
		if i < last {
			return []string{fmt.Sprintf("http_filters: %s comes before %s in the example (%v)", f.GetName(), names[last], names)}
		}
		last = i
	}
	return nil
}

// compareMessage compares what the JSON object stated says about snippet
// message s with example message e (of the same type), and returns one line
// per difference.
func compareMessage(path string, stated map[string]any, s, e protoreflect.Message) []string {
	var diffs []string
	keys := make([]string, 0, len(stated))
	for k := range stated {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := s.Descriptor().Fields()
	for _, k := range keys {
		if k == "@type" {
			continue
		}
		fd := fields.ByName(protoreflect.Name(k))
		if fd == nil {
			fd = fields.ByJSONName(k)
		}
		if fd == nil {
			diffs = append(diffs, fmt.Sprintf("%s.%s: no such field", path, k))
			continue
		}
		p := path + "." + string(fd.Name())
		v := stated[k]
		switch {
		case fd.IsList():
			diffs = append(diffs, compareList(p, fd, v, s.Get(fd).List(), e.Get(fd).List())...)
		case fd.IsMap():
			diffs = append(diffs, compareMap(p, fd, v, s.Get(fd).Map(), e.Get(fd).Map())...)
		case fd.Kind() == protoreflect.MessageKind:
			if !e.Has(fd) {
				diffs = append(diffs, fmt.Sprintf("%s: %s here, not set in the example", p, short(s.Get(fd))))
				continue
			}
			diffs = append(diffs, compareValueMessage(p, v, s.Get(fd).Message(), e.Get(fd).Message())...)
		default:
			if !s.Get(fd).Equal(e.Get(fd)) {
				diffs = append(diffs, fmt.Sprintf("%s: %s here, %s in the example", p, scalar(fd, s.Get(fd)), scalar(fd, e.Get(fd))))
			}
		}
	}
	return diffs
}

// compareValueMessage compares one message value: an Any by its content,
// well-known types (durations, wrappers) as a whole, others field by field.
func compareValueMessage(p string, stated any, s, e protoreflect.Message) []string {
	if sa, ok := s.Interface().(*anypb.Any); ok {
		ea := e.Interface().(*anypb.Any)
		if sa.GetTypeUrl() != ea.GetTypeUrl() {
			return []string{fmt.Sprintf("%s: %s here, %s in the example", p, sa.GetTypeUrl(), ea.GetTypeUrl())}
		}
		si, err1 := sa.UnmarshalNew()
		ei, err2 := ea.UnmarshalNew()
		if err1 != nil || err2 != nil {
			return []string{fmt.Sprintf("%s: %v %v", p, err1, err2)}
		}
		m, _ := stated.(map[string]any)
		return compareMessage(p+"<"+string(si.ProtoReflect().Descriptor().Name())+">", m, si.ProtoReflect(), ei.ProtoReflect())
	}
	if strings.HasPrefix(string(s.Descriptor().FullName()), "google.protobuf.") {
		if !proto.Equal(s.Interface(), e.Interface()) {
			return []string{fmt.Sprintf("%s: %s here, %s in the example", p, short(protoreflect.ValueOfMessage(s)), short(protoreflect.ValueOfMessage(e)))}
		}
		return nil
	}
	m, ok := stated.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: not an object", p)}
	}
	return compareMessage(p, m, s, e)
}

// compareList matches list elements: strings and enums as sets, messages
// by their name field when they have one, otherwise by content.
func compareList(p string, fd protoreflect.FieldDescriptor, stated any, s, e protoreflect.List) []string {
	items, _ := stated.([]any)
	if fd.Kind() != protoreflect.MessageKind {
		var sv, ev []string
		for i := 0; i < s.Len(); i++ {
			sv = append(sv, scalar(fd, s.Get(i)))
		}
		for i := 0; i < e.Len(); i++ {
			ev = append(ev, scalar(fd, e.Get(i)))
		}
		slices.Sort(sv)
		slices.Sort(ev)
		if !slices.Equal(slices.Compact(sv), slices.Compact(ev)) {
			return []string{fmt.Sprintf("%s: %v here, %v in the example", p, sv, ev)}
		}
		return nil
	}
	var diffs []string
	nameField := fd.Message().Fields().ByName("name")
	for i := 0; i < s.Len() && i < len(items); i++ {
		sm := s.Get(i).Message()
		m, _ := items[i].(map[string]any)
		if _, named := m["name"]; named && nameField != nil && nameField.Kind() == protoreflect.StringKind {
			name := sm.Get(nameField).String()
			found := false
			for j := 0; j < e.Len(); j++ {
				if em := e.Get(j).Message(); em.Get(nameField).String() == name {
					diffs = append(diffs, compareMessage(p+"["+name+"]", m, sm, em)...)
					found = true
					break
				}
			}
			if !found {
				diffs = append(diffs, fmt.Sprintf("%s[%s]: not in the example", p, name))
			}
			continue
		}
		found := false
		for j := 0; j < e.Len() && !found; j++ {
			found = len(compareMessage(p, m, sm, e.Get(j).Message())) == 0
		}
		if !found {
			b, _ := json.Marshal(m)
			diffs = append(diffs, fmt.Sprintf("%s: no element in the example is %s", p, b))
		}
	}
	return diffs
}

// compareMap compares the stated keys of a map with string keys.
func compareMap(p string, fd protoreflect.FieldDescriptor, stated any, s, e protoreflect.Map) []string {
	m, _ := stated.(map[string]any)
	var diffs []string
	for k, v := range m {
		key := protoreflect.ValueOfString(k).MapKey()
		if !e.Has(key) {
			diffs = append(diffs, fmt.Sprintf("%s[%s]: not in the example", p, k))
			continue
		}
		sv, ev := s.Get(key), e.Get(key)
		if fd.MapValue().Kind() == protoreflect.MessageKind {
			diffs = append(diffs, compareValueMessage(p+"["+k+"]", v, sv.Message(), ev.Message())...)
		} else if !sv.Equal(ev) {
			diffs = append(diffs, fmt.Sprintf("%s[%s]: %v here, %v in the example", p, k, sv, ev))
		}
	}
	return diffs
}

func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	if fd.Kind() == protoreflect.EnumKind {
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
	}
	return fmt.Sprint(v.Interface())
}

func short(v protoreflect.Value) string {
	b, err := protojson.Marshal(v.Message().Interface())
	if err != nil {
		return "?"
	}
	return string(b)
}

// keySettings are the settings docs/deploy.md decides and every page must
// agree on; at least one snippet must state each (as a path of field names,
// typed configs in <>), so that the docs cannot silently stop saying it.
var keySettings = []string{
	"http_connection_manager .use_remote_address",
	"http_connection_manager .normalize_path",
	"http_connection_manager .merge_slashes",
	"http_connection_manager .path_with_escaped_slashes_action",
	"http_connection_manager .common_http_protocol_options.headers_with_underscores_action",
	"http_connection_manager .http_filters.typed_config<HeaderMutation>.mutations.request_mutations.remove",
	"http_connection_manager .http_filters.typed_config<ExtAuthz>.failure_mode_allow",
	"http_connection_manager .http_filters.typed_config<ExtAuthz>.status_on_error.code",
	"http_connection_manager .http_filters.typed_config<ExtAuthz>.grpc_service.timeout",
	"http_connection_manager .http_filters.typed_config<ExtAuthz>.clear_route_cache",
	"http_connection_manager .http_filters.typed_config<ExtAuthz>.encode_raw_headers",
	"routes .request_headers_to_remove",
	"routes .typed_per_filter_config<ExtAuthzPerRoute>.disabled",
	"routes .match.headers.present_match",
	"routes .response_headers_to_remove",
	"cluster .typed_extension_protocol_options<HttpProtocolOptions>.explicit_http_config.http2_protocol_options",
	"cluster .health_checks.grpc_health_check.service_name",
	"istio_meshconfig .extension_providers.envoy_ext_authz_grpc.timeout",
	"istio_meshconfig .extension_providers.envoy_ext_authz_grpc.fail_open",
	"istio_meshconfig .extension_providers.envoy_ext_authz_grpc.status_on_error",
	"istio_meshconfig .extension_providers.envoy_ext_authz_grpc.clear_route_cache",
}

// TestEnvoySnippetsStateTheKeySettings: the docs state every key setting in
// a snippet (and so, by the test above, with the examples' values).
func TestEnvoySnippetsStateTheKeySettings(t *testing.T) {
	stated := map[string]bool{}
	for _, s := range envoySnippets(t) {
		for i, m := range s.msgs {
			var j any = s.stated
			if s.kind == "routes" {
				j = s.stated.([]any)[i]
			}
			statedPaths(s.kind+" ", j, m.ProtoReflect(), stated)
		}
	}
	for _, k := range keySettings {
		if !stated[k] {
			t.Errorf("no Envoy snippet in the docs states %s", k)
		}
	}
}

// statedPaths records the field paths the JSON value j states of m.
func statedPaths(path string, j any, m protoreflect.Message, out map[string]bool) {
	obj, ok := j.(map[string]any)
	if !ok {
		return
	}
	fields := m.Descriptor().Fields()
	for k, v := range obj {
		fd := fields.ByName(protoreflect.Name(k))
		if fd == nil {
			fd = fields.ByJSONName(k)
		}
		if fd == nil {
			continue
		}
		p := path + "." + string(fd.Name())
		out[p] = true
		if fd.Kind() != protoreflect.MessageKind {
			continue
		}
		visit := func(j any, msg protoreflect.Message) {
			if a, ok := msg.Interface().(*anypb.Any); ok {
				if inner, err := a.UnmarshalNew(); err == nil {
					statedPaths(p+"<"+string(inner.ProtoReflect().Descriptor().Name())+">", j, inner.ProtoReflect(), out)
				}
				return
			}
			statedPaths(p, j, msg, out)
		}
		switch {
		case fd.IsList():
			items, _ := v.([]any)
			for i := 0; i < m.Get(fd).List().Len() && i < len(items); i++ {
				visit(items[i], m.Get(fd).List().Get(i).Message())
			}
		case fd.IsMap():
			mv, _ := v.(map[string]any)
			for key, val := range mv {
				if x := m.Get(fd).Map().Get(protoreflect.ValueOfString(key).MapKey()); x.IsValid() && fd.MapValue().Kind() == protoreflect.MessageKind {
					visit(val, x.Message())
				}
			}
		default:
			visit(v, m.Get(fd).Message())
		}
	}
}

// TestSnippetComparisonCatchesDisagreement runs the comparison on a snippet
// that contradicts the examples, so that the agreement test above can fail.
func TestSnippetComparisonCatchesDisagreement(t *testing.T) {
	body := "# envoy snippet: http_connection_manager\n" +
		"path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT\n" +
		"http_filters:\n" +
		"- name: envoy.filters.http.ext_authz\n" +
		"  typed_config:\n" +
		"    \"@type\": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz\n" +
		"    grpc_service: {envoy_grpc: {cluster_name: restguard_grpc}, timeout: 0.25s}\n" +
		"    clear_route_cache: true\n" +
		"    failure_mode_allow: false\n"
	s := snippet{fence: fence{file: "test", body: body}, kind: "http_connection_manager"}
	j, err := yaml.YAMLToJSON([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &s.stated); err != nil {
		t.Fatal(err)
	}
	if err := s.parse(j); err != nil {
		t.Fatal(err)
	}
	var grpcExample example
	for _, ex := range snippetExamples(t) {
		if rel(ex.file) == "examples/envoy/envoy.yaml" {
			grpcExample = ex
		}
	}
	diffs, ok := s.compareWith(grpcExample)
	if !ok {
		t.Fatal("the gRPC snippet does not apply to examples/envoy/envoy.yaml")
	}
	want := []string{".path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT here, REJECT_REQUEST", "<ExtAuthz>.clear_route_cache: true here, false"}
	for _, w := range want {
		if !slices.ContainsFunc(diffs, func(d string) bool { return strings.Contains(d, w) }) {
			t.Errorf("no difference %q reported; got %q", w, diffs)
		}
	}
	if len(diffs) != len(want) {
		t.Errorf("got %d differences, want %d (failure_mode_allow: false agrees): %q", len(diffs), len(want), diffs)
	}
}

// TestExtAuthzTimeoutAboveCheckTimeout: every example's ext_authz timeout
// leaves restguard's check_timeout (from the restguard.yaml beside it, or
// the default) room to answer, so that a slow identity provider gets
// restguard's 503 with Retry-After rather than Envoy's status_on_error.
func TestExtAuthzTimeoutAboveCheckTimeout(t *testing.T) {
	def := defaultCheckTimeout(t)
	for _, ex := range snippetExamples(t) {
		check := checkTimeoutOf(t, filepath.Join(filepath.Dir(ex.file), "restguard.yaml"), def)
		var timeouts []time.Duration
		for _, h := range ex.hcms {
			for _, f := range h.GetHttpFilters() {
				if f.GetTypedConfig().MessageIs((*extauthzv3.ExtAuthz)(nil)) {
					ea := unpack(t, f.GetTypedConfig(), &extauthzv3.ExtAuthz{})
					if g := ea.GetGrpcService(); g != nil {
						timeouts = append(timeouts, g.GetTimeout().AsDuration())
					} else {
						timeouts = append(timeouts, ea.GetHttpService().GetServerUri().GetTimeout().AsDuration())
					}
				}
			}
		}
		for _, p := range ex.mesh.GetExtensionProviders() {
			if g := p.GetEnvoyExtAuthzGrpc(); g != nil {
				timeouts = append(timeouts, g.GetTimeout().AsDuration())
			}
			if h := p.GetEnvoyExtAuthzHttp(); h != nil {
				timeouts = append(timeouts, h.GetTimeout().AsDuration())
			}
		}
		if len(timeouts) == 0 {
			t.Errorf("%s: no ext_authz timeout", rel(ex.file))
		}
		for _, to := range timeouts {
			if to <= check {
				t.Errorf("%s: ext_authz timeout %v is not above restguard's check_timeout %v", rel(ex.file), to, check)
			}
		}
	}
}

// checkTimeoutOf reads check_timeout from a restguard configuration.
func checkTimeoutOf(t *testing.T, file string, def time.Duration) time.Duration {
	t.Helper()
	y, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		CheckTimeout string `json:"check_timeout"`
	}
	if err := yaml.Unmarshal(y, &c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if c.CheckTimeout == "" {
		return def
	}
	d, err := time.ParseDuration(c.CheckTimeout)
	if err != nil {
		t.Fatalf("%s: check_timeout: %v", file, err)
	}
	return d
}

// defaultCheckTimeout reads config.DefaultCheckTimeout (N * time.Unit) from
// the source.
func defaultCheckTimeout(t *testing.T) time.Duration {
	t.Helper()
	file := filepath.Join(repoRoot, "config", "defaults.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]time.Duration{"Millisecond": time.Millisecond, "Second": time.Second}
	var d time.Duration
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range vs.Names {
			if id.Name != "DefaultCheckTimeout" || i >= len(vs.Values) {
				continue
			}
			if be, ok := vs.Values[i].(*ast.BinaryExpr); ok && be.Op == token.MUL {
				lit, ok1 := be.X.(*ast.BasicLit)
				sel, ok2 := be.Y.(*ast.SelectorExpr)
				if ok1 && ok2 {
					n, err := strconv.Atoi(lit.Value)
					if err == nil && units[sel.Sel.Name] != 0 {
						d = time.Duration(n) * units[sel.Sel.Name]
					}
				}
			}
		}
		return true
	})
	if d == 0 {
		t.Fatalf("%s: cannot read DefaultCheckTimeout", file)
	}
	return d
}
