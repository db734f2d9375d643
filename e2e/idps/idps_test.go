// Package idps runs restguard end to end against real identity providers:
// Ory Hydra v2.3.0 (in-memory database) and node oidc-provider. The
// providers are prepared once per CI run by setup.sh, which prints:
//
//	export RESTGUARD_HYDRA_BIN=...          (the built hydra binary)
//	export RESTGUARD_OIDC_PROVIDER_DIR=...  (a directory with node_modules)
//
// Without them the tests skip. Every process listens on 127.0.0.1 with a
// free port, is started by the test and stopped at cleanup.
package idps

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/e2eutil"
)

const jira = "https://jira.example.test"

// process is a child process whose output is kept for failure messages.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// start runs name with args and env; cleanup sends SIGTERM and waits (at
// most 10 s, then kills).
func start(t *testing.T, dir string, env []string, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...)}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitHTTP polls url until it answers 200, for at most limit.
func waitHTTP(t *testing.T, p *process, url string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s:\n%s", url, limit, p.output())
		}
		<-tick.C
	}
}

// postJSON / postForm call an IdP and decode its JSON answer.
func call(t *testing.T, req *http.Request) map[string]any {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	var out map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %v: %s", req.URL.Path, err, body)
		}
	}
	return out
}

func postJSON(t *testing.T, url string, v any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return call(t, req)
}

func token(t *testing.T, tokenURL, clientID, secret string, form url.Values) string {
	t.Helper()
	form.Set("grant_type", "client_credentials")
	req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	tok, _ := call(t, req)["access_token"].(string)
	if tok == "" {
		t.Fatal("no access_token")
	}
	return tok
}

// checker sends Envoy-shaped checks to a running restguard.
type checker struct {
	t *testing.T
	c *envoy.Client
	r *e2eutil.Restguard
}

func newChecker(t *testing.T, rg *e2eutil.Restguard) *checker {
	c, err := envoy.Dial(rg.GRPC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &checker{t: t, c: c, r: rg}
}

func (k *checker) check(tok string) envoy.Result {
	k.t.Helper()
	req, err := envoy.NewCheckRequest(envoy.CheckInput{Host: "jira.example.test", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + tok}})
	if err != nil {
		k.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := k.c.Check(ctx, req)
	if err != nil {
		k.t.Fatal(err)
	}
	return envoy.ReadResponse(resp)
}

func header(r envoy.Result, name string) string {
	for _, h := range r.Headers {
		k, v, _ := strings.Cut(h, ":")
		if strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (k *checker) allowed(what, tok, user, groups string) {
	k.t.Helper()
	r := k.check(tok)
	if !r.Allowed || header(r, "x-forwarded-user") != user || header(r, "x-forwarded-groups") != groups {
		k.t.Errorf("%s: got %+v, want allowed as %s [%s]\nrestguard log:\n%s", what, r, user, groups, k.r.Logs())
	}
}

func (k *checker) denied(what, tok string, status int, reason string) {
	k.t.Helper()
	r := k.check(tok)
	if r.Allowed || r.Status != status || header(r, "x-restguard-reason") != reason {
		k.t.Errorf("%s: got %+v, want %d %s", what, r, status, reason)
	}
}

// TestHydra: opaque tokens by introspection and JWT access tokens by JWKS,
// username and groups from Hydra's token hook.
func TestHydra(t *testing.T) {
	t.Parallel()
	bin := os.Getenv("RESTGUARD_HYDRA_BIN")
	if bin == "" {
		e2eutil.Unavailable(t, "RESTGUARD_HYDRA_BIN not set (run e2e/idps/setup.sh)")
	}
	// The token hook: claims per client, as Hydra's oauth2.token_hook.
	claims := map[string]map[string]any{
		"svc-jira-opaque": {"username": "svc-opaque", "groups": []string{"jira-software-users"}},
		"svc-jira-jwt":    {"username": "svc-jwt", "groups": []string{"jira-software-users", "jira-administrators"}},
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Request struct {
				ClientID string `json:"client_id"`
			} `json:"request"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		c, ok := claims[in.Request.ClientID]
		if !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"session": map[string]any{"access_token": c, "id_token": c}})
	}))
	t.Cleanup(hook.Close)

	pub, adm := freePort(t), freePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d/", pub)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`dsn: memory
serve:
  public: {host: 127.0.0.1, port: %d}
  admin: {host: 127.0.0.1, port: %d}
urls:
  self: {issuer: %q}
  login: http://127.0.0.1:9/login
  consent: http://127.0.0.1:9/consent
secrets: {system: ["restguard-e2e-system-secret-0123456789"]}
strategies: {access_token: opaque}
ttl: {access_token: 1h}
oauth2:
  allowed_top_level_claims: [groups, username]
  mirror_top_level_claims: false
  token_hook: %q
log: {level: warn}
`, pub, adm, issuer, hook.URL)
	if err := os.WriteFile(filepath.Join(dir, "hydra.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h := start(t, dir, nil, bin, "serve", "all", "--dev", "--sqa-opt-out", "-c", filepath.Join(dir, "hydra.yml"))
	admin := fmt.Sprintf("http://127.0.0.1:%d", adm)
	waitHTTP(t, h, issuer+"health/ready", 60*time.Second)
	waitHTTP(t, h, admin+"/health/ready", 60*time.Second)

	for _, c := range []struct{ id, secret, strategy string }{
		{"svc-jira-opaque", "opaque-secret-123", "opaque"},
		{"svc-jira-jwt", "jwt-secret-123", "jwt"},
		{"svc-other", "other-secret-123", "opaque"},
	} {
		postJSON(t, admin+"/admin/clients", map[string]any{
			"client_id": c.id, "client_secret": c.secret, "grant_types": []string{"client_credentials"},
			"scope": "read:jira-work write:jira-work", "audience": []string{jira},
			"token_endpoint_auth_method": "client_secret_basic", "access_token_strategy": c.strategy,
		})
	}
	form := func() url.Values { return url.Values{"scope": {"read:jira-work"}, "audience": {jira}} }
	tokenURL := issuer + "oauth2/token"
	opaque := token(t, tokenURL, "svc-jira-opaque", "opaque-secret-123", form())
	jwt := token(t, tokenURL, "svc-jira-jwt", "jwt-secret-123", form())
	other := token(t, tokenURL, "svc-other", "other-secret-123", form())
	revoked := token(t, tokenURL, "svc-jira-opaque", "opaque-secret-123", form())
	req, _ := http.NewRequest(http.MethodPost, issuer+"oauth2/revoke", strings.NewReader(url.Values{"token": {revoked}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc-jira-opaque", "opaque-secret-123")
	call(t, req)
	if !strings.HasPrefix(opaque, "ory_at_") || strings.Count(jwt, ".") != 2 {
		t.Fatalf("unexpected token shapes: %.10s… %.10s…", opaque, jwt)
	}

	rg := e2eutil.Start(t, fmt.Sprintf(`
listen: {grpc: "127.0.0.1:0", admin: "127.0.0.1:0"}
realm: jira
check_timeout: 2s
providers:
  - name: hydra-jwt
    issuer: %[1]q
    audiences: [%[3]q]
    username: {claims: [username]}
    groups: {claim: groups}
  - name: hydra-opaque
    kind: introspection
    issuer: %[1]q
    introspection: {endpoint: "%[2]s/admin/oauth2/introspect", auth_method: none}
    audiences: [%[3]q]
    client_ids: [svc-jira-opaque, svc-jira-jwt]
    token_shape: {prefixes: [ory_at_]}
    username: {claims: [ext.username]}
    groups: {claim: ext.groups}
rules:
  - name: api
    paths: ["/rest/**"]
    authenticate: [hydra-jwt, hydra-opaque]
upstream: {groups_header: X-Forwarded-Groups}
`, issuer, admin, jira))
	k := newChecker(t, rg)
	k.allowed("opaque token via introspection", opaque, "svc-opaque", "jira-software-users")
	k.allowed("opaque token again (cached)", opaque, "svc-opaque", "jira-software-users")
	k.allowed("JWT access token via JWKS", jwt, "svc-jwt", "jira-software-users,jira-administrators")
	k.denied("revoked opaque token", revoked, 401, "token_inactive")
	k.denied("unknown opaque token", "ory_at_"+strings.Repeat("x", 40), 401, "token_inactive")
	k.denied("opaque token of another client", other, 401, "audience_mismatch")
	k.denied("token outside every provider's shape", "gho_notforhydra", 401, "token_malformed")
	k.denied("tampered JWT", jwt[:strings.LastIndex(jwt, ".")]+".AAAA", 401, "token_invalid")
	if strings.Contains(rg.Logs(), opaque) || strings.Contains(rg.Logs(), jwt) {
		t.Error("a token reached restguard's log")
	}
}

// TestOIDCProvider: node oidc-provider, a second implementation with other
// claim shapes: at+jwt, aud a string, scope a string; introspection needs
// client authentication.
func TestOIDCProvider(t *testing.T) {
	t.Parallel()
	modDir := os.Getenv("RESTGUARD_OIDC_PROVIDER_DIR")
	if modDir == "" {
		e2eutil.Unavailable(t, "RESTGUARD_OIDC_PROVIDER_DIR not set (run e2e/idps/setup.sh)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		e2eutil.Unavailable(t, "node not on PATH")
	}
	// The server script from this repository, next to the installed
	// node_modules (ESM resolves packages from the script's directory).
	dir := t.TempDir()
	src, err := os.ReadFile("oidc-provider/server.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.mjs"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(modDir, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	op := start(t, dir, []string{"HOST=127.0.0.1", fmt.Sprintf("PORT=%d", port)}, "node", "server.mjs")
	waitHTTP(t, op, issuer+"/.well-known/openid-configuration", 30*time.Second)

	tokenURL := issuer + "/token"
	opaque := token(t, tokenURL, "svc-opaque", "opaque-secret-123", url.Values{"scope": {"read:jira-work"}})
	jwt := token(t, tokenURL, "svc-jwt", "jwt-secret-123", url.Values{"scope": {"read:jira-work write:jira-work"}, "resource": {jira}})
	if strings.Count(opaque, ".") != 0 || strings.Count(jwt, ".") != 2 {
		t.Fatal("unexpected token shapes")
	}

	secret := filepath.Join(t.TempDir(), "rs-secret")
	if err := os.WriteFile(secret, []byte("rs-secret-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rg := e2eutil.Start(t, fmt.Sprintf(`
listen: {grpc: "127.0.0.1:0", admin: "127.0.0.1:0"}
realm: jira
check_timeout: 2s
providers:
  - name: op-jwt
    issuer: %[1]q
    audiences: [%[3]q]
    strict_typ: true
    username: {claims: [username]}
    groups: {claim: groups}
  - name: op-opaque
    kind: introspection
    issuer: %[1]q
    introspection: {endpoint: "%[1]s/token/introspection"}
    client_id: rs-jira
    client_secret: {file: %[2]q}
    client_ids: [svc-opaque]
    token_shape: {min_length: 43, max_length: 43, charset: base64url}
    username: {claims: [username]}
    groups: {claim: groups}
rules:
  - name: api
    paths: ["/rest/**"]
    authenticate: [op-jwt, op-opaque]
upstream: {groups_header: X-Forwarded-Groups}
`, issuer, secret, jira))
	k := newChecker(t, rg)
	k.allowed("opaque token via introspection (client_secret_basic)", opaque, "svc-opaque", "jira-software-users")
	k.allowed("at+jwt access token via JWKS", jwt, "svc-jira", "jira-software-users,jira-administrators")
	k.denied("unknown opaque token", strings.Repeat("A", 43), 401, "token_inactive")
	k.denied("opaque token of another shape", strings.Repeat("A", 42), 401, "token_malformed")
}
