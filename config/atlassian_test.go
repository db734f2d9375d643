package config_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/internal/idptest"
)

// atlassianYAML puts four products behind one restguard, API hosts only:
// everything the presets do not cover is denied.
const atlassianYAML = `
realm: atlassian
providers:
  - name: corp
    issuer: %s
    audiences: [restguard]
    groups: {claim: groups}
atlassian:
  products:
    - product: jira
      hosts: [jira.example.test]
      authenticate: [corp]
      groups: {any_of: [jira-api-users]}
      exclusions: {crowd_server: true}
    - product: confluence
      hosts: [wiki.example.test]
      context_path: /confluence
      authenticate: [corp]
    - product: bitbucket
      hosts: [git.example.test]
      authenticate: [corp]
      native_tokens: {mode: pass_through}
    - product: bamboo
      hosts: [ci.example.test]
      context_path: /bamboo/
      authenticate: [corp]
      exclusions: {static: false}
default:
  action: deny
  block_basic: {enabled: true}
`

type atlassianEnv struct {
	idp              *idptest.IdP
	eng              *authz.Engine
	alice, bob       string // alice is in jira-api-users, bob in nothing
	basic, basicTok  string
	pat, bbdc, oauth string
}

func newAtlassianEnv(t *testing.T, yaml string, args ...any) *atlassianEnv {
	t.Helper()
	idp := idptest.New(t)
	c, err := config.Parse("atlassian.yaml", []byte(fmt.Sprintf(yaml, append([]any{idp.Issuer}, args...)...)))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	bbdc := "BBDC-MTIzNDU2Nzg5MDEyOlpZWFdWVVRTUlFQT05NTExLSg"
	return &atlassianEnv{
		idp:      idp,
		eng:      rt.Engine,
		alice:    "Bearer " + idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}}),
		bob:      "Bearer " + idp.Mint(t, map[string]any{"preferred_username": "bob", "sub": "user-2"}),
		basic:    "Basic " + b64([]byte("alice:hunter2")),
		basicTok: "Basic " + b64([]byte("x-token-auth:"+bbdc)),
		pat:      "Bearer " + b64([]byte("721835139075:abcdefghijklmnopqrst")),
		bbdc:     "Bearer " + bbdc,
		oauth:    `OAuth oauth_consumer_key="confluence", oauth_token="t", oauth_signature_method="RSA-SHA1", oauth_signature="c2ln"`,
	}
}

func (e *atlassianEnv) check(t *testing.T, method, host, target, auth string, hdr ...string) authz.Decision {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	h := http.Header{}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	return e.eng.Check(context.Background(), &authz.Request{
		ID: "t", Method: method, Host: host, Path: path, Query: query, Header: h,
		Source: netip.MustParseAddr("192.0.2.10"),
	})
}

// TestLFSJWTIsAnExplicitChoice: Bitbucket's "Authorization: JWT" (from
// git-lfs-authenticate over SSH) is a credential restguard cannot check, so
// it reaches Bitbucket only with scm.lfs_jwt: true, and only on Git LFS
// paths (seams item 19: it used to pass by default, against the docs).
func TestLFSJWTIsAnExplicitChoice(t *testing.T) {
	t.Parallel()
	e := newAtlassianEnv(t, `
providers: [{name: corp, issuer: %s, audiences: [restguard]}]
atlassian:
  products: [{product: bitbucket, hosts: [git.example.test], authenticate: [corp], scm: {lfs_jwt: true}}]
default: {action: deny}
`)
	for _, c := range []struct {
		target  string
		verdict authz.Verdict
		reason  authz.Reason
	}{
		{"/scm/prj/repo.git/info/lfs/objects/batch", authz.Allow, authz.ReasonSchemePassThrough},
		{"/scm/prj/repo.git/info/refs", authz.Unauthenticated, authz.ReasonUnsupportedScheme},
		{"/rest/api/1.0/projects", authz.Unauthenticated, authz.ReasonUnsupportedScheme},
	} {
		d := e.check(t, "POST", "git.example.test", c.target, "JWT eyJ.x.y")
		if d.Verdict != c.verdict || d.Reason != c.reason {
			t.Errorf("%s: %s/%s, want %s/%s", c.target, d.Verdict, d.Reason, c.verdict, c.reason)
		}
	}
}

// TestAtlassianPresetDecisions runs every default exclusion and every
// protected path of each preset, and the path tricks of security catalogue
// G1-G3 and the password channels of A8, through an engine built from YAML.
func TestAtlassianPresetDecisions(t *testing.T) {
	t.Parallel()
	e := newAtlassianEnv(t, atlassianYAML)
	const (
		jira = "jira.example.test"
		wiki = "wiki.example.test"
		git  = "git.example.test"
		ci   = "ci.example.test"
	)
	type row struct {
		name, method, host, target, auth string
		verdict                          authz.Verdict
		reason                           authz.Reason
	}
	allow, c401, c403, c400 := authz.Allow, authz.Unauthenticated, authz.Forbidden, authz.BadRequest
	rows := []row{
		// Jira: exclusions.
		{"jira status", "GET", jira, "/status", "", allow, authz.ReasonPublicRoute},
		{"jira status HEAD", "HEAD", jira, "/status", "", allow, authz.ReasonPublicRoute},
		{"jira status POST is not the health check", "POST", jira, "/status", "", c403, authz.ReasonDefaultDeny},
		{"jira static /s", "GET", jira, "/s/d41d8cd9/en_US/-1/_/download/resources/jira.webresources:x/a.css", "", allow, authz.ReasonPublicRoute},
		{"jira download resources", "GET", jira, "/download/resources/com.atlassian.auiplugin:ajs/a.js", "", allow, authz.ReasonPublicRoute},
		{"jira download batch", "GET", jira, "/download/batch/x/x.js", "", allow, authz.ReasonPublicRoute},
		{"jira download contextbatch", "GET", jira, "/download/contextbatch/css/atl.general/batch.css", "", allow, authz.ReasonPublicRoute},
		{"jira images", "GET", jira, "/images/icon.png", "", allow, authz.ReasonPublicRoute},
		{"jira favicon", "GET", jira, "/favicon.ico", "", allow, authz.ReasonPublicRoute},
		{"jira robots", "GET", jira, "/robots.txt", "", allow, authz.ReasonPublicRoute},
		{"jira oauth1 request token", "POST", jira, "/plugins/servlet/oauth/request-token", "", allow, authz.ReasonPublicRoute},
		{"jira oauth1 with OAuth header", "POST", jira, "/plugins/servlet/oauth/access-token", e.oauth, allow, authz.ReasonPublicRoute},
		{"jira applinks rest", "GET", jira, "/rest/applinks/3.0/manifest", e.oauth, allow, authz.ReasonPublicRoute},
		{"jira applinks servlet", "GET", jira, "/plugins/servlet/applinks/whoami", "", allow, authz.ReasonPublicRoute},
		{"jira oauth2 provider token", "POST", jira, "/rest/oauth2/latest/token", "", allow, authz.ReasonPublicRoute},
		{"jira as crowd server takes application basic", "GET", jira, "/rest/usermanagement/1/user?username=x", "Basic Y29uZmx1ZW5jZTpzZWNyZXQ=", allow, authz.ReasonPublicRoute},
		{"jira CORS preflight", "OPTIONS", jira, "/rest/api/2/myself", "", allow, authz.ReasonCORSPreflight},
		// Jira: protected set.
		{"jira rest no token", "GET", jira, "/rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"jira rest token", "GET", jira, "/rest/api/2/myself", e.alice, allow, authz.ReasonAuthenticated},
		{"jira rest latest", "GET", jira, "/rest/api/latest/issue/X-1", e.alice, allow, authz.ReasonAuthenticated},
		{"jira agile", "GET", jira, "/rest/agile/1.0/board", e.alice, allow, authz.ReasonAuthenticated},
		{"jira servicedesk", "GET", jira, "/rest/servicedeskapi/request", "", c401, authz.ReasonCredentialsMissing},
		{"jira group rule", "GET", jira, "/rest/api/2/myself", e.bob, c403, authz.ReasonGroupMissing},
		{"jira basic", "GET", jira, "/rest/api/2/myself", e.basic, c401, authz.ReasonBasicAuthBlocked},
		{"jira basic on a public route", "GET", jira, "/status", e.basic, c401, authz.ReasonBasicAuthBlocked},
		{"jira OAuth outside applinks", "GET", jira, "/rest/api/2/myself", e.oauth, c401, authz.ReasonUnsupportedScheme},
		{"jira PAT denied by default", "GET", jira, "/rest/api/2/myself", e.pat, c401, authz.ReasonNativeTokenDenied},
		{"jira UI login is not on the API host", "POST", jira, "/login.jsp", "", c403, authz.ReasonDefaultDeny},
		// Catalogue G1-G4 toward Jira REST, no token: never allowed.
		{"G1 double slash", "GET", jira, "//rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G1 dot segment", "GET", jira, "/./rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G1 status dotdot", "GET", jira, "/status/../rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G1 dotdot semicolon", "GET", jira, "/status/..;/rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G1 semicolon dotdot", "GET", jira, "/status;/../rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G1 jsessionid param", "GET", jira, "/rest;jsessionid=1/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G1 jsessionid on a public path", "GET", jira, "/status;jsessionid=1", "", c400, authz.ReasonPathAmbiguous},
		{"G1 encoded dot", "GET", jira, "/%2e/rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G1 encoded dotdot", "GET", jira, "/status/%2e%2e/rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G1 encoded slash", "GET", jira, "/status%2f..%2frest/api/2/myself", "", c403, authz.ReasonDefaultDeny},
		{"G1 encoded slash in rest", "GET", jira, "/rest%2fapi/2/myself", "", c403, authz.ReasonDefaultDeny},
		{"G1 encoded letter", "GET", jira, "/%72est/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G1 backslash", "GET", jira, "/\\rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G1 NUL", "GET", jira, "/rest/api/2/myself%00", "", c401, authz.ReasonCredentialsMissing},
		{"G1 upper case", "GET", jira, "/REST/api/2/myself", "", c403, authz.ReasonDefaultDeny},
		{"G1 trailing dot", "GET", jira, "/rest/api/2/myself.", "", c401, authz.ReasonCredentialsMissing},
		{"G1 double slash with token", "GET", jira, "//rest/api/2/myself", e.alice, allow, authz.ReasonAuthenticated},
		{"G2 static rewrite to rest", "GET", jira, "/s/x/_/rest/api/2/myself", "", c400, authz.ReasonPathAmbiguous},
		{"G2 static rewrite with token", "GET", jira, "/s/x/_/rest/api/2/myself", e.alice, c400, authz.ReasonPathAmbiguous},
		{"G2 static rewrite upper S", "GET", jira, "/S/x/_/rest/api/2/myself", "", c403, authz.ReasonDefaultDeny},
		{"G2 static rewrite with basic", "GET", jira, "/s/x/_/rest/api/2/myself", e.basic, c400, authz.ReasonPathAmbiguous},
		{"G2 web.xml", "GET", jira, "/s/x/_/;/WEB-INF/web.xml", "", c400, authz.ReasonPathAmbiguous},
		{"G3 status prefix", "GET", jira, "/statusfoo", "", c403, authz.ReasonDefaultDeny},
		{"G3 status json", "GET", jira, "/status.json", "", c403, authz.ReasonDefaultDeny},
		{"G3 query is not the path", "GET", jira, "/status?x=/rest/api/2/myself", "", allow, authz.ReasonPublicRoute},
		{"G3 encoded question mark", "GET", jira, "/status%3f/../rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G4 jspa semicolon", "GET", jira, "/secure/InsightPluginShowGeneralConfiguration.jspa;", "", c403, authz.ReasonDefaultDeny},
		{"G5 host case and port", "GET", "JIRA.example.test.:443", "/rest/api/2/myself", "", c401, authz.ReasonCredentialsMissing},
		{"G5 unknown host", "GET", "evil.example.test", "/rest/api/2/myself", e.alice, c403, authz.ReasonDefaultDeny},
		// Catalogue A8: password channels, even with a valid token.
		{"A8 os_username with token", "GET", jira, "/rest/api/2/myself?os_username=admin&os_password=admin", e.alice, c403, authz.ReasonPasswordChannel},
		{"A8 os_password alone", "GET", jira, "/rest/api/2/myself?os_password=admin", e.alice, c403, authz.ReasonPasswordChannel},
		{"A8 upper-case name", "GET", jira, "/rest/api/2/myself?OS_USERNAME=admin", e.alice, c403, authz.ReasonPasswordChannel},
		{"A8 encoded name", "GET", jira, "/rest/api/2/myself?os%5Fusername=admin", e.alice, c403, authz.ReasonPasswordChannel},
		{"A8 os_authType basic", "GET", jira, "/rest/api/2/myself?os_authType=basic", e.alice, c403, authz.ReasonPasswordChannel},
		{"A8 os_authType any is fine", "GET", jira, "/rest/api/2/myself?os_authType=any", e.alice, allow, authz.ReasonAuthenticated},
		{"A8 session login with token", "POST", jira, "/rest/auth/1/session", e.alice, c403, authz.ReasonPasswordChannel},
		{"A8 session login latest", "GET", jira, "/rest/auth/latest/session", e.alice, c403, authz.ReasonPasswordChannel},
		{"A8 session login encoded", "POST", jira, "/rest/auth/1/sess%69on", "", c403, authz.ReasonPasswordChannel},
		{"A8 password on a public route", "GET", jira, "/status?os_username=admin&os_password=admin", "", c403, authz.ReasonPasswordChannel},

		// Confluence under /confluence.
		{"wiki status", "GET", wiki, "/confluence/status", "", allow, authz.ReasonPublicRoute},
		{"wiki status outside the context path", "GET", wiki, "/status", "", c403, authz.ReasonDefaultDeny},
		{"wiki static", "GET", wiki, "/confluence/download/resources/x/a.css", "", allow, authz.ReasonPublicRoute},
		{"wiki synchrony", "GET", wiki, "/confluence/synchrony/heartbeat", "", allow, authz.ReasonPublicRoute},
		{"wiki synchrony proxy", "GET", wiki, "/confluence/synchrony-proxy/v1/bayeux-sync1", "", allow, authz.ReasonPublicRoute},
		{"wiki applinks", "GET", wiki, "/confluence/rest/applinks/3.0/manifest", "", allow, authz.ReasonPublicRoute},
		{"wiki oauth2 provider", "GET", wiki, "/confluence/rest/oauth2/latest/authorize", "", allow, authz.ReasonPublicRoute},
		{"wiki rest no token", "GET", wiki, "/confluence/rest/api/user/current", "", c401, authz.ReasonCredentialsMissing},
		{"wiki rest token", "GET", wiki, "/confluence/rest/api/content/1", e.bob, allow, authz.ReasonAuthenticated},
		{"wiki attachments", "GET", wiki, "/confluence/download/attachments/123/plan.pdf", "", c401, authz.ReasonCredentialsMissing},
		{"wiki rpc light method", "POST", wiki, "/confluence/rpc/json-rpc/confluenceservice-v2/getSpaces", "", c401, authz.ReasonCredentialsMissing},
		// The RPC endpoints whose login method is in the body (seams item 7).
		{"wiki rpc envelope", "POST", wiki, "/confluence/rpc/json-rpc/confluenceservice-v2", e.alice, c403, authz.ReasonPasswordChannel},
		{"wiki rpc login", "POST", wiki, "/confluence/rpc/json-rpc/confluenceservice-v1/login", "", c403, authz.ReasonPasswordChannel},
		{"wiki xml-rpc", "POST", wiki, "/confluence/rpc/xmlrpc", e.alice, c403, authz.ReasonPasswordChannel},
		{"wiki soap", "POST", wiki, "/confluence/rpc/soap-axis/confluenceservice-v2", e.alice, c403, authz.ReasonPasswordChannel},
		{"wiki static rewrite", "GET", wiki, "/confluence/s/x/_/rest/api/content", "", c400, authz.ReasonPathAmbiguous},
		{"wiki static rewrite to attachments", "GET", wiki, "/confluence/s/x/_/download/attachments/1/a.pdf", "", c400, authz.ReasonPathAmbiguous},
		{"wiki context path dotdot", "GET", wiki, "/confluence/status/../rest/api/content", "", c401, authz.ReasonCredentialsMissing},
		{"wiki context path case", "GET", wiki, "/Confluence/rest/api/content", "", c403, authz.ReasonDefaultDeny},
		{"wiki login form", "POST", wiki, "/confluence/dologin.action", "", c403, authz.ReasonDefaultDeny},

		// Bitbucket: git over HTTP.
		{"git status", "GET", git, "/status", "", allow, authz.ReasonPublicRoute},
		{"git rest no token", "GET", git, "/rest/api/1.0/projects", "", c401, authz.ReasonCredentialsMissing},
		{"git rest token", "GET", git, "/rest/api/1.0/projects", e.bob, allow, authz.ReasonAuthenticated},
		{"git rest native token passes through", "GET", git, "/rest/api/1.0/projects", e.bbdc, allow, authz.ReasonNativeTokenPassThrough},
		{"git rest PAT-shaped token passes through", "GET", git, "/rest/api/1.0/projects", e.pat, allow, authz.ReasonNativeTokenPassThrough},
		{"git rest basic token is blocked", "GET", git, "/rest/api/1.0/projects", e.basicTok, c401, authz.ReasonBasicAuthBlocked},
		{"scm no credentials", "GET", git, "/scm/prj/repo.git/info/refs?service=git-upload-pack", "", c401, authz.ReasonCredentialsMissing},
		{"scm basic password", "GET", git, "/scm/prj/repo.git/info/refs?service=git-upload-pack", e.basic, c401, authz.ReasonBasicAuthBlocked},
		{"scm basic access token", "POST", git, "/scm/prj/repo.git/git-upload-pack", e.basicTok, allow, authz.ReasonBasicPassThrough},
		{"scm bearer access token", "POST", git, "/scm/prj/repo.git/git-receive-pack", e.bbdc, allow, authz.ReasonNativeTokenPassThrough},
		{"scm idp token", "POST", git, "/scm/prj/repo.git/git-upload-pack", e.bob, allow, authz.ReasonAuthenticated},
		{"scm lfs JWT refused by default", "POST", git, "/scm/prj/repo.git/info/lfs/objects/batch", "JWT eyJ.x.y", c401, authz.ReasonUnsupportedScheme},
		{"scm JWT outside LFS", "GET", git, "/scm/prj/repo.git/info/refs", "JWT eyJ.x.y", c401, authz.ReasonUnsupportedScheme},
		{"scm password parameter", "GET", git, "/scm/prj/repo.git/info/refs?os_username=a&os_password=b", e.basicTok, c403, authz.ReasonPasswordChannel},

		// Bamboo under /bamboo.
		{"bamboo status", "GET", ci, "/bamboo/rest/api/latest/status", "", allow, authz.ReasonPublicRoute},
		{"bamboo server", "GET", ci, "/bamboo/rest/api/latest/server", "", allow, authz.ReasonPublicRoute},
		{"bamboo status POST", "POST", ci, "/bamboo/rest/api/latest/status", "", c401, authz.ReasonCredentialsMissing},
		{"bamboo rest", "GET", ci, "/bamboo/rest/api/latest/plan", "", c401, authz.ReasonCredentialsMissing},
		{"bamboo rest token", "GET", ci, "/bamboo/rest/api/latest/plan", e.bob, allow, authz.ReasonAuthenticated},
		{"bamboo os_authType basic", "GET", ci, "/bamboo/rest/api/latest/plan?os_authType=basic", e.bob, c403, authz.ReasonPasswordChannel},
		{"bamboo static switched off", "GET", ci, "/bamboo/s/x.css", "", c403, authz.ReasonDefaultDeny},
		{"bamboo PAT denied", "GET", ci, "/bamboo/rest/api/latest/plan", e.pat, c401, authz.ReasonNativeTokenDenied},
	}
	// The default rule refuses password parameters too: default_deny here,
	// password_channel_blocked once Build decorates the default rule.
	if d := e.check(t, "GET", jira, "/secure/Dashboard.jspa?os_username=admin", ""); d.Verdict != c403 {
		t.Errorf("password on the default rule: got %s/%s", d.Verdict, d.Reason)
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.method == "OPTIONS" {
				hdr = []string{"Origin", "https://app.example.test", "Access-Control-Request-Method", "POST"}
			}
			d := e.check(t, tc.method, tc.host, tc.target, tc.auth, hdr...)
			if d.Verdict != tc.verdict || d.Reason != tc.reason {
				t.Fatalf("%s %s%s: got %s/%s (rule %s, %s), want %s/%s", tc.method, tc.host, tc.target, d.Verdict, d.Reason, d.Rule, d.Detail, tc.verdict, tc.reason)
			}
		})
	}
}

func header(hs []authz.Header, name string) (string, int) {
	v, n := "", 0
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			v, n = h.Value, n+1
		}
	}
	return v, n
}

// TestValidTokenWithSomeoneElsesSessionCookieLosesTheCookie: catalogue
// A9(b). The upstream must act as the token's user, never as the session's.
func TestValidTokenWithSomeoneElsesSessionCookieLosesTheCookie(t *testing.T) {
	t.Parallel()
	e := newAtlassianEnv(t, atlassianYAML)
	d := e.check(t, "GET", "jira.example.test", "/rest/api/2/myself", e.alice,
		"Cookie", "JSESSIONID=admin-session; atlassian.xsrf.token=abc", "Cookie", "seraph.rememberme.cookie=admin-remember")
	if !d.Allowed() {
		t.Fatalf("got %s/%s", d.Verdict, d.Reason)
	}
	cookie, n := header(d.UpstreamHeaders, "Cookie")
	if n != 1 || cookie != "atlassian.xsrf.token=abc" {
		t.Errorf("upstream Cookie = %q (%d), want only the xsrf cookie", cookie, n)
	}
	if v, _ := header(d.UpstreamHeaders, "X-Restguard-Bearer"); v != "1" {
		t.Errorf("bearer marker missing: %+v", d.UpstreamHeaders)
	}
	if !slices.Contains(d.RemoveHeaders, "authorization") {
		t.Errorf("authorization not removed: %v", d.RemoveHeaders)
	}

	// Only session cookies: the Cookie header goes entirely.
	d = e.check(t, "GET", "wiki.example.test", "/confluence/rest/api/content", e.alice, "Cookie", "JSESSIONID=x; seraph.confluence=y")
	if !d.Allowed() || !slices.Contains(d.RemoveHeaders, "cookie") {
		t.Fatalf("got %s/%s, removes %v", d.Verdict, d.Reason, d.RemoveHeaders)
	}
	if _, n := header(d.UpstreamHeaders, "Cookie"); n != 0 {
		t.Errorf("cookie set upstream: %+v", d.UpstreamHeaders)
	}
}

// TestSpoofedForwardedUserNeverReachesUpstream: catalogue E3, on a
// protected route, a public route and with the underscore spelling.
func TestSpoofedForwardedUserNeverReachesUpstream(t *testing.T) {
	t.Parallel()
	e := newAtlassianEnv(t, atlassianYAML)
	spoof := []string{"X-Forwarded-User", "admin", "X_forwarded_user", "admin", "Remote-User", "admin"}

	d := e.check(t, "GET", "jira.example.test", "/rest/api/2/myself", e.alice, spoof...)
	if !d.Allowed() {
		t.Fatalf("got %s/%s", d.Verdict, d.Reason)
	}
	if v, n := header(d.UpstreamHeaders, "X-Forwarded-User"); n != 1 || v != "alice" {
		t.Errorf("X-Forwarded-User = %q (%d values)", v, n)
	}
	for _, gone := range []string{"x_forwarded_user", "remote-user"} {
		if !slices.Contains(d.RemoveHeaders, gone) {
			t.Errorf("%s not removed: %v", gone, d.RemoveHeaders)
		}
	}

	for _, target := range []string{"/status", "/s/abc/_/images/x.png"} {
		d = e.check(t, "GET", "jira.example.test", target, "", spoof...)
		if !d.Allowed() {
			t.Fatalf("%s: got %s/%s", target, d.Verdict, d.Reason)
		}
		if _, n := header(d.UpstreamHeaders, "X-Forwarded-User"); n != 0 {
			t.Errorf("%s: identity set on a public route", target)
		}
		for _, gone := range []string{"x-forwarded-user", "x_forwarded_user", "remote-user"} {
			if !slices.Contains(d.RemoveHeaders, gone) {
				t.Errorf("%s: %s not removed: %v", target, gone, d.RemoveHeaders)
			}
		}
	}

	// A native token passed through carries no identity either.
	d = e.check(t, "GET", "git.example.test", "/rest/api/1.0/projects", e.bbdc, spoof...)
	if d.Reason != authz.ReasonNativeTokenPassThrough || !slices.Contains(d.RemoveHeaders, "x-forwarded-user") {
		t.Errorf("pass-through: %s, removes %v", d.Reason, d.RemoveHeaders)
	}
	if slices.Contains(d.RemoveHeaders, "authorization") {
		t.Error("pass-through removed the token the product has to check")
	}
}

// TestUserRulesOverridePresetsAndGetProductPolicies: a user rule placed
// before the presets wins, and gets the product's password-channel policy
// and native-token classifier.
func TestUserRulesOverridePresetsAndGetProductPolicies(t *testing.T) {
	t.Parallel()
	yaml := strings.Replace(atlassianYAML, "atlassian:\n", `rules:
  - name: jira-admin
    hosts: [jira.example.test]
    paths: ["/rest/api/2/user/**"]
    authenticate: [corp]
    block_basic: {enabled: true, dry_run: true}
    users: {deny: [bob]}
  - name: jira-open-status
    hosts: [jira.example.test]
    paths: ["/rest/api/2/serverInfo"]
    action: pass
atlassian:
`, 1)
	e := newAtlassianEnv(t, yaml)
	for _, tc := range []struct {
		target, auth string
		verdict      authz.Verdict
		reason       authz.Reason
		dry          bool
	}{
		{"/rest/api/2/user/x", e.alice, authz.Allow, authz.ReasonAuthenticated, false},
		{"/rest/api/2/user/x", e.bob, authz.Forbidden, authz.ReasonUserDenied, false},
		{"/rest/api/2/user/x", e.pat, authz.Unauthenticated, authz.ReasonNativeTokenDenied, false},
		{"/rest/api/2/user/x?os_username=root", e.alice, authz.Allow, authz.ReasonAuthenticated, true},
		{"/rest/api/2/serverInfo", "", authz.Allow, authz.ReasonPublicRoute, false},
		{"/rest/api/2/myself", "", authz.Unauthenticated, authz.ReasonCredentialsMissing, false},
	} {
		d := e.check(t, "GET", "jira.example.test", tc.target, tc.auth)
		if d.Verdict != tc.verdict || d.Reason != tc.reason || d.DryRun != tc.dry {
			t.Errorf("%s: got %s/%s dry=%v (%s), want %s/%s dry=%v", tc.target, d.Verdict, d.Reason, d.DryRun, d.Rule, tc.verdict, tc.reason, tc.dry)
		}
	}
}

// TestBasicBlockingDryRunReportsPasswordChannels: the roll-out mode lets
// passwords through and says so.
func TestBasicBlockingDryRunReportsPasswordChannels(t *testing.T) {
	t.Parallel()
	yaml := strings.Replace(atlassianYAML, "      groups: {any_of: [jira-api-users]}\n", "      groups: {any_of: [jira-api-users]}\n      block_basic: {enabled: true, dry_run: true}\n", 1)
	e := newAtlassianEnv(t, yaml)
	d := e.check(t, "GET", "jira.example.test", "/rest/api/2/myself?os_username=a&os_password=b", e.alice)
	if !d.Allowed() || !d.DryRun || d.DryRunReason != authz.ReasonPasswordChannel {
		t.Errorf("got %s/%s dry=%v/%s", d.Verdict, d.Reason, d.DryRun, d.DryRunReason)
	}
	d = e.check(t, "GET", "jira.example.test", "/rest/api/2/myself", e.basic)
	if !d.Allowed() || d.Reason != authz.ReasonBasicPassThrough || d.DryRunReason != authz.ReasonBasicAuthBlocked {
		t.Errorf("basic: got %s/%s dry=%v/%s", d.Verdict, d.Reason, d.DryRun, d.DryRunReason)
	}
}

// fakeJira answers /rest/api/2/myself for one PAT and /rest/api/2/user for
// the directory, counting calls.
type fakeJira struct {
	*httptest.Server
	myself, user atomic.Int64
	down         atomic.Bool
}

func newFakeJira(t *testing.T, pat string) *fakeJira {
	f := &fakeJira{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rest/api/2/myself", func(w http.ResponseWriter, r *http.Request) {
		f.myself.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+pat {
			http.Error(w, `{"errorMessages":["unauthorized"]}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"self":"x","key":"JIRAUSER10100","name":"carol","emailAddress":"carol@example.test","active":true}`)
	})
	mux.HandleFunc("GET /rest/api/2/user", func(w http.ResponseWriter, r *http.Request) {
		f.user.Add(1)
		if f.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		if u, p, _ := r.BasicAuth(); u != "svc-restguard" || p != "s3cret" {
			http.Error(w, "", http.StatusUnauthorized)
			return
		}
		var groups string
		switch r.URL.Query().Get("username") {
		case "carol":
			groups = `"jira-api-users","jira-software-users"`
		case "alice":
			groups = `"jira-software-users"`
		default:
			http.Error(w, `{"errorMessages":["The user named 'x' does not exist"]}`, http.StatusNotFound)
			return
		}
		items := strings.NewReplacer(`"jira`, `{"name":"jira`, `users"`, `users"}`).Replace(groups)
		fmt.Fprintf(w, `{"name":%q,"active":true,"groups":{"size":2,"items":[%s]}}`, r.URL.Query().Get("username"), items)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// TestNativeTokenVerifyAndDirectoryGroupsFromYAML: a PAT is verified by
// the product, the user's directory groups decide, results are cached, and
// a directory outage is a 503, never an allow.
func TestNativeTokenVerifyAndDirectoryGroupsFromYAML(t *testing.T) {
	t.Parallel()
	pat := base64.StdEncoding.EncodeToString([]byte("721835139075:abcdefghijklmnopqrst"))
	jira := newFakeJira(t, pat)
	dir := t.TempDir()
	userFile, pwFile := filepath.Join(dir, "user"), filepath.Join(dir, "password")
	if err := os.WriteFile(userFile, []byte("svc-restguard\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `
check_timeout: 5s
providers:
  - name: corp
    issuer: %s
    audiences: [restguard]
atlassian:
  products:
    - product: jira
      hosts: [jira.example.test]
      url: %s
      authenticate: [corp]
      groups: {any_of: [jira-api-users]}
      native_tokens: {mode: verify}
      username: {strip_domains: [corp.example.test], lowercase: true}
      directory: {user_file: %s, password_file: %s, require_user: true}
`
	e := newAtlassianEnv(t, yaml, jira.URL, userFile, pwFile)
	d := e.check(t, "GET", "jira.example.test", "/rest/api/2/myself", "Bearer "+pat)
	if !d.Allowed() || d.Identity.Username != "carol" || d.Identity.Via != "atlassian" || !d.Identity.InGroup("jira-api-users") {
		t.Fatalf("verified PAT: got %s/%s %+v", d.Verdict, d.Reason, d.Identity)
	}
	if v, _ := header(d.UpstreamHeaders, "X-Forwarded-User"); v != "carol" {
		t.Errorf("upstream user %q", v)
	}
	for range 3 {
		if d := e.check(t, "GET", "jira.example.test", "/rest/api/2/myself", "Bearer "+pat); !d.Allowed() {
			t.Fatalf("repeat: %s/%s", d.Verdict, d.Reason)
		}
	}
	if m, u := jira.myself.Load(), jira.user.Load(); m != 1 || u != 1 {
		t.Errorf("product calls: myself %d, user %d; want 1 and 1 (cached)", m, u)
	}

	// alice's token groups are empty; the directory says she is not in
	// jira-api-users.
	if d := e.check(t, "GET", "jira.example.test", "/rest/api/2/myself", e.alice); d.Reason != authz.ReasonGroupMissing {
		t.Errorf("alice: got %s/%s", d.Verdict, d.Reason)
	}
	// bob is unknown to the directory.
	if d := e.check(t, "GET", "jira.example.test", "/rest/api/2/myself", e.bob); d.Verdict != authz.Forbidden || d.Reason != authz.ReasonUserUnknown {
		t.Errorf("bob: got %s/%s", d.Verdict, d.Reason)
	}
	// A PAT the product refuses.
	other := base64.StdEncoding.EncodeToString([]byte("999999999999:abcdefghijklmnopqrst"))
	if d := e.check(t, "GET", "jira.example.test", "/rest/api/2/myself", "Bearer "+other); d.Verdict != authz.Unauthenticated || d.Reason != authz.ReasonTokenInvalid {
		t.Errorf("unknown PAT: got %s/%s", d.Verdict, d.Reason)
	}

	// The directory goes down: a user it has not answered for yet gets 503,
	// never an allow without directory groups.
	jira.down.Store(true)
	dave := "Bearer " + e.idp.Mint(t, map[string]any{"preferred_username": "Dave@corp.example.test", "groups": []string{"jira-api-users"}})
	if d := e.check(t, "GET", "jira.example.test", "/rest/api/2/myself", dave); d.Verdict != authz.Unavailable || d.Reason != authz.ReasonIdPUnavailable || d.RetryAfter == 0 {
		t.Errorf("directory down: got %s/%s", d.Verdict, d.Reason)
	}
}

// TestPassThroughNeverSkipsGroupRules: catalogue A6. A passed-through
// product token has no identity, so on a rule with a group rule it is
// refused instead of slipping past the group check.
func TestPassThroughNeverSkipsGroupRules(t *testing.T) {
	t.Parallel()
	yaml := strings.Replace(atlassianYAML, "      exclusions: {crowd_server: true}\n", "      exclusions: {crowd_server: true}\n      native_tokens: {mode: pass_through}\n", 1)
	e := newAtlassianEnv(t, yaml)
	if d := e.check(t, "GET", "jira.example.test", "/rest/api/2/myself", e.pat); d.Verdict != authz.Unauthenticated || d.Reason != authz.ReasonNativeTokenDenied {
		t.Errorf("jira (group rule): got %s/%s", d.Verdict, d.Reason)
	}
	if d := e.check(t, "GET", "git.example.test", "/rest/api/1.0/projects", e.pat); d.Reason != authz.ReasonNativeTokenPassThrough {
		t.Errorf("bitbucket (no group rule): got %s/%s", d.Verdict, d.Reason)
	}
}
