// Package proxies runs restguard's forward-auth listener behind real
// proxies from Debian packages, nginx (auth_request) and Caddy
// (forward_auth): configured with the files users copy from
// examples/nginx and examples/caddy, with minimal non-hardened blocks (the
// least a user might write), and nginx with the auth location
// ingress-nginx generates. Everything listens on 127.0.0.1 on random
// ports: client → proxy → restguard (the real binary, forward_auth.style
// set to the proxy) → echo upstream, with tokens from a real JWKS-serving
// IdP.
//
// The tests skip when nginx or caddy is not on PATH; CI installs both.
package proxies

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/internal/e2eutil"
	"github.com/restguard/restguard/internal/idptest"
	"github.com/restguard/restguard/internal/standin"
)

// Client addresses. The proxy (127.0.0.1) is restguard's only trusted
// proxy; clients connect from other loopback addresses so the client IP
// restguard derives from the proxy's X-Forwarded-For is distinguishable.
const (
	clientIP  = "127.0.0.2"
	officeIP  = "127.0.0.3" // the only address the admin rule allows
	jiraHost  = "jira.example.com"
	confHost  = "confluence.example.com" // a product whose rule takes Confluence-audience tokens, no group rule
	uiHost    = "jira-ui.example.com"    // the UI host: its rule passes every request
	startWait = 15 * time.Second
)

// restguardConfig is the configuration behind every chain; %[2]s is the
// forward-auth style of the proxy in front.
const restguardConfig = `
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: %[2]s}
realm: jira
client_ip: {trusted_proxies: ["127.0.0.1/32"]}
providers:
  - name: idp
    issuer: %[1]q
    audiences: [restguard]
    username: {claims: [preferred_username]}
    groups: {claim: groups}
  - name: confluence
    issuer: %[1]q
    audiences: [confluence]
    username: {claims: [preferred_username]}
rules:
  - {name: public, paths: ["/status"], action: pass, block_basic: {enabled: true}}
  - name: admin
    paths: ["/rest/api/2/admin/**"]
    authenticate: [idp]
    block_basic: {enabled: true}
    ip: {allow: ["` + officeIP + `/32"]}
  - {name: confluence, hosts: [` + confHost + `], authenticate: [confluence], block_basic: {enabled: true}}
  - {name: jira-ui, hosts: [` + uiHost + `], action: pass, block_basic: {enabled: true}}
  - name: rest
    hosts: [` + jiraHost + `]
    paths: ["/rest/**"]
    authenticate: [idp]
    block_basic: {enabled: true}
    groups: {any_of: [jira-api-users]}
default: {action: deny}
upstream: {user_header: X-Forwarded-User, groups_header: X-Forwarded-Groups}
assertion: {issuer: restguard-e2e, key_file: %[3]q, jwks_file: %[4]q, audience: "https://jira.example.com"}
`

// stack is one running chain.
type stack struct {
	idp      *idptest.IdP
	upstream *echo
	rgHTTP   string // restguard's forward-auth address
	jwks     string // the assertion key set restguard writes
}

func newStack(t *testing.T, style string) *stack {
	t.Helper()
	idp := idptest.New(t)
	dir := t.TempDir()
	key, jwks := filepath.Join(dir, "assertion-key.pem"), filepath.Join(dir, "assertion-keys.json")
	writeSigningKey(t, key)
	rg := e2eutil.Start(t, fmt.Sprintf(restguardConfig, idp.Issuer, style, key, jwks))
	if rg.HTTP == "" {
		t.Fatal("restguard logged no forward-auth (listen.http) address")
	}
	// Every answer of envoy.NewHTTPHandler carries X-Restguard-Reason.
	probe := do(t, clientIP, "GET", "http://"+rg.HTTP+"/ext-authz")
	if probe.header.Get("X-Restguard-Reason") == "" {
		t.Fatalf("the forward-auth listener answered %d without X-Restguard-Reason", probe.status)
	}
	return &stack{idp: idp, upstream: newEcho(t, jwks), rgHTTP: rg.HTTP, jwks: jwks}
}

// writeSigningKey writes a throw-away Ed25519 key for restguard's identity
// assertions.
func writeSigningKey(t *testing.T, path string) {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
}

// echo is the upstream standing in for Jira: it answers every request
// with the method, URI and headers it received, and with the user a product
// running the reference authenticator would resolve from the identity
// assertion (internal/standin) — or why it would refuse it.
type echo struct {
	*httptest.Server
	mu   sync.Mutex
	hits int
}

type echoed struct {
	Method  string      `json:"method"`
	URI     string      `json:"uri"`
	Host    string      `json:"host"`
	Headers http.Header `json:"headers"`
	// Verified is the assertion's user; Refused the verifier's reason.
	Verified string `json:"verified"`
	Refused  string `json:"refused"`
}

func newEcho(t *testing.T, jwks string) *echo {
	v, err := assertion.NewVerifier(assertion.VerifierConfig{Issuer: "restguard-e2e", Audience: "https://jira.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	product := standin.New(v)
	if err := product.WatchKeys(jwks); err != nil {
		t.Fatalf("restguard wrote no assertion key set: %v", err)
	}
	e := &echo{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.hits++
		e.mu.Unlock()
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		rec := httptest.NewRecorder()
		product.ServeHTTP(rec, r)
		var a standin.Answer
		_ = json.Unmarshal(rec.Body.Bytes(), &a)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, URI: r.RequestURI, Host: r.Host, Headers: r.Header, Verified: a.User, Refused: a.Refused})
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *echo) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits
}

// result is what the client got.
type result struct {
	status int
	header http.Header
	echo   *echoed // nil unless the upstream answered
	body   string
}

// do sends one request from the loopback address from, with Host
// jira.example.com unless a "Host: ..." line says otherwise.
func do(t *testing.T, from, method, url string, headers ...string) result {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = jiraHost
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		if k, v = strings.TrimSpace(k), strings.TrimSpace(v); strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Add(k, v)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r := result{status: resp.StatusCode, header: resp.Header, body: string(body)}
	var e echoed
	if json.Unmarshal(body, &e) == nil && e.Method != "" {
		r.echo = &e
	}
	return r
}

// checkChain runs the scenarios of the issue against a proxy at base.
func checkChain(t *testing.T, s *stack, base string) {
	alice := "Authorization: Bearer " + s.idp.Mint(t, map[string]any{"groups": []string{"jira-api-users", "devs"}})
	bob := "Authorization: Bearer " + s.idp.Mint(t, map[string]any{"preferred_username": "bob", "groups": []string{"devs"}})

	t.Run("allow: identity at the upstream, token stripped", func(t *testing.T) {
		r := do(t, clientIP, "GET", base+"/rest/api/2/issue/ABC-1?expand=names", alice)
		if r.status != 200 || r.echo == nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		h := r.echo.Headers
		if got := h.Values("X-Forwarded-User"); len(got) != 1 || got[0] != "alice" {
			t.Errorf("upstream X-Forwarded-User = %q, want [alice]", got)
		}
		if got := h.Get("X-Forwarded-Groups"); got != "jira-api-users,devs" {
			t.Errorf("upstream X-Forwarded-Groups = %q", got)
		}
		if got := h.Get("Authorization"); got != "" {
			t.Errorf("the bearer token reached the upstream: %.20s...", got)
		}
		if r.echo.URI != "/rest/api/2/issue/ABC-1?expand=names" || r.echo.Method != "GET" {
			t.Errorf("upstream got %s %s", r.echo.Method, r.echo.URI)
		}
		if r.echo.Verified != "alice" {
			t.Errorf("the product resolved %q from the identity assertion (refused: %s), want alice", r.echo.Verified, r.echo.Refused)
		}
		for k := range h {
			if strings.HasPrefix(strings.ToLower(k), "x-envoy-") {
				t.Errorf("restguard's hint header %s reached the upstream", k)
			}
		}
	})
	t.Run("allow: POST keeps its method and body", func(t *testing.T) {
		r := do(t, clientIP, "POST", base+"/rest/api/2/issue", alice, "Content-Type: application/json")
		if r.status != 200 || r.echo == nil || r.echo.Method != "POST" {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if r.echo.Verified != "alice" {
			t.Errorf("the assertion of a POST did not verify: %s", r.echo.Refused)
		}
	})
	t.Run("a client's own assertion never reaches the product", func(t *testing.T) {
		// A captured assertion of another request, or a forged one, in the
		// client's headers: on a public route there is none of restguard's,
		// and the client's must not arrive.
		r := do(t, clientIP, "GET", base+"/status", "X-Restguard-Assertion: eyJhbGciOiJFZERTQSJ9.e30.c2ln")
		if r.status != 200 || r.echo == nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if got := r.echo.Headers.Values("X-Restguard-Assertion"); len(got) != 0 || r.echo.Verified != "" {
			t.Errorf("the client's assertion reached the product: %q (verified %q)", got, r.echo.Verified)
		}
	})
	t.Run("spoofed identity header replaced", func(t *testing.T) {
		r := do(t, clientIP, "GET", base+"/rest/api/2/myself", alice, "X-Forwarded-User: admin", "Remote-User: admin")
		if r.status != 200 || r.echo == nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if got := r.echo.Headers.Values("X-Forwarded-User"); len(got) != 1 || got[0] != "alice" {
			t.Errorf("upstream X-Forwarded-User = %q, want [alice]", got)
		}
		if got := r.echo.Headers.Get("Remote-User"); got != "" {
			t.Errorf("upstream Remote-User = %q", got)
		}
	})
	t.Run("spoofed identity header stripped on a public route", func(t *testing.T) {
		r := do(t, clientIP, "GET", base+"/status", "X-Forwarded-User: admin", "X-Forwarded-Groups: jira-administrators")
		if r.status != 200 || r.echo == nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if got := r.echo.Headers.Values("X-Forwarded-User"); len(got) != 0 {
			t.Errorf("SPOOFED X-Forwarded-User reached the upstream: %q", got)
		}
		if got := r.echo.Headers.Values("X-Forwarded-Groups"); len(got) != 0 {
			t.Errorf("SPOOFED X-Forwarded-Groups reached the upstream: %q", got)
		}
		if r.echo.Verified != "" || r.echo.Refused != "no_assertion" {
			t.Errorf("a public route carried an identity to the product: verified %q, refused %q", r.echo.Verified, r.echo.Refused)
		}
	})
	t.Run("deny 401 with the challenge, upstream not reached", func(t *testing.T) {
		before := s.upstream.count()
		r := do(t, clientIP, "GET", base+"/rest/api/2/myself")
		if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="jira"` {
			t.Errorf("got %d, WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
		}
		if r.header.Get("X-Restguard-Reason") != "credentials_missing" {
			t.Errorf("X-Restguard-Reason = %q", r.header.Get("X-Restguard-Reason"))
		}
		if s.upstream.count() != before {
			t.Error("the upstream was reached on a denial")
		}
	})
	t.Run("invalid token: 401 invalid_token", func(t *testing.T) {
		r := do(t, clientIP, "GET", base+"/rest/api/2/myself", "Authorization: Bearer not.a.token")
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("got %d, WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("group missing: 403", func(t *testing.T) {
		r := do(t, clientIP, "GET", base+"/rest/api/2/myself", bob)
		if r.status != 403 || r.echo != nil {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})
	t.Run("basic blocked", func(t *testing.T) {
		r := do(t, clientIP, "GET", base+"/rest/api/2/myself", "Authorization: Basic YWxpY2U6c2VjcmV0")
		if r.status != 401 || r.echo != nil || r.header.Get("X-Restguard-Reason") != "basic_auth_blocked" {
			t.Errorf("got %d %q %s", r.status, r.header.Get("X-Restguard-Reason"), r.body)
		}
		if strings.Contains(strings.ToLower(r.header.Get("WWW-Authenticate")), "basic") {
			t.Errorf("a Basic challenge: %q", r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("ip rule: the proxy's X-Forwarded-For decides", func(t *testing.T) {
		path := base + "/rest/api/2/admin/reindex"
		if r := do(t, officeIP, "GET", path, alice); r.status != 200 {
			t.Errorf("from %s: got %d %s", officeIP, r.status, r.body)
		}
		if r := do(t, clientIP, "GET", path, alice); r.status != 403 || r.header.Get("X-Restguard-Reason") != "ip_denied" {
			t.Errorf("from %s: got %d %q", clientIP, r.status, r.header.Get("X-Restguard-Reason"))
		}
		// The client's own X-Forwarded-For claims the office address.
		if r := do(t, clientIP, "GET", path, alice, "X-Forwarded-For: "+officeIP); r.status != 403 {
			t.Errorf("spoofed X-Forwarded-For: got %d", r.status)
		}
	})
	t.Run("injected reconstruction headers do not choose the path", func(t *testing.T) {
		for _, h := range []string{"X-Original-URI: /status", "X-Forwarded-Uri: /status", "X-Original-URL: http://jira.example.com/status"} {
			r := do(t, clientIP, "GET", base+"/rest/api/2/myself", h, "X-Original-Method: GET", "X-Forwarded-Method: GET")
			if r.status == 200 || r.echo != nil {
				t.Errorf("%s: got %d, want a denial", h, r.status)
			}
		}
	})
}

func TestNginxAuthRequest(t *testing.T) {
	requireProxy(t, "nginx")
	s := newStack(t, "nginx")
	site := readExample(t, "nginx", "restguard.conf")
	port := freePort(t)
	site = replaceOnce(t, site, "server restguard:9002;", "server "+s.rgHTTP+";")
	site = replaceOnce(t, site, "server jira:8080;", "server "+strings.TrimPrefix(s.upstream.URL, "http://")+";")
	site = replaceOnce(t, site, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port))
	site = replaceOnce(t, site, "listen 80 default_server;", fmt.Sprintf("listen 127.0.0.1:%d default_server;", port))
	base := startNginx(t, site, port)
	checkChain(t, s, base)
	checkHostConfusion(t, s, base, true)
}

// minimalNginx is the smallest auth_request block that forwards the
// identity: the proxy sets Host, X-Original-URI and X-Original-Method, and
// nothing else. Every other header of the client, other proxies'
// reconstruction headers included, reaches restguard as the client sent it.
const minimalNginx = `
upstream restguard { server %[1]s; }
upstream jira      { server %[2]s; }
server {
    listen 127.0.0.1:%[3]d;
    location / {
        auth_request /_restguard;
        auth_request_set $rg_user $upstream_http_x_forwarded_user;
        proxy_set_header X-Forwarded-User $rg_user;
        proxy_pass http://jira;
    }
    location = /_restguard {
        internal;
        proxy_pass http://restguard/ext-authz;
        proxy_set_header Host              $host;
        proxy_set_header X-Original-URI    $request_uri;
        proxy_set_header X-Original-Method $request_method;
    }
}
`

// TestNginxMinimalAuthRequest: the host-confusion attacks of the seams
// issue (item 1) through a real nginx with a minimal, non-hardened
// auth_request block. Before (main at 54d34e7), restguard switched to the
// Caddy/Traefik reading of the request as soon as a client added an
// agreeing X-Forwarded-Method or X-Forwarded-Uri, and then took the
// client's X-Forwarded-Host (or the host of a client X-Original-URL) as
// the original host: a Confluence-audience token of a user outside
// jira-api-users reached the Jira upstream with X-Forwarded-User: bob, and
// a request without a token was passed by the UI host's pass rule.
func TestNginxMinimalAuthRequest(t *testing.T) {
	requireProxy(t, "nginx")
	s := newStack(t, "nginx")
	port := freePort(t)
	site := fmt.Sprintf(minimalNginx, s.rgHTTP, strings.TrimPrefix(s.upstream.URL, "http://"), port)
	checkHostConfusion(t, s, startNginx(t, site, port), false)
}

func TestCaddyForwardAuth(t *testing.T) {
	requireProxy(t, "caddy")
	s := newStack(t, "caddy")
	conf := readExample(t, "caddy", "Caddyfile")
	port := freePort(t)
	// Caddy 2.6: a site address with a host is a Host matcher (and an
	// unmatched request gets an empty 200); bind keeps it on loopback.
	conf = replaceOnce(t, conf, "\nhttp://jira.example.com {\n", fmt.Sprintf("\nhttp://jira.example.com:%d {\n\tbind 127.0.0.1\n", port))
	conf = replaceOnce(t, conf, "forward_auth restguard:9002 {", "forward_auth "+s.rgHTTP+" {")
	conf = replaceOnce(t, conf, "reverse_proxy jira:8080", "reverse_proxy "+strings.TrimPrefix(s.upstream.URL, "http://"))
	conf = replaceOnce(t, conf, "\tauto_https off", "\tadmin off\n\tauto_https off")
	base := startCaddy(t, conf, port)
	checkChain(t, s, base)
	checkHostConfusion(t, s, base, true)
}

// minimalCaddy is a bare forward_auth: Caddy sets X-Forwarded-Method,
// X-Forwarded-Uri and X-Forwarded-Host itself and passes every other client
// header on, nginx's reconstruction headers included.
const minimalCaddy = `{
	admin off
	auto_https off
}
http://:%[3]d {
	bind 127.0.0.1
	forward_auth %[1]s {
		uri /ext-authz
		copy_headers X-Forwarded-User
	}
	reverse_proxy %[2]s
}
`

// TestCaddyMinimalForwardAuth: the host-confusion attacks of the seams
// issue (item 1) through a real Caddy with a bare forward_auth. Caddy
// replaces the client's X-Forwarded-* headers and main compared a client
// X-Original-URL with Caddy's X-Forwarded-Host, so these attacks did not
// get through on main either; the test keeps it that way.
func TestCaddyMinimalForwardAuth(t *testing.T) {
	requireProxy(t, "caddy")
	s := newStack(t, "caddy")
	port := freePort(t)
	conf := fmt.Sprintf(minimalCaddy, s.rgHTTP, strings.TrimPrefix(s.upstream.URL, "http://"), port)
	checkHostConfusion(t, s, startCaddy(t, conf, port), false)
}

// checkHostConfusion sends the host-confusion attacks of the seams issue
// (item 1): a client adds the reconstruction headers of another proxy
// style naming another product's host (Confluence, whose rule accepts a
// Confluence-audience token without a group rule) or the UI host (whose
// rule passes everything). None may reach the Jira upstream: restguard
// reads only the configured style's headers and refuses (400) a request
// whose host sources disagree; nginx turns that 400 into 500. With the
// shipped (hardened) configuration, a request for another host name
// reaches no upstream at all: the proxy routes only jira.example.com to
// Jira (before, examples/nginx had no default server and examples/caddy
// served ":80", and "Host: confluence.example.com" with bob's token
// reached Jira as bob, judged by the Confluence rule; a proxy must route
// each host to its own product, which restguard cannot see).
func checkHostConfusion(t *testing.T, s *stack, base string, hardened bool) {
	bob := "Authorization: Bearer " + s.idp.Mint(t, map[string]any{"aud": "confluence", "preferred_username": "bob", "groups": []string{"devs"}})
	alice := "Authorization: Bearer " + s.idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	const myself = "/rest/api/2/myself"
	xf := func(host string) []string {
		return []string{"X-Forwarded-Method: GET", "X-Forwarded-Uri: " + myself, "X-Forwarded-Host: " + host}
	}
	attacks := []struct {
		name    string
		headers []string
	}{
		{"confluence token, client X-Forwarded-Method/Uri and X-Forwarded-Host: confluence", append(xf(confHost), bob)},
		{"no token, client X-Forwarded-Method/Uri and X-Forwarded-Host: the UI host", xf(uiHost)},
		{"confluence token, client X-Original-URL on confluence", []string{bob, "X-Original-URL: http://" + confHost + myself}},
		{"no token, client X-Original-URL on the UI host", []string{"X-Original-URL: http://" + uiHost + myself}},
		{"confluence token, absolute client X-Forwarded-Uri on confluence", []string{bob, "X-Forwarded-Method: GET", "X-Forwarded-Uri: http://" + confHost + myself}},
		{"no token, absolute client X-Forwarded-Uri on the UI host", []string{"X-Forwarded-Method: GET", "X-Forwarded-Uri: http://" + uiHost + myself}},
	}
	if hardened {
		attacks = append(attacks,
			struct {
				name    string
				headers []string
			}{"confluence token, Host: confluence", []string{bob, "Host: " + confHost}},
			struct {
				name    string
				headers []string
			}{"no token, Host: the UI host", []string{"Host: " + uiHost}})
	}
	for _, a := range attacks {
		t.Run("attack: "+a.name, func(t *testing.T) {
			before := s.upstream.count()
			r := do(t, clientIP, "GET", base+myself, a.headers...)
			if s.upstream.count() != before {
				user := ""
				if r.echo != nil {
					user = r.echo.Headers.Get("X-Forwarded-User")
				}
				t.Errorf("the request reached the Jira upstream (status %d, X-Forwarded-User %q)", r.status, user)
			}
			if r.status >= 200 && r.status < 300 && (!hardened || r.echo != nil) {
				t.Errorf("status %d, want a denial", r.status)
			}
		})
	}
	t.Run("honest: the confluence token is not a jira token", func(t *testing.T) {
		before := s.upstream.count()
		r := do(t, clientIP, "GET", base+myself, bob)
		if r.status != 401 || s.upstream.count() != before {
			t.Errorf("got %d (upstream hits %d → %d), want 401 and no upstream", r.status, before, s.upstream.count())
		}
	})
	t.Run("honest: the jira token reaches jira", func(t *testing.T) {
		r := do(t, clientIP, "GET", base+myself, alice)
		if r.status != 200 || r.echo == nil || r.echo.Headers.Get("X-Forwarded-User") != "alice" {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})
}

// ingressNginx is the auth location ingress-nginx generates for an Ingress
// with the auth-url annotation (rootfs/etc/nginx/template/nginx.tmpl, the
// headers that matter), once per host: Host is the auth service's, the
// original request is X-Original-URL ($scheme://$http_host$request_uri,
// the client's Host header) and X-Original-Method, and %[5]s is what the
// auth-proxy-set-headers annotation adds.
const ingressNginx = `
upstream restguard  { server %[1]s; }
upstream jira       { server %[2]s; }
upstream confluence { server %[3]s; }
server {
    listen 127.0.0.1:%[4]d default_server;
    server_name jira.example.com;
    location / {
        auth_request /_external-auth;
        auth_request_set $rg_user $upstream_http_x_forwarded_user;
        proxy_set_header X-Forwarded-User $rg_user;
        proxy_pass http://jira;
    }
    location = /_external-auth {
        internal;
        proxy_pass_request_body off;
        proxy_set_header Content-Length          "";
        proxy_set_header X-Forwarded-Proto       "";
        proxy_set_header Host                    restguard.restguard.svc.cluster.local;
        proxy_set_header X-Original-URL          $scheme://$http_host$request_uri;
        proxy_set_header X-Original-Method       $request_method;
        proxy_set_header X-Sent-From             "nginx-ingress-controller";
        proxy_set_header X-Real-IP               $remote_addr;
        proxy_set_header X-Forwarded-For         $remote_addr;
        proxy_set_header X-Auth-Request-Redirect $request_uri;
        %[5]s
        proxy_pass http://restguard/ext-authz;
    }
}
server {
    listen 127.0.0.1:%[4]d;
    server_name confluence.example.com;
    location / {
        auth_request /_external-auth;
        auth_request_set $rg_user $upstream_http_x_forwarded_user;
        proxy_set_header X-Forwarded-User $rg_user;
        proxy_pass http://confluence;
    }
    location = /_external-auth {
        internal;
        proxy_pass_request_body off;
        proxy_set_header Content-Length          "";
        proxy_set_header X-Forwarded-Proto       "";
        proxy_set_header Host                    restguard.restguard.svc.cluster.local;
        proxy_set_header X-Original-URL          $scheme://$http_host$request_uri;
        proxy_set_header X-Original-Method       $request_method;
        proxy_set_header X-Sent-From             "nginx-ingress-controller";
        proxy_set_header X-Real-IP               $remote_addr;
        proxy_set_header X-Forwarded-For         $remote_addr;
        proxy_set_header X-Auth-Request-Redirect $request_uri;
        %[5]s
        proxy_pass http://restguard/ext-authz;
    }
}
`

// TestIngressNginxRoutedHost: ingress-nginx's X-Original-URL carries the
// client's Host header, but nginx routes a request whose line is in
// absolute form by the line's host. A Jira-audience token sent as
// "GET http://confluence.example.com/... HTTP/1.1" with "Host:
// jira.example.com" is served by the Confluence server block while
// X-Original-URL names Jira. restguard's ingress-nginx style therefore
// requires X-Forwarded-Host $host (the routed host, added with the
// auth-proxy-set-headers annotation) and refuses the disagreement (400,
// which nginx turns into 500). Before (main at 54d34e7), with the
// controller's default auth location, restguard judged the Jira host and
// Confluence was reached as alice with a token for Jira.
func TestIngressNginxRoutedHost(t *testing.T) {
	requireProxy(t, "nginx")
	s := newStack(t, "ingress-nginx")
	conf := newEcho(t, s.jwks)
	alice := "Authorization: Bearer " + s.idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	bob := "Authorization: Bearer " + s.idp.Mint(t, map[string]any{"aud": "confluence", "preferred_username": "bob"})
	for _, v := range []struct {
		name, set string
		honest    bool // honest requests are served
	}{
		{"with X-Forwarded-Host $host", "proxy_set_header X-Forwarded-Host $host;", true},
		{"the controller's default, without it", "", false},
	} {
		t.Run(v.name, func(t *testing.T) {
			port := freePort(t)
			site := fmt.Sprintf(ingressNginx, s.rgHTTP, strings.TrimPrefix(s.upstream.URL, "http://"), strings.TrimPrefix(conf.URL, "http://"), port, v.set)
			base := startNginx(t, site, port)
			addr := strings.TrimPrefix(base, "http://")

			jiraHits, confHits := s.upstream.count(), conf.count()
			status := rawGet(t, addr, "http://"+confHost+"/rest/api/2/myself", jiraHost, alice)
			if conf.count() != confHits || s.upstream.count() != jiraHits || status/100 == 2 {
				t.Errorf("absolute-form line on confluence, Host jira, a jira token: status %d, confluence hits %d → %d", status, confHits, conf.count())
			}
			for _, h := range []struct {
				host, token string
				up          *echo
				user        string
			}{{jiraHost, alice, s.upstream, "alice"}, {confHost, bob, conf, "bob"}} {
				r := do(t, clientIP, "GET", base+"/rest/api/2/myself", h.token, "Host: "+h.host)
				served := r.status == 200 && r.echo != nil && r.echo.Headers.Get("X-Forwarded-User") == h.user
				if served != v.honest {
					t.Errorf("honest request to %s: status %d, served %v, want served %v", h.host, r.status, served, v.honest)
				}
			}
		})
	}
}

// rawGet sends one request with an exact request target (absolute form
// allowed) and Host header, and returns the status.
func rawGet(t *testing.T, addr, target, host string, headers ...string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", target, host)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func requireProxy(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		e2eutil.Unavailable(t, name+" not on PATH (CI installs the Debian package "+name+")")
	}
}

// startNginx runs nginx with site (an http{}-context file) listening on
// 127.0.0.1:port and returns its base URL.
func startNginx(t *testing.T, site string, port int) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"tmp", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers would run as nobody and could not use the temp dirs
	}
	main := fmt.Sprintf(`%s
worker_processes 1;
pid nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path tmp/client_body;
    proxy_temp_path       tmp/proxy;
    fastcgi_temp_path     tmp/fastcgi;
    uwsgi_temp_path       tmp/uwsgi;
    scgi_temp_path        tmp/scgi;
    include restguard.conf;
}
`, user)
	writeFile(t, filepath.Join(dir, "restguard.conf"), site)
	writeFile(t, filepath.Join(dir, "nginx.conf"), main)
	start(t, port, exec.Command("nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr", "-g", "daemon off;"))
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// startCaddy runs caddy with the Caddyfile conf listening on
// 127.0.0.1:port and returns its base URL.
func startCaddy(t *testing.T, conf string, port int) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile")
	writeFile(t, file, conf)
	cmd := exec.Command("caddy", "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	start(t, port, cmd)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// start runs cmd until the test ends (SIGTERM, then SIGKILL after a bound)
// and waits until it accepts connections on 127.0.0.1:port. The proxies
// have no readiness signal, so this polls, with a deadline.
func start(t *testing.T, port int, cmd *exec.Cmd) {
	t.Helper()
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its own process group: the workers too
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), logs)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(startWait)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited: %v\n%s", filepath.Base(cmd.Path), err, logs)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s after %s: %v\n%s", filepath.Base(cmd.Path), addr, startWait, err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a port that was free a moment ago. The proxies take a
// port number, not a listener; start fails loudly if someone took it.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readExample(t *testing.T, dir, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "examples", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replaceOnce fails when the example no longer has exactly one old: the
// test must run the example file, not a drifted copy.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("example has %d occurrences of %q, want 1", n, old)
	}
	return strings.Replace(s, old, new, 1)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil // enough to debug with; drop the rest
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
