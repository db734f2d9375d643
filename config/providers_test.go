package config_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/internal/idptest"
	"github.com/restguard/restguard/providers"
)

// fakeIdPs answers like the real providers (response shapes from their
// documentation) on one loopback server. Tokens: "<prefix>good" belongs
// to our app and alice; "<prefix>other" is valid but issued to another
// app; "<prefix>bad" is invalid/revoked.
type fakeIdPs struct {
	srv   *httptest.Server
	calls atomic.Int64
}

const ourClient = "our-client-id"

func newFakeIdPs(t *testing.T) *fakeIdPs {
	t.Helper()
	f := &fakeIdPs{}
	mux := http.NewServeMux()
	js := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	bearer := func(r *http.Request) string { return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") }
	exp := func() int64 { return time.Now().Add(time.Hour).Unix() }

	// GitHub: POST /applications/{client_id}/token (Basic), GET /user.
	mux.HandleFunc("POST /applications/{cid}/token", func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		if u != r.PathValue("cid") || p != "gh-secret" {
			js(w, 401, map[string]any{"message": "Bad credentials"})
			return
		}
		var body struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		switch body.AccessToken {
		case "gho_good":
			js(w, 200, map[string]any{"id": 1, "token": body.AccessToken, "scopes": []string{"read:user"}, "expires_at": nil,
				"app":  map[string]any{"client_id": u, "name": "restguard", "url": "https://example.test"},
				"user": map[string]any{"login": "octocat", "id": 1}})
		default: // other app's token, or unknown: 404
			js(w, 404, map[string]any{"message": "Not Found"})
		}
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		if bearer(r) == "gho_bad" {
			js(w, 401, map[string]any{"message": "Bad credentials"})
			return
		}
		js(w, 200, map[string]any{"login": "octocat", "id": 1, "email": nil, "name": "The Octocat"})
	})
	// Google: tokeninfo (POST form or GET query).
	mux.HandleFunc("/tokeninfo", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		switch r.Form.Get("access_token") {
		case "ya29.good":
			js(w, 200, map[string]any{"azp": ourClient, "aud": ourClient, "sub": "1170", "scope": "openid email", "exp": fmt.Sprint(exp()), "expires_in": "3599", "email": "alice@example.com", "email_verified": "true", "access_type": "online"})
		case "ya29.other":
			js(w, 200, map[string]any{"azp": "other-app", "aud": "other-app", "sub": "1170", "exp": fmt.Sprint(exp()), "email": "alice@example.com", "email_verified": "true"})
		case "ya29.unverified":
			js(w, 200, map[string]any{"azp": ourClient, "aud": ourClient, "sub": "1170", "exp": fmt.Sprint(exp()), "email": "alice@example.com", "email_verified": "false"})
		default:
			js(w, 400, map[string]any{"error": "invalid_token", "error_description": "Invalid Value"})
		}
	})
	// Facebook: debug_token and /me.
	mux.HandleFunc("GET /v21.0/debug_token", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("access_token") != ourClient+"|fb-secret" {
			js(w, 400, map[string]any{"error": map[string]any{"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}})
			return
		}
		data := map[string]any{"app_id": ourClient, "type": "USER", "application": "restguard", "expires_at": exp(), "is_valid": true, "scopes": []string{"email"}, "user_id": "10001"}
		switch r.URL.Query().Get("input_token") {
		case "EAAgood":
		case "EAAother":
			data["app_id"] = "999"
		default:
			data = map[string]any{"is_valid": false, "error": map[string]any{"code": 190, "message": "Invalid OAuth access token"}}
		}
		js(w, 200, map[string]any{"data": data})
	})
	mux.HandleFunc("GET /v21.0/me", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"id": "10001", "name": "Alice", "email": "alice@example.com"})
	})
	// Discord: /oauth2/@me.
	mux.HandleFunc("GET /oauth2/@me", func(w http.ResponseWriter, r *http.Request) {
		app := ourClient
		switch bearer(r) {
		case "dc-good":
		case "dc-other":
			app = "1234"
		default:
			js(w, 401, map[string]any{"message": "401: Unauthorized", "code": 0})
			return
		}
		js(w, 200, map[string]any{"application": map[string]any{"id": app, "name": "restguard"}, "scopes": []string{"identify"},
			"expires": time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000+00:00"),
			"user":    map[string]any{"id": "80351110224678912", "username": "alice", "global_name": "Alice"}})
	})
	// GitLab: /oauth/token/info and /oauth/userinfo.
	mux.HandleFunc("GET /oauth/token/info", func(w http.ResponseWriter, r *http.Request) {
		uid := ourClient
		switch bearer(r) {
		case "gl-good":
		case "gl-other":
			uid = "another-application"
		default:
			js(w, 401, map[string]any{"error": "invalid_token", "error_description": "The access token is invalid"})
			return
		}
		js(w, 200, map[string]any{"resource_owner_id": 1, "scope": []string{"openid", "read_user"}, "expires_in": 7200, "application": map[string]any{"uid": uid}, "created_at": time.Now().Unix()})
	})
	mux.HandleFunc("GET /oauth/userinfo", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"sub": "1", "nickname": "alice", "preferred_username": "alice", "email": "alice@example.com", "groups": []string{"acme", "acme/jira-users"}})
	})
	// Slack: auth.test (HTTP 200 with ok:false on failure).
	mux.HandleFunc("POST /api/auth.test", func(w http.ResponseWriter, r *http.Request) {
		switch bearer(r) {
		case "xoxp-good":
			js(w, 200, map[string]any{"ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "alice", "team_id": "T0001", "user_id": "U0001"})
		case "xoxp-other":
			js(w, 200, map[string]any{"ok": true, "url": "https://evil.slack.com/", "team": "Evil", "user": "alice", "team_id": "T6666", "user_id": "U0001"})
		default:
			js(w, 200, map[string]any{"ok": false, "error": "invalid_auth"})
		}
	})
	// miniOrange: getuserinfo.
	mux.HandleFunc("GET /moas/rest/oauth/getuserinfo", func(w http.ResponseWriter, r *http.Request) {
		if bearer(r) != "A834c0606ba71336423013699db8e971" {
			js(w, 401, map[string]any{"error": "invalid_token"})
			return
		}
		js(w, 200, map[string]any{"sub": "demouser", "firstname": "Demo", "email": "demo@example.com", "username": "demouser", "lastname": "User"})
	})
	// Keycloak and Okta org: RFC 7662 introspection with client_secret_basic.
	introspect := func(iss string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if u, p, _ := r.BasicAuth(); u != ourClient || p != "is-secret" {
				js(w, 401, map[string]any{"error": "invalid_client"})
				return
			}
			_ = r.ParseForm()
			base := map[string]any{"active": true, "iss": iss, "exp": exp(), "client_id": ourClient, "username": "alice", "sub": "f:1:alice",
				"preferred_username": "alice", "groups": []string{"jira-users"}, "typ": "Bearer", "token_type": "Bearer"}
			switch r.PostForm.Get("token") {
			case "kc-good", "okta-good":
			case "kc-other", "okta-other":
				base["client_id"] = "other-client"
			case "kc-refresh":
				base["typ"] = "Refresh"
			default:
				base = map[string]any{"active": false}
			}
			js(w, 200, base)
		}
	}
	mux.HandleFunc("POST /realms/corp/protocol/openid-connect/token/introspect", introspect("BASE/realms/corp"))
	mux.HandleFunc("POST /okta/oauth2/v1/introspect", introspect("BASE/okta"))

	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// engineFor builds a configuration with one rule using provider yaml.
func engineFor(t *testing.T, providerYAML string) *authz.Engine {
	t.Helper()
	// A generous check deadline: these tests are about provider answers, and
	// a loaded CI machine under -race must not turn them into timeouts.
	cfg := "realm: jira\ncheck_timeout: 5s\nproviders:\n" + providerYAML + `
rules:
  - name: api
    paths: ["/rest/**"]
    authenticate: [p]
`
	c, err := config.Parse("test.yaml", []byte(cfg))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, cfg)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if err := rt.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	return rt.Engine
}

func check(e *authz.Engine, token string) authz.Decision {
	req := &authz.Request{ID: "t", Method: "GET", Host: "jira.example.test", Path: "/rest/api/2/myself",
		Header: http.Header{"Authorization": {"Bearer " + token}}, Source: netip.MustParseAddr("10.1.2.3")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return e.Check(ctx, req)
}

type want struct {
	token  string
	allow  bool
	user   string
	groups []string
	reason authz.Reason
}

func expect(t *testing.T, e *authz.Engine, cases []want) {
	t.Helper()
	for _, w := range cases {
		d := check(e, w.token)
		if w.allow {
			if d.Verdict != authz.Allow || d.Identity == nil || d.Identity.Username != w.user || strings.Join(d.Identity.Groups, ",") != strings.Join(w.groups, ",") {
				t.Errorf("%s: got %s %s %q %+v, want allow as %s %v", w.token, d.Verdict, d.Reason, d.Detail, d.Identity, w.user, w.groups)
			}
			continue
		}
		if d.Verdict == authz.Allow || d.Reason != w.reason {
			t.Errorf("%s: got %s %s (%s), want deny %s", w.token, d.Verdict, d.Reason, d.Detail, w.reason)
		}
	}
}

func TestPresetGitHubAppBinding(t *testing.T) {
	f := newFakeIdPs(t)
	t.Setenv("GH_SECRET_TEST", "gh-secret")
	e := engineFor(t, `
  - name: p
    preset: github
    params: {base_url: `+f.srv.URL+`}
    client_id: `+ourClient+`
    client_secret: {env: GH_SECRET_TEST}
`)
	expect(t, e, []want{
		{token: "gho_good", allow: true, user: "1"}, // the immutable id, not the login
		{token: "gho_other", reason: authz.ReasonAudienceMismatch},
		{token: "ghp_personaltoken", reason: authz.ReasonTokenMalformed}, // PATs never reach GitHub
	})
}

func TestPresetGoogleTokeninfo(t *testing.T) {
	t.Parallel()
	f := newFakeIdPs(t)
	e := engineFor(t, `
  - name: p
    preset: google
    params: {base_url: `+f.srv.URL+`}
    client_id: `+ourClient+`
`)
	expect(t, e, []want{
		{token: "ya29.good", allow: true, user: "alice@example.com"},
		{token: "ya29.other", reason: authz.ReasonAudienceMismatch},
		{token: "ya29.unverified", reason: authz.ReasonClaimMismatch},
		{token: "ya29.garbage", reason: authz.ReasonTokenInvalid},
	})
}

func TestPresetFacebookDebugToken(t *testing.T) {
	t.Parallel()
	f := newFakeIdPs(t)
	secret := filepath.Join(t.TempDir(), "fb")
	if err := os.WriteFile(secret, []byte("fb-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := engineFor(t, `
  - name: p
    preset: facebook
    params: {base_url: `+f.srv.URL+`}
    client_id: `+ourClient+`
    client_secret: {file: `+secret+`}
`)
	expect(t, e, []want{
		{token: "EAAgood", allow: true, user: "10001"}, // the app-scoped id: no verified e-mail
		{token: "EAAother", reason: authz.ReasonAudienceMismatch},
		{token: "EAAexpired", reason: authz.ReasonTokenInactive},
	})
}

func TestPresetDiscordOAuth2Me(t *testing.T) {
	t.Parallel()
	f := newFakeIdPs(t)
	e := engineFor(t, `
  - name: p
    preset: discord
    params: {base_url: `+f.srv.URL+`}
    client_id: `+ourClient+`
`)
	expect(t, e, []want{
		{token: "dc-good", allow: true, user: "80351110224678912"},
		{token: "dc-other", reason: authz.ReasonAudienceMismatch},
		{token: "dc-bad", reason: authz.ReasonTokenInvalid},
	})
}

func TestPresetGitLabTokenInfo(t *testing.T) {
	t.Parallel()
	f := newFakeIdPs(t)
	e := engineFor(t, `
  - name: p
    preset: gitlab
    params: {base_url: `+f.srv.URL+`}
    client_id: `+ourClient+`
`)
	expect(t, e, []want{
		{token: "gl-good", allow: true, user: "1", groups: []string{"acme", "acme/jira-users"}},
		{token: "gl-other", reason: authz.ReasonAudienceMismatch},
		{token: "gl-bad", reason: authz.ReasonTokenInvalid},
	})
}

func TestPresetSlackOkFalseAndTeamRestriction(t *testing.T) {
	t.Parallel()
	f := newFakeIdPs(t)
	e := engineFor(t, `
  - name: p
    preset: slack
    params: {base_url: `+f.srv.URL+`, team_ids: [T0001]}
    allow_any_client: true
`)
	expect(t, e, []want{
		{token: "xoxp-good", allow: true, user: "U0001"},
		{token: "xoxp-bad", reason: authz.ReasonTokenInvalid},        // HTTP 200, "ok": false
		{token: "xoxp-other", reason: authz.ReasonClaimMismatch},     // another workspace
		{token: "xoxb-bottoken", reason: authz.ReasonTokenMalformed}, // bot tokens never sent
	})
}

func TestPresetMiniOrangeUserinfo(t *testing.T) {
	t.Parallel()
	f := newFakeIdPs(t)
	e := engineFor(t, `
  - name: p
    preset: miniorange
    params: {base_url: `+f.srv.URL+`}
    allow_any_client: true
`)
	expect(t, e, []want{
		{token: "A834c0606ba71336423013699db8e971", allow: true, user: "demouser"},
		{token: "B834c0606ba71336423013699db8e971", reason: authz.ReasonTokenInvalid},
	})
}

// TestPresetIdentityOptIns: seams item 12. The mutable names and the
// unverified e-mail addresses the presets no longer default to are
// available by naming them, exactly: no fallback to another attribute.
func TestPresetIdentityOptIns(t *testing.T) {
	f := newFakeIdPs(t)
	t.Setenv("GH_SECRET_OPT_IN", "gh-secret")
	secret := filepath.Join(t.TempDir(), "fb")
	if err := os.WriteFile(secret, []byte("fb-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, yaml string
		want       want
	}{
		{"github login", "preset: github\n    client_secret: {env: GH_SECRET_OPT_IN}\n    client_id: " + ourClient + "\n    username: {claims: [login]}",
			want{token: "gho_good", allow: true, user: "octocat"}},
		{"github email absent, no fallback", "preset: github\n    client_secret: {env: GH_SECRET_OPT_IN}\n    client_id: " + ourClient + "\n    username: {claims: [email]}",
			want{token: "gho_good", reason: authz.ReasonUsernameMissing}},
		{"gitlab nickname", "preset: gitlab\n    client_id: " + ourClient + "\n    username: {claims: [nickname]}",
			want{token: "gl-good", allow: true, user: "alice", groups: []string{"acme", "acme/jira-users"}}},
		{"gitlab email without email_verified", "preset: gitlab\n    client_id: " + ourClient + "\n    username: {claims: [email]}",
			want{token: "gl-good", reason: authz.ReasonUsernameMissing}},
		{"discord user name", "preset: discord\n    client_id: " + ourClient + "\n    username: {claims: [user.username]}",
			want{token: "dc-good", allow: true, user: "alice"}},
		{"slack user", "preset: slack\n    params: {team_ids: [T0001]}\n    allow_any_client: true\n    username: {claims: [user]}",
			want{token: "xoxp-good", allow: true, user: "alice"}},
		{"facebook email refused: no verification flag", "preset: facebook\n    client_id: " + ourClient + "\n    client_secret: {file: " + secret + "}\n    username: {claims: [email]}",
			want{token: "EAAgood", reason: authz.ReasonUsernameMissing}},
		{"facebook email by explicit choice", "preset: facebook\n    client_id: " + ourClient + "\n    client_secret: {file: " + secret + "}\n    username: {claims: [email], allow_unverified_email: true}",
			want{token: "EAAgood", allow: true, user: "alice@example.com"}},
		{"miniorange exactly username", "preset: miniorange\n    allow_any_client: true",
			want{token: "A834c0606ba71336423013699db8e971", allow: true, user: "demouser"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := strings.Replace(tc.yaml, "\n", "\n    params: {base_url: "+f.srv.URL+"}\n", 1)
			if strings.Contains(tc.yaml, "params:") {
				yaml = strings.Replace(tc.yaml, "params: {", "params: {base_url: "+f.srv.URL+", ", 1)
			}
			expect(t, engineFor(t, "  - name: p\n    "+yaml+"\n"), []want{tc.want})
		})
	}
}

func TestPresetKeycloakIntrospection(t *testing.T) {
	f := newFakeIdPs(t)
	t.Setenv("KC_SECRET_TEST", "is-secret")
	// The fake answers iss "BASE/realms/corp": override the issuer check.
	e := engineFor(t, `
  - name: p
    preset: keycloak
    kind: introspection
    params: {base_url: `+f.srv.URL+`, realm: corp}
    issuer: BASE/realms/corp
    client_id: `+ourClient+`
    client_secret: {env: KC_SECRET_TEST}
    client_ids: [`+ourClient+`]
`)
	expect(t, e, []want{
		{token: "kc-good", allow: true, user: "alice", groups: []string{"jira-users"}},
		{token: "kc-other", reason: authz.ReasonAudienceMismatch},
		{token: "kc-refresh", reason: authz.ReasonTokenTypeInvalid},
		{token: "kc-bad", reason: authz.ReasonTokenInactive},
	})
}

func TestPresetOktaOrgIntrospectionOverridden(t *testing.T) {
	f := newFakeIdPs(t)
	t.Setenv("OKTA_SECRET_TEST", "is-secret")
	e := engineFor(t, `
  - name: p
    preset: okta-org
    params: {domain: example.okta.com}
    issuer: BASE/okta
    introspection: {endpoint: `+f.srv.URL+`/okta/oauth2/v1/introspect}
    client_id: `+ourClient+`
    client_secret: {env: OKTA_SECRET_TEST}
`)
	expect(t, e, []want{
		{token: "okta-good", allow: true, user: "alice"},
		{token: "okta-other", reason: authz.ReasonAudienceMismatch}, // client_ids defaults to client_id
		{token: "okta-bad", reason: authz.ReasonTokenInactive},
	})
}

// TestPresetAzureADRefusesGraphTokens: a Graph token gets a helpful reason;
// a token for our API is allowed (the idptest IdP stands in for Entra ID).
func TestPresetAzureADRefusesGraphTokens(t *testing.T) {
	t.Parallel()
	p := idptest.New(t)
	e := engineFor(t, `
  - name: p
    preset: azure-ad
    params: {tenant: 72f988bf-86f1-41af-91ab-2d7cd011db47}
    client_id: `+ourClient+`
    issuer: `+p.Issuer+`
    jwks_uri: `+p.JWKSURL()+`
    groups: {claim: groups}
`)
	tid := "72f988bf-86f1-41af-91ab-2d7cd011db47"
	ok := p.Mint(t, map[string]any{"aud": "api://" + ourClient, "tid": tid, "preferred_username": "alice@contoso.com", "groups": []string{"g1"}})
	graph := p.Mint(t, map[string]any{"aud": "00000003-0000-0000-c000-000000000000", "tid": tid, "preferred_username": "alice@contoso.com"})
	otherTenant := p.Mint(t, map[string]any{"aud": ourClient, "tid": "00000000-0000-0000-0000-000000000001", "preferred_username": "alice@contoso.com"})
	expect(t, e, []want{
		{token: ok, allow: true, user: "alice@contoso.com", groups: []string{"g1"}},
		{token: graph, reason: authz.ReasonAudienceMismatch},
		{token: otherTenant, reason: authz.ReasonClaimMismatch},
	})
	if d := check(e, graph); !strings.Contains(d.Detail, "Microsoft Graph") {
		t.Errorf("graph refusal detail = %q, want a hint", d.Detail)
	}
}

// TestPresetCognitoClientIDAndTokenUse: no aud; client_id and token_use.
func TestPresetCognitoClientIDAndTokenUse(t *testing.T) {
	t.Parallel()
	p := idptest.New(t)
	e := engineFor(t, `
  - name: p
    preset: cognito
    params: {region: eu-west-1, user_pool_id: eu-west-1_AbCdEf123}
    client_id: `+ourClient+`
    issuer: `+p.Issuer+`
    jwks_uri: `+p.JWKSURL()+`
`)
	base := map[string]any{"aud": nil, "client_id": ourClient, "token_use": "access", "username": "alice", "cognito:groups": []string{"admins"}}
	mint := func(mod map[string]any) string {
		c := map[string]any{}
		for k, v := range base {
			c[k] = v
		}
		for k, v := range mod {
			c[k] = v
		}
		return p.Mint(t, c)
	}
	expect(t, e, []want{
		{token: mint(nil), allow: true, user: "alice", groups: []string{"admins"}},
		{token: mint(map[string]any{"client_id": "other"}), reason: authz.ReasonAudienceMismatch},
		{token: mint(map[string]any{"token_use": "id"}), reason: authz.ReasonClaimMismatch},
	})
}

// TestIntrospectionOutageIs503AndRecovers: through the engine, an outage is
// a 503 idp_unavailable within the check deadline, then allowed.
func TestIntrospectionOutageIs503AndRecovers(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"active":true,"username":"alice","exp":%d}`, time.Now().Add(time.Hour).Unix())
	}))
	t.Cleanup(srv.Close)
	e := engineFor(t, `
  - name: p
    kind: introspection
    introspection: {endpoint: `+srv.URL+`, auth_method: none}
    allow_any_client: true
`)
	start := time.Now()
	d := check(e, "opaque-1")
	if d.Verdict != authz.Unavailable || d.Reason != authz.ReasonIdPUnavailable || d.Verdict.HTTPStatus() != 503 || d.RetryAfter == 0 {
		t.Fatalf("outage: %s %s %s retry-after %s", d.Verdict, d.Reason, d.Detail, d.RetryAfter)
	}
	// The check deadline is 5 s here: an answer well before it shows the
	// outage was reported, not waited out.
	if time.Since(start) > 3*time.Second {
		t.Fatal("outage answer took too long")
	}
	down.Store(false)
	expect(t, e, []want{{token: "opaque-1", allow: true, user: "alice"}})
}

func TestAPIKeyProvider(t *testing.T) {
	t.Parallel()
	key := "rgk_0123456789abcdef0123456789abcdef"
	e := engineFor(t, `
  - name: p
    kind: api_key
    token_shape: {prefixes: [rgk_]}
    keys:
      - {name: backup, sha256: "`+providers.HashAPIKey(key)+`", username: svc-backup, groups: [backup-operators]}
      - {name: old, sha256: "`+strings.TrimPrefix(providers.HashAPIKey(key+"x"), "sha256:")+`", username: svc-old, expires: "2001-01-01"}
`)
	expect(t, e, []want{
		{token: key, allow: true, user: "svc-backup", groups: []string{"backup-operators"}},
		{token: key + "x", reason: authz.ReasonTokenExpired},
		{token: "rgk_unknown", reason: authz.ReasonTokenInvalid},
	})
}

func TestHashAPIKeyStoredForm(t *testing.T) {
	t.Parallel()
	h := providers.HashAPIKey("k")
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(h) || h != "sha256:8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a" {
		t.Fatalf("HashAPIKey = %q", h)
	}
}

// TestOpaqueTokenNeverSprayedAcrossProviders: with two opaque providers in
// one rule, a token goes to the first whose shape admits it, and only to
// it; a rule where a filterless provider shadows another is refused.
func TestOpaqueTokenNeverSprayedAcrossProviders(t *testing.T) {
	t.Parallel()
	var a, b atomic.Int64
	mk := func(n *atomic.Int64, user string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			fmt.Fprintf(w, `{"active":true,"username":%q}`, user)
		}))
		t.Cleanup(s.Close)
		return s
	}
	sa, sb := mk(&a, "from-a"), mk(&b, "from-b")
	cfg := `providers:
  - {name: a, kind: introspection, introspection: {endpoint: ` + sa.URL + `, auth_method: none}, allow_any_client: true, token_shape: {prefixes: [aaa_]}}
  - {name: b, kind: introspection, introspection: {endpoint: ` + sb.URL + `, auth_method: none}, allow_any_client: true}
rules:
  - {name: api, paths: ["/rest/**"], authenticate: [a, b]}
`
	c, err := config.Parse("t.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, rt.Engine, []want{{token: "aaa_1", allow: true, user: "from-a"}, {token: "bbb_1", allow: true, user: "from-b"}})
	if a.Load() != 1 || b.Load() != 1 {
		t.Fatalf("calls a=%d b=%d, want 1 and 1", a.Load(), b.Load())
	}
	bad := strings.Replace(cfg, "authenticate: [a, b]", "authenticate: [b, a]", 1)
	c, err = config.Parse("t.yaml", []byte(bad))
	if err == nil {
		_, err = config.Build(c, config.BuildOptions{})
	}
	if err == nil || !strings.Contains(err.Error(), `provider "a" never sees an opaque token`) {
		t.Fatalf("shadowed provider not refused: %v", err)
	}
}

// TestValidateSummaryShowsExpandedPreset: restguard validate prints the
// endpoints a preset filled in.
func TestValidateSummaryShowsExpandedPreset(t *testing.T) {
	t.Setenv("GH_SECRET_SUMMARY", "x")
	c, err := config.Parse("t.yaml", []byte(`providers:
  - {name: gh, preset: github, params: {base_url: "https://github.example.com/api/v3"}, client_id: abc, client_secret: {env: GH_SECRET_SUMMARY}}
  - {name: kc, preset: keycloak, params: {base_url: "https://sso.example.com", realm: corp}, audiences: [jira]}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		"preset github: userinfo GET https://github.example.com/api/v3/user (headers Accept,X-GitHub-Api-Version); app binding github https://github.example.com/api/v3/applications/abc/token for client abc",
		"preset keycloak: jwt  issuer https://sso.example.com/realms/corp (jwks https://sso.example.com/realms/corp/protocol/openid-connect/certs); aud jira",
	} {
		if got := rt.Providers[i].Summary; !strings.Contains(got, want) {
			t.Errorf("summary %d = %q, want it to contain %q", i, got, want)
		}
	}
}

// TestIntrospectionNeedsClientBinding: an introspection provider accepts
// only the tokens of the clients or audiences it names, or says
// allow_any_client: true (seams item 15). Presets that bind by default
// (okta's default server, okta-org with client_id) load as written.
func TestIntrospectionNeedsClientBinding(t *testing.T) {
	t.Setenv("INTROSPECT_SECRET_BINDING", "x")
	const creds = "client_id: restguard, client_secret: {env: INTROSPECT_SECRET_BINDING}"
	for _, tc := range []struct {
		name, provider string
		want           string // "" loads
	}{
		{"keycloak introspection unbound", `{name: p, preset: keycloak, kind: introspection, params: {base_url: "https://sso.example.com", realm: corp}, ` + creds + `}`, "t.yaml:2: providers[0].client_ids: introspection: without client_ids or audiences"},
		{"keycloak introspection client_ids", `{name: p, preset: keycloak, kind: introspection, params: {base_url: "https://sso.example.com", realm: corp}, ` + creds + `, client_ids: [jira-cli]}`, ""},
		{"keycloak introspection audiences", `{name: p, preset: keycloak, kind: introspection, params: {base_url: "https://sso.example.com", realm: corp}, ` + creds + `, audiences: [jira]}`, ""},
		{"okta default server", `{name: p, preset: okta, kind: introspection, params: {domain: example.okta.com}, ` + creds + `}`, ""},
		{"okta custom server unbound", `{name: p, preset: okta, kind: introspection, params: {domain: example.okta.com, auth_server_id: aus1}, ` + creds + `}`, "providers[0].client_ids: "},
		{"okta-org binds its client_id", `{name: p, preset: okta-org, params: {domain: example.okta.com}, ` + creds + `}`, ""},
		{"plain unbound", `{name: p, kind: introspection, introspection: {endpoint: "https://as.example.com/i", auth_method: none}}`, "providers[0].client_ids: "},
		{"plain any client", `{name: p, kind: introspection, introspection: {endpoint: "https://as.example.com/i", auth_method: none}, allow_any_client: true}`, ""},
		{"any client contradicts client_ids", `{name: p, kind: introspection, introspection: {endpoint: "https://as.example.com/i", auth_method: none}, allow_any_client: true, client_ids: [a]}`, "contradict"},
		{"custom preset introspecting unbound", `{name: p, preset: custom, issuer: "https://as.example.com", ` + creds + `}`, "audiences or client id claim with client ids are required"},
		{"custom preset introspecting bound", `{name: p, preset: custom, issuer: "https://as.example.com", ` + creds + `, audiences: [jira]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("t.yaml", []byte("providers:\n  - "+tc.provider+"\nrules: [{name: r, authenticate: [p]}]\n"))
			if err == nil {
				_, err = config.Build(c, config.BuildOptions{})
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
