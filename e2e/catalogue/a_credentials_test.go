package catalogue

import (
	"encoding/base64"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/restguard/restguard/envoy"
)

const basicAlice = "YWxpY2U6cGFzcw==" // alice:pass

var entriesA = []entry{
	{"A1_no_credentials", func(t *testing.T, s *suite) {
		s.table(t, []cs{
			{name: "absent", w: none401("credentials_missing")},
			{name: "empty_header", r: in{headers: hdrs("authorization: ")}, w: invalidRequest("malformed_credential")},
			{name: "bearer_without_token", r: in{headers: hdrs("authorization: Bearer")}, w: invalidRequest("malformed_credential")},
			{name: "bearer_trailing_space", r: in{headers: hdrs("authorization: Bearer ")}, w: invalidRequest("malformed_credential")},
		})
	}},
	{"A2_basic_scheme_case_variants", func(t *testing.T, s *suite) {
		blocked := none401("basic_auth_blocked")
		s.table(t, []cs{
			{name: "Basic", r: in{headers: hdrs("authorization: Basic " + basicAlice)}, w: blocked},
			{name: "basic", r: in{headers: hdrs("authorization: basic " + basicAlice)}, w: blocked},
			{name: "BASIC", r: in{headers: hdrs("authorization: BASIC " + basicAlice)}, w: blocked},
			{name: "bAsIc", r: in{headers: hdrs("authorization: bAsIc " + basicAlice)}, w: blocked},
			{name: "tab", r: in{headers: hdrs("authorization: Basic\t" + basicAlice)}, w: blocked},
			{name: "two_spaces", r: in{headers: hdrs("authorization: Basic  " + basicAlice)}, w: blocked},
			{name: "no_credentials", r: in{headers: hdrs("authorization: Basic")}, w: blocked},
			{name: "10KiB", r: in{headers: hdrs("authorization: Basic " + repeat("QUFB", 2560))}, w: blocked},
			{name: "not_base64", r: in{headers: hdrs("authorization: Basic <BASIC>")}, w: blocked},
			{name: "public_status", r: in{path: "/status", headers: hdrs("authorization: Basic " + basicAlice)}, w: blocked},
			{name: "public_static", r: in{path: "/s/en_GB/x/batch.js", headers: hdrs("authorization: Basic " + basicAlice)}, w: blocked},
			{name: "options", r: in{method: "OPTIONS", headers: hdrs("authorization: Basic "+basicAlice, "origin: https://x.example", "access-control-request-method: GET")}, w: blocked},
			{name: "unmatched_host", r: in{host: "other.example.test", headers: hdrs("authorization: Basic " + basicAlice)}, w: blocked},
			{name: "with_valid_bearer_elsewhere", r: in{headers: hdrs("authorization: Basic "+basicAlice, "x-token: Bearer "+s.t0(t, nil))}, w: blocked},
		})
	}},
	{"A3_two_authorization_lines", func(t *testing.T, s *suite) {
		tok, tok1 := s.t0(t, nil), s.t0(t, map[string]any{"preferred_username": "admin"})
		multiple := invalidRequest("multiple_credentials")
		s.table(t, []cs{
			{name: "bearer_then_basic", r: in{headers: hdrs(bearer(tok), "authorization: Basic "+basicAlice)}, w: multiple},
			{name: "basic_then_bearer", r: in{headers: hdrs("authorization: Basic "+basicAlice, bearer(tok))}, w: multiple},
			{name: "bearer_then_bearer", r: in{headers: hdrs(bearer(tok), bearer(tok1))}, w: multiple},
			{name: "merged_by_client", r: in{headers: hdrs("authorization: Bearer " + tok + ", Basic " + basicAlice)}, w: multiple},
		})
		t.Run("header_map_raw", func(t *testing.T) {
			t.Parallel()
			req := rawRequest(t, []*corev3.HeaderValue{
				{Key: "authorization", RawValue: []byte("Bearer " + tok)},
				{Key: "authorization", RawValue: []byte("Basic " + basicAlice)},
			})
			s.runRaw(t, req, multiple)
		})
	}},
	{"A4_proxy_authorization", func(t *testing.T, s *suite) {
		s.table(t, []cs{
			{name: "with_bearer", r: in{headers: hdrs(bearer(s.t0(t, nil)), "proxy-authorization: Basic "+basicAlice)}, w: invalidRequest("multiple_credentials")},
			{name: "alone", r: in{headers: hdrs("proxy-authorization: Basic " + basicAlice)}, w: none401("basic_auth_blocked")},
			{name: "bearer_in_proxy_header", r: in{headers: hdrs("proxy-authorization: Bearer " + s.t0(t, nil))}, w: none401("unsupported_scheme")},
			// On a public route the proxy credential is removed upstream.
			{name: "public_route_removed", r: in{path: "/status", headers: hdrs("proxy-authorization: Negotiate YIIG")}, w: public()},
		})
	}},
	{"A5_url_userinfo", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		s.table(t, []cs{
			// The authority with userinfo matches no configured host: the
			// default rule denies; a host-less rule would still see the
			// whole string, which never equals a configured host.
			{name: "authority", r: in{host: "alice:pass@jira.example.test", headers: hdrs(bearer(tok))}, w: deny(400, 401, 403)},
			{name: "absolute_form", r: in{path: "http://alice:pass@jira.example.test" + myself, headers: hdrs(bearer(tok))}, w: badRequest("malformed_request")},
			{name: "absolute_form_no_token", r: in{path: "http://alice:pass@jira.example.test" + myself}, w: badRequest("malformed_request")},
		})
	}},
	{"A6_bearer_that_is_not_a_jwt", func(t *testing.T, s *suite) {
		// Default profile (no native-token pass-through): not a JWT, so
		// 401 invalid_token. The pass-through profile is covered by
		// A6_atlassian_native_tokens (atlassian_test.go).
		pat := base64.StdEncoding.EncodeToString([]byte("123456789012:" + repeat("x", 20)))
		s.table(t, []cs{
			{name: "basic_in_bearer", r: in{headers: hdrs("authorization: Bearer dXNlcjpwYXNz")}, w: invalidToken("token_malformed")},
			{name: "pat_shape", r: in{headers: hdrs("authorization: Bearer " + pat)}, w: invalidToken("token_malformed")},
			{name: "bitbucket_token", r: in{headers: hdrs("authorization: Bearer BBDC-" + repeat("A", 40))}, w: invalidToken("token_malformed")},
		})
	}},
	{"A7_other_schemes", func(t *testing.T, s *suite) {
		unsupported := none401("unsupported_scheme")
		s.table(t, []cs{
			{name: "oauth1", r: in{headers: hdrs(`authorization: OAuth oauth_consumer_key="x",oauth_token="y",oauth_signature_method="RSA-SHA1",oauth_signature="zz"`)}, w: unsupported},
			{name: "oauth1_2legged", r: in{headers: hdrs(`authorization: OAuth oauth_consumer_key="x", xoauth_requestor_id="admin", oauth_signature="zz"`)}, w: unsupported},
			{name: "negotiate", r: in{headers: hdrs("authorization: Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1")}, w: unsupported},
			{name: "digest", r: in{headers: hdrs(`authorization: Digest username="alice", realm="jira", nonce="n", uri="/", response="r"`)}, w: unsupported},
			{name: "jwt_scheme", r: in{headers: hdrs("authorization: JWT " + s.t0(t, nil))}, w: unsupported},
			{name: "bearer_then_scheme", r: in{headers: hdrs("authorization: Bearer " + s.t0(t, nil) + " Negotiate YIIG")}, w: invalidRequest("malformed_credential")},
			{name: "oauth1_with_merged_bearer", r: in{headers: hdrs(`authorization: OAuth oauth_token="y", Bearer ` + s.t0(t, nil))}, w: invalidRequest("multiple_credentials")},
		})
	}},
	{"A8_password_parameters", func(t *testing.T, s *suite) {
		// Default profile: no password-channel policy on these rules, so
		// only the credential-less cases apply; the preset profile is
		// A8_atlassian_password_channels (atlassian_test.go).
		s.table(t, []cs{
			{name: "query_without_token", r: in{path: myself + "?os_username=admin&os_password=admin"}, w: none401("credentials_missing")},
			{name: "basic_with_os_authType", r: in{path: myself + "?os_authType=basic", headers: hdrs("authorization: Basic " + basicAlice)}, w: none401("basic_auth_blocked")},
		})
	}},
	{"A9_session_cookies", func(t *testing.T, s *suite) {
		s.table(t, []cs{
			{name: "cookie_only", r: in{headers: hdrs("cookie: JSESSIONID=ADMIN; seraph.rememberme.cookie=x")}, w: none401("credentials_missing")},
		})
		// (b) and (c) need the Atlassian session-cookie removal and
		// session-login block: A9_atlassian_session_cookies.
	}},
	{"A10_token_in_query_or_body", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		s.table(t, []cs{
			{name: "query_only", r: in{path: myself + "?access_token=" + tok}, w: none401("credentials_missing")},
			{name: "header_and_query", r: in{path: myself + "?access_token=" + tok, headers: hdrs(bearer(tok))}, w: invalidRequest("multiple_credentials")},
		})
		t.Run("header_and_encoded_query", func(t *testing.T) {
			t.Parallel()
			// A percent-encoded parameter name is the same parameter to the
			// servlet container (found by this suite; fixed in authz).
			o := s.checkGRPC(t, mustReq(t, in{path: myself + "?%61ccess_token=" + tok, headers: hdrs(bearer(tok))}))
			assertOutcome(t, nil, o, invalidRequest("multiple_credentials"))
		})
		t.Run("form_body", func(t *testing.T) {
			t.Parallel()
			req, err := envoy.NewCheckRequest(envoy.CheckInput{Method: "POST", Host: jiraHost, Path: myself, SourceIP: inside, Headers: hdrs("content-type: application/x-www-form-urlencoded")})
			if err != nil {
				t.Fatal(err)
			}
			req.Attributes.Request.Http.Body = "access_token=" + tok
			s.runRaw(t, req, none401("credentials_missing"))
		})
	}},
	{"A11_credential_grammar", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		bad := deny(400, 401)
		s.table(t, []cs{
			{name: "ampersand", r: in{headers: hdrs("authorization: Bearer abc&token=" + tok)}, w: invalidRequest("malformed_credential")},
			{name: "extra_word", r: in{headers: hdrs("authorization: Bearer " + tok + " extra")}, w: invalidRequest("malformed_credential")},
			{name: "quoted", r: in{headers: hdrs(`authorization: Bearer "` + tok + `"`)}, w: invalidRequest("malformed_credential")},
			{name: "semicolon", r: in{headers: hdrs("authorization: Bearer " + tok + ";")}, w: invalidRequest("malformed_credential")},
			{name: "comma", r: in{headers: hdrs("authorization: Bearer " + tok + ",")}, w: invalidRequest("multiple_credentials|malformed_credential")},
			{name: "embedded_tab", r: in{headers: hdrs("authorization: Bearer " + tok[:20] + "\t" + tok[20:])}, w: invalidRequest("malformed_credential")},
			{name: "percent", r: in{headers: hdrs("authorization: Bearer " + tok[:20] + "%41" + tok[20:])}, w: invalidRequest("malformed_credential")},
			{name: "braces", r: in{headers: hdrs("authorization: Bearer {" + tok + "}")}, w: invalidRequest("malformed_credential")},
			{name: "backslash", r: in{headers: hdrs(`authorization: Bearer ` + tok[:20] + `\` + tok[20:])}, w: invalidRequest("malformed_credential")},
			{name: "non_ascii", r: in{headers: hdrs("authorization: Bearer " + tok[:20] + "é" + tok[20:])}, w: invalidRequest("malformed_credential")},
			{name: "nul", r: in{headers: hdrs("authorization: Bearer " + tok[:20] + "\x00" + tok[20:])}, w: bad},
		})
	}},
	{"A12_header_name_case_and_path_mismatch", func(t *testing.T, s *suite) {
		tok, admin := s.t0(t, nil), s.t0(t, map[string]any{"preferred_username": "admin"})
		t.Run("two_spellings", func(t *testing.T) {
			req := rawFlat(t, map[string]string{"authorization": "Bearer " + tok, "Authorization": "Bearer " + admin})
			s.runRaw(t, req, badRequest("malformed_request"))
		})
		t.Run("path_mismatch", func(t *testing.T) {
			req := rawFlat(t, map[string]string{"authorization": "Bearer " + tok})
			req.Attributes.Request.Http.Path = "/status"
			s.runRaw(t, req, badRequest("malformed_request"))
		})
		t.Run("host_mismatch", func(t *testing.T) {
			req := rawFlat(t, map[string]string{"authorization": "Bearer " + tok})
			req.Attributes.Request.Http.Host = "other.example.test"
			s.runRaw(t, req, badRequest("malformed_request"))
		})
		t.Run("headers_and_header_map_disagree", func(t *testing.T) {
			req := rawRequest(t, []*corev3.HeaderValue{{Key: "authorization", RawValue: []byte("Bearer " + tok)}})
			req.Attributes.Request.Http.Headers = map[string]string{"authorization": "Bearer " + admin}
			s.runRaw(t, req, badRequest("malformed_request"))
		})
	}},
	{"A13_browser_looking_headers", func(t *testing.T, s *suite) {
		s.table(t, []cs{
			{name: "xsrf_bypass_headers", r: in{headers: hdrs(
				"cookie: JSESSIONID=ADMIN", "x-atlassian-token: no-check", "x-requested-with: XMLHttpRequest",
				"origin: https://jira.example.test", "referer: https://jira.example.test/secure/Dashboard.jspa",
				"user-agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")}, w: none401("credentials_missing")},
			{name: "post_with_origin", r: in{method: "POST", headers: hdrs("origin: https://jira.example.test", "x-atlassian-token: no-check")}, w: none401("credentials_missing")},
		})
	}},
}
