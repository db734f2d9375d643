package catalogue

import (
	"encoding/base64"
	"testing"
)

const atlHost = "atl.example.test"

// patToken is shaped like a Jira/Confluence personal access token: 44
// base64 characters that decode to "<12 digits>:<random>".
func patToken() string {
	return base64.StdEncoding.EncodeToString([]byte("123456789012:" + randHex(10)))[:44]
}

var entriesAtlassian = []entry{
	{"A6_atlassian_native_tokens", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		pat := patToken()
		pass := want{status: 200, reason: "native_token_pass_through", keep: true}
		r.table(t, []cs{
			{name: "pass_through_inside", r: in{host: atlHost, headers: hdrs(bearer(pat))}, w: pass},
			{name: "pass_through_ip_rule_applies", r: in{host: atlHost, source: outside, headers: hdrs(bearer(pat))}, w: forbidden("ip_denied")},
			{name: "bitbucket_prefix", r: in{host: atlHost, headers: hdrs(bearer("BBDC-" + randHex(20)))}, w: pass},
			{name: "rule_with_groups_denies", r: in{host: "atl-conf.example.test", headers: hdrs(bearer(pat))}, w: invalidToken("native_token_denied")},
			{name: "basic_in_bearer", r: in{host: atlHost, headers: hdrs("authorization: Bearer dXNlcjpwYXNz")}, w: deny(401)},
		})
	}},
	{"A8_atlassian_password_channels", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		tok := s.t0(t, nil)
		blocked := forbidden("password_channel_blocked")
		r.table(t, []cs{
			{name: "os_params_with_token", r: in{host: atlHost, path: myself + "?os_username=admin&os_password=admin", headers: hdrs(bearer(tok))}, w: blocked},
			{name: "os_params_without_token", r: in{host: atlHost, path: myself + "?os_username=admin&os_password=admin"}, w: deny(401, 403)},
			{name: "encoded_name", r: in{host: atlHost, path: myself + "?%6fs_password=admin", headers: hdrs(bearer(tok))}, w: blocked},
			{name: "upper_case_name", r: in{host: atlHost, path: myself + "?OS_USERNAME=admin", headers: hdrs(bearer(tok))}, w: blocked},
			{name: "os_authType_basic", r: in{host: atlHost, path: myself + "?os_authType=basic", headers: hdrs(bearer(tok))}, w: blocked},
			{name: "session_login", r: in{host: atlHost, method: "POST", path: "/rest/auth/1/session", headers: hdrs(bearer(tok))}, w: blocked},
			{name: "session_login_latest", r: in{host: atlHost, method: "POST", path: "/rest/auth/latest/session"}, w: deny(401, 403)},
			{name: "public_status_with_params", r: in{host: atlHost, path: "/status?os_username=admin&os_password=x"}, w: blocked},
		})
	}},
	{"A9_atlassian_session_cookies", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		tok := s.t0(t, nil)
		t.Run("cookie_only", func(t *testing.T) {
			r.run(t, in{host: atlHost, headers: hdrs("cookie: JSESSIONID=ADMIN; seraph.rememberme.cookie=x")}, none401("credentials_missing"))
		})
		t.Run("bearer_plus_session", func(t *testing.T) {
			o := r.checkGRPC(t, mustReq(t, in{host: atlHost, headers: hdrs(bearer(tok), "cookie: JSESSIONID=ADMIN; atlassian.xsrf.token=abc; seraph.rememberme.cookie=x")}))
			if o.status != 200 || o.headers[userHeader] != "alice" {
				t.Fatalf("%d %s", o.status, o.reason)
			}
			if c := o.headers["cookie"]; c != "atlassian.xsrf.token=abc" {
				t.Errorf("upstream cookie %q, want only the non-session cookie", c)
			}
			if o.headers["x-restguard-bearer"] != "1" {
				t.Error("no bearer marker for Envoy to drop Set-Cookie")
			}
		})
		t.Run("session_login_with_token", func(t *testing.T) {
			r.run(t, in{host: atlHost, method: "POST", path: "/rest/auth/1/session", headers: hdrs(bearer(tok))}, forbidden("password_channel_blocked"))
		})
	}},
	{"G2_atlassian_static_rewrite", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		r.table(t, []cs{
			{name: "rest", r: in{host: atlHost, path: "/s/anything/_/rest/api/2/myself"}, w: deny(400, 401)},
			{name: "web_inf", r: in{host: atlHost, path: "/s/x/_/;/WEB-INF/web.xml"}, w: deny(400, 401, 403)},
			{name: "basic", r: in{host: atlHost, path: "/s/anything/_/rest/api/2/myself", headers: hdrs("authorization: Basic " + basicAlice)}, w: deny(400, 401)},
			{name: "real_static", r: in{host: atlHost, path: "/s/d41d8cd9/8.20.1/1/_/download/batch/x/x.js"}, w: deny(200, 400)},
		})
	}},
}
