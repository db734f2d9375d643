package catalogue

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/restguard/restguard/internal/e2eutil"
)

var entriesF = []entry{
	{"F1_source_not_allowed", func(t *testing.T, s *suite) {
		s.table(t, []cs{
			{name: "outside", r: in{source: outside, headers: hdrs(bearer(s.t0(t, nil)))}, w: forbidden("ip_denied")},
			{name: "outside_no_token", r: in{source: outside}, w: forbidden("ip_denied")},
		})
	}},
	{"F2_forwarding_headers_not_trusted", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		var cases []cs
		for name, h := range map[string]string{
			"xff": "x-forwarded-for: 10.1.2.3", "x_real_ip": "x-real-ip: 10.1.2.3", "forwarded": "forwarded: for=10.1.2.3",
			"true_client_ip": "true-client-ip: 10.1.2.3", "envoy_external": "x-envoy-external-address: 10.1.2.3",
		} {
			cases = append(cases, cs{name: name, r: in{source: outside, headers: hdrs(bearer(tok), h)}, w: forbidden("ip_denied")})
		}
		s.table(t, cases)
	}},
	{"F3_trusted_hops_from_the_right", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		s.table(t, []cs{
			{name: "client_outside", r: in{source: proxyIP, headers: hdrs(bearer(tok), "x-forwarded-for: 10.9.9.9, 203.0.113.7")}, w: forbidden("ip_denied")},
			{name: "client_inside", r: in{source: proxyIP, headers: hdrs(bearer(tok), "x-forwarded-for: 203.0.113.7, 10.9.9.9")}, w: allow("alice")},
			{name: "untrusted_peer", r: in{source: outside, headers: hdrs(bearer(tok), "x-forwarded-for: 10.9.9.9")}, w: forbidden("ip_denied")},
		})
	}},
	{"F4_multiple_xff_headers", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		s.table(t, []cs{
			{name: "merged", r: in{source: proxyIP, headers: hdrs(bearer(tok), "x-forwarded-for: 10.9.9.9", "x-forwarded-for: 203.0.113.7")}, w: forbidden("ip_denied")},
		})
		t.Run("header_map", func(t *testing.T) {
			req := rawRequest(t, []*corev3.HeaderValue{
				{Key: "authorization", RawValue: []byte("Bearer " + tok)},
				{Key: "x-forwarded-for", RawValue: []byte("10.9.9.9")},
				{Key: "x-forwarded-for", RawValue: []byte("203.0.113.7")},
			})
			setSource(req, proxyIP)
			s.runRaw(t, req, forbidden("ip_denied"))
		})
	}},
	{"F5_malformed_xff_elements", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		xff := func(v string) in { return in{source: proxyIP, headers: hdrs(bearer(tok), "x-forwarded-for: "+v)} }
		denied := forbidden("ip_denied")
		s.table(t, []cs{
			{name: "unknown", r: xff("unknown"), w: denied},
			{name: "obfuscated", r: xff("_hidden"), w: denied},
			{name: "ipv4_port", r: xff("10.1.1.1:8080"), w: deny(200, 403)},
			{name: "ipv6_port", r: xff("[2001:db8::1]:443"), w: deny(200, 403)},
			{name: "leading_zeros", r: xff("010.001.002.003"), w: denied},
			{name: "short_form", r: xff("10.1.1"), w: denied},
			{name: "hex", r: xff("0x0a.1.1.1"), w: denied},
			{name: "mapped", r: xff("::ffff:10.1.1.1"), w: allow("alice")},
			{name: "zone", r: xff("10.1.1.1%eth0"), w: denied},
			{name: "spaces", r: xff("  10.1.1.1  "), w: allow("alice")},
			{name: "empty_element", r: xff("10.1.1.1,,"), w: denied},
			{name: "10000_elements", r: xff(strings.TrimSuffix(repeat("203.0.113.7,", 9999), ",") + ",10.1.1.1"), w: deny(200, 403)},
			// U+00A0 is trimmed like a space (no gain for a client, who can
			// write 10.1.1.1 directly); other non-ASCII forms are refused.
			{name: "nbsp", r: xff("10.1.1.1\u00a0"), w: deny(200, 403)},
			{name: "fullwidth_digits", r: xff("\uff11\uff10.1.1.1"), w: denied},
		})
	}},
	{"F6_ipv6_forms", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		src := func(a string) in { return in{source: a, headers: hdrs(bearer(tok))} }
		denied := forbidden("ip_denied")
		s.table(t, []cs{
			{name: "mapped_inside", r: src("::ffff:10.1.2.3"), w: allow("alice")},
			{name: "mapped_outside", r: src("::ffff:203.0.113.7"), w: denied},
			{name: "mapped_hex", r: src("::ffff:a01:203"), w: allow("alice")},
			{name: "upper_case", r: src("2001:DB8::1"), w: allow("alice")},
			{name: "zone", r: src("fe80::1%eth0"), w: denied},
			{name: "loopback", r: src("::1"), w: denied},
			{name: "unspecified", r: src("::"), w: denied},
			{name: "nat64", r: src("64:ff9b::a01:203"), w: denied},
		})
	}},
	{"F7_cidr_edges_and_config", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		src := func(a string) in { return in{source: a, headers: hdrs(bearer(tok))} }
		t.Run("edges", func(t *testing.T) {
			s.table(t, []cs{
				{name: "first", r: src("10.0.0.0"), w: allow("alice")},
				{name: "last", r: src("10.255.255.255"), w: allow("alice")},
				{name: "below", r: src("9.255.255.255"), w: forbidden("ip_denied")},
				{name: "above", r: src("11.0.0.0"), w: forbidden("ip_denied")},
				{name: "v6_inside", r: src("2001:db8:ffff:ffff::1"), w: allow("alice")},
				{name: "v6_outside", r: src("2001:db9::"), w: forbidden("ip_denied")},
			})
		})
		// An invalid entry is a startup error, never "allow all" or "skip".
		for name, cidr := range map[string]string{"host_bits": "10.0.0.1/8", "prefix_33": "10.0.0.0/33", "leading_zero": "010.0.0.0/8", "hostname": "intranet.example"} {
			t.Run("config_"+name, func(t *testing.T) {
				t.Parallel()
				out, err := validate(t, fmt.Sprintf("rules: [{name: r, action: pass, ip: {allow: [%q]}}]\n", cidr))
				if err == nil {
					t.Fatalf("restguard validate accepted ip.allow %q:\n%s", cidr, out)
				}
				if !strings.Contains(out, ":1: ") {
					t.Errorf("error without a line: %s", out)
				}
			})
		}
	}},
	{"F8_missing_or_odd_source", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		for name, addr := range map[string]*corev3.Address{
			"none":      nil,
			"empty":     {Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: ""}}},
			"pipe":      {Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: "/run/envoy.sock"}}},
			"localhost": {Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "localhost"}}},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				req := mustReq(t, in{headers: hdrs(bearer(tok))})
				if addr == nil {
					req.Attributes.Source = nil
				} else {
					req.Attributes.Source.Address = addr
				}
				s.runRaw(t, req, forbidden("ip_denied"))
			})
		}
		t.Run("port_zero", func(t *testing.T) {
			t.Parallel()
			req := mustReq(t, in{headers: hdrs(bearer(tok))})
			req.Attributes.Source.Address.GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: 0}
			s.runRaw(t, req, allow("alice")) // the address is known; the port does not matter
		})
	}},
	{"F9_ip_evaluated_per_request", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		s.run(t, in{headers: hdrs(bearer(tok))}, allow("alice"))
		s.run(t, in{source: outside, headers: hdrs(bearer(tok))}, forbidden("ip_denied"))
		s.run(t, in{headers: hdrs(bearer(tok))}, allow("alice"))
	}},
}

func setSource(req *authv3.CheckRequest, ip string) {
	req.Attributes.Source.Address.GetSocketAddress().Address = ip
}

// validate runs `restguard validate` on a configuration text.
func validate(t *testing.T, yaml string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "restguard.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(e2eutil.Binary(t), "validate", "-config", path).CombinedOutput()
	return string(out), err
}

var entriesG = []entry{
	{"G1_path_normalisation_tricks", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		paths := []string{
			"//rest/api/2/myself", "/./rest/api/2/myself", "/status/../rest/api/2/myself", "/status/..;/rest/api/2/myself",
			"/status;/../rest/api/2/myself", "/status;x=y/../rest/api/2/myself", "/%72est/api/2/myself", "/rest;jsessionid=1/api/2/myself",
			"/%2e/rest/api/2/myself", "/status/%2e%2e/rest/api/2/myself", "/status%2f..%2frest/api/2/myself", "/rest%2fapi/2/myself",
			`/\rest/api/2/myself`, "/rest/api/2/myself%00", "/REST/api/2/myself", "/rest/api/2/myself.", "/jira/rest/api/2/myself",
			"/s/x/../../rest/api/2/myself", "/static/..%5c..%5crest/api/2/myself", "/status%3b/../rest/api/2/myself",
		}
		var cases []cs
		for i, p := range paths {
			// Without a token: never allowed (401 protected, 400 ambiguous,
			// 403 default deny). With a token: allowed (the normalised path
			// is a protected one) or 400, consistently.
			cases = append(cases,
				cs{name: fmt.Sprintf("no_token_%02d", i), r: in{path: p}, w: deny(400, 401, 403)},
				cs{name: fmt.Sprintf("token_%02d", i), r: in{path: p, headers: hdrs(bearer(tok))}, w: want{any: []int{200, 400, 403}, err: "?"}})
		}
		cases = append(cases, cs{name: "absolute_form", r: in{path: "http://jira.example.test/rest/api/2/myself"}, w: badRequest("malformed_request")})
		s.table(t, cases)
	}},
	{"G2_static_resource_rewrite", func(t *testing.T, s *suite) {
		ambiguous := badRequest("path_ambiguous")
		s.table(t, []cs{
			{name: "rest", r: in{path: "/s/anything/_/rest/api/2/myself"}, w: ambiguous},
			{name: "rest_with_basic", r: in{path: "/s/anything/_/rest/api/2/myself", headers: hdrs("authorization: Basic " + basicAlice)}, w: deny(400, 401)},
			{name: "rest_with_spoofed_user", r: in{path: "/s/anything/_/rest/api/2/myself", headers: hdrs("x-forwarded-user: admin")}, w: ambiguous},
			{name: "web_inf", r: in{path: "/s/x/_/;/WEB-INF/web.xml"}, w: deny(400)},
			{name: "admin_action", r: in{path: "/s/x/_/secure/admin/ViewApplicationProperties.jspa"}, w: ambiguous},
			{name: "real_static", r: in{path: "/s/d41d8cd9/8.20.1/_/download/batch/x/x.js"}, w: deny(200, 400)},
		})
	}},
	{"G3_public_prefix_confusion", func(t *testing.T, s *suite) {
		protected := deny(400, 401)
		s.table(t, []cs{
			{name: "status", r: in{path: "/status"}, w: public()},
			{name: "status_query", r: in{path: "/status?x=/rest/api/2/myself"}, w: public()},
			{name: "statusfoo", r: in{path: "/statusfoo"}, w: none401("credentials_missing")},
			{name: "status_admin", r: in{path: "/status-admin"}, w: none401("credentials_missing")},
			{name: "status_json", r: in{path: "/status.json"}, w: none401("credentials_missing")},
			{name: "status_dotdot", r: in{path: "/status/../../rest/api/2/myself"}, w: protected},
			{name: "status_fragment", r: in{path: "/status#/rest"}, w: deny(200, 400)},
			{name: "status_encoded_question", r: in{path: "/status%3f/../rest/api/2/myself"}, w: protected},
		})
	}},
	{"G4_seraph_action_semicolon", func(t *testing.T, s *suite) {
		s.table(t, []cs{
			{name: "jspa_semicolon", r: in{path: "/secure/InsightPluginShowGeneralConfiguration.jspa;"}, w: deny(400, 401)},
			{name: "jspa_param", r: in{path: "/secure/Dashboard.jspa;x=y"}, w: deny(400, 401)},
			{name: "admin_semicolon", r: in{path: "/secure/admin/ViewApplicationProperties.jspa;"}, w: forbidden("route_denied")},
		})
	}},
	{"G5_host_matching", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		mismatch := invalidToken("audience_mismatch")
		s.table(t, []cs{
			{name: "confluence_upper", r: in{host: "CONFLUENCE.example.test", headers: hdrs(bearer(tok))}, w: mismatch},
			{name: "confluence_dot", r: in{host: "confluence.example.test.", headers: hdrs(bearer(tok))}, w: mismatch},
			{name: "confluence_443", r: in{host: "confluence.example.test:443", headers: hdrs(bearer(tok))}, w: mismatch},
			{name: "confluence_8443", r: in{host: "confluence.example.test:8443", headers: hdrs(bearer(tok))}, w: mismatch},
			{name: "jira_upper", r: in{host: "JIRA.EXAMPLE.TEST", headers: hdrs(bearer(tok))}, w: allow("alice")},
			{name: "unknown_host", r: in{host: "unknown.example.test", headers: hdrs(bearer(tok))}, w: forbidden("default_deny")},
		})
		t.Run("empty_host", func(t *testing.T) {
			t.Parallel()
			req := mustReq(t, in{headers: hdrs(bearer(tok))})
			req.Attributes.Request.Http.Host = ""
			req.Attributes.Request.Http.Headers[":authority"] = ""
			s.runRaw(t, req, forbidden("default_deny"))
		})
	}},
	{"G6_methods", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		pre := hdrs("origin: https://app.example", "access-control-request-method: DELETE")
		s.table(t, []cs{
			{name: "preflight", r: in{method: "OPTIONS", headers: pre}, w: want{status: 200, reason: "cors_preflight"}},
			{name: "options_basic", r: in{method: "OPTIONS", headers: append(hdrs("authorization: Basic "+basicAlice), pre...)}, w: none401("basic_auth_blocked")},
			{name: "options_spoofed_user", r: in{method: "OPTIONS", headers: append(hdrs("x-forwarded-user: admin"), pre...)}, w: want{status: 200, reason: "cors_preflight"}},
			{name: "options_not_preflight", r: in{method: "OPTIONS"}, w: none401("credentials_missing")},
			{name: "trace", r: in{method: "TRACE"}, w: none401("credentials_missing")},
			{name: "delete_denied", r: in{method: "DELETE", path: "/rest/api/2/issue/X-1", headers: hdrs(bearer(tok))}, w: forbidden("route_denied")},
		})
		t.Run("lower_case_method", func(t *testing.T) {
			t.Parallel()
			req := mustReq(t, in{path: "/rest/api/2/issue/X-1"})
			req.Attributes.Request.Http.Method = "delete"
			req.Attributes.Request.Http.Headers[":method"] = "delete"
			s.runRaw(t, req, deny(400, 401, 403))
		})
		t.Run("method_override", func(t *testing.T) {
			t.Parallel()
			// A rule that denies DELETE; the client sends POST with an
			// override header. The catalogue asks method-specific rules to
			// evaluate or reject the override headers.
			// restguard routes the override method too and refuses it when
			// another rule would judge it (found by this suite; fixed).
			for _, h := range []string{"x-http-method-override", "x-http-method", "x-method-override"} {
				o := s.checkGRPC(t, mustReq(t, in{method: "POST", path: "/rest/api/2/issue/X-1", headers: hdrs(bearer(tok), h+": DELETE")}))
				if o.status != 400 || o.reason != "method_override" {
					t.Errorf("%s: got %d %s, want 400 method_override", h, o.status, o.reason)
				}
			}
		})
	}},
}
