package catalogue

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// o2Config isolates the route seams: a GET-only deny rule and a
// DELETE-only deny rule (what a HEAD, a _method parameter or a
// representation suffix could step around), a group rule for one literal
// resource, and the general REST rule.
const o2Config = `
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: envoy}
realm: jira
client_ip: {trusted_proxies: ["192.0.2.0/24", "127.0.0.1/32"]}
providers:
  - {name: a, issuer: %[1]q, audiences: [%[2]q], groups: {claim: groups}}
rules:
  - {name: no-user-read, hosts: [jira.example.test], paths: ["/rest/api/2/user"], methods: [GET], action: deny}
  - {name: no-delete, hosts: [jira.example.test], paths: ["/rest/api/2/issue/*"], methods: [DELETE], action: deny}
  - {name: admins, hosts: [jira.example.test], paths: ["/rest/api/2/group"], authenticate: [a], groups: {any_of: [jira-administrators]}}
  - {name: rest-api, hosts: [jira.example.test], paths: ["/rest/**"], authenticate: [a], block_basic: {enabled: true}}
  - {name: status, hosts: [jira.example.test], paths: ["/status"], action: pass}
default: {action: deny}
upstream: {user_header: X-Forwarded-User, groups_header: X-Forwarded-Groups, remove_headers: [X-Atlassian-User]}
`

// o2Products puts the Atlassian presets on API hosts: Jira with the
// default native-token mode (deny), Confluence, and Bitbucket (Git LFS).
const o2Products = `
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: envoy}
realm: jira
client_ip: {trusted_proxies: ["192.0.2.0/24", "127.0.0.1/32"]}
providers:
  - {name: a, issuer: %[1]q, audiences: [%[2]q], groups: {claim: groups}}
atlassian:
  products:
    - {product: jira, hosts: [jira.example.test], authenticate: [a], ip: {allow: ["10.0.0.0/8"]}}
    - {product: confluence, hosts: [confluence.example.test], authenticate: [a]}
    - {product: bitbucket, hosts: [bitbucket.example.test], authenticate: [a]}
default: {action: deny, block_basic: {enabled: true}}
upstream: {user_header: X-Forwarded-User, groups_header: X-Forwarded-Groups}
`

// o2AllCookies removes every cookie from bearer requests.
const o2AllCookies = `
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: envoy}
realm: jira
client_ip: {trusted_proxies: ["192.0.2.0/24", "127.0.0.1/32"]}
providers:
  - {name: a, issuer: %[1]q, audiences: [%[2]q], groups: {claim: groups}}
rules:
  - {name: rest-api, hosts: [jira.example.test], paths: ["/rest/**"], authenticate: [a]}
default: {action: deny}
upstream: {user_header: X-Forwarded-User, remove_cookies: all}
`

func (s *suite) o2(t *testing.T) *env {
	return s.profile(t, "o2", fmt.Sprintf(o2Config, s.a.Issuer, jiraAud))
}

func (s *suite) o2Products(t *testing.T) *env {
	return s.profile(t, "o2-products", fmt.Sprintf(o2Products, s.a.Issuer, jiraAud))
}

// upstreamCookies returns every cookie pair the upstream receives after
// Envoy applies the answer to the request's Cookie lines.
func upstreamCookies(t *testing.T, e *env, r in) ([]string, outcome) {
	t.Helper()
	o := e.checkGRPC(t, mustReq(t, r))
	var pairs []string
	for _, v := range upstream(r.headers, o)["cookie"] {
		for _, p := range strings.FieldsFunc(v, func(c rune) bool { return c == ';' || c == ',' }) {
			pairs = append(pairs, strings.TrimSpace(p))
		}
	}
	return pairs, o
}

var entriesOEngine = []entry{
	// Item 2. Before: Envoy's headers map joins two Cookie lines with ","
	// and the session-cookie filter split on ";" only, so a JSESSIONID on
	// the second line reached the product next to the token's user.
	{"O2_2_cookie_header_in_several_lines", func(t *testing.T, s *suite) {
		e := s.o2Products(t)
		tok := s.t0(t, nil)
		for _, c := range []struct {
			lines []string
			kept  string // the non-session cookies, in order
		}{
			{[]string{"cookie: atlassian.xsrf.token=abc", "cookie: JSESSIONID=ADMIN"}, "atlassian.xsrf.token=abc"},
			{[]string{"cookie: JSESSIONID=ADMIN", "cookie: atlassian.xsrf.token=abc"}, "atlassian.xsrf.token=abc"},
			{[]string{"cookie: atlassian.xsrf.token=abc,seraph.rememberme.cookie=x"}, "atlassian.xsrf.token=abc"},
			{[]string{"cookie: a=1; b=2", "cookie: crowd.token_key=t; JSESSIONID=ADMIN"}, "a=1;b=2"},
		} {
			t.Run(strings.Join(c.lines, "|"), func(t *testing.T) {
				r := in{host: jiraHost, headers: append([]string{bearer(tok)}, c.lines...)}.withDefaults()
				pairs, o := upstreamCookies(t, e, r)
				if o.status != 200 {
					t.Fatalf("%d %s", o.status, o.reason)
				}
				for _, p := range pairs {
					name, _, _ := strings.Cut(p, "=")
					if name == "JSESSIONID" || name == "seraph.rememberme.cookie" || name == "crowd.token_key" {
						t.Errorf("session cookie %q reaches the product on a bearer request (upstream cookies %q)", name, pairs)
					}
				}
				if got := strings.Join(pairs, ";"); got != c.kept {
					t.Errorf("upstream cookies %q, want the non-session ones %q", got, c.kept)
				}
			})
		}
		t.Run("remove_cookies_all", func(t *testing.T) {
			all := s.profile(t, "o2-all-cookies", fmt.Sprintf(o2AllCookies, s.a.Issuer, jiraAud))
			r := in{host: jiraHost, headers: hdrs(bearer(tok), "cookie: theme=dark", "cookie: JSESSIONID=ADMIN")}.withDefaults()
			pairs, o := upstreamCookies(t, all, r)
			if o.status != 200 || len(pairs) != 0 {
				t.Errorf("remove_cookies: all: %d %s, upstream cookies %q, want none", o.status, o.reason, pairs)
			}
		})
	}},
	// Item 3. Before: only the all-hyphen and all-underscore spellings of
	// an identity header were removed; x-forwarded_user reached the product.
	{"O2_3_mixed_separator_identity_headers", func(t *testing.T, s *suite) {
		e := s.o2(t)
		tok := s.t0(t, nil)
		spoof := []string{"x-forwarded_user: admin", "x_forwarded-user: admin", "x_forwarded-groups: jira-administrators",
			"x-forwarded_groups: jira-administrators", "x-atlassian_user: admin", "remote_user: admin", "x-remote_user: admin"}
		for _, c := range []struct {
			name string
			r    in
		}{
			{"bearer_allow", in{host: jiraHost, headers: append(hdrs(bearer(tok)), spoof...)}},
			{"public_route", in{host: jiraHost, path: "/status", headers: spoof}},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := c.r.withDefaults()
				for _, o := range []outcome{e.checkGRPC(t, mustReq(t, r)), e.checkHTTP(t, r)} {
					if o.status != 200 {
						t.Fatalf("%s: %d %s", o.transport, o.status, o.reason)
					}
					up := upstream(r.headers, o)
					for name, vs := range up {
						n := strings.ReplaceAll(name, "_", "-")
						switch n {
						case "x-forwarded-user", "x-forwarded-groups", "x-atlassian-user", "remote-user", "x-remote-user":
							if _, set := o.headers[name]; !set {
								t.Errorf("%s: client-supplied %s: %q reaches the upstream", o.transport, name, vs)
							}
						}
					}
				}
			})
		}
	}},
	// Item 4. Before: HEAD matched no GET-only rule, so HEAD on a resource
	// a GET deny rule protects went to the next rule and was allowed;
	// Tomcat and JAX-RS serve HEAD with the GET handler.
	{"O2_4_head_judged_by_the_get_rule", func(t *testing.T, s *suite) {
		e := s.o2(t)
		tok := s.t0(t, nil)
		e.table(t, []cs{
			{name: "head_on_get_deny", r: in{method: "HEAD", path: "/rest/api/2/user?username=admin", headers: hdrs(bearer(tok))}, w: forbidden("route_denied")},
			{name: "get_on_get_deny", r: in{method: "GET", path: "/rest/api/2/user", headers: hdrs(bearer(tok))}, w: forbidden("route_denied")},
			{name: "head_elsewhere", r: in{method: "HEAD", path: myself, headers: hdrs(bearer(tok))}, w: allow("alice")},
			{name: "post_not_affected", r: in{method: "POST", path: "/rest/api/2/user", headers: hdrs(bearer(tok))}, w: allow("alice")},
		})
	}},
	// Item 5. Before: the method-override headers were checked, the
	// _method query parameter (Jersey's and Spring's override filters) was
	// not: POST ?_method=DELETE reached the product past a DELETE deny rule.
	{"O2_5_method_override_parameter", func(t *testing.T, s *suite) {
		e := s.o2(t)
		tok := s.t0(t, nil)
		issue := "/rest/api/2/issue/JRA-1"
		e.table(t, []cs{
			{name: "post_as_delete", r: in{method: "POST", path: issue + "?_method=DELETE", headers: hdrs(bearer(tok))}, w: badRequest("method_override")},
			{name: "lower_case_value", r: in{method: "POST", path: issue + "?_method=delete", headers: hdrs(bearer(tok))}, w: badRequest("method_override")},
			{name: "encoded_name", r: in{method: "POST", path: issue + "?%5Fmethod=DELETE", headers: hdrs(bearer(tok))}, w: badRequest("method_override")},
			{name: "second_parameter", r: in{method: "POST", path: issue + "?a=1&_method=PUT&_method=DELETE", headers: hdrs(bearer(tok))}, w: badRequest("method_override")},
			{name: "get_as_user_read", r: in{method: "POST", path: "/rest/api/2/user?_method=GET", headers: hdrs(bearer(tok))}, w: badRequest("method_override")},
			{name: "same_rule", r: in{method: "POST", path: issue + "?_method=PUT", headers: hdrs(bearer(tok))}, w: allow("alice")},
			{name: "delete_itself", r: in{method: "DELETE", path: issue, headers: hdrs(bearer(tok))}, w: forbidden("route_denied")},
		})
	}},
	// Item 6. Before: /rest/.../user.json reached the same resource as
	// /rest/.../user (Atlassian's ExtensionJerseyFilter strips .json, .xml,
	// .txt, .htm, .html and .atom) but was judged by /rest/** instead of the
	// literal rule: past a deny rule and past a group rule.
	{"O2_6_representation_suffix", func(t *testing.T, s *suite) {
		e := s.o2(t)
		tok := s.t0(t, nil)
		admin := s.t0(t, map[string]any{"groups": []string{"jira-administrators"}})
		var cases []cs
		for _, ext := range []string{"json", "xml", "txt", "htm", "html", "atom"} {
			cases = append(cases,
				cs{name: "deny_rule_" + ext, r: in{path: "/rest/api/2/user." + ext + "?username=admin", headers: hdrs(bearer(tok))}, w: deny(400, 403)},
				cs{name: "group_rule_" + ext, r: in{path: "/rest/api/2/group." + ext, headers: hdrs(bearer(tok))}, w: deny(400, 403)},
			)
		}
		cases = append(cases,
			cs{name: "group_rule_member", r: in{path: "/rest/api/2/group.json", headers: hdrs(bearer(admin))}, w: deny(200, 400)},
			cs{name: "same_rule_allowed", r: in{path: "/rest/api/2/myself.json", headers: hdrs(bearer(tok))}, w: allow("alice")},
			cs{name: "upper_case_suffix_is_literal", r: in{path: "/rest/api/2/myself.JSON", headers: hdrs(bearer(tok))}, w: allow("alice")},
			cs{name: "no_token", r: in{path: "/rest/api/2/user.json"}, w: deny(400, 401, 403)},
		)
		e.table(t, cases)
	}},
	// Item 7. Before: a form-encoded body (Seraph reads os_username and
	// os_password from it) travelled with a bearer token, and Jira's gadget
	// login and Confluence's RPC login endpoints were not password channels.
	{"O2_7_password_channels_in_bodies", func(t *testing.T, s *suite) {
		e := s.o2Products(t)
		tok := s.t0(t, nil)
		blocked := forbidden("password_channel_blocked")
		form := "content-type: application/x-www-form-urlencoded"
		e.table(t, []cs{
			{name: "form_body_with_token", r: in{method: "POST", host: jiraHost, path: "/rest/api/2/issue", headers: hdrs(bearer(tok), form)}, w: blocked},
			{name: "form_body_charset", r: in{method: "POST", host: jiraHost, path: "/rest/api/2/issue", headers: hdrs(bearer(tok), "content-type: Application/X-WWW-Form-Urlencoded; charset=UTF-8")}, w: blocked},
			{name: "json_body_with_token", r: in{method: "POST", host: jiraHost, path: "/rest/api/2/issue", headers: hdrs(bearer(tok), "content-type: application/json")}, w: allow("alice")},
			{name: "multipart_with_token", r: in{method: "POST", host: jiraHost, path: "/rest/api/2/issue/JRA-1/attachments", headers: hdrs(bearer(tok), "content-type: multipart/form-data; boundary=x", "x-atlassian-token: no-check")}, w: allow("alice")},
			{name: "gadget_login", r: in{method: "POST", host: jiraHost, path: "/rest/gadget/1.0/login", headers: hdrs(bearer(tok))}, w: blocked},
			{name: "gadget_login_no_token", r: in{method: "POST", host: jiraHost, path: "/rest/gadget/1.0/login?os_username=a"}, w: blocked},
			{name: "json_rpc_login", r: in{method: "POST", host: confHost, path: "/rpc/json-rpc/confluenceservice-v2/login", headers: hdrs(bearer(tok))}, w: blocked},
			{name: "json_rpc_envelope", r: in{method: "POST", host: confHost, path: "/rpc/json-rpc/confluenceservice-v2", headers: hdrs(bearer(tok))}, w: blocked},
			{name: "xml_rpc", r: in{method: "POST", host: confHost, path: "/rpc/xmlrpc", headers: hdrs(bearer(tok))}, w: blocked},
			{name: "soap", r: in{method: "POST", host: confHost, path: "/rpc/soap-axis/confluenceservice-v2", headers: hdrs(bearer(tok))}, w: blocked},
			{name: "json_rpc_light_method", r: in{method: "POST", host: confHost, path: "/rpc/json-rpc/confluenceservice-v2/getSpaces", headers: hdrs(bearer(s.t0(t, map[string]any{"aud": jiraAud})))}, w: allow("alice")},
		})
	}},
	// Item 8. Before: a ;jsessionid= path parameter (Tomcat reads it as the
	// session id) travelled with a bearer token past the cookie filter, and
	// the decision log recorded the session id.
	{"O2_8_session_id_in_path", func(t *testing.T, s *suite) {
		e := s.o2Products(t)
		tok := s.t0(t, nil)
		secret := "SESSION" + randHex(8)
		t.Run("cases", func(t *testing.T) {
			e.table(t, []cs{
				{name: "jsessionid", r: in{host: jiraHost, path: myself + ";jsessionid=" + secret, headers: hdrs(bearer(tok))}, w: invalidRequest("multiple_credentials")},
				{name: "upper_case", r: in{host: jiraHost, path: "/rest;JSESSIONID=" + secret + "/api/2/myself", headers: hdrs(bearer(tok))}, w: invalidRequest("multiple_credentials")},
				{name: "second_parameter", r: in{host: jiraHost, path: myself + ";a=b;jsessionid=" + secret, headers: hdrs(bearer(tok))}, w: invalidRequest("multiple_credentials")},
				{name: "bitbucket_session_name", r: in{host: "bitbucket.example.test", path: "/rest/api/1.0/projects;BITBUCKETSESSIONID=" + secret, headers: hdrs(bearer(tok))}, w: invalidRequest("multiple_credentials")},
				{name: "other_parameter", r: in{host: jiraHost, path: myself + ";v=1", headers: hdrs(bearer(tok))}, w: allow("alice")},
			})
		})
		t.Run("not_logged", func(t *testing.T) {
			if !eventually(5*time.Second, func() bool { return strings.Contains(e.rg.Logs(), "multiple_credentials") }) {
				t.Fatal("no decision logged")
			}
			if strings.Contains(e.rg.Logs(), secret) {
				t.Error("a session id from the path is in the decision log")
			}
		})
	}},
	// Item 9. Before: preset exclusions are pass rules that forwarded every
	// credential: a personal access token that native_tokens: deny refuses
	// everywhere else reached the application-link and OAuth-provider
	// APIs (from outside the IP allowlist), and session cookies passed too.
	{"O2_9_pass_routes_carry_no_credentials", func(t *testing.T, s *suite) {
		e := s.o2Products(t)
		tok := s.t0(t, nil)
		pat := patToken()
		nativeDenied := invalidToken("native_token_denied")
		e.table(t, []cs{
			{name: "pat_on_applinks", r: in{host: jiraHost, path: "/rest/applinks/1.0/applicationlink", source: outside, headers: hdrs(bearer(pat))}, w: nativeDenied},
			{name: "pat_on_oauth2_admin", r: in{host: jiraHost, path: "/rest/oauth2/latest/client", source: outside, headers: hdrs(bearer(pat))}, w: nativeDenied},
			{name: "pat_on_status", r: in{host: jiraHost, path: "/status", headers: hdrs(bearer(pat))}, w: nativeDenied},
			{name: "bitbucket_token_on_static", r: in{host: "bitbucket.example.test", path: "/s/x.js", headers: hdrs(bearer("BBDC-" + randHex(20)))}, w: nativeDenied},
		})
		t.Run("bearer_and_session_stripped", func(t *testing.T) {
			r := in{host: jiraHost, path: "/rest/applinks/1.0/manifest", source: outside,
				headers: hdrs(bearer(tok), "cookie: JSESSIONID=ADMIN; theme=dark")}.withDefaults()
			for _, o := range []outcome{e.checkGRPC(t, mustReq(t, r)), e.checkHTTP(t, r)} {
				if o.status != 200 || o.reason != "public_route" {
					t.Fatalf("%s: %d %s", o.transport, o.status, o.reason)
				}
				up := upstream(r.headers, o)
				if len(up["authorization"]) > 0 {
					t.Errorf("%s: the bearer token reaches the product on a pass route", o.transport)
				}
				for _, c := range up["cookie"] {
					if strings.Contains(c, "JSESSIONID") {
						t.Errorf("%s: the session cookie reaches the product on a pass route: %q", o.transport, c)
					}
				}
			}
		})
		t.Run("oauth1_scheme_kept", func(t *testing.T) {
			r := in{host: jiraHost, path: "/plugins/servlet/oauth/request-token", method: "POST",
				headers: hdrs(`authorization: OAuth oauth_consumer_key="k", oauth_signature="s"`)}.withDefaults()
			o := e.checkGRPC(t, mustReq(t, r))
			if o.status != 200 || len(upstream(r.headers, o)["authorization"]) != 1 {
				t.Errorf("OAuth 1.0a on its exclusion: %d %s, authorization must reach the product", o.status, o.reason)
			}
		})
	}},
	// Item 19. Before: "Authorization: JWT" passed unchecked on Bitbucket's
	// Git LFS paths by default while docs/atlassian.md said it gets 401
	// unsupported_scheme. The default is now the documented one (off).
	{"O2_19_lfs_jwt_off_by_default", func(t *testing.T, s *suite) {
		e := s.o2Products(t)
		e.table(t, []cs{
			{name: "lfs_path", r: in{host: "bitbucket.example.test", method: "POST", path: "/scm/prj/repo.git/info/lfs/objects/batch", headers: hdrs("authorization: JWT eyJhbGciOi.x.y")}, w: none401("unsupported_scheme")},
		})
	}},
}
