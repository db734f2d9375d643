package catalogue

import (
	"strings"
	"testing"
	"time"
)

var entriesD = []entry{
	{"D1_expiry", func(t *testing.T, s *suite) {
		now := time.Now().Unix()
		tok := func(exp any) string { return s.t0(t, map[string]any{"exp": exp}) }
		expired := invalidToken("token_expired")
		s.table(t, []cs{
			{name: "past_hour", r: in{headers: hdrs(bearer(tok(now - 3600)))}, w: expired},
			{name: "inside_leeway", r: in{headers: hdrs(bearer(tok(now - 30)))}, w: allow("alice")},
			{name: "beyond_leeway", r: in{headers: hdrs(bearer(tok(now - 90)))}, w: expired},
			{name: "missing", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"exp": nil})))}, w: expired},
			{name: "zero", r: in{headers: hdrs(bearer(tok(0)))}, w: expired},
			{name: "string_number", r: in{headers: hdrs(bearer(tok("9999999999")))}, w: expired},
			{name: "string_date", r: in{headers: hdrs(bearer(tok("2099-01-01T00:00:00Z")))}, w: expired},
			{name: "1e300", r: in{headers: hdrs(bearer(s.raw(t, h0, s.payload(map[string]any{"exp": nil}, `"exp":1e300`))))}, w: deny(200, 401)},
			{name: "minus_one", r: in{headers: hdrs(bearer(tok(-1)))}, w: expired},
			{name: "int64_max", r: in{headers: hdrs(bearer(s.raw(t, h0, s.payload(map[string]any{"exp": nil}, `"exp":9223372036854775807`))))}, w: deny(200, 401)},
			{name: "float_past", r: in{headers: hdrs(bearer(s.raw(t, h0, s.payload(map[string]any{"exp": nil}, `"exp":1.5e9`))))}, w: expired},
		})
	}},
	{"D2_not_yet_valid", func(t *testing.T, s *suite) {
		now := time.Now().Unix()
		s.table(t, []cs{
			{name: "nbf_future", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"nbf": now + 600})))}, w: invalidToken("token_not_yet_valid")},
			{name: "nbf_inside_leeway", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"nbf": now + 30})))}, w: allow("alice")},
			{name: "iat_future", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"iat": now + 600})))}, w: invalidToken("token_not_yet_valid")},
			{name: "nbf_zero", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"nbf": 0})))}, w: allow("alice")},
		})
	}},
	{"D3_issuer", func(t *testing.T, s *suite) {
		iss := s.a.Issuer
		unknown := invalidToken("issuer_unknown")
		s.table(t, []cs{
			{name: "wrong", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"iss": "https://evil.example"})))}, w: unknown},
			{name: "trailing_slash", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"iss": iss + "/"})))}, w: unknown},
			{name: "upper_case", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"iss": strings.ToUpper(iss)})))}, w: unknown},
			{name: "missing", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"iss": nil})))}, w: unknown},
			{name: "array", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"iss": []string{iss}})))}, w: unknown},
			{name: "nul_appended", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"iss": iss + "\u0000"})))}, w: unknown},
		})
	}},
	{"D4_audience", func(t *testing.T, s *suite) {
		mismatch := invalidToken("audience_mismatch")
		aud := func(v any) string { return s.t0(t, map[string]any{"aud": v}) }
		s.table(t, []cs{
			{name: "wrong", r: in{headers: hdrs(bearer(aud("https://other.example")))}, w: mismatch},
			{name: "missing", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"aud": nil})))}, w: mismatch},
			{name: "empty_array", r: in{headers: hdrs(bearer(aud([]string{})))}, w: mismatch},
			{name: "array_containing", r: in{headers: hdrs(bearer(aud([]string{"other", jiraAud})))}, w: allow("alice")},
			{name: "trailing_space", r: in{headers: hdrs(bearer(aud(jiraAud + " ")))}, w: mismatch},
			{name: "upper_case", r: in{headers: hdrs(bearer(aud(strings.ToUpper(jiraAud))))}, w: mismatch},
			{name: "confluence_token_on_jira", r: in{headers: hdrs(bearer(aud(confAud)))}, w: mismatch},
			{name: "jira_token_on_confluence", r: in{host: confHost, headers: hdrs(bearer(aud(jiraAud)))}, w: mismatch},
		})
	}},
	{"D5_token_type_confusion", func(t *testing.T, s *suite) {
		p := s.payload(nil, "")
		idTok := s.payload(map[string]any{"nonce": "n", "at_hash": "x", "azp": "svc-a"}, "")
		typ := func(v string) string {
			if v == "" {
				return s.raw(t, `{"alg":"RS256","kid":"k1"}`, p)
			}
			return s.raw(t, `{"alg":"RS256","kid":"k1","typ":"`+v+`"}`, p)
		}
		strictIn := func(tok string) in { return in{host: strictHost, headers: hdrs(bearer(tok))} }
		bad := invalidToken("token_type_invalid")
		s.table(t, []cs{
			{name: "strict_id_token", r: strictIn(s.raw(t, `{"alg":"RS256","kid":"k1","typ":"JWT"}`, idTok)), w: bad},
			{name: "strict_typ_missing", r: strictIn(typ("")), w: bad},
			{name: "strict_dpop", r: strictIn(s.raw(t, `{"alg":"RS256","kid":"k1","typ":"dpop+jwt","jwk":{"kty":"EC"}}`, s.payload(map[string]any{"htm": "GET", "htu": "https://jira.example.test/"}, ""))), w: bad},
			{name: "strict_logout", r: strictIn(typ("logout+jwt")), w: bad},
			{name: "strict_secevent", r: strictIn(typ("secevent+jwt")), w: bad},
			{name: "strict_upper_case", r: strictIn(typ("AT+JWT")), w: allow("alice")},
			{name: "strict_application", r: strictIn(typ("application/at+jwt")), w: allow("alice")},
			{name: "strict_parameters", r: strictIn(typ("application/at+jwt; charset=x")), w: bad},
			// Not strict (the default: Keycloak and Entra put typ JWT on
			// access tokens): JWT and no typ pass, other types never do.
			{name: "lenient_jwt", r: in{headers: hdrs(bearer(typ("JWT")))}, w: allow("alice")},
			{name: "lenient_missing", r: in{headers: hdrs(bearer(typ("")))}, w: allow("alice")},
			{name: "lenient_dpop", r: in{headers: hdrs(bearer(typ("dpop+jwt")))}, w: bad},
			{name: "lenient_logout", r: in{headers: hdrs(bearer(typ("logout+jwt")))}, w: bad},
		})
	}},
	{"D6_sender_constrained", func(t *testing.T, s *suite) {
		s.table(t, []cs{
			{name: "dpop_jkt", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})))}, w: invalidToken("token_invalid")},
			{name: "mtls_x5t", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"cnf": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}})))}, w: invalidToken("token_invalid")},
		})
	}},
	{"D7_client_restriction", func(t *testing.T, s *suite) {
		path := "/rest/client/x"
		s.table(t, []cs{
			{name: "allowed_client", r: in{path: path, headers: hdrs(bearer(s.t0(t, nil)))}, w: allow("alice")},
			{name: "evil_client", r: in{path: path, headers: hdrs(bearer(s.t0(t, map[string]any{"client_id": "evil-client"})))}, w: invalidToken("audience_mismatch")},
			{name: "client_missing", r: in{path: path, headers: hdrs(bearer(s.t0(t, map[string]any{"client_id": nil})))}, w: invalidToken("audience_mismatch")},
			{name: "client_as_array", r: in{path: path, headers: hdrs(bearer(s.t0(t, map[string]any{"client_id": []string{"svc-a"}})))}, w: invalidToken("audience_mismatch")},
		})
	}},
	{"D8_duplicate_claims", func(t *testing.T, s *suite) {
		dup := func(name, first string, extra map[string]any) string {
			base := withoutNil(p0(s.a.Issuer, extra))
			last := base[name]
			delete(base, name)
			b := mustJSON(base)
			return s.raw(t, h0, `{"`+name+`":`+first+`,`+b[1:len(b)-1]+`,"`+name+`":`+mustJSON(last)+`}`)
		}
		now := time.Now().Unix()
		refused := invalidToken("token_malformed")
		s.table(t, []cs{
			{name: "sub", r: in{headers: hdrs(bearer(dup("sub", `"admin"`, map[string]any{"sub": "bob", "preferred_username": nil})))}, w: refused},
			{name: "preferred_username", r: in{headers: hdrs(bearer(dup("preferred_username", `"admin"`, map[string]any{"preferred_username": "bob"})))}, w: refused},
			{name: "groups", r: in{headers: hdrs(bearer(dup("groups", `["jira-api-users"]`, map[string]any{"groups": []string{"nobody"}})))}, w: refused},
			{name: "iss", r: in{headers: hdrs(bearer(dup("iss", `"https://evil"`, nil)))}, w: refused},
			{name: "exp", r: in{headers: hdrs(bearer(dup("exp", mustJSON(now+300), map[string]any{"exp": now - 300})))}, w: refused},
			{name: "header_kid", r: in{headers: hdrs(bearer(s.raw(t, `{"alg":"RS256","kid":"k2","kid":"k1"}`, s.payload(nil, ""))))}, w: refused},
		})
	}},
	{"D9_claim_case_and_types", func(t *testing.T, s *suite) {
		now := time.Now().Unix()
		s.table(t, []cs{
			{name: "upper_case_only", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"exp": nil, "iss": nil, "aud": nil, "EXP": now + 300, "ISS": s.a.Issuer, "AUD": jiraAud})))}, w: invalidToken("issuer_unknown")},
			{name: "upper_exp_only", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"exp": nil, "EXP": now + 300})))}, w: invalidToken("token_expired")},
			{name: "groups_string", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": "jira-api-users"})))}, w: want{status: 200, reason: "authenticated", user: "alice", groups: "jira-api-users"}},
			{name: "groups_null", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": nil})))}, w: want{status: 403, err: "insufficient_scope", reason: "group_missing"}},
			{name: "groups_true", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": true})))}, w: deny(401, 403)},
			{name: "groups_zero", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": 0})))}, w: deny(401, 403)},
			{name: "groups_object", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": map[string]any{"jira-api-users": true}})))}, w: deny(401, 403)},
			{name: "groups_array_of_numbers", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": []any{1, "jira-api-users"}})))}, w: deny(401, 403)},
			{name: "sub_number_only", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"sub": 123, "preferred_username": nil})))}, w: invalidToken("username_missing|token_invalid")},
			{name: "username_array", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"preferred_username": []string{"alice", "admin"}})))}, w: invalidToken("username_missing")},
			{name: "username_true", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"preferred_username": true})))}, w: invalidToken("username_missing")},
		})
	}},
	{"D10_unicode_confusables", func(t *testing.T, s *suite) {
		var cases []cs
		for name, u := range map[string]string{"upper": "ADMIN", "title": "Admin", "cyrillic_a": "\u0430dmin", "zero_width": "admin\u200b", "fullwidth": "\uff41\uff44\uff4d\uff49\uff4e"} {
			cases = append(cases, cs{name: name, r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"preferred_username": u})))}, w: allow(u)})
		}
		cases = append(cases, cs{name: "trailing_space", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"preferred_username": "admin "})))}, w: invalidToken("username_missing")})
		s.table(t, cases)
	}},
}

var entriesE = []entry{
	{"E1_unverified_email_not_identity", func(t *testing.T, s *suite) {
		s.table(t, []cs{
			// No preferred_username: the immutable sub is next; email is
			// never a fallback.
			{name: "email_admin_unverified", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"sub": "attacker", "email": "admin@corp.example", "email_verified": false, "preferred_username": nil})))}, w: allow("attacker")},
			{name: "no_identity_claims", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"sub": nil, "email": "admin@corp.example", "preferred_username": nil})))}, w: invalidToken("username_missing")},
		})
	}},
	{"E2_group_shapes", func(t *testing.T, s *suite) {
		missing := want{status: 403, err: "insufficient_scope", reason: "group_missing"}
		g := func(v any) string { return s.t0(t, map[string]any{"groups": v}) }
		s.table(t, []cs{
			{name: "absent", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": nil})))}, w: missing},
			{name: "empty", r: in{headers: hdrs(bearer(g([]string{})))}, w: missing},
			{name: "upper_case", r: in{headers: hdrs(bearer(g([]string{"JIRA-API-USERS"})))}, w: missing},
			{name: "trailing_space", r: in{headers: hdrs(bearer(g([]string{"jira-api-users "})))}, w: missing},
			{name: "suffix", r: in{headers: hdrs(bearer(g([]string{"jira-api-usersX"})))}, w: missing},
			{name: "prefix", r: in{headers: hdrs(bearer(g([]string{"xjira-api-users"})))}, w: missing},
			{name: "keycloak_path", r: in{headers: hdrs(bearer(g([]string{"/jira-api-users"})))}, w: missing},
			{name: "exact", r: in{headers: hdrs(bearer(g([]string{"other", "jira-api-users"})))}, w: want{status: 200, reason: "authenticated", user: "alice", groups: "other,jira-api-users"}},
			{name: "nested_roles", r: in{path: "/rest/kc/x", headers: hdrs(bearer(s.t0(t, map[string]any{"groups": nil, "realm_access": map[string]any{"roles": []string{"jira-api-users"}}})))}, w: allow("alice")},
			// By design a claim whose name is exactly the path wins over the
			// nested walk (namespaced claims such as
			// "https://example.com/roles" contain dots; providers/claims.go).
			// The token is signed by the IdP, so only the IdP chooses keys.
			{name: "literal_dotted_key", r: in{path: "/rest/kc/x", headers: hdrs(bearer(s.t0(t, map[string]any{"groups": nil, "realm_access.roles": []string{"jira-api-users"}})))}, w: allow("alice")},
			{name: "literal_dotted_key_other_group", r: in{path: "/rest/kc/x", headers: hdrs(bearer(s.t0(t, map[string]any{"groups": nil, "realm_access.roles": []string{"nobody"}, "realm_access": map[string]any{"roles": []string{"jira-api-users"}}})))}, w: missing},
			{name: "entra_overage", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": nil, "_claim_names": map[string]any{"groups": "src1"}, "_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.example/x"}}})))}, w: missing},
			{name: "regex_metacharacter", r: in{path: "/rest/dotted/x", headers: hdrs(bearer(g([]string{"jiraXapi-users"})))}, w: missing},
			{name: "regex_literal_match", r: in{path: "/rest/dotted/x", headers: hdrs(bearer(g([]string{"jira.api-users"})))}, w: allow("alice")},
		})
	}},
	{"E3_spoofed_identity_headers", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		all := hdrs("x-forwarded-user: admin", "x-forwarded-groups: jira-administrators", "x-forwarded-email: admin@corp.example",
			"remote-user: admin", "x-remote-user: admin", "x-auth-request-user: admin", "x-authenticated-user: admin", "x-atlassian-user: admin")
		s.table(t, []cs{
			{name: "with_token", r: in{headers: append(hdrs(bearer(tok)), "x-forwarded-user: admin")}, w: want{status: 200, reason: "authenticated", user: "alice", groups: "jira-api-users"}},
			{name: "public_route", r: in{path: "/status", headers: all}, w: public()},
			{name: "static_route", r: in{path: "/s/x/y.js", headers: all}, w: public()},
			{name: "denied", r: in{headers: all}, w: none401("credentials_missing")},
			{name: "underscore", r: in{path: "/status", headers: hdrs("x_forwarded_user: admin", "x_atlassian_user: admin", "remote_user: admin")}, w: public()},
			{name: "all_names_with_token", r: in{headers: append(hdrs(bearer(tok)), all...)}, w: want{status: 200, reason: "authenticated", user: "alice", groups: "jira-api-users"}},
			{name: "two_lines", r: in{headers: hdrs(bearer(tok), "x-forwarded-user: admin", "x-forwarded-user: root")}, w: allow("alice")},
			{name: "preflight", r: in{method: "OPTIONS", headers: hdrs("origin: https://x.example", "access-control-request-method: GET", "x-forwarded-user: admin")}, w: want{status: 200, reason: "cors_preflight"}},
		})
	}},
	{"E4_injection_through_identity", func(t *testing.T, s *suite) {
		u := func(v string) string { return s.t0(t, map[string]any{"preferred_username": v}) }
		jndi := "${jndi:ldap://" + strings.TrimPrefix(s.canary.URL, "http://") + "/a}"
		t.Run("variants", func(t *testing.T) {
			s.table(t, []cs{
				{name: "crlf", r: in{headers: hdrs(bearer(u("bob\r\nX-Forwarded-User: admin")))}, w: invalidToken("username_missing")},
				{name: "nul", r: in{headers: hdrs(bearer(u("bob\u0000admin")))}, w: invalidToken("username_missing")},
				{name: "escape", r: in{headers: hdrs(bearer(u("bob\u001b[31m")))}, w: invalidToken("username_missing")},
				{name: "8KiB", r: in{headers: hdrs(bearer(u(repeat("b", 8<<10))))}, w: invalidToken("username_missing")},
				// No control characters: forwarded exactly (restguard has no
				// identity pattern; the IdP owns the claim, docs/security.md).
				{name: "jndi", r: in{headers: hdrs(bearer(u(jndi)))}, w: allow(jndi)},
				{name: "quotes", r: in{headers: hdrs(bearer(u(`bob","admin`)))}, w: allow(`bob","admin`)},
				{name: "traversal", r: in{headers: hdrs(bearer(u("../../admin")))}, w: allow("../../admin")},
				{name: "group_with_comma", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": []string{"a,jira-administrators", "jira-api-users"}})))}, w: want{status: 200, reason: "authenticated", user: "alice", groups: "jira-api-users"}},
				{name: "group_with_crlf", r: in{headers: hdrs(bearer(s.t0(t, map[string]any{"groups": []string{"x\r\nX-Forwarded-User: admin", "jira-api-users"}})))}, w: want{status: 200, reason: "authenticated", user: "alice", groups: "jira-api-users"}},
			})
		})
		if n := s.canary.hits.Load(); n != 0 {
			t.Errorf("canary received %d requests", n)
		}
	}},
	{"E5_envoy_internal_headers", func(t *testing.T, s *suite) {
		tok := s.t0(t, nil)
		forged := hdrs("x-envoy-original-path: /status", "x-rewrite-url: /status",
			"x-envoy-internal: true", "x-envoy-external-address: 10.1.2.3", "x-real-ip: 10.1.2.3", "true-client-ip: 10.1.2.3", "forwarded: for=10.1.2.3")
		s.table(t, []cs{
			{name: "with_token", r: in{headers: append(hdrs(bearer(tok)), forged...)}, w: allow("alice")},
			{name: "without_token", r: in{headers: forged}, w: none401("credentials_missing")},
			{name: "outside_source", r: in{source: outside, headers: append(hdrs(bearer(tok)), forged...)}, w: forbidden("ip_denied")},
			// x-original-url is ignored over gRPC; over HTTP it is a
			// forward-auth reconstruction header that must agree with the
			// request line, so a forged one is refused.
			{name: "x_original_url", r: in{headers: hdrs(bearer(tok), "x-original-url: /status")}, w: allow("alice"), hw: []want{badRequest("malformed_request")}},
		})
	}},
}
