package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/idptest"
)

const fixtureConfig = `
realm: atlassian
client_ip:
  trusted_proxies: ["10.0.1.0/24"]
providers:
  - name: idp
    issuer: %s
    audiences: [restguard]
    username: {claims: [preferred_username, sub]}
    groups: {claim: groups}
rules:
  - name: jira-search
    hosts: [jira.example.com]
    paths: ["/rest/api/2/search"]
    authenticate: [idp]
    block_basic: {enabled: true}
    ip: {allow: ["198.51.100.0/24"]}
  - name: bitbucket-projects
    hosts: [bitbucket.example.com]
    methods: [GET]
    paths: ["/rest/api/1.0/projects"]
    authenticate: [idp]
    block_basic: {enabled: true}
    ip: {allow: ["198.51.100.0/24"]}
  - name: rest
    paths: ["/rest/**", "/confluence/rest/**", "/scm/**"]
    authenticate: [idp]
    block_basic: {enabled: true}
    groups: {any_of: [jira-api-users]}
default:
  action: pass
  block_basic: {enabled: true}
upstream:
  groups_header: X-Forwarded-Groups
`

// startService runs a real restguard (config → engine → gRPC server) on
// loopback listeners and returns a connected client.
func startService(t *testing.T, cfgText string, logs *bytes.Buffer) *envoy.Client {
	t.Helper()
	c, _, _ := startServiceFull(t, cfgText, logs)
	return c
}

// startServiceFull also returns the service and its admin address.
func startServiceFull(t *testing.T, cfgText string, logs io.Writer) (*envoy.Client, *service, string) {
	t.Helper()
	r := startServiceWith(t, cfgText, logs, nil)
	return r.client, r.svc, r.admin
}

// running is a service started by startServiceWith.
type running struct {
	client *envoy.Client
	svc    *service
	admin  string
	stop   context.CancelFunc // starts the shutdown, as SIGTERM does
	done   <-chan struct{}    // closed when serve has returned
}

// startServiceWith is startServiceFull with a hook that adjusts the
// service before it serves (options, the drain clock).
func startServiceWith(t *testing.T, cfgText string, logs io.Writer, configure func(*service)) running {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	svc := newService(logger)
	if configure != nil {
		configure(svc)
	}
	rt, err := svc.build(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	svc.onReady = make(chan struct{})
	svc.install(ctx, rt)
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	al, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	finished := make(chan struct{})
	var serveErr error
	go func() { serveErr = svc.serve(ctx, gl, nil, al); close(finished) }()
	t.Cleanup(func() {
		cancel()
		<-finished
		if serveErr != nil {
			t.Errorf("serve: %v", serveErr)
		}
	})
	select {
	case <-svc.onReady:
	case <-time.After(20 * time.Second):
		t.Fatal("service did not become ready")
	}
	resp, err := http.Get("http://" + al.Addr().String() + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	c, err := envoy.Dial(gl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return running{client: c, svc: svc, admin: al.Addr().String(), stop: cancel, done: finished}
}

// loadFixture reads a recorded CheckRequest and puts token in place of
// <BEARER>, in the headers map or the raw header_map alike.
func loadFixture(t *testing.T, name, token string) *authv3.CheckRequest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "envoy", "testdata", "checkrequests", name))
	if err != nil {
		t.Fatal(err)
	}
	req, err := envoy.ParseCheckRequest(data)
	if err != nil {
		t.Fatal(err)
	}
	h := req.GetAttributes().GetRequest().GetHttp()
	for k, v := range h.GetHeaders() {
		h.Headers[k] = strings.ReplaceAll(v, "<BEARER>", token)
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		hv.RawValue = bytes.ReplaceAll(hv.RawValue, []byte("<BEARER>"), []byte(token))
	}
	return req
}

// TestFixturesThroughGRPC sends every CheckRequest fixture, with a real
// token in place of <BEARER>, through the real gRPC server.
func TestFixturesThroughGRPC(t *testing.T) {
	idp := idptest.New(t)
	var logs bytes.Buffer
	c := startService(t, fmt.Sprintf(fixtureConfig, idp.Issuer), &logs)
	token := idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})

	tests := []struct {
		file   string
		allow  bool
		status int
		reason string
		rule   string
	}{
		{"01-jira-get-project-bearer-http11.json", true, 200, "authenticated", "rest"},
		{"02-jira-get-project-bearer-http2-tls.json", true, 200, "authenticated", "rest"},
		{"03-confluence-post-content-bearer-with-body.json", true, 200, "authenticated", "rest"},
		{"04-bitbucket-get-dashboard-pull-requests-http2.json", true, 200, "authenticated", "rest"},
		{"05-jira-basic-auth.json", false, 401, "basic_auth_blocked", "rest"},
		{"06-jira-no-auth.json", false, 401, "credentials_missing", "rest"},
		{"07-jira-ui-dashboard-jspa-browser.json", true, 200, "default_pass", "default"},
		// The client is 198.51.100.20 (one trusted hop), not the spoofable
		// 203.0.113.7 nor the load balancer 10.0.1.15.
		{"08-jira-proxy-chain-xff.json", true, 200, "authenticated", "jira-search"},
		{"09-confluence-istio-sidecar-mtls.json", true, 200, "authenticated", "rest"},
		{"10-bitbucket-istio-ingress-gateway-post.json", true, 200, "authenticated", "rest"},
		// Raw header_map with two X-Forwarded-For lines: same client.
		{"11-bitbucket-raw-header-map.json", true, 200, "authenticated", "bitbucket-projects"},
		{"12-confluence-attachment-raw-body-partial.json", true, 200, "authenticated", "rest"},
		{"13-bitbucket-git-clone-basic-auth.json", false, 401, "basic_auth_blocked", "rest"},
		{"14-jira-mtls-peer-certificate-lowercase-bearer.json", true, 200, "authenticated", "rest"},
	}
	for _, tc := range tests {
		t.Run(tc.file[:2], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := c.Check(ctx, loadFixture(t, tc.file, token))
			if err != nil {
				t.Fatal(err)
			}
			r := envoy.ReadResponse(resp)
			if r.Allowed != tc.allow || r.Status != tc.status || r.Metadata["reason"] != tc.reason || r.Metadata["rule"] != tc.rule {
				t.Fatalf("got allow=%v %d %v rule %v, want %v %d %s rule %s (body %s)", r.Allowed, r.Status, r.Metadata["reason"], r.Metadata["rule"], tc.allow, tc.status, tc.reason, tc.rule, r.Body)
			}
			switch {
			case tc.allow && tc.reason == "authenticated":
				if !slices.Contains(r.Headers, "x-forwarded-user: alice") || !slices.Contains(r.Headers, "x-forwarded-groups: jira-api-users") {
					t.Errorf("upstream headers %v", r.Headers)
				}
				if !slices.Contains(r.Remove, "authorization") {
					t.Errorf("authorization not removed: %v", r.Remove)
				}
			case tc.allow:
				if len(r.Headers) != 0 || !slices.Contains(r.Remove, "x-forwarded-user") {
					t.Errorf("anonymous allow: headers %v, removed %v", r.Headers, r.Remove)
				}
			case tc.status == 401:
				if !slices.Contains(r.Headers, `www-authenticate: Bearer realm="atlassian"`) {
					t.Errorf("401 without a bare Bearer challenge: %v", r.Headers)
				}
			}
		})
	}
	if strings.Contains(logs.String(), token) {
		t.Error("the token reached the log")
	}
}

// TestForwardedForIgnoredWithoutTrustedProxies: the same proxy-chain
// fixture, with no trusted proxies configured, is judged by Envoy's peer
// (the load balancer 10.0.1.15), which the IP rule refuses.
func TestForwardedForIgnoredWithoutTrustedProxies(t *testing.T) {
	idp := idptest.New(t)
	var logs bytes.Buffer
	cfg := strings.Replace(fmt.Sprintf(fixtureConfig, idp.Issuer), `trusted_proxies: ["10.0.1.0/24"]`, `trusted_proxies: []`, 1)
	c := startService(t, cfg, &logs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, loadFixture(t, "08-jira-proxy-chain-xff.json", idp.Mint(t, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if r := envoy.ReadResponse(resp); r.Allowed || r.Status != 403 || r.Metadata["reason"] != "ip_denied" {
		t.Fatalf("got %+v", r)
	}
}

// TestInvalidTokensThroughGRPC: refused tokens get 401 invalid_token with
// the right reason, over the wire.
func TestInvalidTokensThroughGRPC(t *testing.T) {
	idp := idptest.New(t)
	var logs bytes.Buffer
	c := startService(t, fmt.Sprintf(fixtureConfig, idp.Issuer), &logs)
	good := idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	parts := strings.Split(good, ".")
	sig := []byte(parts[2])
	if sig[len(sig)/2] == 'A' {
		sig[len(sig)/2] = 'B'
	} else {
		sig[len(sig)/2] = 'A'
	}
	tests := map[string]struct {
		token, reason string
		status        int
	}{
		"expired":        {idp.Mint(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), "token_expired", 401},
		"exp zero":       {idp.Mint(t, map[string]any{"exp": 0}), "token_expired", 401},
		"wrong audience": {idp.Mint(t, map[string]any{"aud": "confluence"}), "audience_mismatch", 401},
		"bad signature":  {parts[0] + "." + parts[1] + "." + string(sig), "token_invalid", 401},
		"alg none":       {parts[0][:0] + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`)) + "." + parts[1] + ".", "token_malformed", 401},
		"no group":       {idp.Mint(t, map[string]any{"groups": []string{"jira-users"}}), "group_missing", 403},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := envoy.NewCheckRequest(envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + tc.token}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := c.Check(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			r := envoy.ReadResponse(resp)
			if r.Allowed || r.Status != tc.status || r.Metadata["reason"] != tc.reason {
				t.Fatalf("got allow=%v %d %v, want %d %s", r.Allowed, r.Status, r.Metadata["reason"], tc.status, tc.reason)
			}
			if tc.status == 401 && !slices.ContainsFunc(r.Headers, func(h string) bool { return strings.Contains(h, `error="invalid_token"`) }) {
				t.Errorf("401 without invalid_token: %v", r.Headers)
			}
		})
	}
}
